// Phase 4: apply the due change rows (DESIGN.md §4.3). Rows are hydrated and planned in batches; plans without a delete
// run at once, plans with a delete wait for the delete guard (phase 5), which sees all of the cycle's deletes together.
// Each item's writes are followed by one CommitUnit: its mapping row together with the removal of its change row.
import type { FieldConflict } from '../core/model';
import type { Plan } from '../core/plan';
import type { ChangeRow, CommitUnit } from '../ports/state-store';
import { fnv1a64, canonicalJson, planPair } from './core-api';
import { runDeleteGuard } from './delete-guard';
import { executePlan, hasDelete, needsStamp, nextMapping, PartialExecutionError, writesOf, type Execution } from './execute';
import { classifyError, failedRow, type ClassifiedError } from './failures';
import { hydrateBatch, planInputOf, type Slot } from './hydrate';
import type { RunContext } from './run-context';

export interface PlannedItem {
  slot: Slot;
  plan: Plan;
}

/** A row is postponed (its pair is busy in the same batch) at most this often per cycle; then it waits a cycle. */
const MAX_POSTPONEMENTS = 3;

export async function applyDueChanges(ctx: RunContext): Promise<void> {
  // Due by the time apply starts, not by the cycle's start: collect stamps rows it records (sweep candidates) with now.
  const dueBy = ctx.deps.clock.now().toISOString();
  const due = await ctx.deps.store.listDueChanges(ctx.mailbox, dueBy, ctx.options.maxChangesPerRun);
  ctx.tally.add('changes.due', due.length);
  const rows = await dropRowsOfDisabledKinds(ctx, due);
  const state: DrainState = { postponements: new Map(), retriedAfterConcurrency: new Set(), awaitingGuard: [], handled: 0 };
  // Rows of unmapped CRM records run last, in batches of their own: a record this worker created for an Outlook item
  // whose mapping was never committed (a crash right after the create) is then linked by the Outlook row first, and
  // the CRM row finds the mapping instead of creating the item in Outlook a second time.
  await drain(ctx, rows.filter((row) => !row.key.startsWith('c:')), state);
  await drain(ctx, rows.filter((row) => row.key.startsWith('c:')), state);
  if (!ctx.tally.fatal) await runDeleteGuard(ctx, state.awaitingGuard, (item) => runPlanned(ctx, item, false));
}

interface DrainState {
  postponements: Map<string, number>;
  retriedAfterConcurrency: Set<string>;
  awaitingGuard: PlannedItem[];
  handled: number;
}

async function drain(ctx: RunContext, rows: ChangeRow[], state: DrainState): Promise<void> {
  const queue = [...rows];
  const { postponements, retriedAfterConcurrency, awaitingGuard } = state;
  while (queue.length > 0 && !ctx.tally.fatal) {
    await ctx.lease.keepAlive();
    const batch = queue.splice(0, ctx.options.hydrateBatchSize);
    const { slots, postponed } = await hydrateBatch(ctx, batch);
    for (const row of postponed) {
      const count = (postponements.get(row.key) ?? 0) + 1;
      postponements.set(row.key, count);
      if (count <= MAX_POSTPONEMENTS) queue.push(row);
      else ctx.tally.add('changes.postponed');
    }
    for (const slot of slots) {
      if (ctx.tally.fatal) break;
      state.handled += 1;
      const planned = await planSlot(ctx, slot);
      if (!planned) continue;
      if (hasDelete(planned.plan)) {
        awaitingGuard.push(planned);
        continue;
      }
      const outcome = await runPlanned(ctx, planned, !retriedAfterConcurrency.has(slot.row.key));
      if (outcome === 'retry') {
        retriedAfterConcurrency.add(slot.row.key);
        queue.push(slot.row);
      }
    }
    ctx.options.onProgress({ phase: 'apply', items: state.handled });
  }
}

/** Rows of a kind the settings no longer enable are dropped: nothing would act on them (kept in a dry run). */
async function dropRowsOfDisabledKinds(ctx: RunContext, rows: ChangeRow[]): Promise<ChangeRow[]> {
  const enabled = rows.filter((row) => ctx.settings.kinds[row.kind].enabled);
  const disabled = rows.filter((row) => !ctx.settings.kinds[row.kind].enabled);
  if (disabled.length > 0 && !ctx.dryRun) {
    await ctx.deps.store.commit(
      ctx.mailbox,
      disabled.map((row) => ({ deleteChange: { key: row.key, ...(row.etag ? { etag: row.etag } : {}) } })),
    );
  }
  ctx.tally.add('changes.droppedKindDisabled', disabled.length);
  return enabled;
}

async function planSlot(ctx: RunContext, slot: Slot): Promise<PlannedItem | null> {
  if (slot.failure) {
    await recordFailure(ctx, slot.row, slot.failure);
    return null;
  }
  try {
    const plan = planPair(planInputOf(ctx, slot));
    ctx.tally.add(`plans.${plan.reason}`);
    if (slot.matchedBy) ctx.tally.add(`matched.${slot.matchedBy}`);
    return { slot, plan };
  } catch (error) {
    await recordFailure(ctx, slot.row, classifyError(error));
    return null;
  }
}

/**
 * Execute one plan and commit its result. 'retry': a ConcurrencyError on the first attempt of this cycle; the caller
 * re-hydrates and re-plans the row once more in this cycle, after which a lost race waits for the backoff.
 */
export async function runPlanned(ctx: RunContext, item: PlannedItem, mayRetry: boolean): Promise<'done' | 'retry'> {
  const { slot, plan } = item;
  logConflicts(ctx, slot, plan.conflicts);
  const writes = writesOf(plan, needsStamp(plan, slot));
  if (ctx.dryRun) {
    // A dry run reports what it would write and leaves the row and the baseline for the real run.
    for (const write of writes) ctx.tally.add(write);
    if (plan.mapping.type !== 'keep') ctx.tally.add(`mapping.${plan.mapping.type}`);
    return 'done';
  }
  let execution: Execution;
  try {
    execution = await executePlan(ctx, slot, plan);
  } catch (error) {
    if (error instanceof PartialExecutionError) {
      await recordPartial(ctx, slot, plan, error);
      return 'done';
    }
    const classified = classifyError(error);
    if (classified.concurrency && mayRetry) {
      ctx.tally.add('retries.concurrency');
      return 'retry';
    }
    await recordFailure(ctx, slot.row, classified);
    return 'done';
  }
  for (const write of writes) ctx.tally.add(write);
  await commitResult(ctx, slot, plan, execution);
  return 'done';
}

async function commitResult(ctx: RunContext, slot: Slot, plan: Plan, execution: Execution): Promise<void> {
  const unit: CommitUnit = {
    // With the row's etag: a change recorded since the row was read keeps the row alive for the next cycle.
    deleteChange: { key: slot.row.key, ...(slot.row.etag ? { etag: slot.row.etag } : {}) },
  };
  const mapping = nextMapping(ctx, slot, plan, execution);
  if (mapping) unit.mapping = { put: mapping };
  else if (plan.mapping.type === 'remove' && slot.mapping) unit.mapping = { remove: slot.mapping };
  const [result] = await ctx.deps.store.commit(ctx.mailbox, [unit]);
  if (result?.ok) {
    ctx.tally.add('changes.resolved');
    if (unit.mapping) ctx.tally.add('put' in unit.mapping ? 'mapping.put' : 'mapping.remove');
    return;
  }
  // The writes are done but not recorded: the row stays, and the next cycle finds both sides already agreeing
  // (or the stamped item) and only commits.
  const classified = classifyError(result?.error);
  ctx.tally.fail(slot.row.key, 'commit-failed', classified.detail);
  ctx.deps.logger.warn('commit failed after writes', { key: slot.row.key, reason: classified.reason });
}

/** Commit the mapping of what was created together with the failure on the row; the retry then only finishes up. */
async function recordPartial(ctx: RunContext, slot: Slot, plan: Plan, error: PartialExecutionError): Promise<void> {
  const classified = classifyError(error.cause);
  ctx.tally.add(plan.crm.type === 'create' ? 'crm.create' : 'outlook.create');
  const mapping = nextMapping(ctx, slot, plan, error.done);
  if (mapping && !ctx.dryRun) {
    const next = failedRow(slot.row, classified, ctx.deps.clock.now(), ctx.options.backoff, ctx.options.jitter);
    const [result] = await ctx.deps.store.commit(ctx.mailbox, [{ mapping: { put: mapping }, putChange: next }]);
    if (result?.ok) {
      ctx.tally.add('mapping.put');
      noteFailure(ctx, slot.row, classified);
      return;
    }
    ctx.deps.logger.warn('could not record a partial execution', { key: slot.row.key });
  }
  await recordFailure(ctx, slot.row, classified);
}

function noteFailure(ctx: RunContext, row: ChangeRow, classified: ClassifiedError): void {
  ctx.tally.add('items.failed');
  ctx.tally.fail(row.key, classified.reason, classified.detail);
  ctx.deps.logger.warn('item failed', { key: row.key, reason: classified.reason, attempts: row.attempts + 1 });
  if (classified.fatal) {
    ctx.tally.fatal = true;
    ctx.tally.alert(`${classified.reason}: ${classified.detail}`);
  }
}

export async function recordFailure(ctx: RunContext, row: ChangeRow, classified: ClassifiedError): Promise<void> {
  noteFailure(ctx, row, classified);
  if (ctx.dryRun) return;
  const next = failedRow(row, classified, ctx.deps.clock.now(), ctx.options.backoff, ctx.options.jitter);
  const [result] = await ctx.deps.store.commit(ctx.mailbox, [{ putChange: next }]);
  if (!result?.ok) ctx.deps.logger.warn('could not record the failure on its change row', { key: row.key });
}

/** DESIGN.md §5: every true conflict is logged. Values are logged as short hashes: never bodies or addresses (§8). */
function logConflicts(ctx: RunContext, slot: Slot, conflicts: readonly FieldConflict[]): void {
  for (const conflict of conflicts) {
    ctx.tally.add('conflicts');
    ctx.deps.logger.info('field conflict', {
      key: slot.row.key,
      field: conflict.field,
      winner: conflict.winner,
      outlookModified: conflict.outlookModified,
      crmModified: conflict.crmModified,
      base: fnv1a64(canonicalJson(conflict.base)).slice(0, 8),
      outlook: fnv1a64(canonicalJson(conflict.outlook)).slice(0, 8),
      crm: fnv1a64(canonicalJson(conflict.crm)).slice(0, 8),
    });
  }
}
