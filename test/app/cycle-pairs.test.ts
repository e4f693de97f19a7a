// One pair, one row, one plan per cycle (DESIGN.md §3: the mapping is a bijection; §4 "Guards"). A failure after a
// create moves onto the pair's `map:` row together with the mapping, and two rows of one pair (recorded before and
// after the mapping existed) never plan the same writes twice in a cycle, nor count twice against the delete guard.
import { mappedChangeKey, outlookChangeKey } from '../../src/app/collect';
import { TransientError } from '../../src/ports/errors';
import { taggedTask } from './support/fixtures';
import { MAILBOX, World } from './support/world';

const BACKOFF = { baseMs: 10 * 60_000 };

describe('a plan that fails after its create', () => {
  it('keeps the failure on the pair\'s map: row only, so a later delete runs once', async () => {
    const world = new World();
    const list = world.outlook.defaultTodoListId(MAILBOX);
    const taskId = world.outlook.userCreate(MAILBOX, 'task', list, taggedTask('Send offer'));
    // The CRM record is created, then stamping its id on the task fails (sync-lessons.md §4.1: the create is recorded).
    world.outlook.injectFault(MAILBOX, 'updateItem', new TransientError('service unavailable'));

    const partial = await world.cycle({ backoff: BACKOFF });

    expect(world.writes.serviceWrites()).toEqual({ 'crm.create': 1 });
    const [mapping] = await world.mappings('task');
    const mapKey = mappedChangeKey(mapping?.mapId ?? '');
    expect(partial.failures.map((f) => [f.key, f.reason])).toEqual([[outlookChangeKey('task', taskId), 'transient']]);
    expect(await world.store.getChange(MAILBOX, outlookChangeKey('task', taskId))).toBeNull();
    expect(await world.store.getChange(MAILBOX, mapKey)).toMatchObject({ mapId: mapping?.mapId, outlookId: taskId, attempts: 1, reason: 'transient' });
    expect(await world.store.countChanges(MAILBOX)).toBe(1);

    // Both sides move on before the retry: a CRM edit (the feed records it on the map: row) and the user deletes the
    // open task in Outlook (DESIGN.md §6: deleted in the CRM).
    const [crmTask] = world.crm.all('task');
    world.crm.userEdit('task', crmTask?.id ?? '', { description: 'call first' });
    world.outlook.userDelete(MAILBOX, taskId);
    world.clock.advance(BACKOFF.baseMs);

    const retry = await world.cycle({ backoff: BACKOFF });

    expect(retry.failures).toEqual([]);
    expect(world.writes.serviceWrites()).toEqual({ 'crm.delete': 1 });
    expect(retry.counts['deletes.planned']).toBe(1);
    expect(world.crm.all('task')).toEqual([]);
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
