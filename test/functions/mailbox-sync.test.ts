// The queue-triggered mailbox cycle: a message runs one cycle and records a run; a failed cycle throws so the host
// retries and finally poisons the message (host.json maxDequeueCount 5, service-limits.md §3).
import { InvocationContext } from '@azure/functions';
import { ItemRejectedError } from '../../src/ports/errors';
import { createMailboxSyncHandler, MailboxCycleFailedError, queueName } from '../../functions/mailbox-sync';
import { ALICE, BOB, invocation, memoryWorld, trackedContact } from './support';

const request = (mailbox: string) => ({ mailbox, reason: 'schedule', requestedAt: '2026-03-02T09:00:00.000Z' });

describe('mailbox-sync', () => {
  it('runs one cycle of the mailbox named in the message and records the run', async () => {
    const world = memoryWorld();
    world.outlook.userCreate(ALICE, 'contact', 'contacts', trackedContact('Nestor', 'Wilke', 'nestor@fabrikam.example'));
    const handler = createMailboxSyncHandler(() => world.runtime);
    // The host hands over the decoded, JSON-parsed body; the spelling of the address does not matter.
    const summary = await handler(request('ALICE@contoso.example'), invocation('mailbox-sync', { dequeueCount: 1 }).context);
    expect(summary?.mailbox).toBe(ALICE);
    expect(summary?.outcome).toBe('ok');
    expect(summary?.counts['crm.create']).toBe(1);
    expect(world.crm.all('contact').map((r) => r.data.lastname)).toEqual(['Wilke']);
    const runs = await world.store.listRuns(ALICE, 10);
    expect(runs.map((r) => r.runId)).toEqual([summary?.runId]);
    expect(await world.store.listRuns(BOB, 10)).toEqual([]);
  });

  it('accepts the body as JSON text too', async () => {
    const world = memoryWorld();
    const summary = await createMailboxSyncHandler(() => world.runtime)(JSON.stringify(request(ALICE)), invocation('mailbox-sync').context);
    expect(summary?.outcome).toBe('ok');
  });

  it('throws when the cycle failed, after the run was recorded, so the host retries the message', async () => {
    const world = memoryWorld();
    const handler = createMailboxSyncHandler(() => world.runtime);
    // Bob has no CRM user: his cycle fails as a whole.
    const attempt = handler(request(BOB), invocation('mailbox-sync', { dequeueCount: 2 }).context);
    await expect(attempt).rejects.toBeInstanceOf(MailboxCycleFailedError);
    await expect(attempt).rejects.toThrow(/no-crm-user/);
    const runs = await world.store.listRuns(BOB, 10);
    expect(runs).toHaveLength(1);
    expect(runs[0]?.outcome).toBe('failed');
  });

  it('rejects a malformed message (it ends in the poison queue) and drops one for a mailbox no longer enrolled', async () => {
    const world = memoryWorld();
    const handler = createMailboxSyncHandler(() => world.runtime);
    await expect(handler({ mailbox: ALICE }, invocation('mailbox-sync').context)).rejects.toBeInstanceOf(ItemRejectedError);
    await expect(handler(request('carol@contoso.example'), invocation('mailbox-sync').context)).resolves.toBeNull();
    expect(await world.store.listRuns('carol@contoso.example', 10)).toEqual([]);
  });

  it('binds the queue name to OCS_QUEUE_NAME when it is set', () => {
    expect(queueName({ OCS_QUEUE_NAME: 'sync-prod' })).toBe('%OCS_QUEUE_NAME%');
    expect(queueName({})).toBe('mailbox-sync');
  });
});

describe('mailbox-sync concurrency', () => {
  it('two messages of one mailbox on one instance never run two cycles at once: the second is skipped', async () => {
    const world = memoryWorld();
    world.outlook.userCreate(ALICE, 'contact', 'contacts', trackedContact('Nestor', 'Wilke', 'nestor@fabrikam.example'));
    const handler = createMailboxSyncHandler(() => world.runtime);
    // Distinct invocation ids, as the host assigns them; same process, so the same composition-root owner.
    const first = new InvocationContext({ invocationId: 'inv-1', functionName: 'mailbox-sync', logHandler: () => undefined });
    const second = new InvocationContext({ invocationId: 'inv-2', functionName: 'mailbox-sync', logHandler: () => undefined });
    const outcomes = await Promise.all([handler(request(ALICE), first), handler(request(ALICE), second)]);
    expect(outcomes.map((s) => s?.outcome).sort()).toEqual(['ok', 'skipped']);
    expect(world.crm.all('contact')).toHaveLength(1);
  });
});
