// A full in-memory mailbox behind the MailboxSource port, for app, cycle and model-based tests. It keeps Graph's
// semantics where the worker depends on them, not Graph's wire format:
// - delta rounds with opaque cursors (mid-round and end-of-round), paged, resumable, removals as `@removed`
//   (graph-behaviour.md §1.1, §1.4), and eviction on demand → ResyncRequiredError (§1.6);
// - delta payloads without extended properties, as Graph sends them (§3.4): the marker and the CrmId are learnt by
//   hydration, and items marked without the category by `findMarkedIds` (the `$filter` sweep, §3.3);
// - items stored as Graph JSON, so tracking is read by the same rules as the Graph adapter (outlook-item.ts);
// - PATCH semantics: top-level properties replace, `categories` replaces the array (§4), extended properties upsert
//   by id and are never deleted (§3.2);
// - idempotent creates on the CrmId stamp, 404-tolerant deletes, a master category list (§4);
// - a To Do task is addressed inside its list (`/todo/lists/{list}/tasks/{id}`): in another list it is not found;
// - If-Match on updates (§8, UNCONFIRMED for Outlook, so a knob: `honourIfMatch`, on by default like the simulator).
// Test-side controls (userCreate, userEdit, userDelete, evict, injectMalformedEntry, injectFault, …) play the user and
// the service.
import type { ItemKind, JsonObject, JsonValue, OutlookItem, OutlookWrite } from '../../core/model';
import type { TrackingUpkeep } from '../../core/plan';
import { AuthError, ConcurrencyError, InvariantError, ItemRejectedError, ResyncRequiredError } from '../../ports/errors';
import type { DeltaEntry, DeltaPage, ItemFailure, ItemRef, MailboxSource, OutlookUpdate, OutlookUpdateResult, StreamRef } from '../../ports/mailbox-source';
import { expandedPropertyIds, linkIdUpdate, samePropertyId, trackingPropertyIds, type TrackingPropertyIds } from '../graph/extended-properties';
import { hasCategory, mailboxStreams, productLink, propertyValue, toDeltaEntry, toOutlookItem, withCategory, type TrackingVocabulary } from '../graph/outlook-item';
import { changeKeyFromEtag, linkedResourceSchema } from '../graph/schemas';

export interface MemoryMailboxSourceOptions {
  productGuid: string;
  /** linkedResource.applicationName of the CRM link on To Do tasks. */
  productName?: string;
  /** Tracking category name used by hydration (per mailbox: `setCategoryName`). */
  categoryName?: string;
  /** Entries per delta page (Graph's default is 10, §1.3). */
  pageSize?: number;
  /** ISO-8601 UTC clock for lastModifiedDateTime; defaults to the wall clock. */
  now?: () => string;
  /**
   * graph-behaviour.md §8: whether Outlook refuses a PATCH whose If-Match is not the item's current changeKey is
   * UNCONFIRMED. On (default): a mismatch throws ConcurrencyError; off: If-Match is ignored.
   */
  honourIfMatch?: boolean;
}

export interface StoredItem {
  id: string;
  kind: ItemKind;
  container: string;
  data: JsonObject;
  seq: number;
  deleted: boolean;
}

type Operation = keyof MailboxSource;

interface FakeMailbox {
  seq: number;
  epoch: number;
  items: Map<string, StoredItem>;
  todoLists: { id: string; displayName: string; wellknownListName: string }[];
  masterCategories: { id: string; displayName: string; color: string }[];
  malformed: Map<string, JsonValue[]>;
  faults: Map<Operation, Error[]>;
  requests: number;
  categoryName: string | null;
}

interface CursorState {
  /** stream id */
  s: string;
  /** eviction epoch */
  e: number;
  /** changes after this sequence number */
  f: number;
  /** …up to this one (mid-round only) */
  t?: number;
  /** last id served in this round (mid-round only) */
  a?: string;
  /** initial round: removals are not reported */
  i?: boolean;
  /** calendarView window (epoch ms), fixed by the initial round (graph-behaviour.md §2.2) */
  w?: [number, number];
}

const CURSOR_PREFIX = 'memory-delta:';

export class MemoryMailboxSource implements MailboxSource {
  private readonly boxes = new Map<string, FakeMailbox>();
  private readonly ids: TrackingPropertyIds;
  private readonly productName: string;
  private readonly defaultCategoryName: string;
  private readonly pageSize: number;
  private readonly now: () => string;
  /** graph-behaviour.md §8 knob (see the option); may be switched by tests between calls. */
  honourIfMatch: boolean;
  private counter = 0;

  constructor(options: MemoryMailboxSourceOptions) {
    this.ids = trackingPropertyIds(options.productGuid);
    this.productName = options.productName ?? 'outlook-crm-sync';
    this.defaultCategoryName = options.categoryName ?? 'Tracked to CRM';
    this.pageSize = options.pageSize ?? 10;
    this.now = options.now ?? (() => new Date().toISOString());
    this.honourIfMatch = options.honourIfMatch ?? true;
  }

  // ---------------------------------------------------------------- MailboxSource

  async listStreams(mailbox: string): Promise<StreamRef[]> {
    const box = this.enter(mailbox, 'listStreams');
    return mailboxStreams(box.todoLists);
  }

  async readDelta(
    mailbox: string,
    stream: StreamRef,
    cursor: string | null,
    onPage: (page: DeltaPage) => Promise<void>,
    window?: { start: string; end: string },
  ): Promise<void> {
    const box = this.enter(mailbox, 'readDelta');
    let state: CursorState;
    if (cursor === null) {
      state = { s: stream.id, e: box.epoch, f: 0, t: box.seq, i: true };
      if (stream.kind === 'appointment') {
        if (!window) throw new InvariantError('an initial calendar round needs a window');
        state.w = [Date.parse(window.start), Date.parse(window.end)];
      }
    } else {
      const decoded = decodeCursor(cursor);
      if (!decoded || decoded.s !== stream.id) throw new ResyncRequiredError(stream.id, 'cursor does not belong to this stream');
      state = decoded.t === undefined ? { ...decoded, t: box.seq } : decoded;
    }
    for (;;) {
      box.requests += 1;
      // graph-behaviour.md §1.6: evicted tokens, mid-round links included, answer 410 SyncStateNotFound.
      if (state.e !== box.epoch) throw new ResyncRequiredError(stream.id, 'SyncStateNotFound: the delta cursor was evicted');
      const upTo = state.t ?? box.seq;
      const candidates = [...box.items.values()]
        .filter((item) => item.kind === stream.kind && item.container === stream.container)
        .filter((item) => item.seq > state.f && item.seq <= upTo && !(state.i && item.deleted))
        // §2.2: an initial calendarView round holds only events in the window.
        .filter((item) => !state.i || !state.w || inWindow(item.data, state.w))
        .sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0))
        .filter((item) => state.a === undefined || item.id > state.a);
      const served = candidates.slice(0, this.pageSize);
      const entries: DeltaEntry[] = [];
      const failures: ItemFailure[] = [];
      // §2.2: later rounds report changes to events outside the window as removed ("only out of view").
      const gone = (item: StoredItem) => item.deleted || (state.w !== undefined && !inWindow(item.data, state.w));
      const raws: JsonValue[] = served.map((item) =>
        gone(item) ? { '@odata.type': graphType(item.kind), id: item.id, '@removed': { reason: 'deleted' } } : deltaPayload(item.data),
      );
      raws.push(...(box.malformed.get(stream.id) ?? []));
      box.malformed.delete(stream.id);
      for (const raw of raws) {
        const parsed = toDeltaEntry(raw);
        if (parsed.ok) entries.push(parsed.value);
        else failures.push(parsed.failure);
      }
      const more = candidates.length > served.length;
      const last = served[served.length - 1];
      if (more && last) {
        state = { ...state, t: upTo, a: last.id };
        await onPage({ entries, failures, cursor: encodeCursor(state), final: false });
        continue;
      }
      await onPage({ entries, failures, cursor: encodeCursor({ s: state.s, e: state.e, f: upTo, ...(state.w ? { w: state.w } : {}) }), final: true });
      return;
    }
  }

  async getItems(mailbox: string, refs: readonly ItemRef[]): Promise<Map<string, OutlookItem | null>> {
    const box = this.enter(mailbox, 'getItems');
    box.requests += Math.ceil(refs.length / 20);
    const out = new Map<string, OutlookItem | null>();
    for (const ref of refs) {
      const item = this.addressed(box, ref);
      if (!item) {
        out.set(ref.id, null);
        continue;
      }
      const hydrated = this.hydrate(box, item);
      if (hydrated) out.set(ref.id, hydrated);
    }
    return out;
  }

  async findByCrmId(mailbox: string, kind: ItemKind, crmId: string): Promise<OutlookItem | null> {
    const box = this.enter(mailbox, 'findByCrmId');
    box.requests += 1;
    const found = this.findStamped(box, kind, crmId);
    return found ? this.hydrate(box, found) : null;
  }

  async findMarkedIds(mailbox: string, stream: StreamRef): Promise<string[]> {
    const box = this.enter(mailbox, 'findMarkedIds');
    // To Do has no extended properties (§3.5): nothing to filter, no request.
    if (stream.kind === 'task') return [];
    const marked = [...box.items.values()].filter(
      (item) =>
        !item.deleted &&
        item.kind === stream.kind &&
        item.container === stream.container &&
        // §3.3: the value comparison of an extended-property filter is case-insensitive.
        (propertyValue({ singleValueExtendedProperties: propertyList(item.data.singleValueExtendedProperties) }, this.ids.tracked) ?? '').toLowerCase() === 'true',
    );
    // One `$filter` page per 100 ids (the Graph adapter's $top), at least one.
    box.requests += Math.max(1, Math.ceil(marked.length / 100));
    return marked.map((item) => item.id);
  }

  async createItem(
    mailbox: string,
    kind: ItemKind,
    container: string,
    write: OutlookWrite,
    stamp: { crmId: string; categoryName: string },
  ): Promise<OutlookItem> {
    const box = this.enter(mailbox, 'createItem');
    box.requests += 1;
    if (kind === 'email') throw new ItemRejectedError('graph-unsupported-create', 'e-mail is never created in Outlook');
    if (kind === 'task' && !box.todoLists.some((l) => l.id === container)) throw new ItemRejectedError('graph-404-ErrorItemNotFound', 'no such To Do list');
    const existing = this.findStamped(box, kind, stamp.crmId);
    if (existing) return this.mustHydrate(box, existing);
    const data: JsonObject = { ...structuredClone(write.data) };
    data.categories = withCategory(stringArray(data.categories), stamp.categoryName, true);
    if (kind === 'task') {
      data.linkedResources = [{ id: this.newId('lr'), applicationName: this.productName, externalId: stamp.crmId, displayName: this.productName }];
    } else {
      data.singleValueExtendedProperties = upsertProperties(data.singleValueExtendedProperties, [
        { id: this.ids.tracked, value: 'true' },
        { id: this.ids.crmId, value: stamp.crmId },
        // Made by the worker for this record (planner halfLinkedUntracked), as the Graph adapter writes it.
        { id: this.ids.linkId, value: stamp.crmId },
      ]);
    }
    const id = this.store(box, kind, container, data);
    return this.mustHydrate(box, this.live(box, id));
  }

  async updateItem(
    mailbox: string,
    ref: ItemRef,
    write: OutlookWrite | null,
    tracking: (TrackingUpkeep & { categoryName: string }) | null,
    ifMatch?: string | null,
  ): Promise<OutlookItem> {
    const box = this.enter(mailbox, 'updateItem');
    box.requests += 1;
    return this.applyUpdate(box, ref, write, tracking, ifMatch);
  }

  /**
   * Each update as updateItem would apply it, in order, each succeeding or failing alone; a fault injected for
   * `updateItem` fails the update it falls on (an injected AuthError fails the whole call, as a 401/403 sub-response
   * does in the Graph adapter), one for `updateItems` the whole call. Requests: one `$batch` per 20 updates, and an item
   * updated twice goes in a later batch (the sub-requests of one batch run in any order, graph-behaviour.md §5.3).
   */
  async updateItems(mailbox: string, updates: readonly OutlookUpdate[]): Promise<OutlookUpdateResult[]> {
    const box = this.enter(mailbox, 'updateItems');
    const rounds = new Map<string, number>();
    const perRound: number[] = [];
    for (const update of updates) {
      const round = rounds.get(update.ref.id) ?? 0;
      rounds.set(update.ref.id, round + 1);
      perRound[round] = (perRound[round] ?? 0) + 1;
    }
    box.requests += perRound.reduce((sum, n) => sum + Math.ceil(n / 20), 0);
    return updates.map((update): OutlookUpdateResult => {
      try {
        const fault = this.takeFault(box, 'updateItem');
        if (fault) throw fault;
        return { ok: true, item: this.applyUpdate(box, update.ref, update.write, update.tracking, update.ifMatch) };
      } catch (error) {
        if (error instanceof AuthError) throw error;
        return { ok: false, error: error instanceof Error ? error : new Error(String(error)) };
      }
    });
  }

  private applyUpdate(
    box: FakeMailbox,
    ref: ItemRef,
    write: OutlookWrite | null,
    tracking: (TrackingUpkeep & { categoryName: string }) | null,
    ifMatch?: string | null,
  ): OutlookItem {
    const item = this.addressed(box, ref);
    if (!item) throw new ItemRejectedError('graph-404-ErrorItemNotFound', 'The specified object was not found in the store.');
    if (ifMatch && this.honourIfMatch && changeKeyFromEtag(ifMatch) !== currentChangeKey(item)) {
      // §8: what Outlook answers when the change key does not match (412 ErrorIrresolvableConflict).
      throw new ConcurrencyError('ErrorIrresolvableConflict: the change key passed in the request does not match the current change key for the item.');
    }
    const patch: JsonObject = write ? structuredClone(write.data) : {};
    if (tracking) {
      const base = Array.isArray(patch.categories) ? stringArray(patch.categories) : stringArray(item.data.categories);
      patch.categories = withCategory(base, tracking.categoryName, tracking.category);
      if (item.kind === 'task') {
        const links = linkedResources(item.data).filter((r) => (r.applicationName ?? '').toLowerCase() !== this.productName.toLowerCase());
        const ours = productLink(linkedResources(item.data), this.productName);
        if (tracking.crmId) links.push({ ...(ours ?? { id: this.newId('lr'), displayName: this.productName }), applicationName: this.productName, externalId: tracking.crmId });
        patch.linkedResources = links as JsonValue;
      } else {
        // graph-behaviour.md §3.2: an extended property cannot be deleted; untracked is `Tracked=false`, unlinked is `CrmId=''`, cleared LinkId is `''`.
        patch.singleValueExtendedProperties = upsertProperties(patch.singleValueExtendedProperties, [
          { id: this.ids.tracked, value: tracking.marker ? 'true' : 'false' },
          { id: this.ids.crmId, value: tracking.crmId ?? '' },
          ...linkIdUpdate(this.ids, tracking),
        ]);
      }
    }
    this.applyPatch(box, item, patch);
    return this.mustHydrate(box, item);
  }

  async deleteItem(mailbox: string, ref: ItemRef): Promise<void> {
    const box = this.enter(mailbox, 'deleteItem');
    box.requests += 1;
    const item = this.addressed(box, ref);
    if (!item) return;
    this.tombstone(box, item);
  }

  async ensureCategory(mailbox: string, categoryName: string): Promise<void> {
    const box = this.enter(mailbox, 'ensureCategory');
    box.requests += 1;
    if (box.masterCategories.some((c) => c.displayName.toLowerCase() === categoryName.toLowerCase())) return;
    box.requests += 1;
    box.masterCategories.push({ id: this.newId('cat'), displayName: categoryName, color: 'preset7' });
  }

  // ---------------------------------------------------------------- test-side controls

  /** A user creates an item in Outlook (Graph JSON, e.g. `{ givenName, categories, singleValueExtendedProperties }`). */
  userCreate(mailbox: string, kind: ItemKind, container: string, data: JsonObject): string {
    const box = this.box(mailbox);
    if (kind === 'task' && !box.todoLists.some((l) => l.id === container)) throw new Error(`no To Do list ${container}`);
    return this.store(box, kind, container, structuredClone(data));
  }

  /** A user edits an item (PATCH semantics). */
  userEdit(mailbox: string, id: string, patch: JsonObject): void {
    const box = this.box(mailbox);
    this.applyPatch(box, this.live(box, id), structuredClone(patch));
  }

  userDelete(mailbox: string, id: string): void {
    const box = this.box(mailbox);
    this.tombstone(box, this.live(box, id));
  }

  /** Evict every delta cursor of the mailbox (the token cache overflowed, or the mailbox moved: §1.6). */
  evict(mailbox: string): void {
    this.box(mailbox).epoch += 1;
  }

  /** The next page served on `streamId` carries this raw entry as well (a malformed payload). */
  injectMalformedEntry(mailbox: string, streamId: string, raw: JsonValue): void {
    const box = this.box(mailbox);
    box.malformed.set(streamId, [...(box.malformed.get(streamId) ?? []), raw]);
  }

  /** The next call of `operation` on this mailbox throws `error` (TransientError, AuthError, …). */
  injectFault(mailbox: string, operation: Operation, error: Error): void {
    const box = this.box(mailbox);
    box.faults.set(operation, [...(box.faults.get(operation) ?? []), error]);
  }

  addTodoList(mailbox: string, displayName: string): string {
    const box = this.box(mailbox);
    const id = this.newId('list');
    box.todoLists.push({ id, displayName, wellknownListName: 'none' });
    return id;
  }

  todoLists(mailbox: string): { id: string; displayName: string; wellknownListName: string }[] {
    return this.box(mailbox).todoLists.map((l) => ({ ...l }));
  }

  /** The default To Do list ("Tasks"). */
  defaultTodoListId(mailbox: string): string {
    const list = this.box(mailbox).todoLists.find((l) => l.wellknownListName === 'defaultList');
    if (!list) throw new Error('no default list');
    return list.id;
  }

  masterCategories(mailbox: string): string[] {
    return this.box(mailbox).masterCategories.map((c) => c.displayName);
  }

  deleteMasterCategory(mailbox: string, name: string): void {
    const box = this.box(mailbox);
    box.masterCategories = box.masterCategories.filter((c) => c.displayName.toLowerCase() !== name.toLowerCase());
  }

  setCategoryName(mailbox: string, name: string): void {
    this.box(mailbox).categoryName = name;
  }

  /** Live items (deep copies), optionally of one kind and container. */
  snapshot(mailbox: string, kind?: ItemKind, container?: string): StoredItem[] {
    return [...this.box(mailbox).items.values()]
      .filter((i) => !i.deleted && (!kind || i.kind === kind) && (!container || i.container === container))
      .map((i) => structuredClone(i));
  }

  /** Simulated Graph requests: one per delta page, per 20 hydrated items, per write, per 20 batched updates. */
  requestCount(mailbox: string): number {
    return this.box(mailbox).requests;
  }

  // ---------------------------------------------------------------- internals

  private box(mailbox: string): FakeMailbox {
    const key = mailbox.toLowerCase();
    let box = this.boxes.get(key);
    if (!box) {
      box = {
        seq: 0,
        epoch: 1,
        items: new Map(),
        todoLists: [
          { id: this.newId('list'), displayName: 'Tasks', wellknownListName: 'defaultList' },
          { id: this.newId('list'), displayName: 'Flagged Emails', wellknownListName: 'flaggedEmails' },
        ],
        masterCategories: [],
        malformed: new Map(),
        faults: new Map(),
        requests: 0,
        categoryName: null,
      };
      this.boxes.set(key, box);
    }
    return box;
  }

  private enter(mailbox: string, operation: Operation): FakeMailbox {
    const box = this.box(mailbox);
    const fault = this.takeFault(box, operation);
    if (fault) throw fault;
    return box;
  }

  private takeFault(box: FakeMailbox, operation: Operation): Error | undefined {
    return box.faults.get(operation)?.shift();
  }

  private vocabulary(box: FakeMailbox): TrackingVocabulary {
    return { ids: this.ids, categoryName: box.categoryName ?? this.defaultCategoryName, productName: this.productName };
  }

  private newId(prefix: string): string {
    this.counter += 1;
    // Graph ids carry '/', '+' and '=' (DESIGN.md §3): keep them here so storage key encoding is exercised.
    return `AAMk${prefix}${this.counter.toString(36).padStart(4, '0')}/+Q=`;
  }

  private store(box: FakeMailbox, kind: ItemKind, container: string, data: JsonObject): string {
    const id = this.newId(kind.slice(0, 3));
    const now = this.now();
    box.seq += 1;
    const item: StoredItem = { id, kind, container, data: { ...data, id, createdDateTime: now }, seq: box.seq, deleted: false };
    this.stampVersion(item, now);
    box.items.set(id, item);
    return id;
  }

  private applyPatch(box: FakeMailbox, item: StoredItem, patch: JsonObject): void {
    for (const [key, value] of Object.entries(patch)) {
      if (key === 'id' || key === 'changeKey' || key === '@odata.etag' || key === 'lastModifiedDateTime') continue;
      item.data[key] = key === 'singleValueExtendedProperties' ? upsertProperties(item.data[key], propertyList(value)) : value;
    }
    box.seq += 1;
    item.seq = box.seq;
    this.stampVersion(item, this.now());
  }

  private stampVersion(item: StoredItem, now: string): void {
    const changeKey = `CK${item.seq.toString(36)}${item.id.slice(4, 12)}`;
    item.data.lastModifiedDateTime = now;
    item.data['@odata.etag'] = `W/"${changeKey}"`;
    if (item.kind !== 'task') item.data.changeKey = changeKey;
  }

  private tombstone(box: FakeMailbox, item: StoredItem): void {
    box.seq += 1;
    item.seq = box.seq;
    item.deleted = true;
  }

  /** The live item a by-id request reaches: tasks only inside their own list, like Graph's URLs (§2.5). */
  private addressed(box: FakeMailbox, ref: ItemRef): StoredItem | null {
    const item = box.items.get(ref.id);
    if (!item || item.deleted || item.kind !== ref.kind) return null;
    if (item.kind === 'task' && item.container !== ref.container) return null;
    return item;
  }

  private live(box: FakeMailbox, id: string): StoredItem {
    const item = box.items.get(id);
    if (!item || item.deleted) throw new Error(`no live item ${id}`);
    return item;
  }

  private findStamped(box: FakeMailbox, kind: ItemKind, crmId: string): StoredItem | null {
    const wanted = crmId.toLowerCase();
    for (const item of box.items.values()) {
      if (item.deleted || item.kind !== kind) continue;
      const stamped =
        kind === 'task'
          ? productLink(linkedResources(item.data), this.productName)?.externalId
          : propertyValue({ singleValueExtendedProperties: propertyList(item.data.singleValueExtendedProperties) }, this.ids.crmId);
      // graph-behaviour.md §3.3: the value comparison of an extended-property filter is case-insensitive.
      if (stamped && stamped.toLowerCase() === wanted) return item;
    }
    return null;
  }

  /** What `$expand=singleValueExtendedProperties($filter=…)` would return: only the expanded ids (§3.3). */
  private hydrate(box: FakeMailbox, item: StoredItem): OutlookItem | null {
    const data = structuredClone(item.data);
    const expanded = expandedPropertyIds(item.kind, this.ids);
    if (item.kind === 'task') delete data.singleValueExtendedProperties;
    else data.singleValueExtendedProperties = propertyList(data.singleValueExtendedProperties).filter((p) => expanded.some((id) => samePropertyId(id, p.id)));
    const parsed = toOutlookItem(item.kind, item.container, data, this.vocabulary(box));
    return parsed.ok ? parsed.value : null;
  }

  private mustHydrate(box: FakeMailbox, item: StoredItem): OutlookItem {
    const hydrated = this.hydrate(box, item);
    if (!hydrated) throw new ItemRejectedError('graph-invalid-item', `item ${item.id} does not validate`);
    return hydrated;
  }

  /** Exposed for tests that want to know the tracking state the way Graph stores it. */
  isTracked(mailbox: string, id: string): boolean {
    const box = this.box(mailbox);
    const item = this.live(box, id);
    return hasCategory(stringArray(item.data.categories), box.categoryName ?? this.defaultCategoryName);
  }
}

/** What a delta entry carries of a stored item: never extended properties (graph-behaviour.md §3.4). */
function deltaPayload(data: JsonObject): JsonObject {
  const payload = structuredClone(data);
  delete payload.singleValueExtendedProperties;
  delete payload.multiValueExtendedProperties;
  return payload;
}

function graphType(kind: ItemKind): string {
  return { contact: '#microsoft.graph.contact', appointment: '#microsoft.graph.event', task: '#microsoft.graph.todoTask', email: '#microsoft.graph.message' }[kind];
}

function currentChangeKey(item: StoredItem): string | null {
  if (typeof item.data.changeKey === 'string') return item.data.changeKey;
  const etag = item.data['@odata.etag'];
  return typeof etag === 'string' ? changeKeyFromEtag(etag) : null;
}

function stringArray(value: JsonValue | undefined): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function propertyList(value: JsonValue | undefined): { id: string; value: string | null }[] {
  if (!Array.isArray(value)) return [];
  const out: { id: string; value: string | null }[] = [];
  for (const entry of value) {
    if (entry && typeof entry === 'object' && !Array.isArray(entry) && typeof entry.id === 'string') {
      out.push({ id: entry.id, value: typeof entry.value === 'string' ? entry.value : null });
    }
  }
  return out;
}

function upsertProperties(existing: JsonValue | undefined, updates: { id: string; value: string | null }[]): JsonValue {
  const list = propertyList(existing);
  for (const update of updates) {
    const index = list.findIndex((p) => samePropertyId(p.id, update.id));
    if (index >= 0) list[index] = { id: list[index]?.id ?? update.id, value: update.value };
    else list.push(update);
  }
  return list;
}

function linkedResources(data: JsonObject): ReturnType<typeof linkedResourceSchema.parse>[] {
  const parsed = linkedResourceSchema.array().safeParse(data.linkedResources ?? []);
  return parsed.success ? parsed.data : [];
}

/** The event overlaps the window. Times are read as UTC: the fake does not convert zones (tests write UTC). */
function inWindow(data: JsonObject, [from, to]: [number, number]): boolean {
  const instant = (value: JsonValue | undefined): number | null => {
    if (!value || typeof value !== 'object' || Array.isArray(value) || typeof value.dateTime !== 'string') return null;
    const at = Date.parse(/(Z|[+-]\d\d:\d\d)$/.test(value.dateTime) ? value.dateTime : `${value.dateTime}Z`);
    return Number.isNaN(at) ? null : at;
  };
  const start = instant(data.start);
  if (start === null) return true;
  const end = instant(data.end) ?? start;
  return start < to && end > from;
}

function encodeCursor(state: CursorState): string {
  return CURSOR_PREFIX + Buffer.from(JSON.stringify(state)).toString('base64url');
}

/** Whether a cursor this source gave is a mid-round one (a nextLink: the round's end is fixed, graph-behaviour.md §1). */
export function isMidRoundCursor(cursor: string): boolean {
  return decodeCursor(cursor)?.t !== undefined;
}

function decodeCursor(cursor: string): CursorState | null {
  if (!cursor.startsWith(CURSOR_PREFIX)) return null;
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor.slice(CURSOR_PREFIX.length), 'base64url').toString('utf8'));
    if (typeof value !== 'object' || value === null) return null;
    const v = value as Record<string, unknown>;
    if (typeof v.s !== 'string' || typeof v.e !== 'number' || typeof v.f !== 'number') return null;
    return {
      s: v.s,
      e: v.e,
      f: v.f,
      ...(typeof v.t === 'number' ? { t: v.t } : {}),
      ...(typeof v.a === 'string' ? { a: v.a } : {}),
      ...(v.i === true ? { i: true } : {}),
      ...(Array.isArray(v.w) && typeof v.w[0] === 'number' && typeof v.w[1] === 'number' ? { w: [v.w[0], v.w[1]] as [number, number] } : {}),
    };
  } catch {
    return null;
  }
}
