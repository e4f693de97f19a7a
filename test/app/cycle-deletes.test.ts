// Deletes: the mass-delete guard and its admin confirmation, token eviction with mark-and-sweep, and dry runs
// (DESIGN.md §4 "Guards", §4.4, §6; graph-behaviour.md §1.6; sync-lessons.md §1.5, §4.1–§4.3).
import { confirmHeldDeletes } from '../../src/app/delete-guard';
import { mailboxStatus } from '../../src/app/status';
import { crmContact, crmTask, taggedContact, taggedEvent, taggedTask } from './support/fixtures';
import { MAILBOX, World } from './support/world';

async function worldWithSyncedTasks(titles: string[]): Promise<{ world: World; ids: string[] }> {
  const world = new World();
  const list = world.outlook.defaultTodoListId(MAILBOX);
  const ids = titles.map((title) => world.outlook.userCreate(MAILBOX, 'task', list, taggedTask(title)));
  await world.cycle();
  await world.cycle();
  expect(world.crm.all('task')).toHaveLength(titles.length);
  return { world, ids };
}

describe('delete guard', () => {
  it('holds every delete of a cycle over the limit, alerts, and runs them after an admin confirms', async () => {
    const { world, ids } = await worldWithSyncedTasks(['One', 'Two', 'Three', 'Four']);
    world.settings = { ...world.settings, deleteGuard: { maxCount: 2, maxShare: 1 } };
    for (const id of ids.slice(0, 3)) world.outlook.userDelete(MAILBOX, id);

    const held = await world.cycle();

    // DESIGN.md §6: an open task deleted in Outlook is deleted in the CRM — three of them is over the limit of two.
    expect(held.heldDeletes).toBe(3);
    expect(held.outcome).toBe('partial');
    expect(held.alerts).toEqual([expect.stringContaining('3 deletes held')]);
    expect(world.writes.serviceWrites()).toEqual({});
    expect(world.crm.all('task')).toHaveLength(4);
    const status = await mailboxStatus(world.store, MAILBOX);
    expect(status.heldDeletes).toHaveLength(3);
    expect(status.heldDeletes.every((row) => row.reason === 'delete-held')).toBe(true);

    // Still held on the next cycle: nothing changed, nobody confirmed.
    const again = await world.cycle();
    expect(again.heldDeletes).toBe(3);
    expect(world.crm.all('task')).toHaveLength(4);

    expect(await confirmHeldDeletes(world.store, MAILBOX)).toBe(3);
    const confirmed = await world.cycle();
    expect(confirmed.heldDeletes).toBe(0);
    expect(world.writes.serviceWrites()).toEqual({ 'crm.delete': 3 });
    expect(world.crm.all('task').map((t) => t.data.subject)).toEqual(['Four']);
    expect((await mailboxStatus(world.store, MAILBOX)).heldDeletes).toEqual([]);
  });

  it('runs deletes within the limits at once', async () => {
    const { world, ids } = await worldWithSyncedTasks(['One', 'Two', 'Three', 'Four']);
    world.settings = { ...world.settings, deleteGuard: { maxCount: 2, maxShare: 0.5 } };
    world.outlook.userDelete(MAILBOX, ids[0] ?? '');
    world.outlook.userDelete(MAILBOX, ids[1] ?? '');

    const summary = await world.cycle();

    expect(summary.heldDeletes).toBe(0);
    expect(world.writes.serviceWrites()).toEqual({ 'crm.delete': 2 });
    expect(world.crm.all('task')).toHaveLength(2);
  });

  it('trips on the share of linked items as well as on the count', async () => {
    const { world, ids } = await worldWithSyncedTasks(['One', 'Two', 'Three', 'Four']);
    world.settings = { ...world.settings, deleteGuard: { maxCount: 100, maxShare: 0.25 } };
    world.outlook.userDelete(MAILBOX, ids[0] ?? '');
    world.outlook.userDelete(MAILBOX, ids[1] ?? '');

    const summary = await world.cycle();

    expect(summary.heldDeletes).toBe(2);
    expect(world.crm.all('task')).toHaveLength(4);
  });
});

describe('scope', () => {
  it('deletes an Outlook contact whose CRM record was reassigned out of scope, and keeps one tracked from Outlook', async () => {
    const world = new World();
    const fromCrm = crmContact(world, 'Grace', 'Hopper', 'grace@example.org');
    world.outlook.userCreate(MAILBOX, 'contact', 'contacts', taggedContact('Ada', 'Lovelace', 'ada@example.org'));
    await world.cycle();
    await world.cycle();
    const fromOutlook = world.crm.all('contact').find((c) => c.data.firstname === 'Ada')?.id ?? '';

    world.crm.reassign('contact', fromCrm, 'another-user');
    world.crm.reassign('contact', fromOutlook, 'another-user');
    await world.cycle();

    // DESIGN.md §6: "CRM, left the user's scope (reassigned) | contact | treated as a delete in Outlook, except items
    // the user tracked from Outlook, which stay".
    expect(world.outlook.snapshot(MAILBOX, 'contact').map((c) => c.data.givenName)).toEqual(['Ada']);
    expect(world.writes.serviceWrites()['outlook.delete']).toBe(1);
    expect(world.crm.all('contact')).toHaveLength(2);
  });
});

describe('token eviction', () => {
  it('re-reads in full without duplicates and deletes only what a direct read confirms gone', async () => {
    const { world, ids } = await worldWithSyncedTasks(['Keep', 'Delete me', 'Edit me']);
    world.outlook.userCreate(MAILBOX, 'contact', 'contacts', taggedContact('Ada', 'Lovelace', 'ada@example.org'));
    await world.cycle();
    await world.cycle();
    const before = { crmTasks: world.crm.all('task').length, crmContacts: world.crm.all('contact').length };

    world.outlook.evict(MAILBOX);
    world.crm.expireCursors();
    world.outlook.userDelete(MAILBOX, ids[1] ?? '');
    world.outlook.userEdit(MAILBOX, ids[2] ?? '', { title: 'Edited' });

    const summary = await world.cycle();

    expect(summary.failures).toEqual([]);
    expect(summary.counts['streams.resync']).toBeGreaterThanOrEqual(2);
    // The full listing emits no removal for the deleted task: the sweep finds it unvisited, a direct read confirms it.
    expect(world.crm.all('task').map((t) => t.data.subject).sort()).toEqual(['Edited', 'Keep']);
    expect(world.crm.all('contact')).toHaveLength(before.crmContacts);
    expect(world.outlook.snapshot(MAILBOX, 'task')).toHaveLength(2);
    expect(world.outlook.snapshot(MAILBOX, 'contact')).toHaveLength(1);
    expect(before.crmTasks).toBe(3);
    // Sweep markers are cleared once the sweep ran.
    const cursors = await world.store.listCursors(MAILBOX);
    expect([...cursors.keys()].filter((key) => key.startsWith('sweep:'))).toEqual([]);
    await world.cycle();
    await world.cycle();
    expect(world.writes.serviceWrites()).toEqual({});
  });

  it('never deletes on an unvisited mapping whose item still exists (an event that left the calendar window)', async () => {
    const world = new World();
    const id = world.outlook.userCreate(MAILBOX, 'appointment', 'calendar', taggedEvent('Soon', '2026-03-05T10:00:00.000Z'));
    await world.cycle();
    await world.cycle();
    expect(world.crm.all('appointment')).toHaveLength(1);
    // Moved far out of the window, then the token is evicted: the full re-read does not list it any more.
    world.outlook.userEdit(MAILBOX, id, {
      start: { dateTime: '2029-01-01T10:00:00.0000000', timeZone: 'UTC' },
      end: { dateTime: '2029-01-01T11:00:00.0000000', timeZone: 'UTC' },
    });
    world.outlook.evict(MAILBOX);

    const summary = await world.cycle();

    expect(summary.counts['sweep.candidates']).toBe(1);
    expect(world.outlook.snapshot(MAILBOX, 'appointment')).toHaveLength(1);
    expect(world.crm.all('appointment')).toHaveLength(1);
    expect(world.writes.serviceWrites()['crm.delete'] ?? 0).toBe(0);
  });
});

describe('token eviction in the CRM', () => {
  it('sweeps mapped records the full re-read no longer lists, and deletes only after a direct read', async () => {
    const world = new World();
    const gone = crmTask(world, 'Deleted in the CRM');
    crmTask(world, 'Still there');
    await world.cycle();
    await world.cycle();
    expect(world.outlook.snapshot(MAILBOX, 'task')).toHaveLength(2);

    world.crm.expireCursors();
    world.crm.userDelete('task', gone);
    const summary = await world.cycle();

    // The full re-read after the expiry carries no deletes (dataverse-behaviour.md §1.3): only the sweep finds it.
    expect(summary.counts['sweep.candidates']).toBe(1);
    expect(world.outlook.snapshot(MAILBOX, 'task').map((t) => t.data.title)).toEqual(['Still there']);
    expect(world.crm.all('task')).toHaveLength(1);
  });
});

describe('reconciliation', () => {
  it('finds a deletion the delta feed dropped, and the next cycle applies it', async () => {
    const { world, ids } = await worldWithSyncedTasks(['Open task', 'Other']);
    world.outlook.userDelete(MAILBOX, ids[0] ?? '');
    // graph-behaviour.md §1.4 / sync-lessons.md §4.11: a delta round that omits a removal.
    const deps = world.deps();
    const readDelta = deps.mailboxSource.readDelta.bind(deps.mailboxSource);
    deps.mailboxSource.readDelta = (mailbox, stream, cursor, onPage, window) =>
      readDelta(mailbox, stream, cursor, (page) => onPage({ ...page, entries: page.entries.filter((e) => !e.removed) }), window);

    const missed = await world.cycle({ deps });

    expect(world.crm.all('task')).toHaveLength(2);
    expect(missed.counts['reconcile.changes']).toBe(1);
    expect((await world.mappings()).every((m) => m.verifiedAt !== null)).toBe(true);
    await world.cycle();
    expect(world.crm.all('task').map((t) => t.data.subject)).toEqual(['Other']);
  });

  it('verifies a bounded number of mappings per cycle, oldest first', async () => {
    const { world } = await worldWithSyncedTasks(['One', 'Two', 'Three']);
    const before = new Map((await world.mappings()).map((m) => [m.mapId, m.verifiedAt]));
    const summary = await world.cycle({ reconcileLimit: 2 });
    expect(summary.counts['reconcile.verified']).toBe(2);
    const after = await world.mappings();
    expect(after.filter((m) => m.verifiedAt !== before.get(m.mapId))).toHaveLength(2);
  });
});

describe('dry run', () => {
  it('writes nothing to Graph or the CRM, reports what it would write, and leaves the writes to the real run', async () => {
    const world = new World();
    world.outlook.userCreate(MAILBOX, 'contact', 'contacts', taggedContact('Ada', 'Lovelace', 'ada@example.org'));
    crmContact(world, 'Grace', 'Hopper', 'grace@example.org');
    crmTask(world, 'Call back');

    const dry = await world.cycle({ settings: { dryRun: true } });

    expect(dry.dryRun).toBe(true);
    expect(world.writes.serviceWrites()).toEqual({});
    expect(world.outlook.masterCategories(MAILBOX)).toEqual([]);
    expect(dry.counts).toMatchObject({ 'crm.create': 1, 'outlook.create': 2, 'outlook.update': 1, 'mapping.put': 3 });
    expect(await world.mappings()).toEqual([]);
    expect(await world.store.countChanges(MAILBOX)).toBe(3);

    const real = await world.cycle();
    expect(real.dryRun).toBe(false);
    expect(world.writes.serviceWrites()).toEqual({ 'crm.create': 1, 'outlook.create': 2, 'outlook.update': 1 });
    expect(await world.mappings()).toHaveLength(3);
    expect(await world.store.countChanges(MAILBOX)).toBe(0);
  });
});
