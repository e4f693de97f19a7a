// In-memory twin of the Storage queue: visibility timeouts, dequeue counts and pop receipts behave as on Azure, on an
// injectable clock so tests need not sleep. Passes test/contracts/work-queue.contract.ts.
import { randomUUID } from 'node:crypto';
import { ConcurrencyError } from '../../ports/errors';
import type { MailboxSyncRequest, ReceivedMessage, WorkQueue } from '../../ports/work-queue';
import { checkReceiveArguments, decodeMessageBody, encodeMessageBody } from '../queue/message';

interface StoredMessage {
  messageId: string;
  /** The body as Azure would store it: base64 JSON. */
  text: string;
  visibleAt: number;
  dequeueCount: number;
  popReceipt: string | null;
}

export class MemoryWorkQueue implements WorkQueue {
  private readonly messages: StoredMessage[] = [];

  constructor(private readonly now: () => number = Date.now) {}

  async send(request: MailboxSyncRequest): Promise<void> {
    this.messages.push({ messageId: randomUUID(), text: encodeMessageBody(request), visibleAt: this.now(), dequeueCount: 0, popReceipt: null });
  }

  async receive(max: number, visibilityTimeoutSeconds: number): Promise<ReceivedMessage[]> {
    checkReceiveArguments(max, visibilityTimeoutSeconds);
    const now = this.now();
    return this.messages
      .filter((message) => message.visibleAt <= now)
      .slice(0, max)
      .map((message) => {
        message.visibleAt = now + visibilityTimeoutSeconds * 1000;
        message.dequeueCount += 1;
        message.popReceipt = randomUUID();
        return { messageId: message.messageId, popReceipt: message.popReceipt, dequeueCount: message.dequeueCount, body: decodeMessageBody(message.text) };
      });
  }

  async complete(message: ReceivedMessage): Promise<void> {
    const index = this.messages.findIndex((m) => m.messageId === message.messageId && m.popReceipt === message.popReceipt);
    if (index < 0) throw new ConcurrencyError('the message was redelivered or already completed (pop receipt no longer valid)');
    this.messages.splice(index, 1);
  }

  /** Raw stored bodies, for tests that check the wire format. */
  rawBodies(): string[] {
    return this.messages.map((message) => message.text);
  }
}
