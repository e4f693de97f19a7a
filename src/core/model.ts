// The shared vocabulary of the sync engine. Pure data: no I/O, no clock, no SDK types.
//
// Both sides are carried in their own wire vocabulary (Graph JSON on the Outlook side, Dataverse Web API attribute
// names on the CRM side) so that the field mappings in src/core/mappings are the only place that knows how one side's
// field becomes the other's. Adapters validate payloads at their edge and hand the core plain JSON.

export const ITEM_KINDS = ['contact', 'appointment', 'task', 'email'] as const;
export type ItemKind = (typeof ITEM_KINDS)[number];

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** Normalized values of the mapped fields, keyed by the canonical field name of the mapping (e.g. `firstName`). */
export type FieldValues = Readonly<Record<string, JsonValue>>;

/** An Outlook item as the Graph adapter read it (one Graph resource, validated). */
export interface OutlookItem {
  kind: ItemKind;
  /** Immutable Graph id (`Prefer: IdType="ImmutableId"`); for To Do tasks the task id (changes on a list move). */
  id: string;
  /** Folder id for contacts and messages, `calendar` for events, the To Do list id for tasks. */
  container: string;
  /** `changeKey` (or the etag for To Do tasks); never used alone to detect change (DESIGN.md §5). */
  changeKey: string | null;
  /** Graph `lastModifiedDateTime`, ISO-8601 UTC. */
  lastModified: string;
  /** How the item is marked as tracked: the `Tracked` extended property and/or the tracking category. */
  tracking: { marker: boolean; category: boolean };
  /** The CRM id stamped on the item (`CrmId` extended property, or the To Do `linkedResource` externalId). */
  crmId: string | null;
  /** `RegardingId` extended property set by an add-in (e-mail only). */
  regardingId: string | null;
  /**
   * `LinkId` extended property, written only by this worker and cleared on every untrack: the mapId of the unlinked
   * pair whose re-link stamped the item, or the CRM id of the record the worker created the item for. It tells our
   * stamp (which a crash may leave without its link commit) from a marker set by an add-in, which the CrmId stamp
   * cannot (the unlink keeps it; an add-in may write it). Always null on To Do tasks.
   */
  linkId: string | null;
  /** Messages only: a draft is never tracked (DESIGN.md §2). */
  isDraft: boolean;
  /**
   * The Graph resource as returned (camelCase Graph property names). Single-value extended properties are kept in
   * Graph's own shape: `singleValueExtendedProperties: [{ id, value }]`.
   */
  data: JsonObject;
}

/** An activity party (attendee, organizer, sender, recipient) on a CRM activity. */
export interface CrmParty {
  /** Dataverse participationtypemask: 1 sender, 2 to, 3 cc, 5 required, 6 optional, 7 organizer, 9 owner. */
  participationTypeMask: number;
  /** The address used when the party does not resolve to a record, or alongside it. */
  address: string | null;
  /** The resolved record (contact, systemuser, account), if any. */
  party: { entity: 'contact' | 'systemuser' | 'account'; id: string } | null;
}

/** A CRM record as the connector read it. */
export interface CrmRecord {
  kind: ItemKind;
  id: string;
  /** Row version (Dataverse `@odata.etag` `W/"<versionnumber>"`), used for optimistic concurrency. */
  version: string;
  /** Server `modifiedon`, ISO-8601 UTC. */
  modifiedOn: string;
  /** The owning systemuser id (Dataverse `_ownerid_value`). */
  ownerId: string | null;
  /**
   * Attributes by Dataverse logical name, as the Web API returns them: lookups as `_<name>_value`, with the related
   * record's name under `_<name>_value@OData.Community.Display.V1.FormattedValue` when the connector asked for it.
   */
  data: JsonObject;
  /** Activities only: the activity parties. */
  parties: CrmParty[];
}

/** What to write on the Outlook side: Graph properties (including `singleValueExtendedProperties`). */
export interface OutlookWrite {
  data: JsonObject;
}

/** What to write on the CRM side: attributes by logical name, plus parties and the regarding link for activities. */
export interface CrmWrite {
  attributes: JsonObject;
  parties?: CrmParty[];
  /** `null` clears the regarding link; absent leaves it alone. */
  regarding?: { entity: string; id: string } | null;
}

/**
 * `pendingCreate`: committed just before the CRM create of an Outlook-originated item, with the id that create will use
 * (CrmConnector.idForCreate). A crash between the create and the link commit then leaves a row the CRM feed finds, so
 * the new record is never taken for an unmapped one and created in Outlook again. Planned as `linked`, except that a
 * CRM side not found means "not created yet": the create runs again with the same idempotency key.
 */
export type MappingState = 'linked' | 'pendingCreate' | 'unlinked' | 'deletedLocally';
export type TrackedVia = 'outlook' | 'crm' | 'both';

/** One row of the mapping table (DESIGN.md §3): an Outlook item paired with a CRM record. */
export interface MappingRow {
  /** Stable id of the pair (row key of the mapping row). */
  mapId: string;
  kind: ItemKind;
  outlookId: string | null;
  /**
   * The folder or list the Outlook item lives in, as OutlookItem.container names it: the To Do list id, `inbox` /
   * `sentitems`, the contacts folder, `calendar`. Direct reads of kinds with several streams (To Do lists, Inbox and
   * Sent Items) need it: a task read in the wrong list is a 404, not a deletion. Null when unknown (rows written before
   * the column existed); the stores always return it, null included. Optional in the type only so that rows built
   * before it existed still compile.
   */
  outlookContainer?: string | null;
  crmId: string | null;
  state: MappingState;
  trackedVia: TrackedVia;
  /** Last synced normalized mapped fields (the seed's OriginalXML). */
  baseline: FieldValues;
  /** Hash of the baseline, for cheap change detection. */
  baselineHash: string;
  /** Last seen Outlook changeKey and CRM version: hints only, never the change test. */
  outlookVersion: string | null;
  crmVersion: string | null;
  /** Epoch of the last full listing that saw the Outlook item (mark-and-sweep after a token eviction). */
  visitedEpoch: number;
  /** When reconciliation last confirmed both sides exist, ISO-8601 UTC. */
  verifiedAt: string | null;
  /** Storage concurrency token; absent on a row never stored. */
  etag?: string;
}

export type ConflictPolicy = 'latest' | 'crm-wins' | 'outlook-wins';
export type Side = 'outlook' | 'crm';

/** Settings that govern one kind in one mailbox (tenant defaults merged with per-mailbox overrides). */
export interface KindSettings {
  enabled: boolean;
  /** Create CRM records in the user's scope in Outlook. */
  syncFromCrm: boolean;
  conflictPolicy: ConflictPolicy;
  /** Which side wins a `latest` conflict whose timestamps are equal (default CRM). */
  tieBreak: Side;
  deleteInCrmOnUntrack: boolean;
  /** Contacts: set companyName from the CRM parent account, one way. */
  updateCompanyField: boolean;
}

export type ReasonCode = string;

export interface FieldConflict {
  field: string;
  base: JsonValue | undefined;
  outlook: JsonValue | undefined;
  crm: JsonValue | undefined;
  winner: Side;
  outlookModified: string;
  crmModified: string;
}

/** Everything that governs one mailbox's sync (tenant defaults merged with the mailbox's overrides). */
export interface MailboxSettings {
  /** The mailbox's user principal name or id, as Graph addresses it (`/users/{mailbox}`). */
  mailbox: string;
  kinds: Record<ItemKind, KindSettings>;
  /** Display name of the tracking category (default `Tracked to CRM`). */
  categoryName: string;
  /** Calendar window that the calendarView delta tracks, relative to the time of the first round. */
  calendarWindow: { pastDays: number; futureDays: number };
  /** A cycle that would delete more than this many, or this share of, linked items holds all its deletes. */
  deleteGuard: { maxCount: number; maxShare: number };
  /** Plan and report everything, write nothing to Graph or the CRM. */
  dryRun: boolean;
}
