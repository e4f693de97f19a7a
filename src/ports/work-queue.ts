// WorkQueue: fan-out of one message per mailbox (Azure Storage Queues in production).

export interface MailboxSyncRequest {
  mailbox: string;
  reason: 'schedule' | 'manual';
  requestedAt: string;
}

export interface ReceivedMessage {
  messageId: string;
  popReceipt: string;
  dequeueCount: number;
  body: MailboxSyncRequest;
}

export interface WorkQueue {
  send(request: MailboxSyncRequest): Promise<void>;
  /** Receive up to `max` messages, hidden from other receivers for `visibilityTimeoutSeconds`. */
  receive(max: number, visibilityTimeoutSeconds: number): Promise<ReceivedMessage[]>;
  /**
   * Delete a processed message. Throws ConcurrencyError when the pop receipt is no longer valid (the message was
   * redelivered).
   */
  complete(message: ReceivedMessage): Promise<void>;
}
