// Phase 4a: turn a batch of change rows into planner inputs (DESIGN.md §4.3). Both sides are read directly, in
// batches (one MailboxSource.getItems call, one CrmConnector.read per kind), so the plan never trusts a delta payload
// or a feed entry: a removal is "gone" only when the direct read says so (never delete what still exists).
import type { CrmRecord, ItemKind, MappingRow, OutlookItem } from '../core/model';
import type { CrmSide, OutlookSide, PlanInput } from '../core/plan';
import type { ItemRef } from '../ports/mailbox-source';
import { AuthError, InvariantError, ItemRejectedError } from '../ports/errors';
import type { ChangeRow } from '../ports/state-store';
import { mappedChangeKey } from './collect';
import { crmFields } from './core-api';
import { classifyError, type ClassifiedError } from './failures';
import { crmTimeZoneOf, type RunContext } from './run-context';

/** One change row on its way through hydration; a step that fails for it sets `failure` and later steps skip it. */
export interface Slot {
  row: ChangeRow;
  mapping: MappingRow | null;
  outlookRef: ItemRef | null;
  /**
   * False while the container of `outlookRef` is a guess: neither the row nor the mapping said which folder/list the
   * item lives in and the kind has several streams (a mapping stored before MappingRow.outlookContainer existed).
   * A guess is never stored in a mapping. Reading a task settles it (readOutlookItems tries every list).
   */
  containerCertain: boolean;
  /** undefined: not read; null: read and gone. */
  outlookItem: OutlookItem | null | undefined;
  crmId: string | null;
  /** undefined: not read; null: read and gone. */
  crmRecord: CrmRecord | null | undefined;
  /** How an unmapped item found its other side: a stamped CrmId, an e-mail address, a move between To Do lists. */
  matchedBy: 'stamp' | 'email' | 'messageId' | 'move' | 'findByCrmId' | null;
  failure: ClassifiedError | null;
}

export interface HydratedBatch {
  slots: Slot[];
  /** Rows that touch a pair another row of this batch already touches: they run in a later batch, after its commit. */
  postponed: ChangeRow[];
}

export async function hydrateBatch(ctx: RunContext, rows: readonly ChangeRow[]): Promise<HydratedBatch> {
  const slots: Slot[] = [];
  for (const row of rows) slots.push(await resolveMapping(ctx, row));
  await readOutlookSides(ctx, slots);
  await findOutlookItemsOfNewCrmRecords(ctx, slots);
  const contactsByAddress = await findContactsForBatch(ctx, slots);
  for (const slot of live(slots)) await resolveCrmId(ctx, slot, contactsByAddress);
  await matchEmailsByMessageId(ctx, slots);
  await readCrmSides(ctx, slots);
  const unproven: Slot[] = [];
  for (const slot of live(slots)) await guarded(slot, async () => {
    if (!(await settlePendingCreate(ctx, slot))) unproven.push(slot);
  });
  await settleByDeletedRecords(ctx, unproven);
  return separateCollisions(slots);
}

/**
 * A pendingCreate row whose record reads as gone: the create never ran (a crash or a rejected write right before it),
 * or it ran and the record was deleted since. Three pieces of evidence prove the create happened, and the pair is then
 * planned as linked with its CRM side deleted (DESIGN.md §6), never created again: a `deleted` change recorded for the
 * row's record by the CRM feed; the row marked as created right after the create returned (execute.ts markCreated),
 * which survives a CRM cursor that expired and lost the delete; and the record among the CRM's deleted records
 * (settleByDeletedRecords). Without any, the create runs again with the same idempotency key (it returns the first
 * attempt's record if there was one).
 *
 * Returns false when the row is still unproven: a pendingCreate row whose record is gone, with no mark and no deletion
 * in the feed.
 */
async function settlePendingCreate(ctx: RunContext, slot: Slot): Promise<boolean> {
  const mapping = slot.mapping;
  if (mapping?.state !== 'pendingCreate' || slot.crmRecord !== null) return true;
  // crmVersion is set on a pendingCreate row only once its create returned (execute.ts markCreated). The CrmId stamp
  // is no evidence: it is written before the create (execute.ts).
  if (mapping.crmVersion !== null) {
    slot.mapping = { ...mapping, state: 'linked' };
    return true;
  }
  const key = mappedChangeKey(mapping.mapId);
  const row = slot.row.key === key ? slot.row : await ctx.deps.store.getChange(ctx.mailbox, key);
  // A re-tracked pair's row became pendingCreate with the deletion of its earlier record taken off this change row
  // (execute.ts commitPendingCreate): a deletion here is of the record this row names.
  if (row?.crmChange !== 'deleted') return false;
  slot.mapping = { ...mapping, state: 'linked' };
  return true;
}

/**
 * The last evidence, for the window no Table write can close: a crash after the create answered and before the row
 * was marked, then the record deleted in the CRM while the CRM cursor expired (the full re-read lists no deletions).
 * A CRM that keeps deleted records (Dataverse's recycle bin, CrmConnector.findDeleted) still holds it: the create
 * happened. One call per kind for the whole batch. Where the CRM keeps none, nothing can tell "never created" from
 * "created and deleted"; the create runs again, which loses nothing and duplicates nothing (the same id), but brings
 * back a record deleted in that window: counted, so the run summary shows it.
 */
async function settleByDeletedRecords(ctx: RunContext, slots: readonly Slot[]): Promise<void> {
  const findDeleted = ctx.deps.crm.findDeleted?.bind(ctx.deps.crm);
  const byKind = new Map<ItemKind, Slot[]>();
  for (const slot of slots) {
    if (!slot.mapping?.crmId || slot.failure) continue;
    const ofKind = byKind.get(slot.row.kind);
    if (ofKind) ofKind.push(slot);
    else byKind.set(slot.row.kind, [slot]);
  }
  for (const [kind, ofKind] of byKind) {
    let deleted: Set<string> | null = null;
    try {
      deleted = findDeleted ? await findDeleted(kind, ofKind.map((slot) => slot.mapping?.crmId ?? ''), ctx.user) : null;
    } catch (error) {
      // Without the answer the create must not run again (it might resurrect the record): those rows wait.
      for (const slot of ofKind) slot.failure = classifyError(error);
      continue;
    }
    const unproven = new Set<string>();
    for (const slot of ofKind) {
      const mapping = slot.mapping;
      if (!mapping?.crmId) continue;
      if (deleted?.has(mapping.crmId.toLowerCase())) slot.mapping = { ...mapping, state: 'linked' };
      else if (deleted === null) unproven.add(mapping.mapId);
    }
    // Two change rows of one pair (one runs in a later batch) are one unproven row.
    ctx.tally.add('pendingCreate.unproven', unproven.size);
  }
}

function live(slots: Slot[]): Slot[] {
  return slots.filter((slot) => slot.failure === null);
}

async function guarded(slot: Slot, step: () => Promise<void>): Promise<void> {
  try {
    await step();
  } catch (error) {
    slot.failure = classifyError(error);
  }
}

async function resolveMapping(ctx: RunContext, row: ChangeRow): Promise<Slot> {
  const slot: Slot = {
    row,
    mapping: null,
    outlookRef: null,
    containerCertain: true,
    outlookItem: undefined,
    crmId: null,
    crmRecord: undefined,
    matchedBy: null,
    failure: null,
  };
  await guarded(slot, async () => {
    const { store } = ctx.deps;
    let mapping: MappingRow | null = null;
    if (row.mapId) mapping = await store.getMapping(ctx.mailbox, row.mapId);
    // An item recorded as unmapped may have been mapped since (by another row of the same pair), and a mapping may
    // have been removed since its row was recorded: the ids decide.
    if (!mapping && row.outlookId) mapping = await store.findMappingByOutlookId(ctx.mailbox, row.kind, row.outlookId);
    if (!mapping && row.crmId) mapping = await store.findMappingByCrmId(ctx.mailbox, row.kind, row.crmId);
    slot.mapping = mapping;
    const outlookId = mapping?.outlookId ?? row.outlookId;
    if (outlookId) {
      // The row's container comes from the stream that reported this id (the freshest word); the mapping's from the
      // last time the pair was applied. Each only speaks for its own id.
      const container =
        (row.outlookId === outlookId ? row.outlookContainer : null) ??
        (mapping?.outlookId === outlookId ? (mapping.outlookContainer ?? null) : null) ??
        soleContainer(ctx, row.kind);
      slot.containerCertain = container !== null;
      slot.outlookRef = { kind: row.kind, id: outlookId, container: container ?? defaultContainer(ctx, row.kind) ?? '' };
    }
  });
  return slot;
}

/** The container of the kind's only stream, or null when the kind has several (To Do lists, Inbox + Sent Items). */
export function soleContainer(ctx: RunContext, kind: ItemKind): string | null {
  const streams = ctx.streams.filter((stream) => stream.kind === kind);
  return streams.length === 1 && streams[0] ? streams[0].container : null;
}

/** Where new items of a kind are created: the first stream of the kind (the default To Do list comes first). */
export function defaultContainer(ctx: RunContext, kind: ItemKind): string | null {
  return ctx.streams.find((stream) => stream.kind === kind)?.container ?? null;
}

async function readOutlookSides(ctx: RunContext, slots: Slot[]): Promise<void> {
  const wanted = live(slots).filter((slot) => slot.outlookRef !== null);
  if (wanted.length === 0) return;
  let found: Map<string, OutlookItem | null>;
  try {
    found = await readOutlookItems(
      ctx,
      wanted.map((slot) => {
        const ref = slot.outlookRef as ItemRef;
        return { kind: ref.kind, id: ref.id, container: slot.containerCertain ? ref.container : null };
      }),
    );
  } catch (error) {
    // Per-item failures come back per item ($batch answers each request on its own, graph-behaviour.md §5.3); a
    // failure of the whole call is throttling, an outage or credentials, and is every row's failure.
    failAll(wanted, error);
    return;
  }
  for (const slot of wanted) {
    const ref = slot.outlookRef as ItemRef;
    if (!found.has(ref.id)) {
      // The adapter could not validate the item: it exists, so it must not be taken for deleted.
      slot.failure = { reason: 'outlook-invalid-item', detail: 'the item did not validate', fatal: false, retryAfterMs: null, concurrency: false };
      continue;
    }
    const item = found.get(ref.id) ?? null;
    slot.outlookItem = item;
    if (item) {
      slot.containerCertain ||= learnedContainer(ctx, { kind: ref.kind, id: ref.id, container: null }, item) !== null;
      slot.outlookRef = { kind: ref.kind, id: item.id, container: item.container };
    } else {
      await guarded(slot, () => followMovedItem(ctx, slot));
    }
  }
}

/** An item to read; `container` null when unknown (a mapping stored before MappingRow.outlookContainer existed). */
export interface OutlookReadRef {
  kind: ItemKind;
  id: string;
  container: string | null;
}

/**
 * Direct reads by id (MailboxSource.getItems). The result is like getItems': null when the item is gone, no entry when
 * it did not validate. A To Do task is addressed inside its list (graph-behaviour.md §2.5: a read in another list is a
 * 404), so a task whose list is unknown is read in each of the mailbox's lists before it counts as gone: one batched
 * read per further list, only for such misses. Other kinds are addressed by id alone; their container is a label.
 */
export async function readOutlookItems(ctx: RunContext, refs: readonly OutlookReadRef[]): Promise<Map<string, OutlookItem | null>> {
  if (refs.length === 0) return new Map();
  const firstGuess = (ref: OutlookReadRef): string => ref.container ?? soleContainer(ctx, ref.kind) ?? defaultContainer(ctx, ref.kind) ?? '';
  const { mailboxSource } = ctx.deps;
  const out = new Map(await mailboxSource.getItems(ctx.mailbox, refs.map((ref) => ({ kind: ref.kind, id: ref.id, container: firstGuess(ref) }))));
  const unplaced = refs.filter((ref) => ref.container === null && ref.kind === 'task' && out.has(ref.id) && out.get(ref.id) === null);
  for (const list of ctx.streams.filter((stream) => stream.kind === 'task').map((stream) => stream.container)) {
    const pending = unplaced.filter((ref) => out.get(ref.id) === null && firstGuess(ref) !== list);
    if (pending.length === 0) continue;
    const found = await mailboxSource.getItems(ctx.mailbox, pending.map((ref) => ({ kind: ref.kind, id: ref.id, container: list })));
    for (const ref of pending) {
      if (!found.has(ref.id)) out.delete(ref.id); // there but invalid: it exists
      else if (found.get(ref.id)) out.set(ref.id, found.get(ref.id) ?? null);
    }
  }
  return out;
}

/**
 * The container a read proved for an item: the one it was asked in, or, when that was unknown, the one it was found in
 * if that says something — for a task the list is part of its address; for a kind with one stream there is nothing
 * else. For e-mail read without one (Inbox or Sent Items: the id alone addresses it), the label is only the guess.
 */
export function learnedContainer(ctx: RunContext, ref: OutlookReadRef, item: OutlookItem): string | null {
  if (ref.container !== null) return ref.container;
  return item.kind === 'task' || soleContainer(ctx, item.kind) !== null ? item.container : null;
}

function failAll(slots: readonly Slot[], error: unknown): void {
  if (error instanceof AuthError || error instanceof InvariantError) throw error;
  const classified = classifyError(error);
  for (const slot of slots) slot.failure = classified;
}

/**
 * A To Do task moved to another list gets a new id (graph-behaviour.md §1.4), and a read in the wrong list finds
 * nothing: before calling a mapped task gone, look for the item stamped with its CRM id.
 */
async function followMovedItem(ctx: RunContext, slot: Slot): Promise<void> {
  const crmId = slot.mapping?.crmId ?? slot.row.crmId;
  if (slot.row.kind !== 'task' || !crmId) return;
  const moved = await ctx.deps.mailboxSource.findByCrmId(ctx.mailbox, 'task', crmId);
  if (!moved) return;
  slot.outlookItem = moved;
  slot.outlookRef = { kind: 'task', id: moved.id, container: moved.container };
  slot.containerCertain = true;
  slot.matchedBy = 'move';
}

/** Match before create (DESIGN.md §4): a CRM record not yet mapped may already have an Outlook item stamped with its id. */
async function findOutlookItemsOfNewCrmRecords(ctx: RunContext, slots: Slot[]): Promise<void> {
  for (const slot of live(slots)) {
    const { row } = slot;
    if (slot.mapping || slot.outlookRef || !row.crmId || !ctx.settings.kinds[row.kind].syncFromCrm) continue;
    await guarded(slot, async () => {
      const found = await ctx.deps.mailboxSource.findByCrmId(ctx.mailbox, row.kind, row.crmId as string);
      if (!found) return;
      const owner = await ctx.deps.store.findMappingByOutlookId(ctx.mailbox, row.kind, found.id);
      if (owner) return;
      slot.outlookItem = found;
      slot.outlookRef = { kind: row.kind, id: found.id, container: found.container };
      slot.matchedBy = 'findByCrmId';
    });
  }
}

/** Whether resolveCrmId will look for an unmapped CRM contact with the item's addresses (match before create). */
function needsContactMatch(slot: Slot): boolean {
  const item = slot.outlookItem;
  if (slot.row.kind !== 'contact' || slot.mapping || slot.row.crmId || !item || item.crmId) return false;
  return item.tracking.marker || item.tracking.category;
}

/**
 * The CRM contacts with any address of the batch's contacts that need a match, in one connector call (it splits the
 * addresses ten to a query), instead of one call per contact: a first sync of 10,000 contacts made 10,000 queries.
 * A failure fails those contacts alone, as their own calls would have.
 */
async function findContactsForBatch(ctx: RunContext, slots: Slot[]): Promise<readonly CrmRecord[] | null> {
  const matching = live(slots).filter(needsContactMatch);
  const addresses = [...new Set(matching.flatMap((slot) => (slot.outlookItem ? emailAddressesOf(slot.outlookItem) : [])))];
  if (addresses.length === 0) return null;
  try {
    return await ctx.deps.crm.findContactsByEmail(addresses, ctx.user);
  } catch (error) {
    for (const slot of matching) slot.failure = classifyError(error);
    return null;
  }
}

async function resolveCrmId(ctx: RunContext, slot: Slot, contactsOfBatch: readonly CrmRecord[] | null): Promise<void> {
  await guarded(slot, async () => {
    const { row } = slot;
    const known = slot.mapping?.crmId ?? row.crmId;
    if (known) {
      slot.crmId = known;
      return;
    }
    const item = slot.outlookItem;
    if (!item) return;
    if (item.crmId) {
      await resolveStampedCrmId(ctx, slot, item, item.crmId);
      return;
    }
    if (row.kind === 'contact' && !slot.mapping && (item.tracking.marker || item.tracking.category)) {
      await matchContactByEmail(ctx, slot, item, contactsOfBatch);
    }
  });
}

/**
 * An unmapped item stamped with a CRM id: a create whose mapping commit was lost (link it), a To Do task that moved to
 * another list (adopt the mapping), or a copy of a linked item (it carries someone else's stamp: it is new).
 */
async function resolveStampedCrmId(ctx: RunContext, slot: Slot, item: OutlookItem, crmId: string): Promise<void> {
  const { store } = ctx.deps;
  const holder = slot.mapping ? null : await store.findMappingByCrmId(ctx.mailbox, slot.row.kind, crmId);
  if (!holder || holder.outlookId === null || holder.outlookId === item.id) {
    slot.crmId = crmId;
    slot.mapping = slot.mapping ?? holder;
    slot.matchedBy = 'stamp';
    return;
  }
  // The holder's item is read where it lives: a task looked up in this item's list would be missing there even when
  // it still exists in its own, and a copy would be taken for a move.
  const previous = await readOutlookItems(ctx, [{ kind: slot.row.kind, id: holder.outlookId, container: holder.outlookContainer ?? null }]);
  if (previous.has(holder.outlookId) && previous.get(holder.outlookId) === null) {
    slot.mapping = holder;
    slot.crmId = crmId;
    slot.matchedBy = 'move';
    return;
  }
  ctx.tally.add('outlook.copiesOfLinkedItems');
}

/** A CRM contact's addresses, lower-cased, read through the contact mapping (emailAddresses ↔ emailaddress1..3). */
function addressesOfRecord(ctx: RunContext, record: CrmRecord): string[] {
  const addresses = crmFields(ctx, 'contact', record)['emailAddresses'];
  return Array.isArray(addresses) ? addresses.flatMap((address) => (typeof address === 'string' ? [address.trim().toLowerCase()] : [])) : [];
}

const EMAIL_FIELDS = ['emailAddresses'] as const;

function emailAddressesOf(item: OutlookItem): string[] {
  const addresses: string[] = [];
  for (const field of EMAIL_FIELDS) {
    const list = item.data[field];
    if (!Array.isArray(list)) continue;
    for (const entry of list) {
      if (entry && typeof entry === 'object' && !Array.isArray(entry) && typeof entry['address'] === 'string') {
        const address = entry['address'].trim();
        if (address !== '') addresses.push(address);
      }
    }
  }
  return addresses;
}

/** Match before create for contacts (sync-lessons.md §4.1): link to an unmapped CRM contact with the same address. */
async function matchContactByEmail(ctx: RunContext, slot: Slot, item: OutlookItem, contactsOfBatch: readonly CrmRecord[] | null): Promise<void> {
  const addresses = emailAddressesOf(item);
  if (addresses.length === 0) return;
  const wanted = new Set(addresses.map((address) => address.toLowerCase()));
  const candidates =
    contactsOfBatch === null
      ? await ctx.deps.crm.findContactsByEmail(addresses, ctx.user)
      : contactsOfBatch.filter((record) => addressesOfRecord(ctx, record).some((address) => wanted.has(address)));
  const ordered = [...candidates].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const candidate of ordered) {
    const holder = await ctx.deps.store.findMappingByCrmId(ctx.mailbox, 'contact', candidate.id);
    if (holder) continue;
    slot.crmId = candidate.id;
    slot.crmRecord = candidate;
    slot.matchedBy = 'email';
    return;
  }
}

/**
 * Match before create for e-mail (DESIGN.md §4; dataverse-behaviour.md §4.6; sync-lessons.md §4 item 1): the same
 * message tracked in two enrolled mailboxes (a sender and a recipient, two recipients) is one CRM e-mail, as with the
 * Dynamics CRM Outlook client, which matched tracked mail by Message-ID. A tracked, unmapped, unstamped message whose
 * Internet Message-ID an e-mail record already carries is paired with that record instead of being created again; one
 * CrmConnector query per batch (the connector splits long lists). Drafts and messages without a Message-ID create as
 * before (the planner never tracks drafts).
 *
 * Which record, and why:
 * - A record another pair of this mailbox holds is skipped (the mapping is a bijection, DESIGN.md §3): a message sent
 *   to oneself has a Sent Items and an Inbox copy with one Message-ID; the second copy is created on its own, as before.
 * - The user's own records come first, then records in the user's scope (a party of the message, DESIGN.md §2), then by
 *   id, so the choice is the same on every cycle and in every mailbox.
 * - A record in scope is linked (planner `link-existing`): both mailboxes' items are stamped with it; the e-mail
 *   fields are create-only (src/core/mappings/email.ts), so the link writes no CRM field except `regarding` when only
 *   this mailbox's item has one, a write to a record in the user's scope like any linked pair's. Untracking this
 *   mailbox's copy never deletes a record another user owns (src/core/rules.ts, untracked e-mail), and the record
 *   leaving this user's scope keeps the pair without writes (`crm-out-of-scope-activity`: tracked via both).
 * - A record outside the user's scope (the user was Bcc, or got the message through a distribution list) is neither
 *   linked nor duplicated: the planner's `crm-out-of-scope-unmapped` writes nothing on either side and stores no
 *   mapping, so no later feed entry, reconciliation or untrack of this mailbox can write to or delete that record.
 *   The message keeps its category; the record it stands for is the other mailbox's. A later change of the item looks
 *   again (the user may have become a party meanwhile).
 */
async function matchEmailsByMessageId(ctx: RunContext, slots: Slot[]): Promise<void> {
  const find = ctx.deps.crm.findEmailsByMessageId?.bind(ctx.deps.crm);
  if (!find) return;
  const wanted = new Map<Slot, string>();
  for (const slot of live(slots)) {
    const item = slot.outlookItem;
    if (slot.row.kind !== 'email' || slot.mapping || slot.crmId !== null || !item || item.crmId !== null) continue;
    if (item.isDraft || !(item.tracking.marker || item.tracking.category)) continue;
    const messageId = internetMessageIdOf(item);
    if (messageId !== null) wanted.set(slot, messageId);
  }
  if (wanted.size === 0) return;
  let candidates: CrmRecord[];
  try {
    candidates = await find([...new Set(wanted.values())], ctx.user);
  } catch (error) {
    // Without the answer a create could duplicate: the items wait for their retry like any failed read.
    failAll([...wanted.keys()], error);
    return;
  }
  ctx.tally.add('crm.messageIdQueries');
  for (const [slot, messageId] of wanted) {
    await guarded(slot, async () => {
      const ordered = candidates.filter((record) => record.data.messageid === messageId).sort(byPreference(ctx));
      for (const candidate of ordered) {
        if (await ctx.deps.store.findMappingByCrmId(ctx.mailbox, 'email', candidate.id)) continue;
        slot.crmId = candidate.id;
        slot.crmRecord = candidate;
        slot.matchedBy = 'messageId';
        return;
      }
    });
  }
}

function internetMessageIdOf(item: OutlookItem): string | null {
  const value = item.data['internetMessageId'];
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : null;
}

/** Owned by the user, then in the user's scope, then by id: a deterministic choice among duplicates made earlier. */
function byPreference(ctx: RunContext): (a: CrmRecord, b: CrmRecord) => number {
  const rank = (record: CrmRecord): number => {
    if (record.ownerId !== null && record.ownerId.toLowerCase() === ctx.user.id.toLowerCase()) return 0;
    return ctx.deps.crm.isInScope(record, ctx.user) ? 1 : 2;
  };
  return (a, b) => rank(a) - rank(b) || (a.id.toLowerCase() < b.id.toLowerCase() ? -1 : a.id.toLowerCase() > b.id.toLowerCase() ? 1 : 0);
}

async function readCrmSides(ctx: RunContext, slots: Slot[]): Promise<void> {
  const byKind = new Map<ItemKind, Slot[]>();
  for (const slot of live(slots)) {
    if (slot.crmId === null || slot.crmRecord !== undefined) continue;
    const ofKind = byKind.get(slot.row.kind);
    if (ofKind) ofKind.push(slot);
    else byKind.set(slot.row.kind, [slot]);
  }
  for (const [kind, wanted] of byKind) {
    let read: IsolatedCrmRead;
    try {
      read = await readCrmIsolated(ctx, kind, [...new Set(wanted.map((slot) => slot.crmId as string))]);
    } catch (error) {
      failAll(wanted, error);
      continue;
    }
    for (const slot of wanted) {
      const rejected = read.rejected.get(slot.crmId as string);
      if (rejected) slot.failure = rejected;
      else slot.crmRecord = read.found.get(slot.crmId as string) ?? null;
    }
  }
}

export interface IsolatedCrmRead {
  found: Map<string, CrmRecord | null>;
  /** Ids whose own read failed (a malformed record, or a failure of its single read), by the id as asked. */
  rejected: Map<string, ClassifiedError>;
}

/**
 * CrmConnector.read by id, with one bad record failing alone: the connector rejects the whole call
 * (ItemRejectedError) when one record of it does not validate, so only then are the ids read one by one to find the
 * culprit(s). Any other failure of the batch call is every id's (throttling, an outage) and is thrown.
 */
export async function readCrmIsolated(ctx: RunContext, kind: ItemKind, ids: readonly string[]): Promise<IsolatedCrmRead> {
  const { crm } = ctx.deps;
  const rejected = new Map<string, ClassifiedError>();
  if (ids.length === 0) return { found: new Map(), rejected };
  try {
    return { found: await crm.read(kind, ids, ctx.user), rejected };
  } catch (error) {
    if (!(error instanceof ItemRejectedError)) throw error;
    if (ids.length === 1) {
      rejected.set(ids[0] as string, classifyError(error));
      return { found: new Map(), rejected };
    }
  }
  ctx.tally.add('crm.readsIsolated');
  const found = new Map<string, CrmRecord | null>();
  for (const id of ids) {
    try {
      for (const [readId, record] of await crm.read(kind, [id], ctx.user)) found.set(readId, record);
    } catch (error) {
      if (error instanceof AuthError || error instanceof InvariantError) throw error;
      rejected.set(id, classifyError(error));
    }
  }
  return { found, rejected };
}

/** The mapping table is a bijection (DESIGN.md §3): two rows of one batch must not both pair the same item. */
function separateCollisions(slots: Slot[]): HydratedBatch {
  const claimed = new Set<string>();
  const kept: Slot[] = [];
  const postponed: ChangeRow[] = [];
  for (const slot of slots) {
    const claims = slot.failure ? [] : claimsOf(slot);
    if (claims.some((claim) => claimed.has(claim))) {
      postponed.push(slot.row);
      continue;
    }
    for (const claim of claims) claimed.add(claim);
    kept.push(slot);
  }
  return { slots: kept, postponed };
}

/** What a slot pairs: its mapping, its Outlook item, its CRM record (one pair of the bijection, DESIGN.md §3). */
export function claimsOf(slot: Slot): string[] {
  const claims: string[] = [];
  if (slot.mapping) claims.push(`m:${slot.mapping.mapId}`);
  if (slot.outlookRef) claims.push(`o:${slot.row.kind}:${slot.outlookRef.id}`);
  if (slot.crmId) claims.push(`c:${slot.row.kind}:${slot.crmId.toLowerCase()}`);
  return claims;
}

export function outlookSideOf(slot: Slot): OutlookSide {
  const item = slot.outlookItem;
  if (slot.outlookRef === null || item === undefined) return { state: 'absent' };
  // A direct read found nothing: a task was looked for in every list when its own was unknown (readOutlookItems),
  // other kinds are addressed by id alone.
  if (item === null) return { state: 'gone' };
  // graph-behaviour.md §2.2: a calendarView removal of an event that still exists means it left the window; the same
  // holds for a message moved to a folder no stream reads. It is out of view, not deleted (DESIGN.md §6, last row:
  // nothing happens). The item read directly goes with it: an unlink (CRM side deleted) clears its tracking. Its
  // row is then resolved, not deferred (apply.ts planSlot).
  if (slot.row.outlookChange === 'removed' && slot.mapping?.outlookId === item.id && slot.matchedBy !== 'move') {
    return { state: 'outOfView', item };
  }
  return { state: 'present', item };
}

export function crmSideOf(ctx: RunContext, slot: Slot): CrmSide {
  if (slot.crmId === null || slot.crmRecord === undefined) return { state: 'absent' };
  if (slot.crmRecord === null) return { state: 'gone' };
  return { state: 'present', record: slot.crmRecord, inScope: ctx.deps.crm.isInScope(slot.crmRecord, ctx.user) };
}

export function planInputOf(ctx: RunContext, slot: Slot): PlanInput {
  const crmTimeZone = crmTimeZoneOf(ctx.user);
  return {
    outlook: outlookSideOf(slot),
    crm: crmSideOf(ctx, slot),
    mapping: slot.mapping,
    context: {
      kind: slot.row.kind,
      settings: ctx.settings.kinds[slot.row.kind],
      ownerCrmUserId: ctx.user.id,
      now: ctx.startedAt.toISOString(),
      categoryName: ctx.settings.categoryName,
      // Graph makes the mailbox owner the organizer of every event created in it (graph-behaviour.md §2).
      ownerAddress: ctx.mailbox,
      ...(ctx.options.productGuid ? { productGuid: ctx.options.productGuid } : {}),
      ...(ctx.options.fieldMappings[slot.row.kind] ? { fieldMapping: ctx.options.fieldMappings[slot.row.kind] } : {}),
      // The mapping above is already bound to it (withUserTimeZone); binding again converts once.
      ...(crmTimeZone !== undefined ? { crmTimeZone } : {}),
    },
  };
}
