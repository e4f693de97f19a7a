// The wire format of a mailbox sync request on the queue: base64 of the JSON, because the Azure Functions queue trigger
// expects base64 by default (`messageEncoding: base64`, extension 5.x+) while @azure/storage-queue sends text as-is
// (service-limits.md §3, queue trigger table).
import { z } from 'zod';
import { ItemRejectedError } from '../../ports/errors';
import type { MailboxSyncRequest } from '../../ports/work-queue';

export const mailboxSyncRequestSchema = z
  .object({
    mailbox: z.string().trim().min(1),
    reason: z.enum(['schedule', 'manual']),
    requestedAt: z.string().refine((value) => !Number.isNaN(Date.parse(value)), 'not a valid timestamp'),
  })
  .strict();

/** Validates a request (e.g. what the queue trigger handed over, already decoded by the host). */
export function parseMailboxSyncRequest(value: unknown): MailboxSyncRequest {
  const parsed = mailboxSyncRequestSchema.safeParse(value);
  if (!parsed.success) {
    throw new ItemRejectedError('invalid-queue-message', `queue message rejected: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'body'} ${i.message}`).join('; ')}`);
  }
  return parsed.data;
}

export function encodeMessageBody(request: MailboxSyncRequest): string {
  return Buffer.from(JSON.stringify(parseMailboxSyncRequest(request)), 'utf8').toString('base64');
}

export function decodeMessageBody(text: string): MailboxSyncRequest {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) {
    throw new ItemRejectedError('invalid-queue-message', 'queue message is not base64');
  }
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(text, 'base64').toString('utf8'));
  } catch {
    throw new ItemRejectedError('invalid-queue-message', 'queue message is not base64-encoded JSON');
  }
  return parseMailboxSyncRequest(json);
}

/** Storage queues take 1–32 messages per receive and a visibility timeout of 1 second to 7 days. */
export function checkReceiveArguments(max: number, visibilityTimeoutSeconds: number): void {
  if (!Number.isInteger(max) || max < 1 || max > 32) throw new RangeError(`receive takes 1 to 32 messages, not ${max}`);
  if (!Number.isInteger(visibilityTimeoutSeconds) || visibilityTimeoutSeconds < 1 || visibilityTimeoutSeconds > 7 * 24 * 3600) {
    throw new RangeError(`visibility timeout must be 1 second to 7 days, not ${visibilityTimeoutSeconds}`);
  }
}
