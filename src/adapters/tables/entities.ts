// Converting between port rows and Table Storage entities, and reading one entity. Missing properties read as null:
// Table Storage does not store null-valued properties.
import type { TableClient, TableEntity } from '@azure/data-tables';
import { ITEM_KINDS, type ItemKind, type MappingRow } from '../../core/model';
import { InvariantError } from '../../ports/errors';
import { statusOf, translateStorageError } from './connection';
import { decodeLargeJson, encodeLargeJson } from './rules';
import { mappingColumns, mappingKey, parseStoredMapping } from './rows';

export type Entity = TableEntity<Record<string, unknown>>;

export interface StoredRow {
  etag: string;
  /** A tombstone: written by a conditional delete inside a transaction, reads as absent (see commit.ts). */
  deleted: boolean;
  entity: Readonly<Record<string, unknown>>;
}

const SYSTEM_PROPERTIES = new Set(['partitionKey', 'rowKey', 'etag', 'timestamp', 'odata.metadata']);

export function columnsOf(entity: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const columns: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(entity)) if (!SYSTEM_PROPERTIES.has(name)) columns[name] = value;
  return columns;
}

export async function readLiveOrTombstone(client: TableClient, partitionKey: string, rowKey: string): Promise<StoredRow | null> {
  try {
    const entity = await client.getEntity<Record<string, unknown>>(partitionKey, rowKey);
    return { etag: etagOf(entity), deleted: entity.deleted === true, entity };
  } catch (error) {
    if (statusOf(error) === 404) return null;
    throw translateStorageError(error, 'read state row');
  }
}

export async function readLive(client: TableClient, partitionKey: string, rowKey: string): Promise<StoredRow | null> {
  const row = await readLiveOrTombstone(client, partitionKey, rowKey);
  return row && !row.deleted ? row : null;
}

export function etagOf(entity: Readonly<Record<string, unknown>>): string {
  const etag = entity.etag;
  if (typeof etag !== 'string' || etag === '') throw new InvariantError('storage returned an entity without an ETag');
  return etag;
}

export function mappingEntity(partitionKey: string, row: MappingRow): Entity {
  const { visitedEpoch, ...columns } = mappingColumns(row);
  // Int64, so an epoch never overflows the Int32 that Table Storage infers for untyped integers.
  return { partitionKey, rowKey: mappingKey(row.mapId), ...columns, visitedEpoch: BigInt(visitedEpoch), ...encodeLargeJson('baseline', row.baseline) };
}

export function mappingFromEntity(entity: Readonly<Record<string, unknown>>): MappingRow {
  const columns = {
    mapId: entity.mapId,
    kind: entity.kind,
    outlookId: entity.outlookId ?? null,
    outlookContainer: entity.outlookContainer ?? null,
    crmId: entity.crmId ?? null,
    state: entity.state,
    trackedVia: entity.trackedVia,
    baselineHash: entity.baselineHash,
    outlookVersion: entity.outlookVersion ?? null,
    crmVersion: entity.crmVersion ?? null,
    visitedEpoch: typeof entity.visitedEpoch === 'bigint' ? Number(entity.visitedEpoch) : entity.visitedEpoch,
    verifiedAt: entity.verifiedAt ?? null,
  };
  return parseStoredMapping(columns, decodeLargeJson('baseline', entity), etagOf(entity));
}

export function storedIds(row: StoredRow): Pick<MappingRow, 'kind' | 'outlookId' | 'crmId'> {
  const kind = row.entity.kind;
  if (typeof kind !== 'string' || !(ITEM_KINDS as readonly string[]).includes(kind)) throw new InvariantError('stored mapping has no kind');
  const id = (value: unknown) => (typeof value === 'string' && value !== '' ? value : null);
  return { kind: kind as ItemKind, outlookId: id(row.entity.outlookId), crmId: id(row.entity.crmId) };
}
