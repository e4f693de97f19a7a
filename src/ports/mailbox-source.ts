// MailboxSource: everything the worker reads from and writes to one Outlook mailbox (Microsoft Graph).
import type { ItemKind, JsonObject, OutlookItem, OutlookWrite, ReasonCode } from '../core/model';
import type { TrackingUpkeep } from '../core/plan';

/** One delta stream: the contacts folder, the calendarView window, one To Do list, Inbox or Sent Items. */
export interface StreamRef {
  /** Stable name used as the cursor key: `contacts`, `calendar`, `todo:<listId>`, `inbox`, `sentitems`. */
  id: string;
  kind: ItemKind;
  /** Folder or list id the stream reads (`calendar` for the calendarView window). */
  container: string;
}

export interface ItemRef {
  kind: ItemKind;
  id: string;
  container: string;
}

/**
 * One entry of a delta page. Delta payloads are partial ("at least the changed properties"), never hydrated items:
 * a missing property is not a cleared one. Extended properties are not reliable on delta (graph-behaviour.md §3.4),
 * so `categories` is the only tracking hint; hydrate with `getItems` to learn the marker and the CrmId.
 */
export interface DeltaEntry {
  id: string;
  removed: boolean;
  /** Categories when the payload carried them, else null. */
  categories: string[] | null;
  changeKey: string | null;
  lastModified: string | null;
  /** Messages: `isDraft` when the payload carried it. */
  isDraft: boolean | null;
  /** The payload as received, for diagnostics and cheap filters. Null for removals. */
  data: JsonObject | null;
}

/** An entry that failed validation: it fails alone, with a reason code, and the stream goes on. */
export interface ItemFailure {
  id: string | null;
  reason: ReasonCode;
  detail: string;
}

export interface DeltaPage {
  entries: DeltaEntry[];
  failures: ItemFailure[];
  /** The link to resume from after this page (a nextLink mid-round, the deltaLink on the last page). */
  cursor: string;
  /** True on the page that carried the deltaLink. */
  final: boolean;
}

/** One update of an `updateItems` call: the arguments of updateItem. */
export interface OutlookUpdate {
  ref: ItemRef;
  write: OutlookWrite | null;
  tracking: (TrackingUpkeep & { categoryName: string }) | null;
  ifMatch?: string | null;
}

export type OutlookUpdateResult = { ok: true; item: OutlookItem } | { ok: false; error: Error };

export interface MailboxSource {
  /** The delta streams of the mailbox: fixed folders plus one per To Do list. */
  listStreams(mailbox: string): Promise<StreamRef[]>;

  /**
   * Page through one delta round from `cursor` (null starts a full initial round). `onPage` is awaited before the next
   * page is fetched, so the caller can make the page's change rows durable before it persists `page.cursor`.
   * Throws ResyncRequiredError when the cursor was evicted (410 SyncStateNotFound), also on a nextLink mid-round.
   * `window` applies to the calendar stream on an initial round.
   */
  readDelta(
    mailbox: string,
    stream: StreamRef,
    cursor: string | null,
    onPage: (page: DeltaPage) => Promise<void>,
    window?: { start: string; end: string },
  ): Promise<void>;

  /** Hydrate items by id (batched, `$batch` of ≤ 20) with the tracking properties expanded. Null: the item is gone. */
  getItems(mailbox: string, refs: readonly ItemRef[]): Promise<Map<string, OutlookItem | null>>;

  /** Find an item stamped with this CRM id (match before create). */
  findByCrmId(mailbox: string, kind: ItemKind, crmId: string): Promise<OutlookItem | null>;

  /**
   * Create an item with the marker, the tracking category and the CrmId stamp. Idempotent on `crmId`: when an item
   * with that stamp already exists (a create whose response was lost), it is returned instead of a second one.
   */
  createItem(
    mailbox: string,
    kind: ItemKind,
    container: string,
    write: OutlookWrite,
    stamp: { crmId: string; categoryName: string },
  ): Promise<OutlookItem>;

  /**
   * Write mapped fields and/or tracking upkeep. `ifMatch` is the item's `changeKey` read at hydration
   * (OutlookItem.changeKey; for To Do tasks the etag's value): when given, the write is conditional — an item changed
   * since then throws ConcurrencyError and is not written, so a user's edit made between our read and our write is not
   * overwritten. Outlook's honouring of If-Match is UNCONFIRMED (graph-behaviour.md §8): it narrows the window, and
   * callers must stay correct without it.
   */
  updateItem(
    mailbox: string,
    ref: ItemRef,
    write: OutlookWrite | null,
    tracking: (TrackingUpkeep & { categoryName: string }) | null,
    ifMatch?: string | null,
  ): Promise<OutlookItem>;

  /**
   * Several updateItem calls in as few requests as Graph allows (`$batch` of ≤ 20 sub-requests, graph-behaviour.md
   * §5.3). Each update has exactly the semantics of updateItem (conditional on `ifMatch`, categories read-modify-write,
   * the read-back) and succeeds or fails on its own: results come in the order of `updates`, each with the item as
   * stored or the error updateItem would have thrown for it (ConcurrencyError, ItemRejectedError, …). Throws only
   * AuthError (a 401/403 of the request or of one sub-request): then any update may or may not have happened. A
   * sub-request still throttled after the retries, or a `$batch` whose envelope failed, fails its own updates alone.
   */
  updateItems(mailbox: string, updates: readonly OutlookUpdate[]): Promise<OutlookUpdateResult[]>;

  /** Delete; an item already gone counts as deleted. */
  deleteItem(mailbox: string, ref: ItemRef): Promise<void>;

  /** Make sure the tracking category exists in the mailbox's master list (re-created if a user deleted it). */
  ensureCategory(mailbox: string, categoryName: string): Promise<void>;

  /**
   * Ids of the items in a stream's container that carry the Tracked marker set to true, found with a `$filter` on the
   * extended property. Delta payloads never carry extended properties (graph-behaviour.md §3.4), so an item marked
   * only by an add-in (no category) is found by this sweep, which the app runs periodically. To Do lists have no
   * extended properties: the result is empty. The calendar stream's result covers the whole calendar (`/events`, the
   * collection the `$filter` is documented on, §3.3), not only the stream's window: callers that keep to the window
   * filter hydrated items by date. Optional so that test decorators need not implement it.
   */
  findMarkedIds?(mailbox: string, stream: StreamRef): Promise<string[]>;
}
