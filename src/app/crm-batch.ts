// The CRM writes of a batch of planned items go to the connector together (CrmConnector.writeBatch: one Dataverse
// `$batch` per 20 writes, dataverse-behaviour.md §2.6), so the CRM side of a cycle costs ⌈writes/20⌉ requests rather
// than one per item (DESIGN.md §10). Each item then finishes on its own (execute.ts), with the result of its CRM write
// in place of making it: its Outlook writes and its commit come after, as they would.
//
// Why this keeps the crash guarantees of DESIGN.md §4: within an item, the CRM write keeps its place (CRM create
// before the Outlook stamp, CRM update before the Outlook update, CRM delete of a plan with no Outlook write). Only the
// order across items changes: several items' CRM writes land before the first item commits. A crash then leaves each
// of them where a crash right after its own CRM write would: a create behind its pendingCreate row (committed before
// the batch), an update or delete that the rerun re-reads and re-plans from the unchanged baseline.
import type { MappingRow } from '../core/model';
import type { Plan } from '../core/plan';
import type { CrmWriteOp, CrmWriteResult } from '../ports/crm-connector';
import { commitPendingCreate } from './execute';
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
  let results: CrmWriteResult[];
  try {
    results = await ctx.deps.crm.writeBatch(
      queued.map((entry) => entry.op),
      { actAs: ctx.user },
    );
  } catch (error) {
    const failed: CrmWriteResult = { ok: false, error: asError(error) };
    results = queued.map(() => failed);
  }
  queued.forEach(({ item, mappingBefore }, index) => {
    const result = results[index] ?? { ok: false, error: new Error('the connector returned no result for this write') };
    done.set(item, { result, mappingBefore });
  });
  return done;
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
