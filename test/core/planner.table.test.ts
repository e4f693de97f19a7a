// The planner's decision table, OfflineIMAP/GenSync style (sync-lessons.md §5.2, §5.4 layer 1): EVERY combination of
// Outlook side × CRM side × mapping row × kind, with the expected outcome written out below. Each combination must match
// exactly one row (a row's kind `*` covers all four kinds; a kind-specific row overrides it). The pairs are the
// in-sync fixtures of ./fixtures.ts (appointment: scheduled, future, mailbox owner is organizer; task: not completed;
// contact: CRM owner is another user); the rule variants are in rules.test.ts.
//
// Outlook: tracked | untracked (no marker, no category) | gone (confirmed deleted) | outOfView | absent (none known)
// CRM:     inScope | outOfScope (present, reassigned) | gone (confirmed deleted) | absent (none known)
// Mapping: none | linked | pendingCreate | unlinked | deletedLocally
import { plan } from '../../src/core/planner';
import { ITEM_KINDS, type ItemKind } from '../../src/core/model';
import type { Plan } from '../../src/core/plan';
import { planInput, type CrmDim, type MappingDim, type OutlookDim } from './fixtures';

type KindSel = '*' | ItemKind | ItemKind[];
type Row = [OutlookDim | '*', CrmDim | '*', MappingDim, KindSel, string, string, string, string];
//          outlook       crm           mapping     kinds   reason                                  outlook   crm       mapping

const TABLE: Row[] = [
  // ---- no mapping row --------------------------------------------------------------------------------------------
  ['tracked',   'inScope',    'none', '*',   'link-existing',                          'none',   'none',   'put:linked'],
  ['tracked',   'outOfScope', 'none', '*',   'crm-out-of-scope-unmapped',              'none',   'none',   'keep'],
  // The fixture's item carries its CrmId stamp: a stamped record that is gone is the CRM-deleted row of §6, never a
  // create (the crash-between-create-and-commit case). Without owner evidence a contact is only unlinked. An item
  // without a stamp is created (pinned-bugs.test.ts).
  ['tracked',   'gone',       'none', 'contact', 'crm-deleted-stamped-contact-unlink',  'update', 'none',   'keep'],
  ['tracked',   'gone',       'none', 'appointment', 'crm-deleted-future-appointment',  'delete', 'none',   'keep'],
  ['tracked',   'gone',       'none', 'task', 'crm-deleted-open-task',                  'delete', 'none',   'keep'],
  ['tracked',   'gone',       'none', 'email', 'crm-deleted-email-unlink',              'update', 'none',   'keep'],
  ['tracked',   'absent',     'none', '*',   'outlook-tracked-create-in-crm',          'update', 'create', 'put:linked'],
  ['untracked', '*',          'none', '*',   'outlook-untracked',                      'none',   'none',   'keep'],
  ['gone',      '*',          'none', '*',   'outlook-gone-unmapped',                  'none',   'none',   'keep'],
  ['outOfView', '*',          'none', '*',   'outlook-gone-unmapped',                  'none',   'none',   'keep'],
  ['absent',    'inScope',    'none', '*',   'crm-in-scope-create-in-outlook',         'create', 'none',   'put:linked'],
  ['absent',    'inScope',    'none', 'email', 'email-never-created-in-outlook',       'none',   'none',   'keep'],
  ['absent',    'outOfScope', 'none', '*',   'crm-out-of-scope-unmapped',              'none',   'none',   'keep'],
  ['absent',    'gone',       'none', '*',   'nothing-to-sync',                        'none',   'none',   'keep'],
  ['absent',    'absent',     'none', '*',   'nothing-to-sync',                        'none',   'none',   'keep'],

  // ---- linked ----------------------------------------------------------------------------------------------------
  ['tracked',   'inScope',    'linked', '*', 'in-sync',                                'none',   'none',   'keep'],
  ['tracked',   'outOfScope', 'linked', '*', 'crm-out-of-scope-unlink',                'update', 'none',   'put:unlinked'],
  ['tracked',   'outOfScope', 'linked', 'contact', 'crm-out-of-scope-contact',         'delete', 'none',   'remove'],
  ['tracked',   'gone',       'linked', 'contact', 'crm-deleted-contact',              'delete', 'none',   'remove'],
  ['tracked',   'gone',       'linked', 'appointment', 'crm-deleted-future-appointment', 'delete', 'none', 'remove'],
  ['tracked',   'gone',       'linked', 'task', 'crm-deleted-open-task',               'delete', 'none',   'remove'],
  ['tracked',   'gone',       'linked', 'email', 'crm-deleted-email-unlink',           'update', 'none',   'remove'],
  // CRM record not read (absent): deferred (outcomes.ts DEFERRED_REASONS), the change row is kept and retried.
  ['tracked',   'absent',     'linked', '*', 'linked-crm-unknown',                     'none',   'none',   'keep'],
  ['untracked', 'inScope',    'linked', '*', 'untracked-unlink',                       'none',   'none',   'put:unlinked'],
  ['untracked', 'inScope',    'linked', 'appointment', 'untracked-future-own-appointment', 'update', 'delete', 'remove'],
  ['untracked', 'outOfScope', 'linked', '*', 'untracked-unlink',                       'none',   'none',   'put:unlinked'],
  ['untracked', 'outOfScope', 'linked', 'appointment', 'untracked-crm-out-of-scope-unlink', 'none', 'none', 'put:unlinked'],
  ['untracked', 'gone',       'linked', '*', 'untracked-crm-gone',                     'update', 'none',   'remove'],
  ['untracked', 'absent',     'linked', '*', 'untracked-crm-gone',                     'update', 'none',   'remove'],
  ['gone',      'inScope',    'linked', 'contact', 'outlook-deleted-contact-unlink',   'none',   'none',   'put:deletedLocally'],
  ['gone',      'inScope',    'linked', 'appointment', 'outlook-deleted-future-own-appointment', 'none', 'delete', 'remove'],
  ['gone',      'inScope',    'linked', 'task', 'outlook-deleted-open-task',           'none',   'delete', 'remove'],
  ['gone',      'inScope',    'linked', 'email', 'outlook-deleted-email-unlink',       'none',   'none',   'put:deletedLocally'],
  ['gone',      'outOfScope', 'linked', 'contact', 'outlook-deleted-contact-unlink',   'none',   'none',   'put:deletedLocally'],
  ['gone',      'outOfScope', 'linked', ['appointment', 'task'], 'outlook-deleted-crm-out-of-scope', 'none', 'none', 'put:deletedLocally'],
  ['gone',      'outOfScope', 'linked', 'email', 'outlook-deleted-email-unlink',       'none',   'none',   'put:deletedLocally'],
  ['gone',      'gone',       'linked', '*', 'both-deleted',                           'none',   'none',   'remove'],
  ['gone',      'absent',     'linked', '*', 'both-deleted',                           'none',   'none',   'remove'],
  // Out of view and not read: nothing written, and the deferred reason tells the app to keep the change row.
  ['outOfView', 'inScope',    'linked', '*', 'outlook-out-of-view-deferred',           'none',   'none',   'keep'],
  ['outOfView', 'outOfScope', 'linked', '*', 'outlook-out-of-view-deferred',           'none',   'none',   'keep'],
  ['outOfView', 'gone',       'linked', 'contact', 'crm-deleted-contact',              'delete', 'none',   'remove'],
  ['outOfView', 'gone',       'linked', 'appointment', 'crm-deleted-future-appointment', 'delete', 'none', 'remove'],
  ['outOfView', 'gone',       'linked', 'task', 'crm-deleted-open-task',               'delete', 'none',   'remove'],
  ['outOfView', 'gone',       'linked', 'email', 'crm-deleted-email-unlink',           'none',   'none',   'remove'],
  ['outOfView', 'absent',     'linked', '*', 'outlook-out-of-view-deferred',           'none',   'none',   'keep'],
  // One side not read (absent): deferred too (outcomes.ts DEFERRED_REASONS), the change row is kept and retried.
  ['absent',    '*',          'linked', '*', 'linked-outlook-unknown',                 'none',   'none',   'keep'],

  // ---- pendingCreate (committed before the CRM create of an Outlook item; issue 6) ----------------------------------
  // The fixture row is tracked from Outlook, as the app writes it. With the record present it is a linked pair, and the
  // row always becomes `linked` (never kept as pendingCreate).
  ['tracked',   'inScope',    'pendingCreate', '*', 'in-sync',                         'none',   'none',   'put:linked'],
  ['tracked',   'outOfScope', 'pendingCreate', '*', 'crm-out-of-scope-tracked-in-outlook', 'none', 'none', 'put:linked'],
  // No record: not created yet (or the response was lost) — created again with the same idempotency key, never read
  // as a CRM delete (that would unlink or delete the Outlook item).
  ['tracked',   'gone',       'pendingCreate', '*', 'pending-create-in-crm',           'update', 'create', 'put:linked'],
  ['tracked',   'absent',     'pendingCreate', '*', 'pending-create-in-crm',           'update', 'create', 'put:linked'],
  // Untracked or deleted in Outlook: the linked pair's rules.
  ['untracked', 'inScope',    'pendingCreate', '*', 'untracked-unlink',                'none',   'none',   'put:unlinked'],
  ['untracked', 'inScope',    'pendingCreate', 'appointment', 'untracked-future-own-appointment', 'update', 'delete', 'remove'],
  ['untracked', 'outOfScope', 'pendingCreate', '*', 'untracked-unlink',                'none',   'none',   'put:unlinked'],
  ['untracked', 'outOfScope', 'pendingCreate', 'appointment', 'untracked-crm-out-of-scope-unlink', 'none', 'none', 'put:unlinked'],
  ['untracked', 'gone',       'pendingCreate', '*', 'untracked-crm-gone',              'update', 'none',   'remove'],
  ['untracked', 'absent',     'pendingCreate', '*', 'untracked-crm-gone',              'update', 'none',   'remove'],
  ['gone',      'inScope',    'pendingCreate', 'contact', 'outlook-deleted-contact-unlink', 'none', 'none',   'put:deletedLocally'],
  ['gone',      'inScope',    'pendingCreate', 'appointment', 'outlook-deleted-future-own-appointment', 'none', 'delete', 'remove'],
  ['gone',      'inScope',    'pendingCreate', 'task', 'outlook-deleted-open-task',    'none',   'delete', 'remove'],
  ['gone',      'inScope',    'pendingCreate', 'email', 'outlook-deleted-email-unlink', 'none',  'none',   'put:deletedLocally'],
  ['gone',      'outOfScope', 'pendingCreate', 'contact', 'outlook-deleted-contact-unlink', 'none', 'none',   'put:deletedLocally'],
  ['gone',      'outOfScope', 'pendingCreate', ['appointment', 'task'], 'outlook-deleted-crm-out-of-scope', 'none', 'none', 'put:deletedLocally'],
  ['gone',      'outOfScope', 'pendingCreate', 'email', 'outlook-deleted-email-unlink', 'none',  'none',   'put:deletedLocally'],
  ['gone',      'gone',       'pendingCreate', '*', 'both-deleted',                    'none',   'none',   'remove'],
  // Unlike `linked`: a record not read may exist (created before a crash), and its feed row must still find the pair.
  ['gone',      'absent',     'pendingCreate', '*', 'linked-crm-unknown',              'none',   'none',   'keep'],
  // Out of view or not read: deferred, even with the record gone (no create for an item not at hand, no delete).
  ['outOfView', '*',          'pendingCreate', '*', 'outlook-out-of-view-deferred',    'none',   'none',   'keep'],
  ['absent',    '*',          'pendingCreate', '*', 'linked-outlook-unknown',          'none',   'none',   'keep'],

  // ---- unlinked (untracked earlier; the row is kept for re-linking) ------------------------------------------------
  ['tracked',   'inScope',    'unlinked', '*', 'retracked-relink',                     'none',   'none',   'put:linked'],
  ['tracked',   'outOfScope', 'unlinked', '*', 'retracked-crm-out-of-scope',           'none',   'none',   'keep'],
  ['tracked',   'gone',       'unlinked', '*', 'retracked-crm-gone-create-in-crm',     'update', 'create', 'put:linked'],
  ['tracked',   'absent',     'unlinked', '*', 'retracked-crm-gone-create-in-crm',     'update', 'create', 'put:linked'],
  ['untracked', 'gone',       'unlinked', '*', 'unlinked-crm-gone',                    'none',   'none',   'remove'],
  ['untracked', 'inScope',    'unlinked', '*', 'unlinked',                             'none',   'none',   'keep'],
  ['untracked', 'outOfScope', 'unlinked', '*', 'unlinked',                             'none',   'none',   'keep'],
  ['untracked', 'absent',     'unlinked', '*', 'unlinked',                             'none',   'none',   'keep'],
  ['gone',      'gone',       'unlinked', '*', 'unlinked-crm-gone',                    'none',   'none',   'remove'],
  // The row outlives the Outlook item (deletedLocally) so a later CRM change does not re-create it in Outlook.
  ['gone',      'inScope',    'unlinked', '*', 'unlinked-outlook-gone',                'none',   'none',   'put:deletedLocally'],
  ['gone',      'outOfScope', 'unlinked', '*', 'unlinked-outlook-gone',                'none',   'none',   'put:deletedLocally'],
  ['gone',      'absent',     'unlinked', '*', 'unlinked-outlook-gone',                'none',   'none',   'put:deletedLocally'],
  ['outOfView', 'gone',       'unlinked', '*', 'unlinked-crm-gone',                    'none',   'none',   'remove'],
  ['outOfView', 'inScope',    'unlinked', '*', 'unlinked',                             'none',   'none',   'keep'],
  ['outOfView', 'outOfScope', 'unlinked', '*', 'unlinked',                             'none',   'none',   'keep'],
  ['outOfView', 'absent',     'unlinked', '*', 'unlinked',                             'none',   'none',   'keep'],
  ['absent',    'gone',       'unlinked', '*', 'unlinked-crm-gone',                    'none',   'none',   'remove'],
  ['absent',    'inScope',    'unlinked', '*', 'unlinked',                             'none',   'none',   'keep'],
  ['absent',    'outOfScope', 'unlinked', '*', 'unlinked',                             'none',   'none',   'keep'],
  ['absent',    'absent',     'unlinked', '*', 'unlinked',                             'none',   'none',   'keep'],

  // ---- deletedLocally (deleted in Outlook, CRM record kept: never re-created in Outlook) ----------------------------
  ['tracked',   'inScope',    'deletedLocally', '*', 'retracked-relink',               'none',   'none',   'put:linked'],
  ['tracked',   'outOfScope', 'deletedLocally', '*', 'retracked-crm-out-of-scope',     'none',   'none',   'keep'],
  ['tracked',   'gone',       'deletedLocally', '*', 'retracked-crm-gone-create-in-crm', 'update', 'create', 'put:linked'],
  ['tracked',   'absent',     'deletedLocally', '*', 'retracked-crm-gone-create-in-crm', 'update', 'create', 'put:linked'],
  ['untracked', 'gone',       'deletedLocally', '*', 'deletedLocally-crm-gone',        'none',   'none',   'remove'],
  ['gone',      'gone',       'deletedLocally', '*', 'deletedLocally-crm-gone',        'none',   'none',   'remove'],
  ['outOfView', 'gone',       'deletedLocally', '*', 'deletedLocally-crm-gone',        'none',   'none',   'remove'],
  ['absent',    'gone',       'deletedLocally', '*', 'deletedLocally-crm-gone',        'none',   'none',   'remove'],
  ['untracked', 'inScope',    'deletedLocally', '*', 'deleted-locally-not-recreated',  'none',   'none',   'keep'],
  ['untracked', 'outOfScope', 'deletedLocally', '*', 'deleted-locally-not-recreated',  'none',   'none',   'keep'],
  ['untracked', 'absent',     'deletedLocally', '*', 'deleted-locally-not-recreated',  'none',   'none',   'keep'],
  ['gone',      'inScope',    'deletedLocally', '*', 'deleted-locally-not-recreated',  'none',   'none',   'keep'],
  ['gone',      'outOfScope', 'deletedLocally', '*', 'deleted-locally-not-recreated',  'none',   'none',   'keep'],
  ['gone',      'absent',     'deletedLocally', '*', 'deleted-locally-not-recreated',  'none',   'none',   'keep'],
  ['outOfView', 'inScope',    'deletedLocally', '*', 'deleted-locally-not-recreated',  'none',   'none',   'keep'],
  ['outOfView', 'outOfScope', 'deletedLocally', '*', 'deleted-locally-not-recreated',  'none',   'none',   'keep'],
  ['outOfView', 'absent',     'deletedLocally', '*', 'deleted-locally-not-recreated',  'none',   'none',   'keep'],
  ['absent',    'inScope',    'deletedLocally', '*', 'deleted-locally-not-recreated',  'none',   'none',   'keep'],
  ['absent',    'outOfScope', 'deletedLocally', '*', 'deleted-locally-not-recreated',  'none',   'none',   'keep'],
  ['absent',    'absent',     'deletedLocally', '*', 'deleted-locally-not-recreated',  'none',   'none',   'keep'],
];

/** Settings-dependent rows: [outlook, crm, mapping, kinds, settings, reason, outlook, crm, mapping]. */
const SETTINGS_TABLE: [OutlookDim, CrmDim, MappingDim, KindSel, Record<string, boolean>, string, string, string, string][] = [
  ['tracked', 'inScope', 'linked', '*', { enabled: false }, 'kind-disabled', 'none', 'none', 'keep'],
  ['absent', 'inScope', 'none', '*', { enabled: false }, 'kind-disabled', 'none', 'none', 'keep'],
  ['absent', 'inScope', 'none', ['contact', 'appointment', 'task'], { syncFromCrm: false }, 'sync-from-crm-off', 'none', 'none', 'keep'],
  ['absent', 'inScope', 'none', 'email', { syncFromCrm: false }, 'email-never-created-in-outlook', 'none', 'none', 'keep'],
  ['untracked', 'inScope', 'linked', ['contact', 'task'], { deleteInCrmOnUntrack: true }, 'untracked-delete-in-crm', 'update', 'delete', 'remove'],
  ['untracked', 'outOfScope', 'linked', ['contact', 'task'], { deleteInCrmOnUntrack: true }, 'untracked-crm-out-of-scope-unlink', 'none', 'none', 'put:unlinked'],
  // The fixture's e-mail is owned by another user (the mailbox owner is a party): one shared record is never deleted by
  // one user's untrack (src/core/rules.ts; the owner's own e-mail: test/core/rules.test.ts).
  ['untracked', 'inScope', 'linked', 'email', { deleteInCrmOnUntrack: true }, 'untracked-shared-email-unlink', 'none', 'none', 'put:unlinked'],
  ['untracked', 'outOfScope', 'linked', 'email', { deleteInCrmOnUntrack: true }, 'untracked-shared-email-unlink', 'none', 'none', 'put:unlinked'],
  ['untracked', 'inScope', 'linked', 'appointment', { deleteInCrmOnUntrack: true }, 'untracked-future-own-appointment', 'update', 'delete', 'remove'],
  ['gone', 'inScope', 'linked', 'contact', { deleteInCrmOnUntrack: true }, 'outlook-deleted-contact-unlink', 'none', 'none', 'put:deletedLocally'],
  ['gone', 'inScope', 'linked', 'email', { deleteInCrmOnUntrack: true }, 'outlook-deleted-email-unlink', 'none', 'none', 'put:deletedLocally'],
  ['draft', 'absent', 'none', 'email', {}, 'draft-never-tracked', 'none', 'none', 'keep'],
  ['draft', 'inScope', 'none', 'email', {}, 'draft-never-tracked', 'none', 'none', 'keep'],
];

function summary(p: Plan): string[] {
  return [p.reason, p.outlook.type, p.crm.type, p.mapping.type === 'put' ? `put:${p.mapping.state}` : p.mapping.type];
}

function kindMatches(sel: KindSel, kind: ItemKind): 0 | 1 | 2 {
  if (sel === '*') return 1;
  return (Array.isArray(sel) ? sel.includes(kind) : sel === kind) ? 2 : 0;
}

/** The most specific row for a combination (kind-specific beats `*`; two rows equally specific is a table bug). */
function expectedRow(o: OutlookDim, c: CrmDim, m: MappingDim, kind: ItemKind): Row {
  const candidates = TABLE.filter((r) => (r[0] === '*' || r[0] === o) && (r[1] === '*' || r[1] === c) && r[2] === m && kindMatches(r[3], kind) > 0);
  const best = Math.max(...candidates.map((r) => kindMatches(r[3], kind)));
  const winners = candidates.filter((r) => kindMatches(r[3], kind) === best);
  if (winners.length !== 1) throw new Error(`${o}/${c}/${m}/${kind}: ${winners.length} matching rows`);
  return winners[0]!;
}

const OUTLOOK: OutlookDim[] = ['tracked', 'untracked', 'gone', 'outOfView', 'absent'];
const CRM: CrmDim[] = ['inScope', 'outOfScope', 'gone', 'absent'];
const MAPPING: MappingDim[] = ['none', 'linked', 'pendingCreate', 'unlinked', 'deletedLocally'];
const COMBINATIONS = OUTLOOK.flatMap((o) => CRM.flatMap((c) => MAPPING.flatMap((m) => ITEM_KINDS.map((k) => [o, c, m, k] as const))));

test('the table covers all 400 combinations, each by exactly one row', () => {
  expect(COMBINATIONS).toHaveLength(5 * 4 * 5 * 4);
  for (const [o, c, m, k] of COMBINATIONS) expect(() => expectedRow(o, c, m, k)).not.toThrow();
});

test.each(COMBINATIONS)('outlook %s × crm %s × mapping %s × %s', (o, c, m, kind) => {
  const row = expectedRow(o, c, m, kind);
  expect(summary(plan(planInput(kind, o, c, m)))).toEqual(row.slice(4));
});

const SETTINGS_CASES = SETTINGS_TABLE.flatMap((row) => ITEM_KINDS.filter((k) => kindMatches(row[3], k) > 0).map((k) => [row, k] as const));

test.each(SETTINGS_CASES)('settings row %j on %s', (row, kind) => {
  const [o, c, m, , settingsOverride, ...expected] = row;
  expect(summary(plan(planInput(kind, o, c, m, { settings: settingsOverride })))).toEqual(expected);
});

test('a pendingCreate row re-creates with the idempotency key of the first attempt, and never creates in Outlook', () => {
  for (const [o, c, , k] of COMBINATIONS) {
    const input = planInput(k, o, c, 'pendingCreate');
    const p = plan(input);
    expect(p.outlook.type).not.toBe('create');
    if (p.crm.type === 'create') expect(p.crm.idempotencyKey).toBe(`${k}:${input.mapping?.outlookId}`);
  }
});

test('no combination ever plans a create for a pair that is linked', () => {
  for (const [o, c, , k] of COMBINATIONS) {
    const p = plan(planInput(k, o, c, 'linked'));
    expect([p.outlook.type, p.crm.type]).not.toContain('create');
  }
});
