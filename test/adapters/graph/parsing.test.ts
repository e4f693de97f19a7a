// The edge parsers of the Graph adapter: one malformed entry fails alone with a reason code (brief: zod at the edge),
// tracking is read by the rules of DESIGN.md §2, and property ids compare the way Graph compares them (§3.3).
import { expandExtendedProperties, samePropertyId, trackingPropertyIds, crmIdFilter } from '../../../src/adapters/graph/extended-properties';
import { toDeltaEntry, toOutlookItem, withCategory } from '../../../src/adapters/graph/outlook-item';
import { changeKeyFromEtag } from '../../../src/adapters/graph/schemas';

const GUID = '6D3C1F9E-2B7A-4C55-9A0E-5F1D2C3B4A99';
const ids = trackingPropertyIds(GUID);
const vocabulary = { ids, categoryName: 'Tracked to CRM', productName: 'outlook-crm-sync' };

describe('delta entry parsing', () => {
  it('reads a removed entry in the documented shape (graph-behaviour.md §1.4), either reason', () => {
    for (const reason of ['deleted', 'changed']) {
      const parsed = toDeltaEntry({ '@odata.type': '#microsoft.graph.contact', id: 'AAMk1', '@removed': { reason } });
      expect(parsed).toEqual({ ok: true, value: { id: 'AAMk1', removed: true, categories: null, changeKey: null, lastModified: null, isDraft: null, data: null } });
    }
  });

  it('reads a partial update: missing properties are null, never "cleared" (§1.4)', () => {
    const parsed = toDeltaEntry({ id: 'AAMk2', '@odata.etag': 'W/"CQAAABYAAA"' });
    expect(parsed).toMatchObject({ ok: true, value: { id: 'AAMk2', removed: false, categories: null, changeKey: 'CQAAABYAAA', isDraft: null } });
  });

  it('turns each malformed entry into an ItemFailure with a reason code, keeping the id when there is one', () => {
    expect(toDeltaEntry({ id: 'AAMk3', categories: 'Customer' })).toMatchObject({ ok: false, failure: { id: 'AAMk3', reason: 'graph-invalid-delta-entry' } });
    expect(toDeltaEntry({ subject: 'no id' })).toMatchObject({ ok: false, failure: { id: null, reason: 'graph-invalid-delta-entry' } });
    expect(toDeltaEntry('garbage')).toMatchObject({ ok: false, failure: { id: null } });
    // §2.3: the docs sample shows "isRead": "true" as a string; an isDraft of the wrong type is refused the same way.
    expect(toDeltaEntry({ id: 'AAMk4', isDraft: 'false' })).toMatchObject({ ok: false, failure: { id: 'AAMk4' } });
  });
});

describe('hydrated item parsing', () => {
  const contact = (extra: object) => ({ id: 'C1', changeKey: 'CK1', lastModifiedDateTime: '2026-11-01T10:00:00Z', ...extra });

  it('reads marker (value true in any casing), CrmId and category (any casing)', () => {
    const item = toOutlookItem(
      'contact',
      'contacts',
      contact({
        categories: ['tracked TO crm'],
        singleValueExtendedProperties: [
          { id: `String {${GUID.toLowerCase()}} Name Tracked`, value: 'TRUE' },
          { id: ids.crmId, value: 'crm-1' },
        ],
      }),
      vocabulary,
    );
    expect(item).toMatchObject({ ok: true, value: { tracking: { marker: true, category: true }, crmId: 'crm-1', changeKey: 'CK1' } });
  });

  it('an untracked stamp (Tracked=false, CrmId empty) reads as untracked and unlinked (§3.2)', () => {
    const item = toOutlookItem('contact', 'contacts', contact({ singleValueExtendedProperties: [{ id: ids.tracked, value: 'false' }, { id: ids.crmId, value: '' }] }), vocabulary);
    expect(item).toMatchObject({ ok: true, value: { tracking: { marker: false, category: false }, crmId: null } });
  });

  it('a property whose Name differs in case is not ours (§3.3: Name is case-sensitive)', () => {
    const item = toOutlookItem('contact', 'contacts', contact({ singleValueExtendedProperties: [{ id: `String {${GUID}} Name tracked`, value: 'true' }] }), vocabulary);
    expect(item).toMatchObject({ ok: true, value: { tracking: { marker: false } } });
  });

  it('a task: the category is the marker and the linkedResource of the product is the link (§3.5)', () => {
    const item = toOutlookItem(
      'task',
      'L1',
      {
        id: 'T1',
        '@odata.etag': 'W/"etag-1"',
        lastModifiedDateTime: '2026-11-01T10:00:00Z',
        categories: ['Tracked to CRM'],
        linkedResources: [
          { id: 'lr0', applicationName: 'Other app', externalId: 'x' },
          { id: 'lr1', applicationName: 'OUTLOOK-CRM-SYNC', externalId: 'crm-9' },
        ],
      },
      vocabulary,
    );
    expect(item).toMatchObject({ ok: true, value: { tracking: { marker: true, category: true }, crmId: 'crm-9', changeKey: 'etag-1', container: 'L1' } });
  });

  it('a message: RegardingId and isDraft', () => {
    const item = toOutlookItem('email', 'inbox', { id: 'M1', lastModifiedDateTime: 'x', isDraft: true, singleValueExtendedProperties: [{ id: ids.regardingId, value: 'opp-1' }] }, vocabulary);
    expect(item).toMatchObject({ ok: true, value: { regardingId: 'opp-1', isDraft: true } });
  });

  it('an item without lastModifiedDateTime fails alone with a reason code', () => {
    expect(toOutlookItem('contact', 'contacts', { id: 'C2' }, vocabulary)).toMatchObject({ ok: false, failure: { id: 'C2', reason: 'graph-invalid-item' } });
  });
});

describe('tracking vocabulary', () => {
  it('builds the id formats of graph-behaviour.md §3.1 and rejects a non-GUID namespace', () => {
    expect(ids.tracked).toBe(`String {${GUID}} Name Tracked`);
    expect(() => trackingPropertyIds('not-a-guid')).toThrow();
    expect(samePropertyId('string {ABC} name CrmId', 'String {abc} Name CrmId')).toBe(true);
    expect(samePropertyId('String {abc} Name crmid', 'String {abc} Name CrmId')).toBe(false);
    expect(samePropertyId('String 0x3a24', 'String 0x3A24')).toBe(true);
  });

  it('builds the $expand and Any() filters of §3.3, quoting values', () => {
    expect(expandExtendedProperties([ids.tracked, 'String 0x3A24'])).toBe(`singleValueExtendedProperties($filter=id eq '${ids.tracked}' or id eq 'String 0x3A24')`);
    expect(crmIdFilter(ids, "o'neil")).toBe(`singleValueExtendedProperties/Any(ep: ep/id eq '${ids.crmId}' and ep/value eq 'o''neil')`);
  });

  it('adds and removes one category keeping the others and their order (§4)', () => {
    expect(withCategory(['VIP', 'Golf'], 'Tracked to CRM', true)).toEqual(['VIP', 'Golf', 'Tracked to CRM']);
    expect(withCategory(['tracked to crm', 'VIP'], 'Tracked to CRM', true)).toEqual(['VIP', 'tracked to crm']);
    expect(withCategory(['VIP', 'TRACKED TO CRM', 'Golf'], 'Tracked to CRM', false)).toEqual(['VIP', 'Golf']);
    expect(withCategory(null, 'Tracked to CRM', false)).toEqual([]);
  });

  it('reads the changeKey out of a weak etag (§8)', () => {
    expect(changeKeyFromEtag('W/"CQAAABYAAAARn2vd"')).toBe('CQAAABYAAAARn2vd');
    expect(changeKeyFromEtag(undefined)).toBeNull();
  });
});
