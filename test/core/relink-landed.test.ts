// The LinkId stamp of a re-link (src/core/planner.ts planDetached, relinkLanded): a re-track of an unlinked or
// deletedLocally row re-stamps the item (marker, category, CrmId) and then commits the link. The CrmId stamp cannot
// tell that re-stamp, left by a crash before the link commit, from an add-in's marker (the unlink kept the stamp), so
// the re-stamp also writes LinkId = the row's mapId, and an item carrying it is judged as a linked pair's is
// (isStillTracked): a marker without the category is the user's untrack, not a new re-track
// (test/model/regressions.test.ts, "a re-track whose link commit is lost").
import type { ItemKind, OutlookItem } from '../../src/core/model';
import type { Plan, PlanInput } from '../../src/core/plan';
import { plan } from '../../src/core/planner';
import { planInput, type CrmDim, type MappingDim } from './fixtures';

const MARKER_KINDS: ItemKind[] = ['contact', 'appointment', 'email'];
const DETACHED: MappingDim[] = ['unlinked', 'deletedLocally'];
const CASES = MARKER_KINDS.flatMap((kind) => DETACHED.map((state) => [kind, state] as const));

function summary(p: Plan): string[] {
  return [p.reason, p.outlook.type, p.crm.type, p.mapping.type === 'put' ? `put:${p.mapping.state}` : p.mapping.type];
}

/** The fixture's tracked item (marker, category, CrmId stamp of the row's record) with these changes, on a `m` row. */
function input(kind: ItemKind, m: MappingDim, c: CrmDim, change: (item: OutlookItem, mapId: string) => Partial<OutlookItem>): PlanInput {
  const base = planInput(kind, 'tracked', c, m);
  if (base.outlook.state !== 'present' || !base.mapping) throw new Error('fixture');
  const item = base.outlook.item;
  return { ...base, outlook: { state: 'present', item: { ...item, ...change(item, base.mapping.mapId) } } };
}

describe('a re-link whose re-stamp landed (LinkId = the row mapId)', () => {
  test.each(CASES)('%s, %s row: the user removed the category since: withdrawn, marker and LinkId cleared, CrmId kept, row kept', (kind, m) => {
    const p = plan(input(kind, m, 'inScope', (_, mapId) => ({ tracking: { marker: true, category: false }, linkId: mapId })));
    expect(summary(p)).toEqual(['retrack-withdrawn', 'update', 'none', 'keep']);
    expect(p.outlook).toEqual({ type: 'update', write: null, tracking: { marker: false, category: false, crmId: `c-${kind}-1`, linkId: null } });
  });

  test.each(CASES)('%s, %s row: withdrawn while the CRM record is gone: the stamp goes too, and the row', (kind, m) => {
    const p = plan(input(kind, m, 'gone', (_, mapId) => ({ tracking: { marker: true, category: false }, linkId: mapId })));
    expect(summary(p)).toEqual(['retrack-withdrawn-crm-gone', 'update', 'none', 'remove']);
    expect(p.outlook).toEqual({ type: 'update', write: null, tracking: { marker: false, category: false, crmId: null, linkId: null } });
  });

  test.each(CASES)('%s, %s row: still tracked (category there): re-linked with no Outlook write beyond the link commit', (kind, m) => {
    const p = plan(input(kind, m, 'inScope', (_, mapId) => ({ linkId: mapId })));
    expect(summary(p)).toEqual(['retracked-relink', 'none', 'none', 'put:linked']);
  });
});

describe('a re-link without its LinkId: judged by isTracked as before', () => {
  test.each(CASES)('%s, %s row: an add-in set only the marker (stamp kept by the unlink): re-linked, the upkeep writes LinkId', (kind, m) => {
    const p = plan(input(kind, m, 'inScope', () => ({ tracking: { marker: true, category: false } })));
    expect(summary(p)).toEqual(['retracked-relink', 'update', 'none', 'put:linked']);
    expect(p.outlook).toEqual({ type: 'update', write: null, tracking: { marker: true, category: true, crmId: `c-${kind}-1`, linkId: `m-${kind}-1` } });
  });

  test.each(CASES)('%s, %s row: the user added the category back: re-linked, the re-stamp writes LinkId', (kind, m) => {
    const p = plan(input(kind, m, 'inScope', () => ({ tracking: { marker: false, category: true } })));
    expect(summary(p)).toEqual(['retracked-relink', 'update', 'none', 'put:linked']);
    expect(p.outlook).toEqual({ type: 'update', write: null, tracking: { marker: true, category: true, crmId: `c-${kind}-1`, linkId: `m-${kind}-1` } });
  });

  test.each(CASES)('%s, %s row: a LinkId of another row is not this re-link: the marker alone re-tracks', (kind, m) => {
    const p = plan(input(kind, m, 'inScope', () => ({ tracking: { marker: true, category: false }, linkId: 'm-other' })));
    expect(summary(p)).toEqual(['retracked-relink', 'update', 'none', 'put:linked']);
    expect(p.outlook).toMatchObject({ tracking: { linkId: `m-${kind}-1` } });
  });

  test('a To Do task has no LinkId (no extended properties): its re-stamp writes none', () => {
    const p = plan(input('task', 'unlinked', 'inScope', () => ({ tracking: { marker: true, category: true }, crmId: null })));
    expect(summary(p)).toEqual(['retracked-relink', 'update', 'none', 'put:linked']);
    expect(p.outlook).toEqual({ type: 'update', write: null, tracking: { marker: false, category: true, crmId: 'c-task-1' } });
  });
});

// The appointment fixture is a future meeting the mailbox owner organizes, whose untrack deletes the CRM record.
const UNLINKED_ON_UNTRACK: ItemKind[] = ['contact', 'email'];

describe('an untrack clears the LinkId of the re-link', () => {
  test.each(UNLINKED_ON_UNTRACK)('%s: the user removed the category of a re-linked item: unlinked, LinkId cleared with the marker', (kind) => {
    const p = plan(input(kind, 'linked', 'inScope', (_, mapId) => ({ tracking: { marker: true, category: false }, linkId: mapId })));
    expect(summary(p)).toEqual(['untracked-unlink', 'update', 'none', 'put:unlinked']);
    expect(p.outlook).toEqual({ type: 'update', write: null, tracking: { marker: false, category: false, crmId: `c-${kind}-1`, linkId: null } });
  });

  test.each(UNLINKED_ON_UNTRACK)('%s: marker and category already gone, LinkId still there: the unlink still writes, to clear it', (kind) => {
    const p = plan(input(kind, 'linked', 'inScope', (_, mapId) => ({ tracking: { marker: false, category: false }, linkId: mapId })));
    expect(summary(p)).toEqual(['untracked-unlink', 'update', 'none', 'put:unlinked']);
    expect(p.outlook).toEqual({ type: 'update', write: null, tracking: { marker: false, category: false, crmId: `c-${kind}-1`, linkId: null } });
  });

  test.each(UNLINKED_ON_UNTRACK)('%s: an item without a LinkId: the unlink leaves the property alone (no LinkId in the upkeep)', (kind) => {
    const p = plan(input(kind, 'linked', 'inScope', () => ({ tracking: { marker: true, category: false } })));
    expect(p.outlook).toEqual({ type: 'update', write: null, tracking: { marker: false, category: false, crmId: `c-${kind}-1` } });
  });
});

// The worker's own create writes LinkId = the record's id (MailboxSource.createItem). A crash before the link commit
// leaves no row; the rerun finds the item by its CrmId stamp (planUnmapped). A marker without the category on an item
// the worker made for this very record is the user's untrack (halfLinkedUntracked); without that LinkId the marker
// is an add-in's track, kept in step as before.
describe('an unmapped item the worker created for its record (LinkId = the record id)', () => {
  function unmapped(kind: ItemKind, change: (item: OutlookItem) => Partial<OutlookItem>): PlanInput {
    const base = planInput(kind, 'tracked', 'inScope', 'none');
    if (base.outlook.state !== 'present' || base.crm.state !== 'present') throw new Error('fixture');
    const item = { ...base.outlook.item, crmId: base.crm.record.id };
    return { ...base, outlook: { state: 'present', item: { ...item, ...change(item) } } };
  }

  test.each(MARKER_KINDS)('%s: the user removed the category: untracked by the rules of a linked pair, not tracked again', (kind) => {
    const p = plan(unmapped(kind, (item) => ({ tracking: { marker: true, category: false }, linkId: item.crmId })));
    // DESIGN.md §6, Outlook untracked: a contact or an e-mail is unlinked; the fixture's appointment (open, in the
    // future, the owner's) is deleted in the CRM, and with its record the pair is forgotten.
    if (kind === 'appointment') {
      expect([p.crm.type, p.mapping.type]).toEqual(['delete', 'keep']);
    } else {
      expect([p.crm.type, p.mapping]).toEqual(['none', expect.objectContaining({ type: 'put', state: 'unlinked' })]);
    }
    expect(p.outlook).toMatchObject({ type: 'update', write: null, tracking: { marker: false, category: false, linkId: null } });
  });

  test.each(MARKER_KINDS)('%s: without LinkId (an add-in stamped it), or with a LinkId of another record: tracked and linked', (kind) => {
    for (const linkId of [null, 'another-record']) {
      const p = plan(unmapped(kind, () => ({ tracking: { marker: true, category: false }, linkId })));
      expect([linkId, summary(p)]).toEqual([linkId, ['link-existing', 'update', 'none', 'put:linked']]);
    }
  });

  test.each(MARKER_KINDS)('%s: still with its category: linked as before', (kind) => {
    const p = plan(unmapped(kind, (item) => ({ linkId: item.crmId })));
    expect(p.mapping).toMatchObject({ type: 'put', state: 'linked' });
  });
});
