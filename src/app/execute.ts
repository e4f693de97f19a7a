// Phase 4b: carry out one plan through the ports, then build the mapping row that records the result.
// Order: CRM create first (its id is the Outlook stamp), then the Outlook create (idempotent on that id), then updates,
// then deletes, so a crash at any point leaves something a rerun finds and links instead of duplicating (DESIGN.md §4).
import type { CrmRecord, FieldValues, JsonValue, MappingRow, OutlookItem } from '../core/model';
import type { Plan, TrackingUpkeep } from '../core/plan';
import type { CrmWriteResult } from '../ports/crm-connector';
import { InvariantError } from '../ports/errors';
import type { ItemRef, OutlookUpdate, OutlookUpdateResult } from '../ports/mailbox-source';
import { baselineAfterCreate, crmFields, hashBaseline, oneWayFieldsFrom, outlookFields, PENDING_CREATE_KEY, PENDING_CRM_ID, pendingCreateKeyOf } from './core-api';
import { mappedChangeKey } from './collect';
import { defaultContainer, planInputOf, type Slot } from './hydrate';
import type { RunContext } from './run-context';

export interface Execution {
  outlookItem: OutlookItem | null;
  crmRecord: CrmRecord | null;
}

/**
 * A plan failed after it created something. The creation is real and must be recorded (its mapping committed) even
 * though the item failed: otherwise the new record shows up in the CRM feed as unmapped and is created in Outlook a
 * second time (sync-lessons.md §4.1).
 */
export class PartialExecutionError extends Error {
  constructor(readonly done: Execution, override readonly cause: unknown) {
    super(cause instanceof Error ? cause.message : 'a plan failed after a create');
    this.name = 'PartialExecutionError';
  }
}

/** The writes a plan makes, as summary counter names (`crm.create`, `outlook.update`, …). */
export function writesOf(plan: Plan, trackingStamp: boolean): string[] {
  const writes: string[] = [];
  if (plan.crm.type !== 'none') writes.push(`crm.${plan.crm.type}`);
  if (plan.outlook.type !== 'none') writes.push(`outlook.${plan.outlook.type}`);
  else if (trackingStamp) writes.push('outlook.update');
  return writes;
}

export function hasDelete(plan: Plan): boolean {
  return plan.outlook.type === 'delete' || plan.crm.type === 'delete';
}

/**
 * Whether the new CRM record's id must be stamped on the Outlook item by an extra upkeep write: a CRM create for a
 * present Outlook item whose plan does not already carry the stamp.
 */
export function needsStamp(plan: Plan, slot: Slot): boolean {
  return plan.crm.type === 'create' && plan.outlook.type === 'none' && !!slot.outlookItem;
}

/**
 * Writes of this plan that already ran in a batch with other items' writes (batch-writes.ts), in place of making them
 * here: the CRM write, and the Outlook update that follows it. Nothing else changes: an error surfaces where the write
 * would have thrown it.
 */
export interface WrittenAhead {
  crm?: CrmWriteResult;
  outlookUpdate?: OutlookUpdateResult;
}

export async function executePlan(ctx: RunContext, slot: Slot, plan: Plan, ahead: WrittenAhead = {}): Promise<Execution> {
  const crmWritten = ahead.crm;
  const { mailboxSource, crm } = ctx.deps;
  const kind = slot.row.kind;
  const actAs = ctx.user;
  const done: Execution = { crmRecord: slot.crmRecord ?? null, outlookItem: slot.outlookItem ?? null };

  let rest = ahead;
  if (plan.crm.type === 'create') {
    if (crmWritten) {
      done.crmRecord = recordWritten(crmWritten, 'create');
    } else {
      await commitPendingCreate(ctx, slot, plan);
      // The record's id is known before the create (the pendingCreate row): the Outlook item is stamped with it
      // first, so a crash after the create leaves an item that carries the id. A To Do task the user then moves to
      // another list (a new id) is followed by that stamp instead of being taken for a new one (hydrate.ts).
      const pendingId = pendingCrmIdOf(slot);
      const stamp = pendingId && !ahead.outlookUpdate ? outlookUpdateOf(ctx, slot, plan, done.outlookItem, pendingId) : null;
      if (stamp) {
        done.outlookItem = await mailboxSource.updateItem(ctx.mailbox, stamp.ref, stamp.write, stamp.tracking, stamp.ifMatch);
        rest = { ...ahead, outlookUpdate: { ok: true, item: done.outlookItem } };
      }
      done.crmRecord = await crm.create(kind, plan.crm.write, { actAs, idempotencyKey: createKeyFor(slot, plan.crm.idempotencyKey) });
      await markCreated(ctx, [{ slot, record: done.crmRecord }]);
    }
  }
  if (plan.outlook.type === 'create') {
    const container = defaultContainer(ctx, kind);
    if (container === null) throw new InvariantError(`no stream to create a ${kind} in`);
    done.outlookItem = await mailboxSource.createItem(ctx.mailbox, kind, container, plan.outlook.write, {
      crmId: plan.outlook.crmId,
      categoryName: ctx.settings.categoryName,
    });
  }
  const created = plan.crm.type === 'create' || plan.outlook.type === 'create';
  try {
    return await executeRest(ctx, slot, plan, done, rest);
  } catch (error) {
    if (created && !(error instanceof InvariantError)) throw new PartialExecutionError(done, error);
    throw error;
  }
}

/**
 * Before the CRM create of a tracked Outlook item without a mapping: commit a `pendingCreate` row naming the id the
 * create will use (CrmConnector.idForCreate), so a crash between the create and the link commit leaves a pair the CRM
 * feed finds (findMappingByCrmId) instead of an unmapped record that would be created in Outlook again. The link
 * commit after the create replaces this row (CAS on its etag: `slot.mapping` becomes the stored row). A connector that
 * cannot name the id keeps the create-then-link order.
 */
export async function commitPendingCreate(ctx: RunContext, slot: Slot, plan: Plan): Promise<void> {
  const item = slot.outlookItem;
  if (plan.crm.type !== 'create' || plan.mapping.type !== 'put' || plan.outlook.type === 'create') return;
  // A pendingCreate row already there is one whose create runs again (under the key it keeps): left as it is. A
  // re-tracked item whose record is gone (its row unlinked or deletedLocally) becomes the pendingCreate row itself
  // (the same mapId, a CAS on its etag).
  const previous = slot.mapping;
  if (!item || previous?.state === 'linked' || previous?.state === 'pendingCreate') return;
  const { crm, store, clock } = ctx.deps;
  const mapId = previous?.mapId ?? ctx.deps.ids();
  const key = `${plan.crm.idempotencyKey}#${mapId}`;
  const crmId = crm.idForCreate?.(slot.row.kind, key) ?? null;
  if (crmId === null) return;
  const baseline = { ...plan.mapping.baseline, [PENDING_CREATE_KEY]: key };
  const row: MappingRow = {
    mapId,
    kind: slot.row.kind,
    outlookId: item.id,
    outlookContainer: containerOf(slot, item.id, null),
    crmId,
    state: 'pendingCreate',
    trackedVia: 'outlook',
    baseline,
    baselineHash: hashBaseline(baseline),
    outlookVersion: item.changeKey,
    crmVersion: null,
    visitedEpoch: clock.now().getTime(),
    verifiedAt: null,
  };
  if (previous?.etag !== undefined) row.etag = previous.etag;
  // The row's change row may hold the deletion of the record the pair was linked to before: this plan has dealt with
  // it, and left there it would read as the deletion of the record about to be made (hydrate.ts settlePendingCreate).
  // It goes in the same commit, so a crash leaves both or neither; the change row itself stays (it carries the create).
  const changeKey = previous ? mappedChangeKey(previous.mapId) : null;
  const change = changeKey === null ? null : slot.row.key === changeKey ? slot.row : await store.getChange(ctx.mailbox, changeKey);
  const consumed = change?.crmChange === 'deleted' ? { ...change, crmChange: null, crmAt: null } : null;
  const [result] = await store.commit(ctx.mailbox, [{ mapping: { put: row }, ...(consumed ? { putChange: consumed } : {}) }]);
  if (!result?.ok) throw result?.error ?? new InvariantError('the store returned no result for a commit');
  ctx.tally.add('mapping.pendingCreate');
  slot.mapping = result.mapping ?? (await store.getMapping(ctx.mailbox, row.mapId));
  if (consumed && slot.row.key === consumed.key) {
    // Its etag changed with the write: the item's final commit deletes it as it now is (the lease keeps other writers out).
    const { etag: _stale, ...current } = consumed;
    slot.row = current;
  }
}

/** The idempotency key a CRM create runs with: the one its pendingCreate row keeps, else the plan's. */
export function createKeyFor(slot: Slot, plannedKey: string): string {
  const row = slot.mapping;
  return (row?.state === 'pendingCreate' ? pendingCreateKeyOf(row) : null) ?? plannedKey;
}

async function executeRest(ctx: RunContext, slot: Slot, plan: Plan, done: Execution, ahead: WrittenAhead): Promise<Execution> {
  const { mailboxSource, crm } = ctx.deps;
  const crmWritten = ahead.crm;
  const kind = slot.row.kind;
  const actAs = ctx.user;
  let { crmRecord, outlookItem } = done;
  if (plan.crm.type === 'update') {
    const id = crmRecord?.id ?? slot.crmId;
    if (!id) throw new InvariantError('a CRM update without a CRM record');
    crmRecord = crmWritten
      ? recordWritten(crmWritten, 'update')
      : await crm.update(kind, id, plan.crm.write, { actAs, ifMatch: plan.crm.ifMatch });
  }
  const createdCrmId = plan.crm.type === 'create' ? crmRecord?.id ?? null : null;
  const update = outlookUpdateOf(ctx, slot, plan, outlookItem, createdCrmId);
  if (update) {
    outlookItem = ahead.outlookUpdate
      ? itemWritten(ahead.outlookUpdate)
      : await mailboxSource.updateItem(ctx.mailbox, update.ref, update.write, update.tracking, update.ifMatch);
  }
  if (plan.outlook.type === 'delete') {
    await mailboxSource.deleteItem(ctx.mailbox, refOf(slot, outlookItem));
    outlookItem = null;
  }
  if (plan.crm.type === 'delete') {
    const id = crmRecord?.id ?? slot.crmId;
    if (!id) throw new InvariantError('a CRM delete without a CRM record');
    if (crmWritten) {
      if (!crmWritten.ok) throw crmWritten.error;
    } else {
      await crm.delete(kind, id, { actAs });
    }
    crmRecord = null;
  }
  return { outlookItem, crmRecord };
}

/**
 * The Outlook update a plan makes after its CRM write (null: none): its field write, and the tracking upkeep with the
 * CrmId stamp of the record the plan created (`createdCrmId`).
 */
export function outlookUpdateOf(
  ctx: RunContext,
  slot: Slot,
  plan: Plan,
  outlookItem: OutlookItem | null,
  createdCrmId: string | null,
): OutlookUpdate | null {
  if (plan.outlook.type !== 'update' && !(createdCrmId && needsStamp(plan, slot))) return null;
  const ref = refOf(slot, outlookItem);
  const planned = plan.outlook.type === 'update' ? plan.outlook : { write: null, tracking: null };
  const tracking = stampCreated(planned.tracking, createdCrmId);
  return {
    ref,
    write: planned.write,
    tracking: tracking ? { ...tracking, categoryName: ctx.settings.categoryName } : null,
    // A field write is conditional on the version the plan merged against, so a user's edit made since is never
    // overwritten: ConcurrencyError, and the row is re-read and re-planned (apply.ts). Outlook's honouring of
    // If-Match is UNCONFIRMED (graph-behaviour.md §8): this narrows the window, the merge stays correct without it.
    ifMatch: planned.write ? versionWritten(slot, ref) : null,
  };
}

function itemWritten(written: OutlookUpdateResult): OutlookItem {
  if (!written.ok) throw written.error;
  return written.item;
}

/** The id a committed pendingCreate row names for the create about to run, if any. */
export function pendingCrmIdOf(slot: Slot): string | null {
  return slot.mapping?.state === 'pendingCreate' ? slot.mapping.crmId : null;
}

/**
 * Each create that returned is recorded on its pendingCreate row (`crmVersion` set) at once, in one commit, before the
 * item goes on: until its link commit, this proves the create happened (hydrate.ts settlePendingCreate), so a record
 * the user deletes in the CRM is not created again if the run stops first (a crash, a fatal error, a lost lease) and
 * the CRM cursor expires. Best effort: a row not marked keeps the evidence of the feed.
 */
export async function markCreated(ctx: RunContext, created: readonly { slot: Slot; record: CrmRecord }[]): Promise<void> {
  const marked: { slot: Slot; row: MappingRow }[] = [];
  for (const { slot, record } of created) {
    const row = slot.mapping;
    if (row?.state !== 'pendingCreate' || row.crmId?.toLowerCase() !== record.id.toLowerCase()) continue;
    marked.push({ slot, row: { ...row, crmVersion: record.version } });
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
    ctx.deps.logger.warn('could not mark pendingCreate rows as created', { reason: error instanceof Error ? error.message : String(error) });
  }
}

function recordWritten(written: CrmWriteResult, what: 'create' | 'update'): CrmRecord {
  if (!written.ok) throw written.error;
  if (!written.record) throw new InvariantError(`a batched CRM ${what} returned no record`);
  return written.record;
}

/**
 * The planner cannot know the id of a CRM record it asks to create: it writes PENDING_CRM_ID, and the app puts in the
 * id the create returned (the CrmId stamp, with the marker and category so the user sees the item is tracked).
 */
function stampCreated(tracking: TrackingUpkeep | null, createdCrmId: string | null): TrackingUpkeep | null {
  if (tracking?.crmId === PENDING_CRM_ID) {
    if (!createdCrmId) throw new InvariantError('a CrmId stamp for a CRM record this plan does not create');
    return { ...tracking, crmId: createdCrmId };
  }
  if (!createdCrmId) return tracking;
  if (tracking) return { ...tracking, crmId: tracking.crmId || createdCrmId };
  return { marker: true, category: true, crmId: createdCrmId };
}

/** The changeKey of the hydrated item a write goes to; null when the plan did not read that item. */
function versionWritten(slot: Slot, ref: ItemRef): string | null {
  const read = slot.outlookItem;
  return read && read.id === ref.id ? read.changeKey : null;
}

function refOf(slot: Slot, item: OutlookItem | null): ItemRef {
  if (item) return { kind: item.kind, id: item.id, container: item.container };
  if (slot.outlookRef) return slot.outlookRef;
  throw new InvariantError('an Outlook write without an Outlook item');
}

/** The mapping row after the plan ran, or null when the plan keeps or removes it (see `plan.mapping`). */
export function nextMapping(
  ctx: RunContext,
  slot: Slot,
  plan: Plan,
  execution: Execution | null,
): MappingRow | null {
  if (plan.mapping.type !== 'put') return null;
  const previous = slot.mapping;
  const outlookItem = execution ? execution.outlookItem : (slot.outlookItem ?? null);
  const crmRecord = execution ? execution.crmRecord : (slot.crmRecord ?? null);
  const outlookId = outlookItem?.id ?? previous?.outlookId ?? slot.outlookRef?.id ?? null;
  const crmId = crmRecord?.id ?? previous?.crmId ?? slot.crmId ?? null;
  const baseline = execution ? baselineAfterExecution(ctx, slot, plan, execution) : plan.mapping.baseline;
  const row: MappingRow = {
    mapId: previous?.mapId ?? ctx.deps.ids(),
    kind: slot.row.kind,
    outlookId,
    outlookContainer: containerOf(slot, outlookId, plan.outlook.type === 'create' ? outlookItem : null),
    crmId,
    state: plan.mapping.state,
    trackedVia: plan.mapping.trackedVia,
    baseline,
    baselineHash: hashBaseline(baseline),
    outlookVersion: outlookItem?.changeKey ?? previous?.outlookVersion ?? null,
    crmVersion: crmRecord?.version ?? previous?.crmVersion ?? null,
    // The Outlook item was seen just now: a sweep that started before this write must not call it unvisited.
    visitedEpoch: outlookItem
      ? Math.max(ctx.deps.clock.now().getTime(), previous?.visitedEpoch ?? 0)
      : (previous?.visitedEpoch ?? 0),
    verifiedAt: previous?.verifiedAt ?? null,
  };
  if (previous?.etag !== undefined) row.etag = previous.etag;
  return row;
}

/**
 * The baseline of a pair this plan created a side of: what the created record or item actually holds (a create that
 * is idempotent may return what an earlier attempt made; core baselineAfterCreate), and, for the one-way fields read
 * on the created side, that side's value. The plan cannot know those: Graph sets a new event's organizer to the
 * mailbox owner. Left at the planned value, the next cycle would read it as a user's change and write it to the other
 * side, in a cycle after a cycle without edits (DESIGN.md §5).
 */
function baselineAfterExecution(ctx: RunContext, slot: Slot, plan: Plan, execution: Execution): FieldValues {
  if (plan.mapping.type !== 'put') throw new InvariantError('a baseline for a plan that stores no mapping');
  const createdCrm = plan.crm.type === 'create' ? execution.crmRecord : null;
  const createdOutlook = plan.outlook.type === 'create' ? execution.outlookItem : null;
  if (!createdCrm && !createdOutlook) return plan.mapping.baseline;
  const context = planInputOf(ctx, slot).context;
  const baseline: Record<string, JsonValue> = {
    ...(baselineAfterCreate(plan, { crmRecord: createdCrm, outlookItem: createdOutlook }, context) ?? plan.mapping.baseline),
  };
  const kind = slot.row.kind;
  const held = createdOutlook ? outlookFields(ctx, kind, createdOutlook) : createdCrm ? crmFields(ctx, kind, createdCrm) : null;
  if (held) for (const field of oneWayFieldsFrom(ctx, kind, createdOutlook ? 'outlook' : 'crm')) baseline[field] = held[field] ?? null;
  return baseline;
}

/**
 * Where the mapped Outlook item lives, never a guess: where this plan created it, where hydration proved it to be, or
 * what the mapping said for the same id. It lets later direct reads, reconciliation and sweeps address the right list
 * (DESIGN.md §3).
 */
function containerOf(slot: Slot, outlookId: string | null, created: OutlookItem | null): string | null {
  if (outlookId === null) return null;
  if (created && created.id === outlookId) return created.container;
  if (slot.outlookRef?.id === outlookId && slot.containerCertain) return slot.outlookRef.container;
  const previous = slot.mapping;
  return previous?.outlookId === outlookId ? (previous.outlookContainer ?? null) : null;
}
