// StateStore: the worker's durable state (DESIGN.md §3), one partition per mailbox. Azure Table Storage in production,
// an in-memory twin in tests; both pass test/contracts/state-store.
import type { ItemKind, MappingRow, ReasonCode } from '../core/model';

export type OutlookChangeKind = 'upsert' | 'removed';
export type CrmChangeKind = 'upsert' | 'deleted' | 'outOfScope';

/**
 * One coalesced pending-work row per item. Recording a change on one side overwrites that side's columns only, so
 * repeated changes coalesce and an Outlook change never erases a pending CRM change of the same item.
 */
export interface ChangeRow {
  /** `map:<mapId>` for a mapped pair, `o:<kind>:<outlookId>` or `c:<kind>:<crmId>` for an unmapped item. */
  key: string;
  kind: ItemKind;
  mapId: string | null;
  outlookId: string | null;
  /** Folder or list the Outlook item lives in (needed to read or write it). */
  outlookContainer: string | null;
  crmId: string | null;
  outlookChange: OutlookChangeKind | null;
  outlookAt: string | null;
  crmChange: CrmChangeKind | null;
  crmAt: string | null;
  attempts: number;
  /** ISO-8601 UTC; the row is due when this is not after now. */
  nextAttemptAt: string;
  lastError: string | null;
  reason: ReasonCode | null;
  etag?: string;
}

/** What a collector records: one side's change of one item. Coalesced into the item's ChangeRow. */
export interface ChangeRecord {
  key: string;
  kind: ItemKind;
  mapId: string | null;
  outlookId?: string | null;
  outlookContainer?: string | null;
  crmId?: string | null;
  side: 'outlook' | 'crm';
  change: OutlookChangeKind | CrmChangeKind;
  at: string;
}

/**
 * One atomic unit of state change in one mailbox partition: all its rows commit in one entity-group transaction, or
 * none do. `mapping.put` writes the mapping row and its two index rows (by Outlook id, by CRM id) and removes stale
 * index rows when an id changed; with `etag` it is a compare-and-swap, without it an insert that fails when a row with
 * the same mapId exists.
 */
export interface CommitUnit {
  mapping?: { put: MappingRow } | { remove: MappingRow };
  /**
   * Delete the change row that this unit resolved; with `etag`, only if no newer change was recorded meanwhile.
   * Without etag: delete if present (absent is not an error).
   */
  deleteChange?: { key: string; etag?: string };
  /** Write (replace) a change row: a failure's attempts, backoff and reason, or a re-keyed pending change. */
  putChange?: ChangeRow;
}

export type CommitResult = { ok: true; mapping?: MappingRow } | { ok: false; error: Error };

export interface Lease {
  mailbox: string;
  owner: string;
  expiresAt: string;
  etag: string;
}

export interface RunSummary {
  mailbox: string;
  runId: string;
  startedAt: string;
  finishedAt: string;
  outcome: 'ok' | 'partial' | 'failed' | 'skipped';
  dryRun: boolean;
  /** Counts by action and side, e.g. `crm.create`, `outlook.update`, `changes.recorded`. */
  counts: Record<string, number>;
  /** Requests made, by service. */
  requests: Record<string, number>;
  failures: { key: string; reason: ReasonCode; detail: string }[];
  /** Deletes held by the delete guard, waiting for an admin. */
  heldDeletes: number;
  alerts: string[];
}

export interface StateStore {
  getMapping(mailbox: string, mapId: string): Promise<MappingRow | null>;
  findMappingByOutlookId(mailbox: string, kind: ItemKind, outlookId: string): Promise<MappingRow | null>;
  findMappingByCrmId(mailbox: string, kind: ItemKind, crmId: string): Promise<MappingRow | null>;
  /** Every mapping of the mailbox (streamed), optionally of one kind. */
  listMappings(mailbox: string, kind?: ItemKind): AsyncIterable<MappingRow>;
  /** The `limit` mappings verified longest ago (never-verified first). */
  oldestVerified(mailbox: string, limit: number): Promise<MappingRow[]>;

  /**
   * Coalesce changes into change rows; durable when the promise resolves. Recording makes the row due at the change's
   * time; attempts and last error are kept. Mailboxes are case-insensitive.
   */
  recordChanges(mailbox: string, changes: readonly ChangeRecord[]): Promise<void>;
  getChange(mailbox: string, key: string): Promise<ChangeRow | null>;
  /** Change rows due at `now`, oldest first, at most `limit`. */
  listDueChanges(mailbox: string, now: string, limit: number): Promise<ChangeRow[]>;
  /** Number of pending change rows, due or not. */
  countChanges(mailbox: string): Promise<number>;

  /**
   * Commit units; each unit is atomic on its own. Units are packed into transactions of at most 100 operations, never
   * splitting a unit; a unit that loses a compare-and-swap fails alone with a ConcurrencyError.
   */
  commit(mailbox: string, units: readonly CommitUnit[]): Promise<CommitResult[]>;

  getCursor(mailbox: string, stream: string): Promise<string | null>;
  /** Store a cursor (null clears it). */
  setCursor(mailbox: string, stream: string, cursor: string | null): Promise<void>;
  listCursors(mailbox: string): Promise<Map<string, string>>;

  /**
   * Take the mailbox's lease if it is free or expired; null when another owner holds a live lease. The current owner
   * may take its own live lease again.
   */
  acquireLease(mailbox: string, owner: string, ttlMs: number, now: Date): Promise<Lease | null>;
  /** Extend a held lease; null when it was lost (expired and taken by another owner). */
  renewLease(lease: Lease, ttlMs: number, now: Date): Promise<Lease | null>;
  releaseLease(lease: Lease): Promise<void>;

  appendRun(summary: RunSummary): Promise<void>;
  /** The mailbox's run summaries, newest first. */
  listRuns(mailbox: string, limit: number): Promise<RunSummary[]>;
}
