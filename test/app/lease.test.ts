// One synchronizer per mailbox (DESIGN.md §4.1, §8 "Scale-out"): the lease is checked before every item's writes and
// every delete, renewed once half its time has passed, and a run that cannot keep it stops before its next write.
import { LeaseKeeper, LeaseLostError } from '../../src/app/lease';
import type { Lease } from '../../src/ports/state-store';
import { MemoryStateStore } from '../../src/adapters/memory/state-store';
import { crmContact, taggedTask } from './support/fixtures';
import { MAILBOX, ManualClock, World } from './support/world';

const TTL = 60_000;

/** A store whose lease renewals fail (unreachable) while `down` is set. */
class FlakyLeaseStore extends MemoryStateStore {
  down = false;
  renewals = 0;
  override async renewLease(lease: Lease, ttlMs: number, now: Date): Promise<Lease | null> {
    this.renewals += 1;
    if (this.down) throw new Error('injected: table storage unreachable');
    return super.renewLease(lease, ttlMs, now);
  }
}

describe('LeaseKeeper.keepAlive', () => {
  it('renews after half the time, tolerates a failed renewal while the lease is safe, and gives up near expiry', async () => {
    const clock = new ManualClock();
    const store = new FlakyLeaseStore();
    const keeper = await LeaseKeeper.acquire(store, clock, MAILBOX, 'me', TTL);
    if (!keeper) throw new Error('no lease');

    clock.advance(TTL / 2 - 1);
    await keeper.keepAlive();
    expect(store.renewals).toBe(0);

    store.down = true;
    clock.advance(1);
    await expect(keeper.keepAlive()).resolves.toBeUndefined();
    expect(store.renewals).toBe(1);

    // Within the margin before expiry (a tenth of the time to live): another instance may take it any moment.
    clock.advance(TTL / 2 - TTL / 10 + 1);
    await expect(keeper.keepAlive()).rejects.toBeInstanceOf(LeaseLostError);
  });

  it('throws LeaseLostError when another owner took the expired lease', async () => {
    const clock = new ManualClock();
    const store = new MemoryStateStore();
    const keeper = await LeaseKeeper.acquire(store, clock, MAILBOX, 'me', TTL);
    clock.advance(TTL + 1);
    expect(await store.acquireLease(MAILBOX, 'intruder', TTL, clock.now())).not.toBeNull();
    await expect(keeper?.keepAlive()).rejects.toBeInstanceOf(LeaseLostError);
  });
});

/** A slow write: the first service write of the cycle takes longer than the lease, and another instance takes over. */
function stallOnFirstWrite(world: World): void {
  let stalled = false;
  world.afterWrite = (name) => {
    if (stalled || !/^(crm|outlook)\./.test(name)) return;
    stalled = true;
    world.clock.advance(TTL + 1_000);
    void world.store.acquireLease(MAILBOX, 'other-instance', TTL, world.clock.now());
  };
}

describe('a run that outlasts its lease', () => {
  it('stops before the next item once another instance took the lease, and the next instance finishes', async () => {
    const world = new World();
    for (const name of ['Ada', 'Alan', 'Grace']) crmContact(world, name, 'Example', `${name.toLowerCase()}@example.org`);
    await world.cycle({ leaseTtlMs: TTL });
    await world.cycle({ leaseTtlMs: TTL });
    for (const item of world.outlook.snapshot(MAILBOX, 'contact')) world.outlook.userEdit(MAILBOX, item.id, { jobTitle: 'Engineer' });
    stallOnFirstWrite(world);

    const summary = await world.cycle({ leaseTtlMs: TTL });

    expect(summary.outcome).toBe('failed');
    expect(summary.failures).toEqual([expect.objectContaining({ key: 'cycle', reason: 'lease-lost' })]);
    // The three CRM updates went in one batch (batch-writes.ts), the one request that stalled; no item went on after it:
    // neither an Outlook write nor a commit.
    expect(world.countingCrm.batchSizes).toEqual([3]);
    expect(world.writes.serviceWrites()).toEqual({ 'crm.update': 3 });
    expect(world.outlook.snapshot(MAILBOX, 'contact').every((item) => item.data.jobTitle === 'Engineer')).toBe(true);

    // The instance that took over finishes the job from the unchanged baselines: nothing is written twice.
    world.clock.advance(TTL + 1_000);
    const next = await world.cycle({ leaseTtlMs: TTL });
    expect(next.failures).toEqual([]);
    expect(world.writes.serviceWrites()).toEqual({});
    expect(world.crm.all('contact').map((record) => record.data.jobtitle)).toEqual(['Engineer', 'Engineer', 'Engineer']);
  });

  it('stops after the batch of deletes the delete guard lets through, and the next instance finishes', async () => {
    const world = new World();
    const list = world.outlook.defaultTodoListId(MAILBOX);
    const ids = ['One', 'Two', 'Three'].map((title) => world.outlook.userCreate(MAILBOX, 'task', list, taggedTask(title)));
    await world.cycle({ leaseTtlMs: TTL });
    await world.cycle({ leaseTtlMs: TTL });
    expect(world.crm.all('task')).toHaveLength(3);
    // DESIGN.md §6: open tasks deleted in Outlook are deleted in the CRM; three are within the guard's limits.
    for (const id of ids) world.outlook.userDelete(MAILBOX, id);
    stallOnFirstWrite(world);

    const summary = await world.cycle({ leaseTtlMs: TTL });

    expect(summary.failures).toEqual([expect.objectContaining({ key: 'cycle', reason: 'lease-lost' })]);
    // The guard's three deletes went in one batch, the request that stalled; nothing was committed after it.
    expect(world.countingCrm.batchSizes).toEqual([3]);
    expect(world.writes.serviceWrites()).toEqual({ 'crm.delete': 3 });
    expect(world.crm.all('task')).toHaveLength(0);
    expect((await world.mappings('task')).filter((m) => m.state === 'linked')).toHaveLength(3);

    world.clock.advance(TTL + 1_000);
    const next = await world.cycle({ leaseTtlMs: TTL });
    expect(next.failures).toEqual([]);
    expect(world.writes.serviceWrites()).toEqual({});
    expect((await world.mappings('task')).filter((m) => m.state === 'linked')).toHaveLength(0);
  });
});
