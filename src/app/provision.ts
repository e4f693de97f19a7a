// Phase 2: the tracking category exists in the mailbox's master list (DESIGN.md §2 "Category provisioning").
// Called once per cycle rather than only when an item shows the category missing: the adapter checks the master list
// with one GET and POSTs only when the category is gone, and a user who deletes it sees it back within a cycle, as with
// Dynamics SSS (graph-behaviour.md §4.1).
import { AuthError } from '../ports/errors';
import { classifyError } from './failures';
import type { RunContext } from './run-context';

export async function provisionCategory(ctx: RunContext): Promise<void> {
  if (ctx.dryRun) return;
  try {
    await ctx.deps.mailboxSource.ensureCategory(ctx.mailbox, ctx.settings.categoryName);
  } catch (error) {
    if (error instanceof AuthError) throw error;
    // Not fatal: tracking still works through the marker and the item categories; the next cycle tries again.
    const classified = classifyError(error);
    ctx.tally.fail('provision:category', classified.reason, classified.detail);
  }
}
