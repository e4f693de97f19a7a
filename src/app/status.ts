// What an admin (or the user) sees about one mailbox (sync-lessons.md §4.13: every skipped item has a visible reason):
// the last runs, the change rows that keep failing with their reason codes, and the deletes held by the guard.
import type { ReasonCode } from '../core/model';
import type { ChangeRow, RunSummary, StateStore } from '../ports/state-store';
import { DELETE_CONFIRMED, DELETE_HELD } from './delete-guard';

export interface FailingItem {
  key: string;
  kind: ChangeRow['kind'];
  reason: ReasonCode | null;
  attempts: number;
  nextAttemptAt: string;
  lastError: string | null;
}

export interface MailboxStatus {
  mailbox: string;
  lastRuns: RunSummary[];
  pendingChanges: number;
  failing: FailingItem[];
  heldDeletes: FailingItem[];
  confirmedDeletes: FailingItem[];
}

const END_OF_TIME = '9999-12-31T23:59:59.999Z';

export async function mailboxStatus(
  store: StateStore,
  mailbox: string,
  options: { runs?: number; rows?: number } = {},
): Promise<MailboxStatus> {
  const [lastRuns, pendingChanges, rows] = await Promise.all([
    store.listRuns(mailbox, options.runs ?? 10),
    store.countChanges(mailbox),
    store.listDueChanges(mailbox, END_OF_TIME, options.rows ?? 1000),
  ]);
  const view = (row: ChangeRow): FailingItem => ({
    key: row.key,
    kind: row.kind,
    reason: row.reason,
    attempts: row.attempts,
    nextAttemptAt: row.nextAttemptAt,
    lastError: row.lastError,
  });
  return {
    mailbox,
    lastRuns,
    pendingChanges,
    failing: rows.filter((row) => row.attempts > 0 && row.reason !== null).map(view),
    heldDeletes: rows.filter((row) => row.reason === DELETE_HELD).map(view),
    confirmedDeletes: rows.filter((row) => row.reason === DELETE_CONFIRMED).map(view),
  };
}
