// The scheduler's fan-out (DESIGN.md §8 "Scale-out"): one queue message per enrolled mailbox; a queue-triggered
// function then syncs one mailbox, and the lease keeps one synchronizer per mailbox even if messages pile up.
import type { Clock } from '../ports/clock';
import type { MailboxSyncRequest, WorkQueue } from '../ports/work-queue';

export interface FanOutResult {
  sent: number;
  /** Mailboxes whose message could not be sent (they are picked up by the next schedule). */
  failed: { mailbox: string; detail: string }[];
}

export async function fanOut(
  queue: WorkQueue,
  mailboxes: readonly string[],
  options: { clock: Clock; reason?: MailboxSyncRequest['reason'] },
): Promise<FanOutResult> {
  const requestedAt = options.clock.now().toISOString();
  const seen = new Set<string>();
  const unique = mailboxes.filter((mailbox) => {
    const key = mailbox.toLowerCase();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  const result: FanOutResult = { sent: 0, failed: [] };
  for (const mailbox of unique) {
    try {
      await queue.send({ mailbox, reason: options.reason ?? 'schedule', requestedAt });
      result.sent += 1;
    } catch (error) {
      result.failed.push({ mailbox, detail: error instanceof Error ? error.name : 'error' });
    }
  }
  return result;
}
