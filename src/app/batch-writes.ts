// The writes of a batch of planned items go out together, per side and phase: the CrmId stamps of the records about to
// be created, then the CRM writes (CrmConnector.writeBatch: one Dataverse `$batch` per 20 writes,
// dataverse-behaviour.md §2.6), then the Outlook updates that follow CRM updates (MailboxSource.updateItems: Graph
// `$batch`es, graph-behaviour.md §5.3). A cycle then costs about ⌈writes/20⌉ requests per side rather than one or more
// per item (DESIGN.md §10). Each item finishes on its own (execute.ts), with the results of those writes in place of
// making them: its other writes and its commit come after, as they would.
//
// Why this keeps the crash guarantees of DESIGN.md §4: within an item, every write keeps its place, the same as when
// the item runs alone (execute.ts: pendingCreate row, CrmId stamp, CRM create, created mark; or CRM update before the
// Outlook update; a CRM delete only in a plan with no Outlook write), and a write goes ahead only when everything
// before it in its item did. Only the order across items changes: several items' writes land before the first item
// commits. A crash then leaves each of them where a crash after its own writes would.
import type { CrmRecord, MappingRow } from '../core/model';
import type { Plan } from '../core/plan';
import type { CrmWriteOp, CrmWriteResult } from '../ports/crm-connector';
import { ItemRejectedError } from '../ports/errors';
import type { OutlookUpdate, OutlookUpdateResult } from '../ports/mailbox-source';
import { commitPendingCreate, createKeyFor, markCreated, outlookUpdateOf, pendingCrmIdOf } from './execute';
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

/** What of one item's writes ran ahead, in a batch: its CRM write, its Outlook update. */
export interface ItemWrittenAhead {
  crm?: CrmWriteDone;
  outlookUpdate?: OutlookUpdateResult;
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
 * Run ahead the writes of these items that may go in batches. With fewer than two CRM writes, the CRM side (and the
 * stamps of creates) is left to each item, at the cost it always had; Outlook updates that need no CRM write first are
 * batched as soon as there are two.
 */
export async function writeAhead(ctx: RunContext, items: readonly BatchableItem[]): Promise<Map<BatchableItem, ItemWrittenAhead>> {
  const ahead = new Map<BatchableItem, ItemWrittenAhead>();
  const entry = (item: BatchableItem): ItemWrittenAhead => {
    const found = ahead.get(item);
    if (found) return found;
    const created: ItemWrittenAhead = {};
    ahead.set(item, created);
    return created;
  };
  const writes = items.flatMap((item) => {
    const op = crmWriteOf(item.slot, item.plan);
    return op ? [{ item, op }] : [];
  });
  const crmBatched = writes.length >= 2;
  if (crmBatched || items.length >= 2) await ctx.lease.keepAlive();

  // 1. The pendingCreate row of each create, before anything of it is written (execute.ts commitPendingCreate).
  const mappingBefore = new Map<BatchableItem, MappingRow | null>();
  const queued: { item: BatchableItem; op: CrmWriteOp }[] = [];
  if (crmBatched) {
    for (const { item, op } of writes) {
      mappingBefore.set(item, item.slot.mapping);
      if (op.type === 'create') {
        try {
          await commitPendingCreate(ctx, item.slot, item.plan);
        } catch (error) {
          entry(item).crm = { result: { ok: false, error: asError(error) }, mappingBefore: mappingBefore.get(item) ?? null };
          continue;
        }
        queued.push({ item, op: { ...op, idempotencyKey: createKeyFor(item.slot, op.idempotencyKey) } });
        continue;
      }
      queued.push({ item, op });
    }
  }

  // 2. Outlook updates that come before the item's CRM write or need none: the stamps of the records about to be
  // created (their ids are known: the pendingCreate rows), and updates of items with no CRM write.
  const before: { item: BatchableItem; update: OutlookUpdate }[] = [];
  const queuedItems = new Set(queued.map((q) => q.item));
  for (const item of items) {
    const { slot, plan } = item;
    if (!mayUpdateOutlookAhead(plan)) continue;
    const isQueuedCreate = plan.crm.type === 'create' && queuedItems.has(item);
    if (plan.crm.type !== 'none' && !isQueuedCreate) continue;
    const update = updateOf(ctx, slot, plan, isQueuedCreate ? pendingCrmIdOf(slot) : null);
    if (update) before.push({ item, update });
  }
  const stampsInQueue = before.some(({ item }) => item.plan.crm.type === 'create');
  if (before.length >= 2 || stampsInQueue) {
    const results = await updateAll(ctx, before.map((b) => b.update));
    before.forEach(({ item }, index) => {
      entry(item).outlookUpdate = results[index] ?? { ok: false, error: new Error('the mailbox returned no result for this update') };
    });
  }

  // 3. The CRM writes, in one call: a create only once its stamp landed.
  if (queued.length > 0) {
    const sendable = queued.filter(({ item }) => {
      const stamp = ahead.get(item)?.outlookUpdate;
      if (!stamp || stamp.ok) return true;
      entry(item).crm = { result: { ok: false, error: stamp.error }, mappingBefore: mappingBefore.get(item) ?? null };
      return false;
    });
    await ctx.lease.keepAlive();
    const results = sendable.length > 0 ? await writeAll(ctx, sendable.map((q) => q.op)) : [];
    const createdRecords: { slot: Slot; record: CrmRecord }[] = [];
    sendable.forEach(({ item, op }, index) => {
      const result = results[index] ?? { ok: false, error: new Error('the connector returned no result for this write') };
      entry(item).crm = { result, mappingBefore: mappingBefore.get(item) ?? null };
      if (op.type === 'create' && result.ok && result.record) createdRecords.push({ slot: item.slot, record: result.record });
    });
    await markCreated(ctx, createdRecords);
  }

  // 4. Outlook updates after a CRM update that landed.
  const after: { item: BatchableItem; update: OutlookUpdate }[] = [];
  for (const item of items) {
    const { slot, plan } = item;
    if (plan.crm.type !== 'update' || !mayUpdateOutlookAhead(plan) || !ahead.get(item)?.crm?.result.ok) continue;
    const update = updateOf(ctx, slot, plan, null);
    if (update) after.push({ item, update });
  }
  if (after.length >= 2) {
    await ctx.lease.keepAlive();
    const results = await updateAll(ctx, after.map((a) => a.update));
    after.forEach(({ item }, index) => {
      entry(item).outlookUpdate = results[index] ?? { ok: false, error: new Error('the mailbox returned no result for this update') };
    });
  }
  return ahead;
}

/** A plan whose Outlook write is at most an update (no create, no delete) and that deletes nothing in the CRM. */
function mayUpdateOutlookAhead(plan: Plan): boolean {
  return plan.outlook.type !== 'create' && plan.outlook.type !== 'delete' && plan.crm.type !== 'delete';
}

function updateOf(ctx: RunContext, slot: Slot, plan: Plan, crmIdToStamp: string | null): OutlookUpdate | null {
  try {
    return outlookUpdateOf(ctx, slot, plan, slot.outlookItem ?? null, crmIdToStamp);
  } catch {
    return null; // the item raises it itself, alone (execute.ts)
  }
}

/** One updateItems call, or the single updateItem for one update (the same requests as the item would make). */
async function updateAll(ctx: RunContext, updates: readonly OutlookUpdate[]): Promise<OutlookUpdateResult[]> {
  const source = ctx.deps.mailboxSource;
  try {
    if (updates.length === 1 && updates[0]) {
      const { ref, write, tracking, ifMatch } = updates[0];
      return [{ ok: true, item: await source.updateItem(ctx.mailbox, ref, write, tracking, ifMatch) }];
    }
    // A `$batch` refused as a whole fails its own updates alone, inside (MailboxSource.updateItems).
    return await source.updateItems(ctx.mailbox, updates);
  } catch (error) {
    return updates.map(() => ({ ok: false, error: asError(error) }));
  }
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

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
