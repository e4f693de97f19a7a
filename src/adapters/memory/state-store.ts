// In-memory twin of the Table Storage state store. Faithful where callers can observe it: the same key encoding and
// size limits (it stores rows under the encoded keys and refuses what Azure would refuse), ETags that change on every
// write, compare-and-swap, units packed into transactions of at most 100 operations, and copies in and out so a caller
// never shares state with the store. Passes test/contracts/state-store.contract.ts like the Azure adapter.
import type { ItemKind, MappingRow } from '../../core/model';
import { ConcurrencyError } from '../../ports/errors';
import type { ChangeRecord, ChangeRow, CommitResult, CommitUnit, Lease, RunSummary, StateStore } from '../../ports/state-store';
import { canonicalInstant, decodeKeyPart, encodeLargeJson, mailboxPartitionKey, packUnits, rowKeyRange, runRowKey } from '../tables/rules';
import {
  SmallestN,
  changeColumns,
  changeKey,
  changeRowColumns,
  checkUnitShape,
  coalesceRecords,
  compareDue,
  compareVerified,
  crmIndexKey,
  cursorKey,
  indexKeys,
  mappingKey,
  outlookIndexKey,
  parseStoredChange,
  validMapping,
} from '../tables/rows';

type StoredValue =
  | { type: 'mapping'; row: MappingRow }
  | { type: 'index'; mapId: string }
  | { type: 'change'; columns: Record<string, string | number> }
  | { type: 'cursor'; cursor: string };

interface StoredEntity {
  value: StoredValue;
  etag: string;
}

type Partition = Map<string, StoredEntity>;

export class MemoryStateStore implements StateStore {
  private readonly partitions = new Map<string, Partition>();
  private readonly leases = new Map<string, { lease: Lease; etag: string }>();
  private readonly runs = new Map<string, Map<string, RunSummary>>();
  private etagCounter = 0;
  /** Entity group transactions a commit would have used, for tests that check packing. */
  transactions = 0;

  async getMapping(mailbox: string, mapId: string): Promise<MappingRow | null> {
    const entity = this.partition(mailbox).get(mappingKey(mapId));
    return entity?.value.type === 'mapping' ? copyMapping(entity.value.row, entity.etag) : null;
  }

  async findMappingByOutlookId(mailbox: string, kind: ItemKind, outlookId: string): Promise<MappingRow | null> {
    return this.viaIndex(mailbox, outlookIndexKey(kind, outlookId), (row) => row.kind === kind && row.outlookId === outlookId);
  }

  async findMappingByCrmId(mailbox: string, kind: ItemKind, crmId: string): Promise<MappingRow | null> {
    return this.viaIndex(mailbox, crmIndexKey(kind, crmId), (row) => row.kind === kind && row.crmId === crmId);
  }

  async *listMappings(mailbox: string, kind?: ItemKind): AsyncIterable<MappingRow> {
    for (const [, entity] of this.rowsOfType(mailbox, 'mapping')) {
      if (entity.value.type === 'mapping' && (kind === undefined || entity.value.row.kind === kind)) {
        yield copyMapping(entity.value.row, entity.etag);
      }
    }
  }

  async oldestVerified(mailbox: string, limit: number): Promise<MappingRow[]> {
    const oldest = new SmallestN<MappingRow>(limit, compareVerified);
    for await (const row of this.listMappings(mailbox)) oldest.add(row);
    return oldest.result();
  }

  async recordChanges(mailbox: string, changes: readonly ChangeRecord[]): Promise<void> {
    const partition = this.partition(mailbox);
    for (const record of coalesceRecords(changes)) {
      const key = changeKey(record.key);
      const existing = partition.get(key);
      const columns = existing?.value.type === 'change' ? existing.value.columns : {};
      partition.set(key, { value: { type: 'change', columns: { ...columns, ...changeColumns(record) } }, etag: this.nextEtag() });
    }
  }

  async getChange(mailbox: string, key: string): Promise<ChangeRow | null> {
    const entity = this.partition(mailbox).get(changeKey(key));
    return entity?.value.type === 'change' ? parseStoredChange(entity.value.columns, entity.etag) : null;
  }

  async listDueChanges(mailbox: string, now: string, limit: number): Promise<ChangeRow[]> {
    const dueBy = canonicalInstant(now);
    const due = new SmallestN<ChangeRow>(limit, compareDue);
    for (const [, entity] of this.rowsOfType(mailbox, 'change')) {
      if (entity.value.type !== 'change') continue;
      const row = parseStoredChange(entity.value.columns, entity.etag);
      if (row.nextAttemptAt <= dueBy) due.add(row);
    }
    return due.result();
  }

  async countChanges(mailbox: string): Promise<number> {
    return this.rowsOfType(mailbox, 'change').length;
  }

  async commit(mailbox: string, units: readonly CommitUnit[]): Promise<CommitResult[]> {
    const partition = this.partition(mailbox);
    const results: CommitResult[] = [];
    this.transactions += packUnits(units.map((unit) => ({ rowKeys: this.unitRowKeys(partition, unit), bytes: 0 })).filter((u) => u.rowKeys.length > 0)).length;
    for (const unit of units) {
      try {
        results.push(this.applyUnit(partition, unit));
      } catch (error) {
        results.push({ ok: false, error: error instanceof Error ? error : new Error(String(error)) });
      }
    }
    return results;
  }

  async getCursor(mailbox: string, stream: string): Promise<string | null> {
    const entity = this.partition(mailbox).get(cursorKey(stream));
    return entity?.value.type === 'cursor' ? entity.value.cursor : null;
  }

  async setCursor(mailbox: string, stream: string, cursor: string | null): Promise<void> {
    const partition = this.partition(mailbox);
    const key = cursorKey(stream);
    if (cursor === null) {
      partition.delete(key);
      return;
    }
    encodeLargeJson('cursor', cursor);
    partition.set(key, { value: { type: 'cursor', cursor }, etag: this.nextEtag() });
  }

  async listCursors(mailbox: string): Promise<Map<string, string>> {
    const cursors = new Map<string, string>();
    for (const [key, entity] of this.rowsOfType(mailbox, 'cursor')) {
      if (entity.value.type === 'cursor') cursors.set(decodeKeyPart(key.slice(2)), entity.value.cursor);
    }
    return cursors;
  }

  async acquireLease(mailbox: string, owner: string, ttlMs: number, now: Date): Promise<Lease | null> {
    const key = mailboxPartitionKey(mailbox);
    const held = this.leases.get(key);
    if (held && held.lease.owner !== owner && Date.parse(held.lease.expiresAt) > now.getTime()) return null;
    return this.storeLease(key, mailbox, owner, ttlMs, now);
  }

  async renewLease(lease: Lease, ttlMs: number, now: Date): Promise<Lease | null> {
    const key = mailboxPartitionKey(lease.mailbox);
    if (this.leases.get(key)?.etag !== lease.etag) return null;
    return this.storeLease(key, lease.mailbox, lease.owner, ttlMs, now);
  }

  async releaseLease(lease: Lease): Promise<void> {
    const key = mailboxPartitionKey(lease.mailbox);
    if (this.leases.get(key)?.etag === lease.etag) this.leases.delete(key);
  }

  async appendRun(summary: RunSummary): Promise<void> {
    const key = mailboxPartitionKey(summary.mailbox);
    const rowKeyOfRun = runRowKey(summary.startedAt, summary.runId);
    encodeLargeJson('summary', summary);
    const runs = this.runs.get(key) ?? new Map<string, RunSummary>();
    runs.set(rowKeyOfRun, structuredClone(summary));
    this.runs.set(key, runs);
  }

  async listRuns(mailbox: string, limit: number): Promise<RunSummary[]> {
    const runs = this.runs.get(mailboxPartitionKey(mailbox)) ?? new Map<string, RunSummary>();
    return [...runs.keys()]
      .sort()
      .slice(0, Math.max(0, limit))
      .map((key) => structuredClone(runs.get(key) as RunSummary));
  }

  private storeLease(key: string, mailbox: string, owner: string, ttlMs: number, now: Date): Lease {
    const etag = this.nextEtag();
    const lease: Lease = { mailbox, owner, expiresAt: new Date(now.getTime() + ttlMs).toISOString(), etag };
    this.leases.set(key, { lease, etag });
    return { ...lease };
  }

  /** Validates the whole unit against the current rows, then applies it: all of it or nothing. */
  private applyUnit(partition: Partition, unit: CommitUnit): CommitResult {
    checkUnitShape(unit);
    const writes = new Map<string, StoredEntity | null>();
    let written: MappingRow | undefined;
    if (unit.mapping && 'put' in unit.mapping) written = this.planPut(partition, unit.mapping.put, writes);
    if (unit.mapping && 'remove' in unit.mapping) this.planRemove(partition, unit.mapping.remove, writes);
    if (unit.deleteChange) {
      const current = partition.get(changeKey(unit.deleteChange.key));
      if (unit.deleteChange.etag !== undefined && current?.etag !== unit.deleteChange.etag) {
        throw new ConcurrencyError('the change row changed since it was read');
      }
      if (current) writes.set(changeKey(unit.deleteChange.key), null);
    }
    if (unit.putChange) {
      const key = changeKey(unit.putChange.key);
      if (unit.putChange.etag !== undefined && partition.get(key)?.etag !== unit.putChange.etag) {
        throw new ConcurrencyError('the change row changed since it was read');
      }
      writes.set(key, { value: { type: 'change', columns: changeRowColumns(unit.putChange) }, etag: this.nextEtag() });
    }
    for (const [key, entity] of writes) {
      if (entity === null) partition.delete(key);
      else partition.set(key, entity);
    }
    return written ? { ok: true, mapping: written } : { ok: true };
  }

  private planPut(partition: Partition, row: MappingRow, writes: Map<string, StoredEntity | null>): MappingRow {
    validMapping(row);
    encodeLargeJson('baseline', row.baseline);
    const key = mappingKey(row.mapId);
    const current = partition.get(key);
    if (row.etag === undefined && current) throw new ConcurrencyError(`mapping ${row.mapId} already exists`);
    if (row.etag !== undefined && current?.etag !== row.etag) throw new ConcurrencyError(`mapping ${row.mapId} changed since it was read`);
    const previous = current?.value.type === 'mapping' ? indexKeys(current.value.row) : [];
    const next = indexKeys(row);
    for (const stale of previous.filter((k) => !next.includes(k))) writes.set(stale, null);
    for (const added of next.filter((k) => !previous.includes(k))) {
      // Index rows are inserted, never overwritten: a second mapping for the same item is refused (bijection).
      if (partition.has(added)) throw new ConcurrencyError(`another mapping already holds an id of ${row.mapId}`);
      writes.set(added, { value: { type: 'index', mapId: row.mapId }, etag: this.nextEtag() });
    }
    const etag = this.nextEtag();
    writes.set(key, { value: { type: 'mapping', row: stripEtag(row) }, etag });
    return copyMapping(row, etag);
  }

  private planRemove(partition: Partition, row: MappingRow, writes: Map<string, StoredEntity | null>): void {
    const key = mappingKey(row.mapId);
    const current = partition.get(key);
    if (!current || current.value.type !== 'mapping') throw new ConcurrencyError(`mapping ${row.mapId} no longer exists`);
    if (row.etag !== undefined && current.etag !== row.etag) throw new ConcurrencyError(`mapping ${row.mapId} changed since it was read`);
    writes.set(key, null);
    for (const index of indexKeys(current.value.row)) writes.set(index, null);
  }

  /** The rows a unit touches, for counting the transactions it would need; a malformed unit touches none. */
  private unitRowKeys(partition: Partition, unit: CommitUnit): string[] {
    try {
      return this.rowsTouched(partition, unit);
    } catch {
      return [];
    }
  }

  private rowsTouched(partition: Partition, unit: CommitUnit): string[] {
    const keys: string[] = [];
    if (unit.mapping) {
      const row = 'put' in unit.mapping ? unit.mapping.put : unit.mapping.remove;
      const current = partition.get(mappingKey(row.mapId));
      keys.push(mappingKey(row.mapId), ...indexKeys(row));
      if (current?.value.type === 'mapping') keys.push(...indexKeys(current.value.row).filter((k) => !keys.includes(k)));
    }
    if (unit.deleteChange) keys.push(changeKey(unit.deleteChange.key));
    if (unit.putChange) keys.push(changeKey(unit.putChange.key));
    return keys;
  }

  private async viaIndex(mailbox: string, key: string, matches: (row: MappingRow) => boolean): Promise<MappingRow | null> {
    const index = this.partition(mailbox).get(key);
    if (index?.value.type !== 'index') return null;
    const row = await this.getMapping(mailbox, index.value.mapId);
    return row && matches(row) ? row : null;
  }

  private rowsOfType(mailbox: string, type: 'mapping' | 'change' | 'cursor'): [string, StoredEntity][] {
    const { lower, upper } = rowKeyRange(type);
    return [...this.partition(mailbox).entries()].filter(([key]) => key >= lower && key < upper).sort(([a], [b]) => (a < b ? -1 : 1));
  }

  private partition(mailbox: string): Partition {
    const key = mailboxPartitionKey(mailbox);
    let partition = this.partitions.get(key);
    if (!partition) {
      partition = new Map();
      this.partitions.set(key, partition);
    }
    return partition;
  }

  private nextEtag(): string {
    this.etagCounter += 1;
    return `W/"${this.etagCounter}"`;
  }
}

function stripEtag(row: MappingRow): MappingRow {
  // Like a stored row, a row that was handed in without a container reads back with null (unknown).
  const copy = { ...structuredClone(row), outlookContainer: row.outlookContainer ?? null };
  delete copy.etag;
  return copy;
}

function copyMapping(row: MappingRow, etag: string): MappingRow {
  return { ...structuredClone(stripEtag(row)), etag };
}

