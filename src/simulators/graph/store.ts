// The simulator's mailbox store. Every item lives in exactly one change-tracked collection (a contact folder, the
// calendar, a mail folder, a To Do list, or a container list such as `contactFolders`). A collection keeps
//  - its members (Map, O(1) by immutable id) and an append-only insertion order used as the cursor of initial rounds,
//  - an append-only change log (seq = index + 1) with, per item, a link to its previous entry, so a delta round reads
//    only the entries after its token and coalesces to each item's latest change without copying the collection,
//  - a generation counter advanced by every delta page served; tokens of old generations are evicted (§1.6).
// Items have two ids (graph-behaviour.md §8): the default (REST) id, which changes when the item moves to another
// folder, and the immutable id, which survives moves inside the mailbox. Either one addresses the item.
import { randomBytes, randomUUID } from 'node:crypto';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export type ResourceKind =
  | 'contact'
  | 'contactFolder'
  | 'event'
  | 'message'
  | 'mailFolder'
  | 'todoTask'
  | 'todoTaskList'
  | 'outlookCategory';

export interface ExtendedProperty {
  /** The id as first written (returned as written; matching is by canonical key). */
  id: string;
  value: string;
}

export interface EventException {
  id: string;
  immutableId: string;
  /** Original start of the occurrence, UTC ISO (the occurrence's identity inside the series). */
  originalStart: string;
  props: JsonObject;
  changeKey: string;
  createdDateTime: string;
  lastModifiedDateTime: string;
}

export interface StoredItem {
  kind: ResourceKind;
  immutableId: string;
  restId: string;
  collection: Collection | null;
  /** Position in `collection.order`; an entry elsewhere in the order is stale. */
  orderIndex: number;
  props: JsonObject;
  ext: Map<string, ExtendedProperty>;
  changeKey: string;
  createdDateTime: string;
  lastModifiedDateTime: string;
  /** Events: occurrences turned into exceptions, keyed by original start (UTC ISO). */
  exceptions?: Map<string, EventException>;
  /** Events: original starts (UTC ISO) of deleted occurrences. */
  cancelled?: Set<string>;
}

export interface ChangeEntry {
  seq: number;
  item: StoredItem;
  type: 'upsert' | 'remove';
  /** The item entered the collection with this entry (created or moved in): always sent in full. */
  entered: boolean;
  /** Changed property names; null = everything. */
  props: string[] | null;
  /** Previous entry of the same item in this collection (0 = none). */
  prevSeq: number;
  /** Ids the item had when it left (a move changes the default id). */
  removedIds?: { restId: string; immutableId: string };
}

export class Collection {
  readonly members = new Map<string, StoredItem>();
  readonly order: StoredItem[] = [];
  readonly log: ChangeEntry[] = [];
  readonly latestSeq = new Map<string, number>();
  generation = 0;
  /** Tokens below this generation were evicted (mailbox move, knob). */
  minValidGeneration = 0;
  /** Generations handed out recently, newest last (for the SyncStateNotFound message). */
  readonly recentGenerations: number[] = [];

  constructor(
    readonly key: string,
    readonly kind: ResourceKind,
    /** The folder/list item that owns this collection, if any. */
    readonly owner: StoredItem | null,
  ) {}

  get seq(): number {
    return this.log.length;
  }

  nextGeneration(): number {
    this.generation += 1;
    this.recentGenerations.push(this.generation);
    if (this.recentGenerations.length > 8) this.recentGenerations.shift();
    return this.generation;
  }

  append(entry: Omit<ChangeEntry, 'seq' | 'prevSeq'>): void {
    const seq = this.log.length + 1;
    const prevSeq = this.latestSeq.get(entry.item.immutableId) ?? 0;
    this.log.push({ ...entry, seq, prevSeq });
    this.latestSeq.set(entry.item.immutableId, seq);
  }

  entry(seq: number): ChangeEntry | undefined {
    return this.log[seq - 1];
  }
}

export interface SimClock {
  now(): Date;
}

// Random bytes from a pool: one randomBytes call per 64 KiB instead of one per id (bulk seeding of 40,000 items).
let pool = Buffer.alloc(0);
let poolOffset = 0;
function randomSlice(n: number): Buffer {
  if (poolOffset + n > pool.length) {
    pool = randomBytes(65_536);
    poolOffset = 0;
  }
  const slice = pool.subarray(poolOffset, poolOffset + n);
  poolOffset += n;
  return slice;
}

export function restIdFor(kind: ResourceKind): string {
  const prefix = kind === 'todoTaskList' || kind === 'mailFolder' || kind === 'contactFolder' ? 'AQMkAD' : 'AAMkAD';
  // url-safe base64 with '-' / '_' and '=' padding: clients must encode ids (graph-behaviour.md §2.5)
  return `${prefix}${randomSlice(33).toString('base64url')}AAA=`;
}

export function immutableIdFor(): string {
  return `AAkALg${randomSlice(33).toString('base64url')}AAA=`;
}

export function newChangeKey(): string {
  return `EQAAABYAAAD${randomSlice(12).toString('base64')}`;
}

export interface UserRecord {
  id: string;
  userPrincipalName: string;
  displayName: string;
  mail: string;
}

export const WELL_KNOWN_MAIL_FOLDERS = ['inbox', 'sentitems', 'drafts', 'deleteditems'] as const;
export type WellKnownMailFolder = (typeof WELL_KNOWN_MAIL_FOLDERS)[number];
const MAIL_FOLDER_NAMES: Record<WellKnownMailFolder, string> = {
  inbox: 'Inbox',
  sentitems: 'Sent Items',
  drafts: 'Drafts',
  deleteditems: 'Deleted Items',
};

export class Mailbox {
  readonly byId = new Map<string, StoredItem>();
  readonly collections = new Map<string, Collection>();
  /** Child collection of a folder/list item, by the owner's immutable id. */
  readonly childCollection = new Map<string, Collection>();
  readonly transactionIds = new Map<string, StoredItem>();
  readonly mailFolderByWellKnown = new Map<string, StoredItem>();
  readonly contactFolders: Collection;
  readonly mailFolders: Collection;
  readonly todoLists: Collection;
  readonly categories: Collection;
  readonly calendar: Collection;
  readonly calendarId = restIdFor('contactFolder');
  readonly defaultContactFolder: StoredItem;
  readonly defaultTodoList: StoredItem;

  constructor(
    readonly user: UserRecord,
    private readonly clock: SimClock,
  ) {
    this.contactFolders = this.newCollection('contactFolders', 'contactFolder', null);
    this.mailFolders = this.newCollection('mailFolders', 'mailFolder', null);
    this.todoLists = this.newCollection('todoLists', 'todoTaskList', null);
    this.categories = this.newCollection('categories', 'outlookCategory', null);
    this.calendar = this.newCollection('calendar', 'event', null);
    // The default Contacts folder is not listed by /contactFolders (usually described so, §2.1): it has no collection.
    this.defaultContactFolder = this.makeItem('contactFolder', { displayName: 'Contacts', parentFolderId: restIdFor('contactFolder') }, null);
    this.childCollection.set(this.defaultContactFolder.immutableId, this.newCollection(`contacts:${this.defaultContactFolder.restId}`, 'contact', this.defaultContactFolder));
    for (const wk of WELL_KNOWN_MAIL_FOLDERS) {
      const folder = this.createContainer('mailFolder', { displayName: MAIL_FOLDER_NAMES[wk], parentFolderId: null, childFolderCount: 0, unreadItemCount: 0, totalItemCount: 0, isHidden: false });
      this.mailFolderByWellKnown.set(wk, folder);
    }
    this.defaultTodoList = this.createContainer('todoTaskList', { displayName: 'Tasks', isOwner: true, isShared: false, wellknownListName: 'defaultList' });
    this.createContainer('todoTaskList', { displayName: 'Flagged email', isOwner: true, isShared: false, wellknownListName: 'flaggedEmails' });
  }

  private newCollection(key: string, kind: ResourceKind, owner: StoredItem | null): Collection {
    const c = new Collection(key, kind, owner);
    this.collections.set(key, c);
    return c;
  }

  private makeItem(kind: ResourceKind, props: JsonObject, collection: Collection | null): StoredItem {
    const now = this.clock.now().toISOString();
    const container = kind === 'contactFolder' || kind === 'mailFolder' || kind === 'todoTaskList';
    const restId = kind === 'outlookCategory' ? randomUUID() : restIdFor(kind);
    const item: StoredItem = {
      kind,
      immutableId: kind === 'outlookCategory' || container ? restId : immutableIdFor(),
      restId,
      collection: null,
      orderIndex: -1,
      props,
      ext: new Map(),
      changeKey: newChangeKey(),
      createdDateTime: now,
      lastModifiedDateTime: now,
    };
    // containers and categories keep one id (§8: "containers already have constant ids")
    this.byId.set(item.restId, item);
    this.byId.set(item.immutableId, item);
    if (collection) this.enter(item, collection);
    return item;
  }

  /** Creates a folder/list (in its container collection) together with its own child collection. */
  createContainer(kind: 'contactFolder' | 'mailFolder' | 'todoTaskList', props: JsonObject): StoredItem {
    const container = kind === 'contactFolder' ? this.contactFolders : kind === 'mailFolder' ? this.mailFolders : this.todoLists;
    const item = this.makeItem(kind, props, container);
    const childKind: ResourceKind = kind === 'contactFolder' ? 'contact' : kind === 'mailFolder' ? 'message' : 'todoTask';
    this.newCollection(`${childKind}:${item.restId}`, childKind, item);
    this.childCollection.set(item.immutableId, this.collections.get(`${childKind}:${item.restId}`) as Collection);
    return item;
  }

  createItem(kind: ResourceKind, props: JsonObject, collection: Collection): StoredItem {
    return this.makeItem(kind, props, collection);
  }

  private enter(item: StoredItem, collection: Collection): void {
    item.collection = collection;
    item.orderIndex = collection.order.length;
    collection.order.push(item);
    collection.members.set(item.immutableId, item);
    collection.append({ item, type: 'upsert', entered: true, props: null });
  }

  /** Records a change of `item` (new changeKey and lastModifiedDateTime) in its collection's log. */
  touch(item: StoredItem, changedProps: string[] | null): void {
    item.changeKey = newChangeKey();
    item.lastModifiedDateTime = this.clock.now().toISOString();
    item.collection?.append({ item, type: 'upsert', entered: false, props: changedProps });
  }

  remove(item: StoredItem): void {
    const c = item.collection;
    if (c) {
      c.members.delete(item.immutableId);
      c.append({ item, type: 'remove', entered: false, props: null, removedIds: { restId: item.restId, immutableId: item.immutableId } });
    }
    item.collection = null;
    this.byId.delete(item.restId);
    this.byId.delete(item.immutableId);
    const children = this.childCollection.get(item.immutableId);
    if (children) {
      for (const child of [...children.members.values()]) this.remove(child);
    }
  }

  /** Moves an item to another collection; the default id changes, the immutable id does not (§8). */
  move(item: StoredItem, target: Collection): void {
    const from = item.collection;
    if (from === target) return;
    if (from) {
      from.members.delete(item.immutableId);
      from.append({ item, type: 'remove', entered: false, props: null, removedIds: { restId: item.restId, immutableId: item.immutableId } });
    }
    this.byId.delete(item.restId);
    item.restId = restIdFor(item.kind);
    this.byId.set(item.restId, item);
    item.changeKey = newChangeKey();
    item.lastModifiedDateTime = this.clock.now().toISOString();
    this.enter(item, target);
  }

  /** Invalidates every outstanding delta token of this mailbox (as after a mailbox move, §1.6). */
  evictTokens(): void {
    for (const c of this.collections.values()) c.minValidGeneration = c.generation + 1;
  }
}
