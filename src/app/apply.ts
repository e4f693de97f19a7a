// Phase 4: apply the due change rows (DESIGN.md §4.3). Rows are hydrated and planned in batches; plans without a delete
// run at once, plans with a delete wait for the delete guard (phase 5), which sees all of the cycle's deletes together.
// Each item's writes are followed by one CommitUnit: its mapping row together with the removal of its change row.
import type { FieldConflict, MappingRow } from '../core/model';
import type { Plan } from '../core/plan';
import type { ChangeRow, CommitUnit } from '../ports/state-store';
import { mappedChangeKey } from './collect';
import { fnv1a64, canonicalJson, isDeferredPlan, OUT_OF_VIEW_DEFERRED, planPair } from './core-api';
import { runDeleteGuard } from './delete-guard';
import { executePlan, hasDelete, needsStamp, nextMapping, PartialExecutionError, writesOf, type Execution } from './execute';
import { writeAhead, type ItemWrittenAhead } from './batch-writes';
import { classifyError, failedRow, type ClassifiedError } from './failures';
import { claimsOf, hydrateBatch, planInputOf, type Slot } from './hydrate';
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
  const rows = skipRowsOfDisabledKinds(ctx, due);
  const state: DrainState = {
    postponements: new Map(),
    retriedAfterConcurrency: new Set(),
    awaitingGuard: [],
    handled: 0,
    busyPairs: new Map(),
  };
  // Rows of unmapped CRM records run last, in batches of their own: a record this worker created for an Outlook item
  // whose mapping was never committed (a crash right after the create) is then linked by the Outlook row first, and
  // the CRM row finds the mapping instead of creating the item in Outlook a second time.
  await drain(ctx, rows.filter((row) => !row.key.startsWith('c:')), state);
  await drain(ctx, rows.filter((row) => row.key.startsWith('c:')), state);
  if (!ctx.tally.fatal) await runDeleteGuard(ctx, state.awaitingGuard, (items) => runItems(ctx, items, () => false, () => undefined));
}

interface DrainState {
  postponements: Map<string, number>;
  retriedAfterConcurrency: Set<string>;
  awaitingGuard: PlannedItem[];
  handled: number;
  /**
   * Pairs (their claims, see claimsOf) whose plan waits for the delete guard or failed in this cycle, with the row
   * that holds them. Another row of the same pair (an `o:` or `c:` row recorded before the mapping existed, next to
   * its `map:` row) is not planned again in this cycle: it would plan the same writes from the same reads. A pair
   * whose plan was committed is released: a later row of it re-reads both sides after that commit.
   */
  busyPairs: Map<string, string>;
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
    const ready: PlannedItem[] = [];
    for (const slot of slots) {
      if (ctx.tally.fatal) break;
      const claims = claimsOf(slot);
      if (claims.some((claim) => (state.busyPairs.get(claim) ?? slot.row.key) !== slot.row.key)) {
        // Left due and untouched: the next cycle re-reads the pair after the other row's outcome.
        ctx.tally.add('changes.pairBusy');
        continue;
      }
      state.handled += 1;
      const planned = await planSlot(ctx, slot);
      if (planned && !hasDelete(planned.plan)) ready.push(planned);
      else {
        if (planned) awaitingGuard.push(planned);
        for (const claim of claims) state.busyPairs.set(claim, slot.row.key);
      }
    }
    await runItems(ctx, ready, (item) => !retriedAfterConcurrency.has(item.slot.row.key), (item, outcome) => {
      if (outcome === 'failed') for (const claim of claimsOf(item.slot)) state.busyPairs.set(claim, item.slot.row.key);
      if (outcome === 'retry') {
        retriedAfterConcurrency.add(item.slot.row.key);
        queue.push(item.slot.row);
      }
    });
    ctx.options.onProgress({ phase: 'apply', items: state.handled });
  }
}

/**
 * Run planned items of distinct pairs, in chunks of the hydration batch size: the writes that may go ahead first, in
 * one call per side and chunk (batch-writes.ts: the CRM writes, then the Outlook updates after them), then each item's
 * remaining writes and commit in turn.
 */
async function runItems(
  ctx: RunContext,
  items: readonly PlannedItem[],
  mayRetry: (item: PlannedItem) => boolean,
  onOutcome: (item: PlannedItem, outcome: 'done' | 'failed' | 'retry') => void,
): Promise<void> {
  for (let start = 0; start < items.length && !ctx.tally.fatal; start += ctx.options.hydrateBatchSize) {
    const chunk = items.slice(start, start + ctx.options.hydrateBatchSize);
    const ahead = ctx.dryRun ? new Map<PlannedItem, ItemWrittenAhead>() : await writeAhead(ctx, chunk);
    for (const item of chunk) {
      // After a fatal failure the rest stop; writes already made for them are re-planned next cycle, as after a crash.
      if (ctx.tally.fatal) break;
      onOutcome(item, await runPlanned(ctx, item, mayRetry(item), ahead.get(item)));
    }
  }
}

/**
 * Rows of a kind the settings no longer enable are skipped, and kept: the cursors are already past the changes they
 * record, so deleting them would lose those changes for good if the kind is enabled again.
 */
function skipRowsOfDisabledKinds(ctx: RunContext, rows: ChangeRow[]): ChangeRow[] {
  const enabled = rows.filter((row) => ctx.settings.kinds[row.kind].enabled);
  ctx.tally.add('changes.skippedKindDisabled', rows.length - enabled.length);
  return enabled;
}

async function planSlot(ctx: RunContext, slot: Slot): Promise<PlannedItem | null> {
  if (slot.failure) {
    await recordFailure(ctx, slot.row, slot.failure, slot.mapping);
    return null;
  }
  try {
    const plan = planPair(planInputOf(ctx, slot));
    ctx.tally.add(`plans.${plan.reason}`);
    if (slot.matchedBy) ctx.tally.add(`matched.${slot.matchedBy}`);
    logUnreadable(ctx, slot, plan);
    // Out of view with the item read directly (hydrate.ts outlookSideOf) leaves nothing to wait for: DESIGN.md §6
    // says nothing happens, and reconciliation's direct reads carry a later content change. Kept, such rows would be
    // retried forever for every event that left the calendar window.
    if (isDeferredPlan(plan) && plan.reason !== OUT_OF_VIEW_DEFERRED) {
      await deferRow(ctx, slot.row, plan.reason);
      return null;
    }
    return { slot, plan };
  } catch (error) {
    await recordFailure(ctx, slot.row, classifyError(error), slot.mapping);
    return null;
  }
}

/**
 * Execute one plan and commit its result. 'retry': a ConcurrencyError on the first attempt of this cycle; the caller
 * re-hydrates and re-plans the row once more in this cycle, after which a lost race waits for the backoff. 'failed':
 * the failure is on the pair's change row.
 */
export async function runPlanned(
  ctx: RunContext,
  item: PlannedItem,
  mayRetry: boolean,
  ahead: ItemWrittenAhead = {},
): Promise<'done' | 'failed' | 'retry'> {
  const { slot, plan } = item;
  logConflicts(ctx, slot, plan.conflicts);
  const writes = writesOf(plan, needsStamp(plan, slot));
  if (ctx.dryRun) {
    // A dry run reports what it would write and leaves the row and the baseline for the real run.
    for (const write of writes) ctx.tally.add(write);
    if (plan.mapping.type !== 'keep') ctx.tally.add(`mapping.${plan.mapping.type}`);
    return 'done';
  }
  // Before every item's writes: a run that stalled (a slow port call) past its lease must not write next to the
  // instance that took over (DESIGN.md §4.1). Outside the try: a lost lease ends the run, it is no item's failure.
  await ctx.lease.keepAlive();
  let execution: Execution;
  // executePlan may commit a pendingCreate row before a CRM create (slot.mapping becomes it). A create that then fails
  // created nothing: its failure stays on the row it was recorded on, which finds the pendingCreate row when retried.
  // (writeCrmInBatch may have committed it already, and says what was there before.)
  const mappingBefore = ahead.crm ? ahead.crm.mappingBefore : slot.mapping;
  try {
    execution = await executePlan(ctx, slot, plan, {
      ...(ahead.crm ? { crm: ahead.crm.result } : {}),
      ...(ahead.outlookUpdate ? { outlookUpdate: ahead.outlookUpdate } : {}),
    });
  } catch (error) {
    if (error instanceof PartialExecutionError) {
      await recordPartial(ctx, slot, plan, error);
      return 'failed';
    }
    const classified = classifyError(error);
    if (classified.concurrency && mayRetry) {
      ctx.tally.add('retries.concurrency');
      return 'retry';
    }
    await recordFailure(ctx, slot.row, classified, mappingBefore);
    return 'failed';
  }
  for (const write of writes) ctx.tally.add(write);
  const committed = await commitResult(ctx, slot, plan, execution);
  if (!committed.ok) return 'failed';
  if (committed.mapping && (plan.crm.type === 'create' || plan.outlook.type === 'create')) {
    await followUpCreate(ctx, slot, execution, committed.mapping);
  }
  return 'done';
}

/**
 * After a create, the created side may hold what the plan could not know: Graph makes the mailbox owner the organizer
 * of a new event (one way to the CRM), a CRM may default a column. The pair is planned once more on what the
 * execution returned, and the updates that follow run now: left to the next cycle, they would be writes in a cycle
 * after a cycle without user edits (DESIGN.md §5). No reads: both sides are as the execution returned them.
 */
async function followUpCreate(ctx: RunContext, slot: Slot, execution: Execution, mapping: MappingRow): Promise<void> {
  const { outlookItem, crmRecord } = execution;
  if (!outlookItem || !crmRecord) return;
  const { etag: _resolvedRowEtag, ...row } = slot.row;
  const next: Slot = {
    ...slot,
    row: { ...row, outlookChange: null },
    mapping,
    outlookRef: { kind: outlookItem.kind, id: outlookItem.id, container: outlookItem.container },
    containerCertain: true,
    outlookItem,
    crmId: crmRecord.id,
    crmRecord,
    matchedBy: null,
    failure: null,
  };
  let plan: Plan;
  try {
    plan = planPair(planInputOf(ctx, next));
  } catch {
    return; // the next cycle plans the pair from fresh reads and records the failure on its row
  }
  const updatesOnly = [plan.crm.type, plan.outlook.type].every((type) => type === 'none' || type === 'update');
  if (!updatesOnly || (plan.crm.type === 'none' && plan.outlook.type === 'none')) return;
  ctx.tally.add('followUps.afterCreate');
  ctx.tally.add(`plans.${plan.reason}`);
  await runPlanned(ctx, { slot: next, plan }, false);
}

async function commitResult(
  ctx: RunContext,
  slot: Slot,
  plan: Plan,
  execution: Execution,
): Promise<{ ok: boolean; mapping: MappingRow | null }> {
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
    const stored = mapping ? (result.mapping ?? (await ctx.deps.store.getMapping(ctx.mailbox, mapping.mapId))) : null;
    return { ok: true, mapping: stored };
  }
  // The writes are done but not recorded: the row stays, with the failure and its reason (sync-lessons.md §5.4), and
  // the next cycle finds both sides already agreeing (or the stamped item) and only commits.
  const classified = classifyError(result?.error);
  ctx.deps.logger.warn('commit failed after writes', { key: slot.row.key, reason: classified.reason });
  await recordFailure(ctx, slot.row, { ...classified, reason: 'commit-failed', fatal: false, concurrency: false });
  return { ok: false, mapping: null };
}

/**
 * Commit the mapping of what was created together with the failure; the retry then only finishes up. The failure
 * moves onto the pair's `map:` row in the same unit, and the row it was recorded on goes: otherwise the pair keeps an
 * `o:`/`c:` row beside its `map:` row, and both plan the same writes.
 */
async function recordPartial(ctx: RunContext, slot: Slot, plan: Plan, error: PartialExecutionError): Promise<void> {
  const classified = classifyError(error.cause);
  ctx.tally.add(plan.crm.type === 'create' ? 'crm.create' : 'outlook.create');
  const mapping = nextMapping(ctx, slot, plan, error.done);
  if (mapping && !ctx.dryRun) {
    const failed = failedRow(slot.row, classified, ctx.deps.clock.now(), ctx.options.backoff, ctx.options.jitter);
    const unit: CommitUnit = { mapping: { put: mapping }, ...(await failureOnPairRow(ctx, slot.row, failed, mapping)) };
    const [result] = await ctx.deps.store.commit(ctx.mailbox, [unit]);
    if (result?.ok) {
      ctx.tally.add('mapping.put');
      noteFailure(ctx, slot.row, classified);
      return;
    }
    ctx.deps.logger.warn('could not record a partial execution', { key: slot.row.key });
  }
  await recordFailure(ctx, slot.row, classified);
}

/**
 * The change-row part of a unit that records `failed` (the row's failure) on the pair's `map:<mapId>` row: the row
 * itself when it already is that row; else the `map:` row (merged into the one that exists, which keeps its pending
 * changes) plus the removal of the row the failure was recorded on.
 */
async function failureOnPairRow(ctx: RunContext, row: ChangeRow, failed: ChangeRow, mapping: MappingRow): Promise<CommitUnit> {
  const key = mappedChangeKey(mapping.mapId);
  if (row.key === key) return { putChange: failed };
  const existing = await ctx.deps.store.getChange(ctx.mailbox, key);
  const failure = {
    attempts: Math.max(failed.attempts, existing?.attempts ?? 0),
    nextAttemptAt: failed.nextAttemptAt,
    lastError: failed.lastError,
    reason: failed.reason,
  };
  const { etag: _recordedEtag, ...moved } = failed;
  const putChange: ChangeRow = existing
    ? {
        ...existing,
        ...failure,
        outlookChange: existing.outlookChange ?? row.outlookChange,
        outlookAt: existing.outlookAt ?? row.outlookAt,
        crmChange: existing.crmChange ?? row.crmChange,
        crmAt: existing.crmAt ?? row.crmAt,
      }
    : {
        ...moved,
        ...failure,
        key,
        mapId: mapping.mapId,
        outlookId: mapping.outlookId,
        outlookContainer: mapping.outlookContainer ?? row.outlookContainer,
        crmId: mapping.crmId,
      };
  return { putChange, deleteChange: { key: row.key, ...(row.etag ? { etag: row.etag } : {}) } };
}

/**
 * A deferred plan (core outcomes.ts: a side of a linked pair could not be hydrated, without evidence that it is gone)
 * writes nothing, and its row is kept with a backoff and the plan's reason for a later cycle: deleting it would lose
 * the change that brought the pair here. Not counted as the item's failure.
 */
async function deferRow(ctx: RunContext, row: ChangeRow, reason: string): Promise<void> {
  ctx.tally.add('changes.deferred');
  if (ctx.dryRun) return;
  const deferred: ClassifiedError = { reason, detail: `deferred: ${reason}`, fatal: false, retryAfterMs: null, concurrency: false };
  const next = failedRow(row, deferred, ctx.deps.clock.now(), ctx.options.backoff, ctx.options.jitter);
  const [result] = await ctx.deps.store.commit(ctx.mailbox, [{ putChange: next }]);
  if (!result?.ok) ctx.deps.logger.warn('could not keep a deferred change row', { key: row.key });
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

/**
 * Record a failure with attempts, backoff and reason. With the pair's mapping, it goes onto its `map:` row (see
 * failureOnPairRow), so one pair never has two rows planning the same writes.
 */
export async function recordFailure(
  ctx: RunContext,
  row: ChangeRow,
  classified: ClassifiedError,
  mapping: MappingRow | null = null,
): Promise<void> {
  noteFailure(ctx, row, classified);
  if (ctx.dryRun) return;
  const next = failedRow(row, classified, ctx.deps.clock.now(), ctx.options.backoff, ctx.options.jitter);
  const unit = mapping ? await failureOnPairRow(ctx, row, next, mapping) : { putChange: next };
  let [result] = await ctx.deps.store.commit(ctx.mailbox, [unit]);
  // The move lost a race with a newly recorded change: the failure stays on the row it was recorded on.
  if (!result?.ok && unit.deleteChange) [result] = await ctx.deps.store.commit(ctx.mailbox, [{ putChange: next }]);
  if (!result?.ok) ctx.deps.logger.warn('could not record the failure on its change row', { key: row.key });
}

/**
 * Fields the plan left out because one side's value could not be read (an unknown time zone): neither side was
 * written for them, the baseline kept its value. Logged with the reason so an admin can see why a field does not sync.
 */
function logUnreadable(ctx: RunContext, slot: Slot, plan: Plan): void {
  for (const field of plan.unreadable ?? []) {
    ctx.tally.add(`fields.unreadable.${field.reason}`);
    ctx.deps.logger.warn('field left out: its value could not be read', { key: slot.row.key, field: field.field, side: field.side, reason: field.reason });
  }
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
