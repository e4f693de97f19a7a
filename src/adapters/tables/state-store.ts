// StateStore on Azure Table Storage (DESIGN.md §3).
//
// Tables (names take an optional prefix so tests and deployments can share an account):
// - `SyncState`, partitioned by mailbox, holds the mapping rows (`m_`), their two index rows (`o_<kind>_<id>`,
//   `c_<kind>_<id>`), the change rows (`x_`) and the cursors (`k_`). They share ONE table on purpose: an entity-group
//   transaction spans one partition of one table (service-limits.md §2), and a mapping, its index rows and the change
//   row it resolves must commit together (StateStore.commit, see commit.ts).
// - `SyncLeases`: one row per mailbox; acquire/renew/release are ETag compare-and-swaps with an expiry.
// - `SyncRuns`: run summaries, row key = inverted start time, so a partition lists newest first.
// Keys are base64url-encoded (rules.ts); large values are compressed and split, never truncated.
import type { TableClient, TableServiceClientOptions } from '@azure/data-tables';
import { odata } from '@azure/data-tables';
import { z } from 'zod';
import type { ItemKind, MappingRow } from '../../core/model';
import { InvariantError } from '../../ports/errors';
import type { ChangeRecord, ChangeRow, CommitResult, CommitUnit, Lease, RunSummary, StateStore } from '../../ports/state-store';
import { TableCommit } from './commit';
import { KnownVersions } from './known-versions';
import { createTableClient, statusOf, tableName, translateStorageError, type StorageConnection } from './connection';
import { columnsOf, etagOf, mappingFromEntity, readLive, type Entity } from './entities';
import {
  MAX_TRANSACTION_OPERATIONS,
  canonicalInstant,
  decodeLargeJson,
  encodeLargeJson,
  mailboxPartitionKey,
  rowKeyRange,
  runRowKey,
  type RowType,
} from './rules';
import {
  SmallestN,
  type VerifiedKey,
  changeColumns,
  changeKey,
  coalesceRecords,
  compareDue,
  compareVerified,
  crmIndexKey,
  cursorKey,
  mappingKey,
  outlookIndexKey,
  parseStoredChange,
} from './rows';

export interface TableStateStoreOptions {
  connection: StorageConnection;
  /** Prepended to every table name (letters and digits), e.g. to isolate tests. */
  tablePrefix?: string;
  /** Passed to every TableClient (e.g. extra pipeline policies, retry options). */
  clientOptions?: TableServiceClientOptions;
}

const LEASE_ROW = 'lease';

const runSummarySchema = z.object({
  mailbox: z.string(),
  runId: z.string(),
  startedAt: z.string(),
  finishedAt: z.string(),
  outcome: z.enum(['ok', 'partial', 'failed', 'skipped']),
  dryRun: z.boolean(),
  counts: z.record(z.number()),
  requests: z.record(z.number()),
  failures: z.array(z.object({ key: z.string(), reason: z.string(), detail: z.string() })),
  heldDeletes: z.number(),
  alerts: z.array(z.string()),
});

export class TableStateStore implements StateStore {
  private readonly state: TableClient;
  private readonly leases: TableClient;
  private readonly runs: TableClient;
  /** Mapping versions read or written by this store, so updates of them need no read first (known-versions.ts). */
  private readonly versions = new KnownVersions();
  private tablesReady: Promise<void> | null = null;

  constructor(options: TableStateStoreOptions) {
    const prefix = options.tablePrefix ?? '';
    const client = (base: string) => createTableClient(options.connection, tableName(prefix, base), options.clientOptions);
    this.state = client('SyncState');
    this.leases = client('SyncLeases');
    this.runs = client('SyncRuns');
  }

  async getMapping(mailbox: string, mapId: string): Promise<MappingRow | null> {
    const row = await this.readState(mailbox, mappingKey(mapId));
    if (!row) return null;
    const mapping = mappingFromEntity(row.entity);
    this.versions.remember(mailboxPartitionKey(mailbox), mapping.mapId, row.etag, mapping);
    return mapping;
  }

  async findMappingByOutlookId(mailbox: string, kind: ItemKind, outlookId: string): Promise<MappingRow | null> {
    return this.viaIndex(mailbox, outlookIndexKey(kind, outlookId), (row) => row.kind === kind && row.outlookId === outlookId);
  }

  async findMappingByCrmId(mailbox: string, kind: ItemKind, crmId: string): Promise<MappingRow | null> {
    return this.viaIndex(mailbox, crmIndexKey(kind, crmId), (row) => row.kind === kind && row.crmId === crmId);
  }

  async *listMappings(mailbox: string, kind?: ItemKind): AsyncIterable<MappingRow> {
    const extra = kind === undefined ? '' : odata` and kind eq ${kind}`;
    for await (const entity of this.queryRows(mailbox, 'mapping', extra)) yield mappingFromEntity(entity);
  }

  async oldestVerified(mailbox: string, limit: number): Promise<MappingRow[]> {
    // Scan only the two columns that order the rows, then read the few chosen ones in full (baselines can be large).
    const oldest = new SmallestN<VerifiedKey>(limit, compareVerified);
    for await (const entity of this.queryRows(mailbox, 'mapping', '', ['mapId', 'verifiedAt', 'deleted'])) {
      if (typeof entity.mapId !== 'string') throw new InvariantError('stored mapping has no mapId');
      oldest.add({ mapId: entity.mapId, verifiedAt: typeof entity.verifiedAt === 'string' ? entity.verifiedAt : null });
    }
    const rows = await Promise.all(oldest.result().map((key) => this.getMapping(mailbox, key.mapId)));
    // A row removed between the scan and the read is simply not returned.
    return rows.filter((row): row is MappingRow => row !== null);
  }

  async recordChanges(mailbox: string, changes: readonly ChangeRecord[]): Promise<void> {
    const partitionKey = mailboxPartitionKey(mailbox);
    const byRow = new Map<string, Entity>();
    for (const record of coalesceRecords(changes)) {
      const rowKey = changeKey(record.key);
      // `deleted: false` revives a tombstone left by a resolved change (see commit.ts).
      byRow.set(rowKey, { ...(byRow.get(rowKey) ?? { partitionKey, rowKey }), ...changeColumns(record), deleted: false });
    }
    await this.ready();
    const entities = [...byRow.values()];
    for (let start = 0; start < entities.length; start += MAX_TRANSACTION_OPERATIONS) {
      const chunk = entities.slice(start, start + MAX_TRANSACTION_OPERATIONS);
      // Merge: only this side's columns change, so a pending change of the other side survives (coalescing).
      await this.state.submitTransaction(chunk.map((entity) => ['upsert', entity, 'Merge'] as const)).catch((error: unknown) => {
        throw translateStorageError(error, 'record changes');
      });
    }
  }

  async getChange(mailbox: string, key: string): Promise<ChangeRow | null> {
    const row = await this.readState(mailbox, changeKey(key));
    return row ? parseStoredChange(columnsOf(row.entity), row.etag) : null;
  }

  async listDueChanges(mailbox: string, now: string, limit: number): Promise<ChangeRow[]> {
    const due = new SmallestN<ChangeRow>(limit, compareDue);
    for await (const entity of this.queryRows(mailbox, 'change', odata` and nextAttemptAt le ${canonicalInstant(now)}`)) {
      due.add(parseStoredChange(columnsOf(entity), etagOf(entity)));
    }
    return due.result();
  }

  async countChanges(mailbox: string): Promise<number> {
    let count = 0;
    for await (const _ of this.queryRows(mailbox, 'change', '', ['deleted'])) count += 1;
    return count;
  }

  async commit(mailbox: string, units: readonly CommitUnit[]): Promise<CommitResult[]> {
    const partitionKey = mailboxPartitionKey(mailbox);
    await this.ready();
    return new TableCommit(this.state, partitionKey, this.versions).run(units);
  }

  async getCursor(mailbox: string, stream: string): Promise<string | null> {
    const row = await this.readState(mailbox, cursorKey(stream));
    return row ? cursorOf(row.entity) : null;
  }

  async setCursor(mailbox: string, stream: string, cursor: string | null): Promise<void> {
    const partitionKey = mailboxPartitionKey(mailbox);
    const rowKey = cursorKey(stream);
    await this.ready();
    try {
      if (cursor === null) await this.state.deleteEntity(partitionKey, rowKey);
      else await this.state.upsertEntity({ partitionKey, rowKey, stream, ...encodeLargeJson('cursor', cursor) }, 'Replace');
    } catch (error) {
      if (cursor === null && statusOf(error) === 404) return;
      throw translateStorageError(error, 'set cursor');
    }
  }

  async listCursors(mailbox: string): Promise<Map<string, string>> {
    const cursors = new Map<string, string>();
    for await (const entity of this.queryRows(mailbox, 'cursor', '')) {
      if (typeof entity.stream !== 'string') throw new InvariantError('stored cursor has no stream name');
      cursors.set(entity.stream, cursorOf(entity));
    }
    return cursors;
  }

  async acquireLease(mailbox: string, owner: string, ttlMs: number, now: Date): Promise<Lease | null> {
    const partitionKey = mailboxPartitionKey(mailbox);
    await this.ready();
    const current = await readLive(this.leases, partitionKey, LEASE_ROW);
    if (current && current.entity.owner !== owner && Date.parse(String(current.entity.expiresAt)) > now.getTime()) return null;
    return this.writeLease({ mailbox, owner, expiresAt: new Date(now.getTime() + ttlMs).toISOString() }, current?.etag ?? null);
  }

  async renewLease(lease: Lease, ttlMs: number, now: Date): Promise<Lease | null> {
    await this.ready();
    return this.writeLease({ mailbox: lease.mailbox, owner: lease.owner, expiresAt: new Date(now.getTime() + ttlMs).toISOString() }, lease.etag);
  }

  async releaseLease(lease: Lease): Promise<void> {
    await this.ready();
    try {
      await this.leases.deleteEntity(mailboxPartitionKey(lease.mailbox), LEASE_ROW, { etag: lease.etag });
    } catch (error) {
      // Already taken over or gone: nothing of ours left to release.
      if (statusOf(error) === 404 || statusOf(error) === 412) return;
      throw translateStorageError(error, 'release lease');
    }
  }

  async appendRun(summary: RunSummary): Promise<void> {
    const entity = { partitionKey: mailboxPartitionKey(summary.mailbox), rowKey: runRowKey(summary.startedAt, summary.runId), ...encodeLargeJson('summary', summary) };
    await this.ready();
    await this.runs.upsertEntity(entity, 'Replace').catch((error: unknown) => {
      throw translateStorageError(error, 'append run');
    });
  }

  async listRuns(mailbox: string, limit: number): Promise<RunSummary[]> {
    const partitionKey = mailboxPartitionKey(mailbox);
    await this.ready();
    const summaries: RunSummary[] = [];
    if (limit <= 0) return summaries;
    const pages = this.runs.listEntities<Record<string, unknown>>({ queryOptions: { filter: odata`PartitionKey eq ${partitionKey}` } }).byPage({ maxPageSize: Math.min(limit, 1000) });
    try {
      for await (const page of pages) {
        for (const entity of page) if (summaries.length < limit) summaries.push(runSummarySchema.parse(decodeLargeJson('summary', entity)));
        if (summaries.length >= limit) break;
      }
    } catch (error) {
      throw translateStorageError(error, 'list runs');
    }
    return summaries;
  }

  /** Creates the tables once per store; createTable is a no-op for an existing table. */
  private ready(): Promise<void> {
    this.tablesReady ??= Promise.all([this.state.createTable(), this.leases.createTable(), this.runs.createTable()]).then(
      () => undefined,
      (error: unknown) => {
        this.tablesReady = null;
        throw translateStorageError(error, 'create tables');
      },
    );
    return this.tablesReady;
  }

  private async writeLease(lease: Omit<Lease, 'etag'>, etag: string | null): Promise<Lease | null> {
    const entity = { partitionKey: mailboxPartitionKey(lease.mailbox), rowKey: LEASE_ROW, owner: lease.owner, expiresAt: lease.expiresAt, mailbox: lease.mailbox };
    try {
      const response = etag === null ? await this.leases.createEntity(entity) : await this.leases.updateEntity(entity, 'Replace', { etag });
      if (!response.etag) throw new InvariantError('storage returned no ETag for the lease');
      return { ...lease, etag: response.etag };
    } catch (error) {
      // Another instance wrote the lease first (409 on create, 412 on a stale ETag, 404 after a release).
      if (statusOf(error) === 409 || statusOf(error) === 412 || statusOf(error) === 404) return null;
      throw translateStorageError(error, 'write lease');
    }
  }

  private async readState(mailbox: string, rowKey: string) {
    const partitionKey = mailboxPartitionKey(mailbox);
    await this.ready();
    return readLive(this.state, partitionKey, rowKey);
  }

  private async viaIndex(mailbox: string, rowKey: string, matches: (row: MappingRow) => boolean): Promise<MappingRow | null> {
    const index = await this.readState(mailbox, rowKey);
    const mapId = index?.entity.mapId;
    if (typeof mapId !== 'string') return null;
    const row = await this.getMapping(mailbox, mapId);
    return row && matches(row) ? row : null;
  }

  /** Live rows of one type in the mailbox's partition (tombstones skipped), streamed page by page. */
  private async *queryRows(mailbox: string, type: RowType, extraFilter: string, select?: string[]): AsyncIterable<Record<string, unknown>> {
    const partitionKey = mailboxPartitionKey(mailbox);
    const { lower, upper } = rowKeyRange(type);
    await this.ready();
    const filter = odata`PartitionKey eq ${partitionKey} and RowKey ge ${lower} and RowKey lt ${upper}` + extraFilter;
    try {
      for await (const entity of this.state.listEntities<Record<string, unknown>>({ queryOptions: { filter, ...(select ? { select } : {}) } })) {
        if (entity.deleted !== true) yield entity;
      }
    } catch (error) {
      throw translateStorageError(error, `list ${type} rows`);
    }
  }
}

function cursorOf(entity: Readonly<Record<string, unknown>>): string {
  const cursor = decodeLargeJson('cursor', entity);
  if (typeof cursor !== 'string') throw new InvariantError('stored cursor is not a string');
  return cursor;
}
