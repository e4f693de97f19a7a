// One pair, one row, one plan per cycle (DESIGN.md §3: the mapping is a bijection; §4 "Guards"). A stamp that fails
// before its create leaves a pendingCreate row and nothing else, and two rows of one pair (recorded before and after
// the mapping existed) never plan the same writes twice in a cycle, nor count twice against the delete guard.
import { mappedChangeKey, outlookChangeKey } from '../../src/app/collect';
import { TransientError } from '../../src/ports/errors';
import { taggedTask } from './support/fixtures';
import { MAILBOX, World } from './support/world';

const BACKOFF = { baseMs: 10 * 60_000 };

describe('a plan whose CrmId stamp fails before its create', () => {
  it('creates nothing; when the task is then deleted in Outlook, nothing is created or deleted and no row is left', async () => {
    const world = new World();
    const list = world.outlook.defaultTodoListId(MAILBOX);
    const taskId = world.outlook.userCreate(MAILBOX, 'task', list, taggedTask('Send offer'));
    // The stamp of the record's known id comes first (execute.ts); it fails, so the create never runs.
    world.outlook.injectFault(MAILBOX, 'updateItem', new TransientError('service unavailable'));

    const failed = await world.cycle({ backoff: BACKOFF });

    expect(world.writes.serviceWrites()).toEqual({});
    expect(world.crm.all('task')).toEqual([]);
    expect(failed.failures.map((f) => [f.key, f.reason])).toEqual([[outlookChangeKey('task', taskId), 'transient']]);
    const [mapping] = await world.mappings('task');
    expect(mapping).toMatchObject({ state: 'pendingCreate', outlookId: taskId, crmVersion: null });
    expect(await world.store.getChange(MAILBOX, outlookChangeKey('task', taskId))).toMatchObject({ attempts: 1, reason: 'transient' });
    expect(await world.store.getChange(MAILBOX, mappedChangeKey(mapping?.mapId ?? ''))).toBeNull();

    // The user deletes the task before the retry: the pendingCreate row names a record that was never made.
    world.outlook.userDelete(MAILBOX, taskId);
    world.clock.advance(BACKOFF.baseMs);

    const retry = await world.cycle({ backoff: BACKOFF });

    expect(retry.failures).toEqual([]);
    expect(world.writes.serviceWrites()).toEqual({});
    expect(world.crm.all('task')).toEqual([]);
    expect(await world.mappings('task')).toEqual([]);
    expect(await world.store.countChanges(MAILBOX)).toBe(0);
  });
});

describe('two rows of one pair', () => {
  it('plan its delete once, counted once by the guard', async () => {
    const world = new World();
    const list = world.outlook.defaultTodoListId(MAILBOX);
    const taskId = world.outlook.userCreate(MAILBOX, 'task', list, taggedTask('Send offer'));
    await world.cycle();
    await world.cycle();
    const [mapping] = await world.mappings('task');
    world.outlook.userDelete(MAILBOX, taskId);
    // A row of the same item recorded before the mapping existed (an older worker, or a failure kept on it).
    await world.store.recordChanges(MAILBOX, [
      { key: outlookChangeKey('task', taskId), kind: 'task', mapId: null, outlookId: taskId, outlookContainer: list, side: 'outlook', change: 'upsert', at: world.clock.iso() },
    ]);
    world.settings = { ...world.settings, deleteGuard: { maxCount: 1, maxShare: 1 } };

    const summary = await world.cycle();

    expect(summary.heldDeletes).toBe(0);
    expect(summary.counts['deletes.planned']).toBe(1);
    expect(summary.failures).toEqual([]);
    expect(world.writes.serviceWrites()).toEqual({ 'crm.delete': 1 });
    // The other row waits a cycle, then finds nothing left to do.
    await world.cycle();
    expect(world.writes.serviceWrites()).toEqual({});
    expect(await world.store.countChanges(MAILBOX)).toBe(0);
    expect(await world.store.getMapping(MAILBOX, mapping?.mapId ?? '')).toBeNull();
  });
});
