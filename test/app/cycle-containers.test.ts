// Where a mapped Outlook item lives (MappingRow.outlookContainer): with several To Do lists a task is only found inside
// its own list (graph-behaviour.md §2.5), so direct reads, reconciliation and sweeps must address the right one; a task
// deleted in Outlook is then handled by the deletion table (DESIGN.md §6), and a task moved to another list (a new id,
// DESIGN.md §3) is still followed, not deleted.
import type { JsonObject } from '../../src/core/model';
import type { CycleDeps } from '../../src/app/deps';
import { taggedMessage, taggedTask } from './support/fixtures';
import { MAILBOX, World } from './support/world';

interface TwoLists {
  world: World;
  defaultList: string;
  errands: string;
  /** Task ids by title. */
  tasks: Record<string, string>;
}

/** Tagged tasks in the default list and in a second list, synced to the CRM and linked. */
async function worldWithTwoLists(inDefault: string[], inErrands: string[]): Promise<TwoLists> {
  const world = new World();
  const defaultList = world.outlook.defaultTodoListId(MAILBOX);
  const errands = world.outlook.addTodoList(MAILBOX, 'Errands');
  const tasks: Record<string, string> = {};
  for (const title of inDefault) tasks[title] = world.outlook.userCreate(MAILBOX, 'task', defaultList, taggedTask(title));
  for (const title of inErrands) tasks[title] = world.outlook.userCreate(MAILBOX, 'task', errands, taggedTask(title));
  await world.cycle();
  await world.cycle();
  expect(world.crm.all('task')).toHaveLength(inDefault.length + inErrands.length);
  return { world, defaultList, errands, tasks };
}

/** graph-behaviour.md §1.4 / sync-lessons.md §4.11: delta rounds that omit removals (reconciliation must find them). */
function droppingRemovals(deps: CycleDeps): CycleDeps {
  const readDelta = deps.mailboxSource.readDelta.bind(deps.mailboxSource);
  deps.mailboxSource.readDelta = (mailbox, stream, cursor, onPage, window) =>
    readDelta(mailbox, stream, cursor, (page) => onPage({ ...page, entries: page.entries.filter((e) => !e.removed) }), window);
  return deps;
}

function subjects(world: World): string[] {
  return world.crm.all('task').map((t) => String(t.data.subject)).sort();
}

describe('MappingRow.outlookContainer', () => {
  it('records the list of every mapped task, whichever side created it', async () => {
    const { world, defaultList, errands, tasks } = await worldWithTwoLists(['Call back'], ['Buy stamps']);
    world.crm.userCreate('task', { attributes: { subject: 'From the CRM', statecode: 0, statuscode: 2 }, ownerId: world.user.id });
    await world.cycle();

    const byOutlookId = new Map((await world.mappings('task')).map((m) => [m.outlookId, m.outlookContainer]));
    expect(byOutlookId.get(tasks['Call back'] ?? '')).toBe(defaultList);
    expect(byOutlookId.get(tasks['Buy stamps'] ?? '')).toBe(errands);
    // Created in Outlook by the worker: in the default list (the first task stream).
    const created = world.outlook.snapshot(MAILBOX, 'task').find((t) => t.data.title === 'From the CRM');
    expect(created?.container).toBe(defaultList);
    expect(byOutlookId.get(created?.id ?? '')).toBe(defaultList);
  });
});

describe('MappingRow.outlookContainer of e-mail (Inbox and Sent Items)', () => {
  it('records the folder the message was reported in, and never stores a guess for a row stored without one', async () => {
    const world = new World();
    const sent = world.outlook.userCreate(MAILBOX, 'email', 'sentitems', taggedMessage('Offer'));
    const received = world.outlook.userCreate(MAILBOX, 'email', 'inbox', taggedMessage('Question'));
    await world.cycle();
    const containers = async () => new Map((await world.mappings('email')).map((m) => [m.outlookId, m.outlookContainer]));
    expect(await containers()).toEqual(new Map([[sent, 'sentitems'], [received, 'inbox']]));

    // Stored before the column existed: a message is read by id alone, so reconciliation cannot tell its folder and
    // must not record the folder it asked in (Inbox) for a message in Sent Items.
    const rows = await world.mappings('email');
    await world.store.commit(MAILBOX, rows.map((m) => ({ mapping: { put: { ...m, outlookContainer: null } } })));
    const summary = await world.cycle();
    expect(summary.counts['reconcile.verified']).toBe(2);
    expect(await containers()).toEqual(new Map([[sent, null], [received, null]]));
  });
});

describe('a task deleted in Outlook, in a list other than the default', () => {
  it('not completed: reconciliation finds the dropped removal and the next cycle deletes it in the CRM', async () => {
    const { world, tasks } = await worldWithTwoLists(['Call back'], ['Buy stamps', 'Post parcel']);
    world.outlook.userDelete(MAILBOX, tasks['Buy stamps'] ?? '');

    const missed = await world.cycle({ deps: droppingRemovals(world.deps()) });
    expect(missed.counts['reconcile.changes']).toBe(1);
    expect(world.crm.all('task')).toHaveLength(3);

    const applied = await world.cycle();
    // DESIGN.md §6: "Outlook, deleted | task | deleted in CRM if not completed".
    expect(applied.counts['plans.outlook-deleted-open-task']).toBe(1);
    expect(subjects(world)).toEqual(['Call back', 'Post parcel']);
    expect((await world.mappings('task')).map((m) => m.outlookId)).not.toContain(tasks['Buy stamps']);
    await world.cycle();
    expect(world.writes.serviceWrites()).toEqual({});
  });

  it('completed: the pair is unlinked and the CRM task stays', async () => {
    const { world, tasks } = await worldWithTwoLists([], ['Buy stamps']);
    const [record] = world.crm.all('task');
    world.crm.userEdit('task', record?.id ?? '', { statecode: 1, statuscode: 5 });
    await world.cycle();
    expect(world.outlookItem(tasks['Buy stamps'] ?? '').status).toBe('completed');
    world.outlook.userDelete(MAILBOX, tasks['Buy stamps'] ?? '');

    await world.cycle({ deps: droppingRemovals(world.deps()) });
    const applied = await world.cycle();

    // DESIGN.md §6: "… otherwise unlink".
    expect(applied.counts['plans.outlook-deleted-completed-task-unlink']).toBe(1);
    expect(subjects(world)).toEqual(['Buy stamps']);
    expect(world.writes.serviceWrites()['crm.delete'] ?? 0).toBe(0);
  });

  it('after a token eviction, the sweep of each list nominates only its own tasks and the deleted one goes', async () => {
    const { world, tasks } = await worldWithTwoLists(['Call back', 'Write memo'], ['Buy stamps', 'Post parcel']);
    world.outlook.userDelete(MAILBOX, tasks['Post parcel'] ?? '');
    world.outlook.evict(MAILBOX);

    const summary = await world.cycle();

    // graph-behaviour.md §1.6: after the full re-read only the deleted task is unvisited, and only its own list's
    // sweep nominates it (before containers were known, each list's sweep nominated the other list's tasks too).
    expect(summary.counts['sweep.candidates']).toBe(1);
    expect(summary.failures).toEqual([]);
    expect(subjects(world)).toEqual(['Buy stamps', 'Call back', 'Write memo']);
  });

  it('a mapping stored before the column existed is read in every list, and a real delete still goes through', async () => {
    const { world, tasks } = await worldWithTwoLists(['Call back'], ['Buy stamps', 'Post parcel']);
    // Rows written before MappingRow.outlookContainer: the column is absent.
    const legacy = await world.mappings('task');
    const results = await world.store.commit(MAILBOX, legacy.map((m) => ({ mapping: { put: { ...m, outlookContainer: null } } })));
    expect(results.every((r) => r.ok)).toBe(true);
    world.outlook.userDelete(MAILBOX, tasks['Buy stamps'] ?? '');

    const missed = await world.cycle({ deps: droppingRemovals(world.deps()) });
    expect(missed.counts['reconcile.changes']).toBe(1);
    // Reconciliation found the live tasks in their lists and recorded where they are.
    const containers = new Map((await world.mappings('task')).map((m) => [m.outlookId, m.outlookContainer]));
    expect(containers.get(tasks['Post parcel'] ?? '')).toBe(world.outlook.snapshot(MAILBOX, 'task').find((t) => t.id === tasks['Post parcel'])?.container);
    expect(containers.get(tasks['Call back'] ?? '')).toBe(world.outlook.defaultTodoListId(MAILBOX));
    expect(world.crm.all('task')).toHaveLength(3);

    await world.cycle();
    expect(subjects(world)).toEqual(['Call back', 'Post parcel']);
  });
});

describe('a task moved to another list (a new id, DESIGN.md §3)', () => {
  it('is followed by its CRM id stamp: the mapping moves with it, nothing is deleted or duplicated', async () => {
    const { world, errands, tasks } = await worldWithTwoLists(['Call back'], []);
    const oldId = tasks['Call back'] ?? '';
    const [record] = world.crm.all('task');
    // To Do has no move: the task is re-created in the other list (new id) with its content and linked resource.
    const { id: _id, ...content } = world.outlookItem(oldId);
    world.outlook.userDelete(MAILBOX, oldId);
    const newId = world.outlook.userCreate(MAILBOX, 'task', errands, { ...(content as JsonObject), title: 'Call back today' });

    const summary = await world.cycle();

    expect(summary.failures).toEqual([]);
    expect(world.writes.serviceWrites()['crm.delete'] ?? 0).toBe(0);
    expect(world.writes.serviceWrites()['crm.create'] ?? 0).toBe(0);
    expect(world.crm.all('task').map((t) => [t.id, t.data.subject])).toEqual([[record?.id, 'Call back today']]);
    const [mapping] = await world.mappings('task');
    expect(mapping).toMatchObject({ outlookId: newId, outlookContainer: errands, crmId: record?.id, state: 'linked' });
    expect(world.outlook.snapshot(MAILBOX, 'task').map((t) => t.id)).toEqual([newId]);
    await world.cycle();
    expect(world.writes.serviceWrites()).toEqual({});
  });
});
