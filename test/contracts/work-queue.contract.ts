// The WorkQueue contract (src/ports/work-queue.ts), run against the in-memory twin and Azure Storage Queues (Azurite).
import { ConcurrencyError, ItemRejectedError } from '../../src/ports/errors';
import type { MailboxSyncRequest, WorkQueue } from '../../src/ports/work-queue';

export interface WorkQueueFixture {
  queue: WorkQueue;
  /** Lets `seconds` pass for visibility timeouts: a fake clock for the twin, a real wait for Azurite. */
  elapse(seconds: number): Promise<void>;
}

const request = (mailbox: string): MailboxSyncRequest => ({ mailbox, reason: 'schedule', requestedAt: '2026-01-01T00:00:00.000Z' });

export function describeWorkQueueContract(name: string, factory: () => Promise<WorkQueueFixture>): void {
  describe(`WorkQueue contract: ${name}`, () => {
    let fixture: WorkQueueFixture;
    let queue: WorkQueue;

    beforeEach(async () => {
      fixture = await factory();
      queue = fixture.queue;
    });

    it('send, receive and complete: the body comes back as sent, and a completed message is gone', async () => {
      await queue.send(request('alice@contoso.example'));
      await queue.send({ mailbox: 'bob@contoso.example', reason: 'manual', requestedAt: '2026-01-02T03:04:05.000Z' });
      const received = await queue.receive(10, 1);
      expect(received.map((m) => m.body)).toEqual([
        request('alice@contoso.example'),
        { mailbox: 'bob@contoso.example', reason: 'manual', requestedAt: '2026-01-02T03:04:05.000Z' },
      ]);
      expect(received.every((m) => m.dequeueCount === 1)).toBe(true);
      for (const message of received) await queue.complete(message);
      await fixture.elapse(1.2);
      expect(await queue.receive(10, 1)).toEqual([]);
    });

    it('receive takes at most max messages', async () => {
      for (const mailbox of ['a@x.example', 'b@x.example', 'c@x.example']) await queue.send(request(mailbox));
      expect(await queue.receive(2, 30)).toHaveLength(2);
      expect(await queue.receive(32, 30)).toHaveLength(1);
    });

    it('a received message is hidden for the visibility timeout, then redelivered with dequeueCount + 1', async () => {
      await queue.send(request('alice@contoso.example'));
      // Two seconds leave a loaded machine room to make the second receive while the message is still hidden.
      const [first] = await queue.receive(1, 2);
      expect(first?.dequeueCount).toBe(1);
      expect(await queue.receive(1, 2)).toEqual([]);
      await fixture.elapse(2.2);
      const [second] = await queue.receive(1, 30);
      expect(second?.messageId).toBe(first?.messageId);
      expect(second?.dequeueCount).toBe(2);
      // The first receiver's pop receipt is no longer valid: completing with it must not delete the redelivered message.
      await expect(queue.complete(first as NonNullable<typeof first>)).rejects.toBeInstanceOf(ConcurrencyError);
      await queue.complete(second as NonNullable<typeof second>);
    });

    it('an invalid request is refused at send', async () => {
      await expect(queue.send({ mailbox: '', reason: 'schedule', requestedAt: 'yesterday' })).rejects.toBeInstanceOf(ItemRejectedError);
    });

    it('receive arguments outside the service limits are refused', async () => {
      await expect(queue.receive(0, 30)).rejects.toBeInstanceOf(RangeError);
      await expect(queue.receive(33, 30)).rejects.toBeInstanceOf(RangeError);
      await expect(queue.receive(1, 0)).rejects.toBeInstanceOf(RangeError);
    });
  });
}
