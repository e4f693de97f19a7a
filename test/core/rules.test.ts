// The scope and deletion table of DESIGN.md §6, one test per row, run through the planner so the effect on the other
// side is what is asserted; plus the tracking rules of DESIGN.md §2.
import { plan } from '../../src/core/planner';
import { DELETION_RULES, isStillTracked, isTracked } from '../../src/core/rules';
import { ITEM_KINDS, type CrmRecord } from '../../src/core/model';
import type { Plan, PlanInput } from '../../src/core/plan';
import { pairFixture, planInput } from './fixtures';
import { context, item, ME } from './support';

function summary(p: Plan): [string, string, string, string] {
  const mapping = p.mapping.type === 'put' ? `put:${p.mapping.state}` : p.mapping.type;
  return [p.reason, p.outlook.type, p.crm.type, mapping];
}

function withCrm(input: PlanInput, change: (r: CrmRecord) => CrmRecord): PlanInput {
  if (input.crm.state !== 'present') throw new Error('fixture has no CRM record');
  return { ...input, crm: { ...input.crm, record: change(input.crm.record) } };
}

describe('DESIGN.md §6 scope and deletion table', () => {
  test('the table has exactly one row for every (trigger, kind)', () => {
    for (const trigger of ['outlook-deleted', 'outlook-untracked', 'outlook-out-of-view', 'crm-deleted', 'crm-out-of-scope'] as const) {
      for (const kind of ITEM_KINDS) {
        expect([trigger, kind, DELETION_RULES.filter((r) => r.trigger === trigger && r.kinds.includes(kind)).length]).toEqual([trigger, kind, 1]);
      }
    }
  });

  test('Outlook, deleted | contact | not deleted in CRM (unlink)', () => {
    expect(summary(plan(planInput('contact', 'gone', 'inScope', 'linked')))).toEqual(['outlook-deleted-contact-unlink', 'none', 'none', 'put:deletedLocally']);
  });

  test('Outlook, untracked | contact, e-mail | unlink; delete in CRM only if deleteInCrmOnUntrack', () => {
    for (const kind of ['contact', 'email'] as const) {
      expect(summary(plan(planInput(kind, 'untracked', 'inScope', 'linked')))).toEqual(['untracked-unlink', 'none', 'none', 'put:unlinked']);
      // The stamp is cleared with the delete so the item no longer points at a deleted record.
      const own = withCrm(planInput(kind, 'untracked', 'inScope', 'linked', { settings: { deleteInCrmOnUntrack: true } }), (r) => ({ ...r, ownerId: ME }));
      expect(summary(plan(own))).toEqual(['untracked-delete-in-crm', 'update', 'delete', 'remove']);
    }
  });

  test('extension: an e-mail someone else owns is only unlinked on untrack, whatever deleteInCrmOnUntrack says', () => {
    // One e-mail record stands for a message in every mailbox that tracks it (matched by Message-ID,
    // dataverse-behaviour.md §4.6): a recipient untracking their copy must not delete the sender's record.
    const shared = planInput('email', 'untracked', 'inScope', 'linked', { settings: { deleteInCrmOnUntrack: true } });
    expect(summary(plan(shared))).toEqual(['untracked-shared-email-unlink', 'none', 'none', 'put:unlinked']);
  });

  test('Outlook, deleted or untracked | appointment | deleted in CRM only if open/scheduled, future, owner or organizer; otherwise unlink', () => {
    for (const o of ['gone', 'untracked'] as const) {
      const prefix = o === 'gone' ? 'outlook-deleted' : 'untracked';
      const unlinkState = o === 'gone' ? 'put:deletedLocally' : 'put:unlinked';
      const base = planInput('appointment', o, 'inScope', 'linked');
      // Organizer (not owner), scheduled, future: deleted.
      expect(summary(plan(base))[2]).toBe('delete');
      expect(summary(plan(base))[0]).toBe(`${prefix}-future-own-appointment`);
      // Owner (not organizer): deleted too.
      const owned = withCrm(base, (r) => ({ ...r, ownerId: ME, parties: r.parties.filter((p) => p.participationTypeMask !== 7) }));
      expect(summary(plan(owned))[2]).toBe('delete');
      const unlinked = [`${prefix}-appointment-unlink`, 'none', 'none', unlinkState];
      // Neither owner nor organizer.
      expect(summary(plan(withCrm(base, (r) => ({ ...r, parties: r.parties.filter((p) => p.participationTypeMask !== 7) }))))).toEqual(unlinked);
      // Started in the past.
      expect(summary(plan(withCrm(base, (r) => ({ ...r, data: { ...r.data, scheduledstart: '2026-06-15T11:59:59Z' } }))))).toEqual(unlinked);
      // Completed (1) or canceled (2) in the CRM.
      expect(summary(plan(withCrm(base, (r) => ({ ...r, data: { ...r.data, statecode: 1, statuscode: 3 } }))))).toEqual(unlinked);
      expect(summary(plan(withCrm(base, (r) => ({ ...r, data: { ...r.data, statecode: 2, statuscode: 4 } }))))).toEqual(unlinked);
      // Open (0) counts like scheduled.
      expect(summary(plan(withCrm(base, (r) => ({ ...r, data: { ...r.data, statecode: 0, statuscode: 1 } }))))[2]).toBe('delete');
    }
  });

  test('Outlook, deleted | task | deleted in CRM if not completed; otherwise unlink', () => {
    const base = planInput('task', 'gone', 'inScope', 'linked');
    expect(summary(plan(base))).toEqual(['outlook-deleted-open-task', 'none', 'delete', 'remove']);
    const completed = withCrm(base, (r) => ({ ...r, data: { ...r.data, statecode: 1, statuscode: 5 } }));
    expect(summary(plan(completed))).toEqual(['outlook-deleted-completed-task-unlink', 'none', 'none', 'put:deletedLocally']);
  });

  test('extension: Outlook, untracked | task | as contacts: unlink; delete in CRM only if deleteInCrmOnUntrack', () => {
    expect(summary(plan(planInput('task', 'untracked', 'inScope', 'linked')))).toEqual(['untracked-unlink', 'none', 'none', 'put:unlinked']);
    expect(summary(plan(planInput('task', 'untracked', 'inScope', 'linked', { settings: { deleteInCrmOnUntrack: true } })))[2]).toBe('delete');
  });

  test('Outlook, deleted | e-mail | never deleted in CRM', () => {
    expect(summary(plan(planInput('email', 'gone', 'inScope', 'linked', { settings: { deleteInCrmOnUntrack: true } })))).toEqual([
      'outlook-deleted-email-unlink',
      'none',
      'none',
      'put:deletedLocally',
    ]);
  });

  test('CRM, deleted | contact | deleted in Outlook if the mailbox owner is not the CRM owner; else the contact is unlinked', () => {
    expect(summary(plan(planInput('contact', 'tracked', 'gone', 'linked')))).toEqual(['crm-deleted-contact', 'delete', 'none', 'remove']);
    const own = planInput('contact', 'tracked', 'gone', 'linked');
    own.mapping = { ...own.mapping!, baseline: { ...own.mapping!.baseline, '@crmOwnerId': ME } };
    // Unlinked: the row goes with the record, and the Outlook contact visibly loses marker, category and stamp.
    const p = plan(own);
    expect(summary(p)).toEqual(['crm-deleted-own-contact-unlink', 'update', 'none', 'remove']);
    expect(p.outlook).toEqual({ type: 'update', write: null, tracking: { marker: false, category: false, crmId: null } });
  });

  test('CRM, deleted | appointment | deleted in Outlook if it starts in the future; otherwise unlink', () => {
    expect(summary(plan(planInput('appointment', 'tracked', 'gone', 'linked')))).toEqual(['crm-deleted-future-appointment', 'delete', 'none', 'remove']);
    const past = planInput('appointment', 'tracked', 'gone', 'linked');
    if (past.outlook.state !== 'present') throw new Error('fixture');
    const data = { ...past.outlook.item.data, start: { dateTime: '2026-06-15T11:00:00.0000000', timeZone: 'UTC' }, end: { dateTime: '2026-06-15T13:00:00.0000000', timeZone: 'UTC' } };
    past.outlook = { state: 'present', item: { ...past.outlook.item, data } };
    expect(summary(plan(past))).toEqual(['crm-deleted-past-appointment-unlink', 'update', 'none', 'remove']);
  });

  test('CRM, deleted | task | deleted in Outlook if not completed; otherwise unlink', () => {
    expect(summary(plan(planInput('task', 'tracked', 'gone', 'linked')))).toEqual(['crm-deleted-open-task', 'delete', 'none', 'remove']);
    const done = planInput('task', 'tracked', 'gone', 'linked');
    if (done.outlook.state !== 'present') throw new Error('fixture');
    done.outlook = { state: 'present', item: { ...done.outlook.item, data: { ...done.outlook.item.data, status: 'completed' } } };
    expect(summary(plan(done))).toEqual(['crm-deleted-completed-task-unlink', 'update', 'none', 'remove']);
  });

  test('CRM, deleted | e-mail | never deleted in Outlook', () => {
    expect(summary(plan(planInput('email', 'tracked', 'gone', 'linked')))).toEqual(['crm-deleted-email-unlink', 'update', 'none', 'remove']);
  });

  test("CRM, left the user's scope (reassigned) | contact | deleted in Outlook, except items the user tracked from Outlook, which stay", () => {
    expect(summary(plan(planInput('contact', 'tracked', 'outOfScope', 'linked')))).toEqual(['crm-out-of-scope-contact', 'delete', 'none', 'remove']);
    for (const trackedVia of ['outlook', 'both'] as const) {
      const input = planInput('contact', 'tracked', 'outOfScope', 'linked');
      input.mapping = { ...input.mapping!, trackedVia };
      // Stays, linked, and nothing is written to a record outside the user's scope.
      expect(summary(plan(input))).toEqual(['crm-out-of-scope-tracked-in-outlook', 'none', 'none', 'keep']);
    }
  });

  test('extension: CRM, left the scope | activities | tracked from Outlook stays; created from the CRM scope is unlinked', () => {
    for (const kind of ['appointment', 'task', 'email'] as const) {
      expect(summary(plan(planInput(kind, 'tracked', 'outOfScope', 'linked')))).toEqual(['crm-out-of-scope-unlink', 'update', 'none', 'put:unlinked']);
      const input = planInput(kind, 'tracked', 'outOfScope', 'linked');
      input.mapping = { ...input.mapping!, trackedVia: 'outlook' };
      expect(summary(plan(input))).toEqual(['crm-out-of-scope-tracked-in-outlook', 'none', 'none', 'keep']);
    }
  });

  test('Outlook, event left the calendar window | appointment | nothing: Graph reports it removed, but it is only out of view', () => {
    for (const c of ['inScope', 'outOfScope', 'absent'] as const) {
      // Nothing is written and the pair stays linked; the pending change is deferred, not dropped (isDeferredPlan).
      expect(summary(plan(planInput('appointment', 'outOfView', c, 'linked')))).toEqual(['outlook-out-of-view-deferred', 'none', 'none', 'keep']);
    }
  });
});

describe('DESIGN.md §2 tracking', () => {
  const contact = (tracking: { marker: boolean; category: boolean }, isDraft = false) => item('contact', {}, { tracking, isDraft });

  test('the marker property or the category tracks; neither does not', () => {
    expect(isTracked(contact({ marker: true, category: false }), 'Tracked to CRM')).toBe(true);
    expect(isTracked(contact({ marker: false, category: true }), 'Tracked to CRM')).toBe(true);
    expect(isTracked(contact({ marker: false, category: false }), 'Tracked to CRM')).toBe(false);
  });

  test('drafts are never tracked; the same message is tracked once sent', () => {
    const draft = item('email', {}, { isDraft: true, tracking: { marker: true, category: true } });
    expect(isTracked(draft, 'Tracked to CRM')).toBe(false);
    expect(summary(plan(planInput('email', 'draft', 'absent', 'none')))).toEqual(['draft-never-tracked', 'none', 'none', 'keep']);
    expect(plan(planInput('email', 'tracked', 'absent', 'none')).crm.type).toBe('create');
  });

  test('To Do tasks are tracked by the category alone (no extended properties)', () => {
    expect(isTracked(item('task', {}, { tracking: { marker: true, category: false } }), 'x')).toBe(false);
    expect(isStillTracked(item('task', {}, { tracking: { marker: false, category: true } }))).toBe(true);
  });

  test('keeping marker and category in step: a category set by a user gets the property, a property gets the category', () => {
    for (const tracking of [
      { marker: false, category: true },
      { marker: true, category: false },
    ]) {
      const fx = pairFixture('contact');
      const p = plan({
        outlook: { state: 'present', item: { ...fx.outlook, tracking } },
        crm: { state: 'present', record: fx.crm, inScope: true },
        mapping: null,
        context: context('contact'),
      });
      expect(p.outlook).toEqual({ type: 'update', write: null, tracking: { marker: true, category: true, crmId: fx.crm.id } });
      expect(summary(p)).toEqual(['link-existing', 'update', 'none', 'put:linked']);
    }
  });

  test('on a linked item, removing the category untracks (and the marker is removed); a missing marker alone is upkeep', () => {
    // sync-lessons.md §1.6: the category is the user's signal. The stamp equals the mapping, so the upkeep had landed.
    const untracked = planInput('contact', 'tracked', 'inScope', 'linked');
    if (untracked.outlook.state !== 'present') throw new Error('fixture');
    untracked.outlook = { state: 'present', item: { ...untracked.outlook.item, tracking: { marker: true, category: false } } };
    const p = plan(untracked);
    expect(summary(p)).toEqual(['untracked-unlink', 'update', 'none', 'put:unlinked']);
    expect(p.outlook).toEqual({ type: 'update', write: null, tracking: { marker: false, category: false, crmId: 'c-contact-1' } });
    // Category present, marker gone: still tracked; the upkeep puts the marker back (review-fixes.test.ts, fix 1).
    const upkeep = planInput('contact', 'tracked', 'inScope', 'linked');
    if (upkeep.outlook.state !== 'present') throw new Error('fixture');
    upkeep.outlook = { state: 'present', item: { ...upkeep.outlook.item, tracking: { marker: false, category: true } } };
    const q = plan(upkeep);
    expect(summary(q)).toEqual(['tracking-upkeep', 'update', 'none', 'keep']);
    expect(q.outlook).toEqual({ type: 'update', write: null, tracking: { marker: true, category: true, crmId: 'c-contact-1' } });
  });

  test('re-tracking an unlinked pair re-links it (no duplicate), merging against the kept baseline', () => {
    const input = planInput('contact', 'tracked', 'inScope', 'unlinked');
    const p = plan(input);
    expect(summary(p)).toEqual(['retracked-relink', 'none', 'none', 'put:linked']);
    expect(p.crm.type).not.toBe('create');
  });

  test('an unmapped Outlook item whose CrmId stamp points at a present CRM record links to it', () => {
    const p = plan(planInput('contact', 'tracked', 'inScope', 'none'));
    expect(summary(p)).toEqual(['link-existing', 'none', 'none', 'put:linked']);
  });

  test('a linked item missing its CrmId stamp gets it back (upkeep) without any field write', () => {
    const input = planInput('appointment', 'tracked', 'inScope', 'linked');
    if (input.outlook.state !== 'present') throw new Error('fixture');
    input.outlook = { state: 'present', item: { ...input.outlook.item, crmId: null } };
    const p = plan(input);
    expect(summary(p)).toEqual(['tracking-upkeep', 'update', 'none', 'keep']);
    expect(p.outlook).toEqual({ type: 'update', write: null, tracking: { marker: true, category: true, crmId: 'c-appointment-1' } });
  });
});

describe('meetings organized by someone else', () => {
  test('a CRM appointment organized by another user is not created in this mailbox (no invitations sent from it)', () => {
    const input = planInput('appointment', 'absent', 'inScope', 'none');
    const byOther = withCrm(input, (r) => ({
      ...r,
      parties: r.parties.map((p) => (p.participationTypeMask === 7 ? { ...p, party: { entity: 'systemuser' as const, id: 'someone-else' } } : p)),
    }));
    expect(summary(plan(byOther))).toEqual(['crm-appointment-organized-by-other', 'none', 'none', 'keep']);
    expect(summary(plan(input))).toEqual(['crm-in-scope-create-in-outlook', 'create', 'none', 'put:linked']);
  });

  test("on an attendee's copy (isOrganizer false) the attendee list only travels to the CRM", () => {
    const input = planInput('appointment', 'tracked', 'inScope', 'linked');
    if (input.outlook.state !== 'present') throw new Error('fixture');
    const extra = { participationTypeMask: 6, address: 'new@contoso.com', party: null };
    const crmAdded = withCrm(input, (r) => ({ ...r, parties: [...r.parties, extra], modifiedOn: '2026-06-02T00:00:00Z' }));
    const attendeeCopy = { ...crmAdded, outlook: { state: 'present' as const, item: { ...input.outlook.item, data: { ...input.outlook.item.data, isOrganizer: false } } } };
    const p = plan(attendeeCopy);
    // The CRM-side addition is not pushed to the attendee's copy; the copy's list is written back to the CRM.
    expect(p.outlook.type).toBe('none');
    expect(p.crm.type).toBe('update');
    if (p.crm.type !== 'update') return;
    expect(p.crm.write.parties?.map((x) => x.address)).toEqual(['ann@contoso.com', 'me@contoso.com']);
    // On the organizer's copy the same CRM change reaches Outlook.
    const organizerCopy = plan(crmAdded);
    expect(organizerCopy.outlook.type).toBe('update');
    expect(organizerCopy.crm.type).toBe('none');
  });
});
