// In-memory tables with a global version counter, per-table change logs and undo for atomic change sets.
// Change tracking follows SQL change tracking, which Dataverse is built on: every write stamps a new global
// versionnumber (dataverse-behaviour.md §7.6), the change log is ordered by version (§1.3 "sorted by version number"),
// and changes older than the retention are purged, which raises the minimum valid version: a token older than that
// has lost changes and must fail with ExpiredVersionStamp (§1.5 "unprocessed changes older than the configured value").
import type { TableDef } from './schema';
import { TABLES } from './schema';

export type Scalar = string | number | boolean | null;

export interface LookupRef {
  id: string;
  /** Logical name of the target table. */
  table: string;
}

export interface Row {
  readonly id: string;
  /** Creation order: the default order of collection reads and the cursor of their paging. */
  readonly seq: number;
  readonly values: ReadonlyMap<string, Scalar>;
  readonly lookups: ReadonlyMap<string, LookupRef | null>;
  readonly version: number;
  /** Activity party rows of an activity, in insertion order. */
  readonly partyIds: readonly string[];
}

interface LogEntry {
  version: number;
  id: string;
}

interface ChangeStamp {
  version: number;
  at: number;
}

export class TableStore {
  readonly rows = new Map<string, Row>();
  /** Upserts, ascending version; an entry is stale when its row has a newer version or is gone. */
  upsertLog: LogEntry[] = [];
  /** Deletes, ascending version; an entry is live while `liveTombstones` maps its id to its version. */
  deleteLog: (LogEntry & { at: number })[] = [];
  readonly liveTombstones = new Map<string, number>();
  /** Every change's version and time, for retention; `stampHead` skips purged entries without shifting. */
  stamps: ChangeStamp[] = [];
  stampHead = 0;
  minValidVersion = 0;
  /**
   * The recycle bin: deleted rows by id with when they were deleted, while the table keeps deleted records. A second
   * delete of the same key keeps the first copy (restore-deleted-records, "Primary Key Violation on Delete"), and a
   * row re-created with the key leaves its deleted copy here (the restore then fails, DuplicateExceptionRestoreRecycleBin).
   */
  readonly bin = new Map<string, { row: Row; at: number }>();

  constructor(readonly def: TableDef) {}

  isLiveUpsert(entry: LogEntry): boolean {
    return this.rows.get(entry.id)?.version === entry.version;
  }

  isLiveDelete(entry: LogEntry): boolean {
    return this.liveTombstones.get(entry.id) === entry.version;
  }
}

/** Index of the first entry with version > after (entries ascending by version). */
export function firstAfter(entries: readonly { version: number }[], after: number): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((entries[mid] as { version: number }).version <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class DataverseStore {
  private readonly tables = new Map<string, TableStore>();
  private version = 1_000_000;
  private seq = 0;
  private undo: (() => void)[] | null = null;

  constructor(
    private readonly now: () => number,
    /** How long a table keeps deleted rows in its recycle bin now, or null when it keeps none (knob `recycleBin`). */
    private readonly binRetentionMs: (table: TableDef) => number | null = () => null,
  ) {
    for (const def of TABLES) this.tables.set(def.logicalName, new TableStore(def));
  }

  table(logicalName: string): TableStore {
    const t = this.tables.get(logicalName);
    if (!t) throw new Error(`unknown table ${logicalName}`);
    return t;
  }

  allTables(): IterableIterator<TableStore> {
    return this.tables.values();
  }

  currentVersion(): number {
    return this.version;
  }

  nextVersion(): number {
    // Not rolled back: versions only need to be monotonic, gaps are normal (§2.4 "no ordering meaning").
    return ++this.version;
  }

  nextSeq(): number {
    return ++this.seq;
  }

  get(logicalName: string, id: string): Row | undefined {
    return this.table(logicalName).rows.get(id);
  }

  /** Inserts or replaces a row (already stamped with a fresh version) and logs the change. */
  put(logicalName: string, row: Row, tracked = true): void {
    const t = this.table(logicalName);
    const previous = t.rows.get(row.id);
    const tombstone = t.liveTombstones.get(row.id);
    t.rows.set(row.id, row);
    if (tombstone !== undefined) t.liveTombstones.delete(row.id);
    const logLength = t.upsertLog.length;
    const stampLength = t.stamps.length;
    if (tracked) {
      t.upsertLog.push({ version: row.version, id: row.id });
      t.stamps.push({ version: row.version, at: this.now() });
    }
    this.undo?.push(() => {
      if (previous) t.rows.set(row.id, previous);
      else t.rows.delete(row.id);
      if (tombstone !== undefined) t.liveTombstones.set(row.id, tombstone);
      t.upsertLog.length = logLength;
      t.stamps.length = stampLength;
    });
  }

  remove(logicalName: string, id: string, tracked = true): Row | undefined {
    const t = this.table(logicalName);
    const previous = t.rows.get(id);
    if (!previous) return undefined;
    t.rows.delete(id);
    const retention = this.binRetentionMs(t.def);
    const earlier = t.bin.get(id);
    const binned = retention !== null && (earlier === undefined || this.now() - earlier.at > retention);
    if (binned) t.bin.set(id, { row: previous, at: this.now() });
    const deleteLength = t.deleteLog.length;
    const stampLength = t.stamps.length;
    if (tracked) {
      const version = this.nextVersion();
      const at = this.now();
      t.deleteLog.push({ version, id, at });
      t.liveTombstones.set(id, version);
      t.stamps.push({ version, at });
    }
    this.undo?.push(() => {
      t.rows.set(id, previous);
      if (tracked) t.liveTombstones.delete(id);
      if (binned) {
        if (earlier) t.bin.set(id, earlier);
        else t.bin.delete(id);
      }
      t.deleteLog.length = deleteLength;
      t.stamps.length = stampLength;
    });
    return previous;
  }

  /** Runs `work` atomically: any throw undoes every write it made (change sets, §2.6). */
  transaction<T>(work: () => T): T {
    if (this.undo) return work();
    const undo: (() => void)[] = [];
    this.undo = undo;
    try {
      return work();
    } catch (error) {
      for (let i = undo.length - 1; i >= 0; i--) (undo[i] as () => void)();
      throw error;
    } finally {
      this.undo = null;
    }
  }

  /**
   * Drops change information older than the retention and raises the table's minimum valid version; also compacts
   * stale log entries so long runs keep memory proportional to live rows. Never called inside a transaction.
   */
  purge(t: TableStore, retentionMs: number): void {
    if (this.undo) return;
    const cutoff = this.now() - retentionMs;
    while (t.stampHead < t.stamps.length && (t.stamps[t.stampHead] as ChangeStamp).at < cutoff) {
      t.minValidVersion = Math.max(t.minValidVersion, (t.stamps[t.stampHead] as ChangeStamp).version);
      t.stampHead++;
    }
    if (t.stampHead > 1024 && t.stampHead * 2 > t.stamps.length) {
      t.stamps = t.stamps.slice(t.stampHead);
      t.stampHead = 0;
    }
    let expired = 0;
    while (expired < t.deleteLog.length && (t.deleteLog[expired] as { at: number }).at < cutoff) {
      const entry = t.deleteLog[expired] as LogEntry;
      if (t.liveTombstones.get(entry.id) === entry.version) t.liveTombstones.delete(entry.id);
      expired++;
    }
    if (expired > 0) t.deleteLog.splice(0, expired);
    if (t.upsertLog.length > 1024 && t.upsertLog.length > 2 * t.rows.size) {
      t.upsertLog = t.upsertLog.filter((e) => t.isLiveUpsert(e));
    }
  }

  /** Tokens issued before now become invalid; tokens issued from now on carry a version at least this new one. */
  expireAllTokens(): void {
    const version = this.nextVersion();
    for (const t of this.tables.values()) t.minValidVersion = version;
  }
}
