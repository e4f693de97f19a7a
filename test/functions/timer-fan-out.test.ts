// The fan-out timer (DESIGN.md §8 "Scale-out"; service-limits.md §3: the timer only enqueues, one message per mailbox).
import type { Timer } from '@azure/functions';
import { decodeMessageBody } from '../../src/adapters/queue/message';
import { DEFAULT_SCHEDULE } from '../../src/config';
import type { MailboxSyncRequest, ReceivedMessage, WorkQueue } from '../../src/ports/work-queue';
import { createTimerFanOutHandler, timerSchedule } from '../../functions/timer-fan-out';
import { ALICE, BOB, invocation, memoryWorld } from './support';

const timer: Timer = { isPastDue: false, schedule: { adjustForDST: false }, scheduleStatus: { last: '', next: '', lastUpdated: '' } };

describe('timer-fan-out', () => {
  it('enqueues exactly one schedule message per enrolled mailbox', async () => {
    const world = memoryWorld();
    const { context, logs } = invocation('timer-fan-out');
    const result = await createTimerFanOutHandler(() => world.runtime)(timer, context);
    expect(result).toEqual({ sent: 2, failed: [] });
    const bodies = world.queue.rawBodies().map(decodeMessageBody);
    expect(bodies).toHaveLength(2);
    expect(bodies.map((b) => b.mailbox).sort()).toEqual([ALICE, BOB]);
    expect(bodies.every((b) => b.reason === 'schedule' && b.requestedAt === '2026-03-02T09:00:00.000Z')).toBe(true);
    // Log lines carry counts, never addresses (DESIGN.md §8).
    expect(logs.join('\n')).toContain('"sent":2');
    expect(logs.join('\n')).not.toContain('@contoso.example');
  });

  it('sends the others and fails the invocation when a mailbox cannot be enqueued', async () => {
    const sent: MailboxSyncRequest[] = [];
    const flaky: WorkQueue = {
      send: async (request) => {
        if (request.mailbox === BOB) throw new Error('queue unavailable');
        sent.push(request);
      },
      receive: async (): Promise<ReceivedMessage[]> => [],
      complete: async () => undefined,
    };
    const world = memoryWorld({ queue: flaky });
    const { context } = invocation('timer-fan-out');
    await expect(createTimerFanOutHandler(() => world.runtime)(timer, context)).rejects.toThrow(/could not enqueue 1 of 2/);
    expect(sent.map((r) => r.mailbox)).toEqual([ALICE]);
  });

  it("sends a mailbox with its own schedule only at the ticks that schedule covers", async () => {
    // Bob syncs hourly; the tenant every 15 minutes (DESIGN.md §8 "Settings": schedule per mailbox).
    const world = memoryWorld({ env: { OCS_MAILBOX_OVERRIDES: JSON.stringify({ [BOB]: { schedule: '0 0 * * * *' } }) } });
    const handler = createTimerFanOutHandler(() => world.runtime);
    const sentAt = async (iso: string) => {
      world.clock.at = Date.parse(iso);
      await handler(timer, invocation('timer-fan-out').context);
      return (await world.drain()).map((m) => m.body.mailbox).sort();
    };
    expect(await sentAt('2026-03-02T09:00:00.000Z')).toEqual([ALICE, BOB]);
    expect(await sentAt('2026-03-02T09:15:00.000Z')).toEqual([ALICE]);
    expect(await sentAt('2026-03-02T09:45:02.000Z')).toEqual([ALICE]);
    expect(await sentAt('2026-03-02T10:00:01.000Z')).toEqual([ALICE, BOB]);
  });

  it('binds the schedule to OCS_SCHEDULE when it is set, else registers the 15-minute default', () => {
    expect(timerSchedule({ OCS_SCHEDULE: '0 */5 * * * *' })).toBe('%OCS_SCHEDULE%');
    expect(timerSchedule({ OCS_SCHEDULE: '  ' })).toBe(DEFAULT_SCHEDULE);
    expect(timerSchedule({})).toBe('0 */15 * * * *');
  });
});
