// Regression tests for the reviewer's findings on the pure core, one describe per finding. Each test failed before its
// fix. References: DESIGN.md §2 (tracking), §5 (merging), §6 (deletion table), §7 (mappings); sync-lessons.md §1.3
// (clock skew), §1.6 (untrack ≠ delete); graph-behaviour.md §7 (dateTimeTimeZone).
import { baselineAfterCreate } from '../../src/core/after-create';
import { differingFields, sameFieldValue } from '../../src/core/compare';
import { buildOutlookWrite } from '../../src/core/fields';
import { activeFields, DEFAULT_MAPPINGS } from '../../src/core/mappings';
import { merge } from '../../src/core/merge';
import type { FieldValues, JsonObject, OutlookItem } from '../../src/core/model';
import { isDeferredPlan, OUT_OF_VIEW_DEFERRED } from '../../src/core/outcomes';
import type { Plan, PlanInput } from '../../src/core/plan';
import type { PlanContextExtras } from '../../src/core/plan-options';
import { plan } from '../../src/core/planner';
import { isStillTracked } from '../../src/core/rules';
import { resolveZone, WINDOWS_ZONE_COUNT, windowsZoneTable } from '../../src/core/timezone';
import { normDateTimeTimeZone } from '../../src/core/normalize';
import { pairFixture, planInput } from './fixtures';
import { applyCrmWrite, context, GUID, item, ME, mappingRow, record, settings } from './support';

function summary(p: Plan): [string, string, string, string] {
  const mapping = p.mapping.type === 'put' ? `put:${p.mapping.state}` : p.mapping.type;
  return [p.reason, p.outlook.type, p.crm.type, mapping];
}

function withItem(input: PlanInput, change: (i: OutlookItem) => OutlookItem): PlanInput {
  if (input.outlook.state !== 'present') throw new Error('fixture has no Outlook item');
  return { ...input, outlook: { state: 'present', item: change(input.outlook.item) } };
}

describe('1. a linked item whose tracking upkeep has not landed yet is still tracked (DESIGN.md §2)', () => {
  test('category set by the user, CRM create done, marker+CrmId write failed: next cycle re-plans the upkeep, never untracks', () => {
    for (const deleteInCrmOnUntrack of [false, true]) {
      // Cycle 1: the user tagged the contact with the category only.
      const ctx = context('contact', { settings: settings({ deleteInCrmOnUntrack }) });
      const tagged = item('contact', { givenName: 'Ann', surname: 'Berg' }, { tracking: { marker: false, category: true }, crmId: null });
      const first = plan({ outlook: { state: 'present', item: tagged }, crm: { state: 'absent' }, mapping: null, context: ctx });
      expect(first.crm.type).toBe('create');
      if (first.mapping.type !== 'put') throw new Error('create must store the pair');
      // The CRM create worked, the Outlook upkeep write failed, the mapping was saved as linked.
      const row = mappingRow('contact', first.mapping.baseline, { crmId: 'c-new', trackedVia: 'outlook' });
      const created = applyCrmWrite(record('contact', {}, { id: 'c-new', ownerId: ME }), first.crm.type === 'create' ? first.crm.write : null);
      const next = plan({ outlook: { state: 'present', item: tagged }, crm: { state: 'present', record: created, inScope: true }, mapping: row, context: ctx });
      expect(summary(next)).toEqual(['tracking-upkeep', 'update', 'none', 'keep']);
      expect(next.outlook).toEqual({ type: 'update', write: null, tracking: { marker: true, category: true, crmId: 'c-new' } });
    }
  });

  test('marker set by an add-in, category+CrmId upkeep failed: marker without stamp is unfinished upkeep, not an untrack', () => {
    const input = withItem(planInput('contact', 'tracked', 'inScope', 'linked', { settings: { deleteInCrmOnUntrack: true } }), (i) => ({
      ...i,
      tracking: { marker: true, category: false },
      crmId: null,
    }));
    const p = plan(input);
    expect(summary(p)).toEqual(['tracking-upkeep', 'update', 'none', 'keep']);
    expect(p.outlook).toEqual({ type: 'update', write: null, tracking: { marker: true, category: true, crmId: 'c-contact-1' } });
  });

  test('a CrmId stamp that is not the mapped record is unfinished upkeep: re-stamped, kept linked', () => {
    const input = withItem(planInput('appointment', 'tracked', 'inScope', 'linked'), (i) => ({ ...i, tracking: { marker: true, category: false }, crmId: 'c-other' }));
    const p = plan(input);
    expect(summary(p)).toEqual(['tracking-upkeep', 'update', 'none', 'keep']);
    expect(p.outlook).toEqual({ type: 'update', write: null, tracking: { marker: true, category: true, crmId: 'c-appointment-1' } });
  });

  test('the user removing the category of an item whose upkeep had landed (stamp = mapping) untracks (sync-lessons.md §1.6)', () => {
    const input = withItem(planInput('contact', 'tracked', 'inScope', 'linked'), (i) => ({ ...i, tracking: { marker: true, category: false } }));
    expect(summary(plan(input))).toEqual(['untracked-unlink', 'update', 'none', 'put:unlinked']);
  });

  test('isStillTracked: the rule as a function of marker, category and stamp', () => {
    const at = (marker: boolean, category: boolean, crmId: string | null) => isStillTracked(item('contact', {}, { tracking: { marker, category }, crmId }), 'c-1');
    expect(at(true, true, 'c-1')).toBe(true);
    expect(at(false, true, 'c-1')).toBe(true); // category present: marker is restored by upkeep
    expect(at(false, true, null)).toBe(true);
    expect(at(true, false, null)).toBe(true); // upkeep never landed
    expect(at(true, false, 'C-1')).toBe(false); // landed (ids compare without case): the user removed the category
    expect(at(false, false, 'c-1')).toBe(false);
    expect(isStillTracked(item('task', {}, { tracking: { marker: false, category: false }, crmId: 'c-1' }), 'c-1')).toBe(false);
  });
});

describe('2. a create that returns an already existing record: the baseline is what both sides hold', () => {
  const ctx = context('contact');
  // The first create's response was lost; the user edited the surname in Outlook before the retry.
  const outlookItem = item('contact', { givenName: 'Ann', surname: 'Berg-New', jobTitle: 'CTO' }, { tracking: { marker: false, category: true }, crmId: null });

  test('the next cycle writes the Outlook edit to the CRM instead of writing the stale CRM values back to Outlook', () => {
    const first = plan({ outlook: { state: 'present', item: outlookItem }, crm: { state: 'absent' }, mapping: null, context: ctx });
    if (first.crm.type !== 'create' || first.mapping.type !== 'put') throw new Error('expected a create');
    // The connector returns the record the first create made, without applying this write.
    const existing = record('contact', { firstname: 'Ann', lastname: 'Berg', jobtitle: 'CTO' }, { id: 'c-existing', ownerId: ME, modifiedOn: '2026-06-01T11:00:00Z' });
    const baseline = baselineAfterCreate(first, { crmRecord: existing, outlookItem: null }, ctx);
    expect(baseline).not.toBeNull();
    expect(baseline?.surname).toBe('Berg');
    expect(baseline?.['@crmOwnerId']).toBe(ME);
    const row = mappingRow('contact', baseline as FieldValues, { crmId: existing.id, trackedVia: 'outlook' });
    const stamped: OutlookItem = { ...outlookItem, tracking: { marker: true, category: true }, crmId: existing.id, lastModified: '2026-06-01T12:00:00Z' };
    const next = plan({ outlook: { state: 'present', item: stamped }, crm: { state: 'present', record: existing, inScope: true }, mapping: row, context: ctx });
    expect(next.outlook.type).toBe('none');
    expect(next.crm.type).toBe('update');
    if (next.crm.type === 'update') expect(next.crm.write.attributes).toEqual({ lastname: 'Berg-New' });
  });

  test('a fresh create (the record holds what was written) leaves the planned baseline as it was', () => {
    const first = plan({ outlook: { state: 'present', item: outlookItem }, crm: { state: 'absent' }, mapping: null, context: ctx });
    if (first.crm.type !== 'create' || first.mapping.type !== 'put') throw new Error('expected a create');
    const fresh = applyCrmWrite(record('contact', {}, { id: 'c-fresh', ownerId: ME }), first.crm.write);
    expect(baselineAfterCreate(first, { crmRecord: fresh, outlookItem: null }, ctx)).toEqual(first.mapping.baseline);
  });

  test('an Outlook create that found an existing item: fields where it differs are re-written from the CRM next cycle', () => {
    const crmRecord = record('contact', { firstname: 'Ann', lastname: 'Berg-CRM' }, { ownerId: ME });
    const first = plan({ outlook: { state: 'absent' }, crm: { state: 'present', record: crmRecord, inScope: true }, mapping: null, context: ctx });
    if (first.outlook.type !== 'create' || first.mapping.type !== 'put') throw new Error('expected an Outlook create');
    const found = item('contact', { givenName: 'Ann', surname: 'Berg-Old' }, { crmId: crmRecord.id });
    const baseline = baselineAfterCreate(first, { crmRecord: null, outlookItem: found }, ctx) as FieldValues;
    expect(baseline.surname).toBe('Berg-Old');
    const next = plan({ outlook: { state: 'present', item: found }, crm: { state: 'present', record: crmRecord, inScope: true }, mapping: mappingRow('contact', baseline), context: ctx });
    expect(next.crm.type).toBe('none');
    expect(next.outlook.type === 'update' && next.outlook.write?.data).toEqual({ surname: 'Berg-CRM' });
  });

  test('returns null for a plan that stores no mapping', () => {
    const p = plan(planInput('contact', 'untracked', 'inScope', 'none'));
    expect(baselineAfterCreate(p, { crmRecord: null, outlookItem: null }, context('contact'))).toBeNull();
  });
});

describe('3. an unresolvable time zone never becomes null (graph-behaviour.md §7)', () => {
  test('the Windows → IANA table is the full CLDR windowsZones mapping and every entry resolves in this runtime', () => {
    const table = windowsZoneTable();
    expect(WINDOWS_ZONE_COUNT).toBeGreaterThanOrEqual(138);
    // UTC aliases resolve to the runtime's canonical 'UTC'.
    for (const [windows, iana] of Object.entries(table)) expect([windows, resolveZone(windows)]).toEqual([windows, iana === 'Etc/UTC' ? 'UTC' : iana]);
    for (const zone of ['Tasmania Standard Time', 'Sri Lanka Standard Time', 'Turks And Caicos Standard Time', 'UTC+13', 'Chatham Islands Standard Time', 'Yukon Standard Time']) {
      expect(resolveZone(zone)).not.toBeNull();
    }
    // Legacy names that older Exchange servers still write.
    expect(resolveZone('Mid-Atlantic Standard Time')).toBe('Etc/GMT+2');
    expect(resolveZone('Kamchatka Standard Time')).toBe('Asia/Kamchatka');
    // Names match without case, as Exchange is not consistent about it.
    expect(resolveZone('tasmania standard time')).toBe('Australia/Hobart');
    expect(normDateTimeTimeZone({ dateTime: '2026-07-01T09:00:00.0000000', timeZone: 'Sri Lanka Standard Time' })).toBe('2026-07-01T03:30:00Z');
  });

  const baseTask = { title: 'Call Ann', status: 'notStarted', importance: 'normal', body: { contentType: 'text', content: '' } };
  const due = '2026-07-01T09:00:00Z';

  function taskInput(outlookDue: JsonObject, crmDue: string | null): PlanInput {
    const fx = pairFixture('task');
    const outlook = item('task', { ...baseTask, dueDateTime: outlookDue });
    const crm = record('task', { ...fx.crm.data, scheduledend: crmDue }, { modifiedOn: '2026-06-02T00:00:00Z' });
    return { outlook: { state: 'present', item: outlook }, crm: { state: 'present', record: crm, inScope: true }, mapping: mappingRow('task', { ...fx.baseline, dueDateTime: due }), context: context('task') };
  }

  test('an unknown zone on the Outlook due date: no write either way, the baseline keeps its value, the field is reported', () => {
    const p = plan(taskInput({ dateTime: '2026-07-01T11:00:00.0000000', timeZone: 'Mars Standard Time' }, due));
    expect(p.crm.type).toBe('none');
    expect(p.outlook.type).toBe('none');
    expect(p.mapping.type === 'keep' || (p.mapping.type === 'put' && p.mapping.baseline.dueDateTime === due)).toBe(true);
    expect(p.unreadable).toEqual([{ field: 'dueDateTime', side: 'outlook', reason: 'unknown-time-zone' }]);
  });

  test('a CRM change of the same field is held back too (Outlook cannot be compared), other fields still sync', () => {
    const input = taskInput({ dateTime: '2026-07-01T11:00:00.0000000', timeZone: 'Mars Standard Time' }, '2026-08-01T09:00:00Z');
    if (input.crm.state !== 'present') throw new Error('fixture');
    input.crm.record.data.subject = 'Call Ann today';
    const p = plan(input);
    expect(p.crm.type).toBe('none');
    expect(p.outlook.type === 'update' && p.outlook.write?.data).toEqual({ title: 'Call Ann today' });
    expect(p.mapping.type === 'put' && p.mapping.baseline.dueDateTime).toBe(due);
  });

  test('an appointment with an unknown start zone leaves the whole time group alone (no null scheduledstart/end)', () => {
    const input = withItem(planInput('appointment', 'tracked', 'inScope', 'linked'), (i) => ({
      ...i,
      data: { ...i.data, subject: 'QBR moved', start: { dateTime: '2026-07-01T16:00:00.0000000', timeZone: 'Olympus Mons Time' } },
    }));
    const p = plan(input);
    expect(p.crm.type).toBe('update');
    if (p.crm.type === 'update') expect(p.crm.write.attributes).toEqual({ subject: 'QBR moved' });
    expect(p.unreadable?.map((u) => u.field)).toEqual(['start']);
  });

  test('a create in the CRM leaves the unreadable field out instead of writing null', () => {
    const outlook = item('task', { ...baseTask, dueDateTime: { dateTime: '2026-07-01T11:00:00.0000000', timeZone: 'Mars Standard Time' } }, { crmId: null });
    const p = plan({ outlook: { state: 'present', item: outlook }, crm: { state: 'absent' }, mapping: null, context: context('task') });
    expect(p.crm.type).toBe('create');
    if (p.crm.type === 'create') expect(p.crm.write.attributes).not.toHaveProperty('scheduledend');
    expect(p.unreadable?.map((u) => u.reason)).toEqual(['unknown-time-zone']);
    // An appointment's unreadable start keeps the whole time group out of the create (no scheduledstart: null).
    const event = withItem(planInput('appointment', 'tracked', 'absent', 'none'), (i) => ({
      ...i,
      crmId: null,
      data: { ...i.data, start: { dateTime: '2026-07-01T16:00:00.0000000', timeZone: 'Olympus Mons Time' } },
    }));
    const created = plan(event);
    if (created.crm.type !== 'create') throw new Error('expected a create');
    expect(Object.keys(created.crm.write.attributes).filter((a) => a.startsWith('scheduled') || a === 'isalldayevent')).toEqual([]);
  });
});

describe('4. first link under `latest`: the tie-break side wins, whatever the timestamps say', () => {
  test('merge with no baseline ignores timestamps (tagging just bumped the Outlook item) and logs the conflict', () => {
    const r = merge({
      fields: [{ name: 'A' }, { name: 'B' }],
      base: null,
      outlook: { A: 'stale', B: 'o' },
      crm: { A: 'fresh', B: null },
      outlookModified: '2026-06-10T00:00:00Z',
      crmModified: '2026-01-01T00:00:00Z',
      policy: 'latest',
      tieBreak: 'crm',
    });
    expect(r.merged).toEqual({ A: 'fresh', B: 'o' });
    expect(r.conflicts).toEqual([{ field: 'A', base: undefined, outlook: 'stale', crm: 'fresh', winner: 'crm', outlookModified: '2026-06-10T00:00:00Z', crmModified: '2026-01-01T00:00:00Z' }]);
    const outlookTie = merge({ fields: [{ name: 'A' }], base: null, outlook: { A: 'o' }, crm: { A: 'c' }, outlookModified: '2026-01-01T00:00:00Z', crmModified: '2026-06-10T00:00:00Z', policy: 'latest', tieBreak: 'outlook' });
    expect(outlookTie.merged.A).toBe('o');
  });

  test('link-existing through the planner: the just-tagged (newer) Outlook item gets the CRM value', () => {
    const fx = pairFixture('contact');
    const tagged = { ...fx.outlook, data: { ...fx.outlook.data, surname: 'Berg-stale' }, lastModified: '2026-06-15T11:00:00Z' };
    const p = plan({ outlook: { state: 'present', item: tagged }, crm: { state: 'present', record: fx.crm, inScope: true }, mapping: null, context: context('contact') });
    expect(p.reason).toBe('link-existing');
    expect(p.crm.type).toBe('none');
    expect(p.outlook.type === 'update' && p.outlook.write?.data).toEqual({ surname: 'Berg' });
    expect(p.conflicts.map((c) => [c.field, c.winner])).toEqual([['surname', 'crm']]);
  });
});

describe('5. a CRM attendee change edits the Outlook attendee list instead of replacing it', () => {
  const ann = { type: 'required', status: { response: 'accepted', time: '2026-06-01T10:00:00Z' }, emailAddress: { name: 'Ann Berg', address: 'Ann@Contoso.com' } };
  const room = { type: 'resource', status: { response: 'accepted', time: '2026-06-01T10:00:00Z' }, emailAddress: { name: 'Room 4.01', address: 'room401@contoso.com' } };
  const carl = { type: 'optional', status: { response: 'tentativelyAccepted', time: '2026-06-01T10:00:00Z' }, emailAddress: { name: 'Carl', address: 'carl@contoso.com' } };

  function crmChanged(parties: { mask: number; address: string }[]): PlanInput {
    const input = withItem(planInput('appointment', 'tracked', 'inScope', 'linked'), (i) => ({ ...i, data: { ...i.data, attendees: [ann, room, carl] } }));
    if (input.crm.state !== 'present' || !input.mapping) throw new Error('fixture');
    const organizer = input.crm.record.parties.filter((p) => p.participationTypeMask === 7);
    input.mapping = { ...input.mapping, baseline: { ...input.mapping.baseline, requiredAttendees: ['ann@contoso.com'], optionalAttendees: ['carl@contoso.com'] } };
    input.crm = {
      ...input.crm,
      record: { ...input.crm.record, modifiedOn: '2026-06-02T00:00:00Z', parties: [...parties.map((p) => ({ participationTypeMask: p.mask, address: p.address, party: null })), ...organizer] },
    };
    return input;
  }

  test('an added attendee is appended; rooms, names and responses stay', () => {
    const p = plan(crmChanged([
      { mask: 5, address: 'ann@contoso.com' },
      { mask: 6, address: 'carl@contoso.com' },
      { mask: 6, address: 'dora@contoso.com' },
    ]));
    expect(p.outlook.type === 'update' && p.outlook.write?.data.attendees).toEqual([ann, room, carl, { type: 'optional', emailAddress: { address: 'dora@contoso.com' } }]);
  });

  test('a removed attendee is dropped, a moved one changes type only, the room stays', () => {
    const p = plan(crmChanged([{ mask: 6, address: 'ann@contoso.com' }]));
    expect(p.outlook.type === 'update' && p.outlook.write?.data.attendees).toEqual([{ ...ann, type: 'optional' }, room]);
  });

  test('without the current item (a create) the list is built from the merged sets alone', () => {
    const fields = activeFields(DEFAULT_MAPPINGS.appointment, settings());
    const write = buildOutlookWrite(fields, ['requiredAttendees'], { requiredAttendees: ['ann@contoso.com'], optionalAttendees: null }, GUID);
    expect(write?.data.attendees).toEqual([{ type: 'required', emailAddress: { address: 'ann@contoso.com' } }]);
  });
});

describe('6. unlinked pair whose Outlook item is gone: the row stays (deletedLocally) so the CRM record is not re-created', () => {
  test('unlinked + Outlook gone + CRM present → deletedLocally; a later CRM edit then creates nothing in Outlook', () => {
    const first = plan(planInput('contact', 'gone', 'inScope', 'unlinked'));
    expect(summary(first)).toEqual(['unlinked-outlook-gone', 'none', 'none', 'put:deletedLocally']);
    if (first.mapping.type !== 'put') throw new Error('unreachable');
    const later = planInput('contact', 'absent', 'inScope', 'deletedLocally');
    expect(summary(plan(later))).toEqual(['deleted-locally-not-recreated', 'none', 'none', 'keep']);
  });

  test('the row goes only when the CRM record is gone too', () => {
    expect(summary(plan(planInput('contact', 'gone', 'gone', 'unlinked')))).toEqual(['unlinked-crm-gone', 'none', 'none', 'remove']);
  });
});

describe('7. outOfView never swallows a pending change', () => {
  test('linked + outOfView (the item could not be read): nothing is written, the plan asks the app to keep the change row', () => {
    for (const c of ['inScope', 'outOfScope', 'absent'] as const) {
      const p = plan(planInput('appointment', 'outOfView', c, 'linked'));
      expect(summary(p)).toEqual([OUT_OF_VIEW_DEFERRED, 'none', 'none', 'keep']);
      expect(isDeferredPlan(p)).toBe(true);
    }
  });

  test('a present item (read directly) is merged as usual, and ordinary plans are not deferred', () => {
    const p = plan(planInput('appointment', 'tracked', 'inScope', 'linked'));
    expect(p.reason).toBe('in-sync');
    expect(isDeferredPlan(p)).toBe(false);
    expect(isDeferredPlan(plan(planInput('appointment', 'outOfView', 'gone', 'linked')))).toBe(false);
  });
});

describe('8. contact e-mail writes keep Outlook display names; field comparison ignores e-mail case', () => {
  test('a CRM address change keeps the names of the unchanged addresses', () => {
    const input = withItem(planInput('contact', 'tracked', 'inScope', 'linked'), (i) => i);
    if (input.crm.state !== 'present') throw new Error('fixture');
    input.crm = { ...input.crm, record: { ...input.crm.record, data: { ...input.crm.record.data, emailaddress2: 'ann@home.example' } } };
    const p = plan(input);
    expect(p.outlook.type === 'update' && p.outlook.write?.data).toEqual({
      emailAddresses: [
        { name: 'Ann Berg', address: 'ann@contoso.com' },
        { name: 'ann@home.example', address: 'ann@home.example' },
      ],
    });
  });

  test('sameFieldValue / differingFields compare the way the merge does', () => {
    const fields = activeFields(DEFAULT_MAPPINGS.contact, settings());
    const emails = fields.find((f) => f.field === 'emailAddresses')!;
    expect(sameFieldValue(emails, ['Ann@Contoso.com'], ['ann@contoso.com'])).toBe(true);
    expect(sameFieldValue(fields.find((f) => f.field === 'surname')!, 'Berg', 'berg')).toBe(false);
    const baseline = { emailAddresses: ['ann@contoso.com'], surname: 'Berg', givenName: 'Ann' };
    expect(differingFields(fields, { emailAddresses: ['ANN@contoso.com'], surname: 'Berg', givenName: 'Anna' }, baseline)).toEqual(['givenName']);
    expect(differingFields(fields, { ...baseline, givenName: 'Anna' }, baseline, new Set(['surname']))).toEqual([]);
  });
});

describe('9. `latest` tolerates clock skew between Graph and Dataverse (sync-lessons.md §1.3)', () => {
  const conflict = (outlookModified: string, skewToleranceMs?: number) =>
    merge({
      fields: [{ name: 'A' }],
      base: { A: 'b' },
      outlook: { A: 'o' },
      crm: { A: 'c' },
      outlookModified,
      crmModified: '2026-01-01T00:00:00Z',
      policy: 'latest',
      tieBreak: 'crm',
      ...(skewToleranceMs !== undefined ? { skewToleranceMs } : {}),
    }).merged.A;

  test('within the default 2 minutes the timestamps count as equal (tie-break); beyond, the later side wins', () => {
    expect(conflict('2026-01-01T00:01:00Z')).toBe('c');
    expect(conflict('2026-01-01T00:02:00Z')).toBe('c');
    expect(conflict('2026-01-01T00:02:01Z')).toBe('o');
    expect(conflict('2026-01-01T00:01:00Z', 0)).toBe('o');
    expect(conflict('2026-01-01T00:04:00Z', 300_000)).toBe('c');
  });

  test('the planner takes an optional skewToleranceMs from the context (PlanContextExtras)', () => {
    const fx = pairFixture('contact');
    const outlook = { ...fx.outlook, data: { ...fx.outlook.data, surname: 'Berg-O' }, lastModified: '2026-06-01T09:01:00Z' };
    const crm = { ...fx.crm, data: { ...fx.crm.data, lastname: 'Berg-C' }, modifiedOn: '2026-06-01T09:00:00Z' };
    const input = (extras: PlanContextExtras): PlanInput => ({
      outlook: { state: 'present', item: outlook },
      crm: { state: 'present', record: crm, inScope: true },
      mapping: mappingRow('contact', fx.baseline),
      context: { ...context('contact'), ...extras },
    });
    expect(plan(input({})).conflicts.map((c) => c.winner)).toEqual(['crm']);
    expect(plan(input({ skewToleranceMs: 0 })).conflicts.map((c) => c.winner)).toEqual(['outlook']);
  });
});
