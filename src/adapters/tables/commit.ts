// StateStore.commit on Table Storage: units become entity-group transactions in the mailbox's partition.
//
// Why the rows look the way they do:
// - The SDK sends deletes inside a transaction unconditionally (If-Match: *), yet a change row must only be deleted
//   when no newer change was recorded, and a mapping only removed when nobody changed it. So a conditional delete is
//   written as a compare-and-swap *replace* to a tombstone (`deleted: true`) inside the transaction; readers treat
//   tombstones as absent, and the tombstone is deleted after the transaction, again only if its ETag is unchanged.
// - Index rows are inserted (never overwritten): a second mapping claiming an id fails on the insert, which keeps the
//   mapping a bijection (DESIGN.md §3). They are only changed together with their mapping row, whose ETag guards them.
// - A failed transaction names the failing operation (`<index>:<message>`); that unit fails alone and the others go
//   again. Without an index every unit of the transaction is retried on its own, so the failing one is still found.
//   Transient failures are not retried here: the SDK pipeline already did (one retry layer, DESIGN.md §4).
// - An update of a mapping whose version this store has seen (known-versions.ts) is prepared without reading it: its
//   compare-and-swap fails unless the stored version is that one, and a failed optimistic unit is prepared again from
//   a fresh read (the careful attempt).
import { RestError, type TableClient, type TransactionAction } from '@azure/data-tables';
import type { MappingRow } from '../../core/model';
import { ConcurrencyError, TransientError } from '../../ports/errors';
import type { CommitResult, CommitUnit } from '../../ports/state-store';
import { statusOf, translateStorageError } from './connection';
import { estimatedEntityBytes, packUnits } from './rules';
import { changeKey, changeRowColumns, checkUnitShape, indexKeys, mappingKey, validMapping } from './rows';
import { mappingEntity, readLiveOrTombstone, storedIds } from './entities';
import type { KnownVersions, MappingIds } from './known-versions';

interface Operation {
  action: TransactionAction;
  rowKey: string;
  /** Delete this row once the transaction committed, if its ETag is still the one the transaction gave it. */
  tombstone: boolean;
}

interface PreparedUnit {
  index: number;
  ops: Operation[];
  /** Position of the mapping write in `ops`, to return the row with its new ETag. */
  mappingOp: number | null;
  mapping: MappingRow | null;
  /** The mapping this unit puts or removes, if any. */
  mapId: string | null;
  /** Prepared from a fresh read; a failure is then final. Optimistic units get one careful retry. */
  careful: boolean;
  bytes: number;
}

/** Reads while preparing units, and tombstone clean-up deletes, run this many at a time. */
const PREPARE_CONCURRENCY = 16;

export class TableCommit {
  private readonly results = new Map<number, CommitResult>();
  private readonly tombstones: { rowKey: string; etag: string }[] = [];

  constructor(
    private readonly client: TableClient,
    private readonly partitionKey: string,
    private readonly versions: KnownVersions,
  ) {}

  async run(units: readonly CommitUnit[]): Promise<CommitResult[]> {
    for (const segment of segments(units)) {
      const prepared = await mapLimited(segment, PREPARE_CONCURRENCY, (index) => this.prepareOrFail(index, units[index] as CommitUnit, false));
      await this.submitAll(prepared.filter((unit): unit is PreparedUnit => unit !== null), units);
    }
    await this.removeTombstones();
    return units.map((_, index) => this.results.get(index) ?? { ok: false, error: new TransientError('unit was not committed') });
  }

  private async prepareOrFail(index: number, unit: CommitUnit, careful: boolean): Promise<PreparedUnit | null> {
    try {
      return await prepareUnit({ client: this.client, partitionKey: this.partitionKey, versions: this.versions }, index, unit, careful);
    } catch (error) {
      this.results.set(index, { ok: false, error: translateStorageError(error, 'commit') });
      return null;
    }
  }

  private async submitAll(initial: PreparedUnit[], units: readonly CommitUnit[]): Promise<void> {
    let pending = initial;
    let isolate = false;
    while (pending.length > 0) {
      const transactions = isolate ? pending.map((_, i) => [i]) : packUnits(pending.map((u) => ({ rowKeys: u.ops.map((o) => o.rowKey), bytes: u.bytes })));
      const members = (t: number) => (transactions[t] ?? []).map((i) => pending[i] as PreparedUnit);
      let rest: PreparedUnit[] = [];
      isolate = false;
      for (let t = 0; t < transactions.length; t++) {
        const retry = await this.submit(members(t), units);
        if (retry.units.length > 0) {
          // Units commit in order: later transactions wait until the innocent units of the failed one are in.
          rest = [...retry.units, ...transactions.slice(t + 1).flatMap((_, k) => members(t + 1 + k))];
          isolate = retry.unattributed;
          break;
        }
      }
      pending = rest;
    }
  }

  /** Submits one transaction. Returns the units to submit again (the innocent members of a failed transaction). */
  private async submit(batch: PreparedUnit[], units: readonly CommitUnit[]): Promise<{ units: PreparedUnit[]; unattributed: boolean }> {
    const ops = batch.flatMap((unit) => unit.ops);
    try {
      // A unit can have nothing to do (deleting a change row that is not there): no transaction for it.
      const response = ops.length === 0 ? { subResponses: [] } : await this.client.submitTransaction(ops.map((op) => op.action));
      let offset = 0;
      for (const unit of batch) {
        this.succeeded(unit, response.subResponses.slice(offset, offset + unit.ops.length).map((r) => r.etag));
        offset += unit.ops.length;
      }
      return { units: [], unattributed: false };
    } catch (error) {
      const status = statusOf(error);
      if (status === undefined || status === 408 || status === 429 || status >= 500) {
        for (const unit of batch) await this.failed(unit, error, units);
        return { units: [], unattributed: false };
      }
      const culprit = batch.length === 1 ? batch[0] : culpritOf(batch, failingOperation(error));
      // Every pass either fails a unit or isolates the units, so the loop in submitAll always ends.
      if (culprit === undefined) return { units: batch, unattributed: true };
      await this.failed(culprit, error, units);
      return { units: batch.filter((unit) => unit !== culprit), unattributed: false };
    }
  }

  private succeeded(unit: PreparedUnit, etags: (string | undefined)[]): void {
    unit.ops.forEach((op, i) => {
      const etag = etags[i];
      if (op.tombstone && etag) this.tombstones.push({ rowKey: op.rowKey, etag });
    });
    const mappingEtag = unit.mappingOp === null ? undefined : etags[unit.mappingOp];
    if (unit.mapId !== null) {
      if (unit.mapping && mappingEtag) this.versions.remember(this.partitionKey, unit.mapId, mappingEtag, unit.mapping);
      else this.versions.forget(this.partitionKey, unit.mapId);
    }
    this.results.set(unit.index, unit.mapping && mappingEtag ? { ok: true, mapping: { ...unit.mapping, etag: mappingEtag } } : { ok: true });
  }

  /** An optimistic unit that lost gets one careful attempt (it may have met a tombstone); a careful one fails. */
  private async failed(unit: PreparedUnit, error: unknown, units: readonly CommitUnit[]): Promise<void> {
    const status = statusOf(error);
    if (unit.mapId !== null) this.versions.forget(this.partitionKey, unit.mapId);
    if (!unit.careful && (status === 404 || status === 409 || status === 412)) {
      const careful = await this.prepareOrFail(unit.index, units[unit.index] as CommitUnit, true);
      if (careful) await this.submit([careful], units);
      return;
    }
    this.results.set(unit.index, { ok: false, error: translateStorageError(error, 'commit') });
  }

  private async removeTombstones(): Promise<void> {
    // Best effort: a tombstone left behind (crash, lost race with a newer change) reads as absent.
    await mapLimited(this.tombstones, PREPARE_CONCURRENCY, ({ rowKey, etag }) =>
      this.client.deleteEntity(this.partitionKey, rowKey, { etag }).then(
        () => undefined,
        () => undefined,
      ),
    );
  }
}

/**
 * Cuts the units, in order, wherever a unit names a row an earlier unit of the segment names, so every unit is prepared
 * from reads taken after the earlier units touching the same rows have committed.
 */
function segments(units: readonly CommitUnit[]): number[][] {
  const result: number[][] = [];
  let current: number[] = [];
  let seen = new Set<string>();
  units.forEach((unit, index) => {
    let keys: string[];
    try {
      keys = declaredRowKeys(unit);
    } catch {
      keys = [];
    }
    if (keys.some((key) => seen.has(key))) {
      result.push(current);
      current = [];
      seen = new Set();
    }
    current.push(index);
    keys.forEach((key) => seen.add(key));
  });
  if (current.length > 0) result.push(current);
  return result;
}

function declaredRowKeys(unit: CommitUnit): string[] {
  const keys: string[] = [];
  if (unit.mapping) {
    const row = 'put' in unit.mapping ? unit.mapping.put : unit.mapping.remove;
    keys.push(mappingKey(row.mapId), ...indexKeys(row));
  }
  if (unit.deleteChange) keys.push(changeKey(unit.deleteChange.key));
  if (unit.putChange) keys.push(changeKey(unit.putChange.key));
  return keys;
}

/** The unit owning the operation a failed transaction names, if the error names one. */
function culpritOf(batch: readonly PreparedUnit[], failedOp: number | null): PreparedUnit | undefined {
  if (failedOp === null) return undefined;
  let offset = 0;
  for (const unit of batch) {
    if (failedOp < offset + unit.ops.length) return unit;
    offset += unit.ops.length;
  }
  return undefined;
}

/** `<index>:<message>`: the operation a failed entity group transaction names. */
function failingOperation(error: unknown): number | null {
  if (!(error instanceof RestError)) return null;
  const match = /^(\d+):/.exec(error.message);
  return match ? Number(match[1]) : null;
}

interface Partition {
  client: TableClient;
  partitionKey: string;
  versions: KnownVersions;
}

async function prepareUnit(partition: Partition, index: number, unit: CommitUnit, careful: boolean): Promise<PreparedUnit> {
  const { client, partitionKey } = partition;
  checkUnitShape(unit);
  const ops: Operation[] = [];
  let mappingOp: number | null = null;
  let mapping: MappingRow | null = null;
  if (unit.mapping && 'put' in unit.mapping) {
    const planned = await planPut(partition, unit.mapping.put, careful);
    mappingOp = planned.mappingOp;
    mapping = unit.mapping.put;
    ops.push(...planned.ops);
  }
  if (unit.mapping && 'remove' in unit.mapping) ops.push(...(await planRemove(client, partitionKey, unit.mapping.remove)));
  if (unit.deleteChange) ops.push(...(await planDeleteChange(client, partitionKey, unit.deleteChange, careful)));
  if (unit.putChange) {
    const entity = { partitionKey, rowKey: changeKey(unit.putChange.key), ...changeRowColumns(unit.putChange) };
    const action: TransactionAction =
      unit.putChange.etag === undefined ? ['upsert', entity, 'Replace'] : ['update', entity, 'Replace', { etag: unit.putChange.etag }];
    ops.push({ action, rowKey: entity.rowKey, tombstone: false });
  }
  const bytes = ops.reduce((sum, op) => sum + estimatedEntityBytes(op.action[1]), 0);
  const mapId = unit.mapping ? ('put' in unit.mapping ? unit.mapping.put.mapId : unit.mapping.remove.mapId) : null;
  return { index, ops, mappingOp, mapping, mapId, careful, bytes };
}

/** The stored version of a mapping row as planPut needs it: its ETag, and its ids unless it is a tombstone. */
interface StoredVersion {
  etag: string;
  ids: MappingIds | null;
}

async function planPut(partition: Partition, row: MappingRow, careful: boolean): Promise<{ ops: Operation[]; mappingOp: number }> {
  const { client, partitionKey, versions } = partition;
  validMapping(row);
  const entity = mappingEntity(partitionKey, row);
  const isUpdate = row.etag !== undefined;
  // An insert is optimistic (no read); only when it fails is the current row read, to step over a tombstone. An update
  // of a version this store has seen is optimistic too: its If-Match decides (see known-versions.ts).
  const known = row.etag !== undefined && !careful ? versions.idsOf(partitionKey, row.mapId, row.etag) : null;
  let current: StoredVersion | null = known && row.etag !== undefined ? { etag: row.etag, ids: known } : null;
  if (!known && (isUpdate || careful)) {
    const read = await readLiveOrTombstone(client, partitionKey, entity.rowKey);
    current = read && { etag: read.etag, ids: read.deleted ? null : storedIds(read) };
    if (current?.ids) versions.remember(partitionKey, row.mapId, current.etag, current.ids);
  }
  if (isUpdate && (current === null || current.ids === null || current.etag !== row.etag)) {
    throw new ConcurrencyError(`mapping ${row.mapId} changed since it was read`);
  }
  if (!isUpdate && current !== null && current.ids !== null) throw new ConcurrencyError(`mapping ${row.mapId} already exists`);
  const ops: Operation[] = [];
  const previous = current?.ids ? indexKeys(current.ids) : [];
  const next = indexKeys(row);
  for (const stale of previous.filter((key) => !next.includes(key))) ops.push({ action: ['delete', { partitionKey, rowKey: stale }], rowKey: stale, tombstone: false });
  for (const added of next.filter((key) => !previous.includes(key))) {
    ops.push({ action: ['create', { partitionKey, rowKey: added, mapId: row.mapId }], rowKey: added, tombstone: false });
  }
  const action: TransactionAction = current === null ? ['create', entity] : ['update', entity, 'Replace', { etag: current.etag }];
  ops.push({ action, rowKey: entity.rowKey, tombstone: false });
  return { ops, mappingOp: ops.length - 1 };
}

async function planRemove(client: TableClient, partitionKey: string, row: MappingRow): Promise<Operation[]> {
  const rowKey = mappingKey(row.mapId);
  const current = await readLiveOrTombstone(client, partitionKey, rowKey);
  if (current === null || current.deleted) throw new ConcurrencyError(`mapping ${row.mapId} no longer exists`);
  if (row.etag !== undefined && current.etag !== row.etag) throw new ConcurrencyError(`mapping ${row.mapId} changed since it was read`);
  const ops: Operation[] = indexKeys(storedIds(current)).map((key) => ({ action: ['delete', { partitionKey, rowKey: key }], rowKey: key, tombstone: false }));
  ops.push({ action: ['update', { partitionKey, rowKey, deleted: true }, 'Replace', { etag: current.etag }], rowKey, tombstone: true });
  return ops;
}

async function planDeleteChange(
  client: TableClient,
  partitionKey: string,
  target: { key: string; etag?: string },
  careful: boolean,
): Promise<Operation[]> {
  const rowKey = changeKey(target.key);
  let etag = target.etag ?? '*';
  if (target.etag === undefined && careful) {
    // "Delete if present": after an optimistic attempt met no row, read to learn whether there is anything to delete.
    const current = await readLiveOrTombstone(client, partitionKey, rowKey);
    if (current === null || current.deleted) return [];
    etag = current.etag;
  }
  return [{ action: ['update', { partitionKey, rowKey, deleted: true }, 'Replace', { etag }], rowKey, tombstone: true }];
}

async function mapLimited<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
