// The writes of a batch of planned items go out together: first their CRM writes (CrmConnector.writeBatch: one
// Dataverse `$batch` per 20 writes, dataverse-behaviour.md §2.6), then the Outlook updates that follow them
// (MailboxSource.updateItems: Graph `$batch`es, graph-behaviour.md §5.3), so a cycle costs about ⌈writes/20⌉ requests
// per side rather than one or more per item (DESIGN.md §10). Each item then finishes on its own (execute.ts), with
// the results of those writes in place of making them: its other writes and its commit come after, as they would.
//
// Why this keeps the crash guarantees of DESIGN.md §4: within an item, every write keeps its place (CRM create before
// the Outlook stamp, CRM update before the Outlook update, a CRM delete only in a plan with no Outlook write); a
// write goes ahead only when everything before it in its item did. Only the order across items changes: several
// items' writes land before the first item commits. A crash then leaves each of them where a crash after its own
// writes would: a create behind its pendingCreate row (committed before the batch, marked created after it), an
// update the rerun re-reads and re-plans from the unchanged baseline, finding both sides already agreeing.
import type { MappingRow } from '../core/model';
import type { Plan } from '../core/plan';
import type { CrmWriteOp, CrmWriteResult } from '../ports/crm-connector';
import { ItemRejectedError } from '../ports/errors';
import type { OutlookUpdate, OutlookUpdateResult } from '../ports/mailbox-source';
import { commitPendingCreate, outlookUpdateOf } from './execute';
import type { Slot } from './hydrate';
import type { RunContext } from './run-context';

export interface BatchableItem {
  slot: Slot;
  plan: Plan;
}

/** The CRM write an item made in a batch, and the pair's mapping as it was before its pendingCreate row, if any. */
export interface CrmWriteDone {
  result: CrmWriteResult;
  mappingBefore: MappingRow | null;
}

/**
 * The plan's CRM write when it may run ahead of the item's other writes. Not when the plan also creates the Outlook
 * item (that create comes first, execute.ts) nor for a CRM delete beside an Outlook write (the Outlook write comes
 * first); those items make their CRM write in turn, alone.
 */
export function crmWriteOf(slot: Slot, plan: Plan): CrmWriteOp | null {
  const kind = slot.row.kind;
  const crm = plan.crm;
  if (crm.type === 'none' || plan.outlook.type === 'create') return null;
  const id = slot.crmRecord?.id ?? slot.crmId;
  if (crm.type === 'create') return { type: 'create', kind, write: crm.write, idempotencyKey: crm.idempotencyKey };
  if (!id) return null; // execute.ts raises the invariant error for the item alone
  if (crm.type === 'update') return { type: 'update', kind, id, write: crm.write, ifMatch: crm.ifMatch };
  if (plan.outlook.type !== 'none') return null;
  return { type: 'delete', kind, id };
}

/**
 * Make the batchable CRM writes of these items in one connector call. A create first commits its pendingCreate row
 * (execute.ts commitPendingCreate); an item whose row cannot be committed makes no CRM write and gets that failure as
 * its result. A failure of the whole call is every write's result: none of them is known to have happened, which the
 * items handle as a failed single write (their rows keep the failure; creates are idempotent on their key).
 */
export async function writeCrmInBatch(ctx: RunContext, items: readonly BatchableItem[]): Promise<Map<BatchableItem, CrmWriteDone>> {
  const done = new Map<BatchableItem, CrmWriteDone>();
  const writes = items.flatMap((item) => {
    const op = crmWriteOf(item.slot, item.plan);
    return op ? [{ item, op }] : [];
  });
  // A single write goes alone: the item makes it in execute.ts, at the cost it always had.
  if (writes.length < 2) return done;
  // Before the first write of the batch, the pendingCreate rows included (DESIGN.md §4.1).
  await ctx.lease.keepAlive();
  const queued: { item: BatchableItem; op: CrmWriteOp; mappingBefore: MappingRow | null }[] = [];
  for (const { item, op } of writes) {
    const mappingBefore = item.slot.mapping;
    if (op.type === 'create') {
      try {
        await commitPendingCreate(ctx, item.slot, item.plan);
      } catch (error) {
        done.set(item, { result: { ok: false, error: asError(error) }, mappingBefore });
        continue;
      }
    }
    queued.push({ item, op, mappingBefore });
  }
  if (queued.length === 0) return done;
  await ctx.lease.keepAlive();
  const results = await writeAll(ctx, queued.map((entry) => entry.op));
  queued.forEach(({ item, mappingBefore }, index) => {
    const result = results[index] ?? { ok: false, error: new Error('the connector returned no result for this write') };
    done.set(item, { result, mappingBefore });
  });
  await markCreated(ctx, queued.map(({ item }, index) => ({ item, result: results[index] })));
  return done;
}

/**
 * One writeBatch call. A request refused as a whole by the CRM (ItemRejectedError: nothing was applied, e.g. a 413
 * for a batch too large) is retried write by write, so that one bad write fails alone rather than the whole batch,
 * cycle after cycle. Any other failure of the call is every write's result.
 */
async function writeAll(ctx: RunContext, ops: readonly CrmWriteOp[]): Promise<CrmWriteResult[]> {
  const actAs = ctx.user;
  try {
    return await ctx.deps.crm.writeBatch(ops, { actAs });
  } catch (error) {
    if (!(error instanceof ItemRejectedError)) return ops.map(() => ({ ok: false, error: asError(error) }));
  }
  const results: CrmWriteResult[] = [];
  for (const op of ops) {
    try {
      results.push((await ctx.deps.crm.writeBatch([op], { actAs }))[0] ?? { ok: false, error: new Error('no result') });
    } catch (error) {
      results.push({ ok: false, error: asError(error) });
    }
  }
  return results;
}

/**
 * Each create the batch made is recorded on its pendingCreate row (`crmVersion` set) at once, before any item goes
 * on: until an item's link commit, this is what proves its create happened (hydrate.ts settlePendingCreate), so a
 * record the user deletes in the CRM is not created again even if the run stops (a fatal error, a lost lease) before
 * that item's stamp and link. Best effort: a row not marked keeps the evidence the single path has.
 */
async function markCreated(ctx: RunContext, entries: readonly { item: BatchableItem; result: CrmWriteResult | undefined }[]): Promise<void> {
  const marked: { slot: Slot; row: MappingRow }[] = [];
  for (const { item, result } of entries) {
    const row = item.slot.mapping;
    if (item.plan.crm.type !== 'create' || !result?.ok || !result.record || row?.state !== 'pendingCreate') continue;
    if (row.crmId?.toLowerCase() !== result.record.id.toLowerCase()) continue;
    marked.push({ slot: item.slot, row: { ...row, crmVersion: result.record.version } });
  }
  if (marked.length === 0) return;
  try {
    const results = await ctx.deps.store.commit(
      ctx.mailbox,
      marked.map(({ row }) => ({ mapping: { put: row } })),
    );
    for (const [index, result] of results.entries()) {
      const entry = marked[index];
      if (!entry || !result.ok) continue;
      // The link commit is a CAS on this row's new etag.
      entry.slot.mapping = result.mapping ?? (await ctx.deps.store.getMapping(ctx.mailbox, entry.row.mapId));
    }
    ctx.tally.add('mapping.createdMarked', results.filter((result) => result.ok).length);
  } catch (error) {
    ctx.deps.logger.warn('could not mark pendingCreate rows as created', { reason: asError(error).message });
  }
}

/**
 * The Outlook update of each item that may go ahead now: a plan with no Outlook create or delete and no CRM delete,
 * whose CRM write (if any) went ahead and succeeded — its stamp needs the created id, and an item whose CRM write
 * failed stops there. Two or more go in one updateItems call; a single one the item makes itself.
 */
export async function writeOutlookInBatch(
  ctx: RunContext,
  items: readonly BatchableItem[],
  crmDone: ReadonlyMap<BatchableItem, CrmWriteDone>,
): Promise<Map<BatchableItem, OutlookUpdateResult>> {
  const done = new Map<BatchableItem, OutlookUpdateResult>();
  const queued: { item: BatchableItem; update: OutlookUpdate }[] = [];
  for (const item of items) {
    const { slot, plan } = item;
    if (plan.outlook.type === 'create' || plan.outlook.type === 'delete' || plan.crm.type === 'delete') continue;
    const crm = crmDone.get(item);
    if (plan.crm.type !== 'none' && !crm?.result.ok) continue;
    const createdCrmId = plan.crm.type === 'create' && crm?.result.ok ? (crm.result.record?.id ?? null) : null;
    let update: OutlookUpdate | null;
    try {
      update = outlookUpdateOf(ctx, slot, plan, slot.outlookItem ?? null, createdCrmId);
    } catch {
      continue; // the item raises it itself, alone (execute.ts)
    }
    if (update) queued.push({ item, update });
  }
  if (queued.length < 2) return done;
  await ctx.lease.keepAlive();
  const updates = queued.map((entry) => entry.update);
  let results: OutlookUpdateResult[];
  try {
    // A `$batch` refused as a whole fails its own updates alone, inside (MailboxSource.updateItems).
    results = await ctx.deps.mailboxSource.updateItems(ctx.mailbox, updates);
  } catch (error) {
    results = updates.map(() => ({ ok: false, error: asError(error) }));
  }
  queued.forEach(({ item }, index) => {
    done.set(item, results[index] ?? { ok: false, error: new Error('the mailbox returned no result for this update') });
  });
  return done;
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
