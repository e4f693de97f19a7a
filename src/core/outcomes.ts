// What the app does with a plan beyond executing its actions. A deferred plan writes nothing and keeps the mapping,
// but its change row must NOT be deleted: the pending change was not looked at (the item could not be read), so the
// app keeps the row and retries it later (backoff, reason = plan.reason) instead of committing it as resolved.
import type { Plan } from './plan';

/**
 * A linked pair whose Outlook item left the stream's view (an event beyond the calendar window, a message moved to a
 * folder no stream reads) and could not be read directly this cycle. Out of view is never evidence for a delete
 * (DESIGN.md §6, last row), and it is not a reason to drop the pending change either.
 */
export const OUT_OF_VIEW_DEFERRED = 'outlook-out-of-view-deferred';

/**
 * A linked pair whose Outlook item (or CRM record) the app could not hydrate this cycle, without evidence that it is
 * gone (`absent`: not read, the read failed transiently). Nothing can be merged, and dropping the change row would
 * lose the change that brought the pair here (the same lost update as out of view): keep the row and retry.
 */
export const LINKED_OUTLOOK_UNKNOWN = 'linked-outlook-unknown';
export const LINKED_CRM_UNKNOWN = 'linked-crm-unknown';

export const DEFERRED_REASONS: ReadonlySet<string> = new Set([OUT_OF_VIEW_DEFERRED, LINKED_OUTLOOK_UNKNOWN, LINKED_CRM_UNKNOWN]);

/** Whether the app must keep the change row (and retry it later) instead of deleting it after this plan. */
export function isDeferredPlan(plan: Plan): boolean {
  return DEFERRED_REASONS.has(plan.reason);
}
