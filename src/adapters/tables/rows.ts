// The row shapes of the state store and their validation, shared by the Azure adapter and the in-memory twin.
// zod at the edge: what callers hand in and what storage hands back is checked before anyone relies on it.
import { z } from 'zod';
import { ITEM_KINDS, type ItemKind, type MappingRow } from '../../core/model';
import type { ChangeRecord, ChangeRow, CommitUnit } from '../../ports/state-store';
import { InvariantError, ItemRejectedError } from '../../ports/errors';
import { canonicalInstant, encodeKeyPart, rowKey } from './rules';

const instant = z.string().refine((value) => !Number.isNaN(Date.parse(value)), 'not a valid timestamp');

export const changeRecordSchema = z.discriminatedUnion('side', [
  z.object({
    side: z.literal('outlook'),
    change: z.enum(['upsert', 'removed']),
    key: z.string().min(1),
    kind: z.enum(ITEM_KINDS),
    mapId: z.string().min(1).nullable(),
    outlookId: z.string().min(1).nullable().optional(),
    outlookContainer: z.string().min(1).nullable().optional(),
    crmId: z.string().min(1).nullable().optional(),
    at: instant,
  }),
  z.object({
    side: z.literal('crm'),
    change: z.enum(['upsert', 'deleted', 'outOfScope']),
    key: z.string().min(1),
    kind: z.enum(ITEM_KINDS),
    mapId: z.string().min(1).nullable(),
    outlookId: z.string().min(1).nullable().optional(),
    outlookContainer: z.string().min(1).nullable().optional(),
    crmId: z.string().min(1).nullable().optional(),
    at: instant,
  }),
]);

export function validChangeRecord(record: ChangeRecord): ChangeRecord {
  const parsed = changeRecordSchema.safeParse(record);
  if (!parsed.success) {
    throw new ItemRejectedError('invalid-change', `change record rejected: ${parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
  }
  return { ...parsed.data, at: canonicalInstant(parsed.data.at) };
}

/**
 * Several records of one item in one call coalesce in order: the later record of a side replaces that side's columns,
 * ids are kept once known.
 */
export function coalesceRecords(records: readonly ChangeRecord[]): ChangeRecord[] {
  const byKey = new Map<string, ChangeRecord[]>();
  for (const record of records.map(validChangeRecord)) {
    const list = byKey.get(record.key) ?? [];
    list.push(record);
    byKey.set(record.key, list);
  }
  const result: ChangeRecord[] = [];
  for (const list of byKey.values()) {
    const lastBySide = new Map<string, ChangeRecord>();
    for (const record of list) lastBySide.set(record.side, record);
    for (const record of lastBySide.values()) {
      result.push({
        ...record,
        outlookId: lastKnown(list, 'outlookId'),
        outlookContainer: lastKnown(list, 'outlookContainer'),
        crmId: lastKnown(list, 'crmId'),
        mapId: lastKnown(list, 'mapId'),
      });
    }
  }
  return result;
}

function lastKnown(list: readonly ChangeRecord[], field: 'outlookId' | 'outlookContainer' | 'crmId' | 'mapId'): string | null {
  let value: string | null = null;
  for (const record of list) value = record[field] ?? value;
  return value;
}

/** The columns a recorded change writes: its own side's, the item's ids when known, and its due time. */
export function changeColumns(record: ChangeRecord): Record<string, string> {
  const columns: Record<string, string> = { key: record.key, kind: record.kind, nextAttemptAt: record.at };
  if (record.side === 'outlook') {
    columns.outlookChange = record.change;
    columns.outlookAt = record.at;
  } else {
    columns.crmChange = record.change;
    columns.crmAt = record.at;
  }
  for (const field of ['mapId', 'outlookId', 'outlookContainer', 'crmId'] as const) {
    const value = record[field];
    if (value !== null && value !== undefined) columns[field] = value;
  }
  return columns;
}

const nullableString = z.string().nullable().optional().transform((value) => value ?? null);

export const storedChangeSchema = z.object({
  key: z.string().min(1),
  kind: z.enum(ITEM_KINDS),
  mapId: nullableString,
  outlookId: nullableString,
  outlookContainer: nullableString,
  crmId: nullableString,
  outlookChange: z.enum(['upsert', 'removed']).nullable().optional().transform((value) => value ?? null),
  outlookAt: nullableString,
  crmChange: z.enum(['upsert', 'deleted', 'outOfScope']).nullable().optional().transform((value) => value ?? null),
  crmAt: nullableString,
  attempts: z.number().int().nonnegative().optional().transform((value) => value ?? 0),
  nextAttemptAt: z.string(),
  lastError: nullableString,
  reason: nullableString,
});

export function parseStoredChange(columns: Readonly<Record<string, unknown>>, etag: string): ChangeRow {
  const parsed = storedChangeSchema.safeParse(columns);
  if (!parsed.success) throw new InvariantError(`stored change row is malformed: ${parsed.error.issues.map((i) => i.path.join('.')).join(', ')}`);
  return { ...parsed.data, etag };
}

/** The full columns of a change row written by putChange (a replace, so every column is present). */
export function changeRowColumns(row: ChangeRow): Record<string, string | number> {
  const columns: Record<string, string | number> = {
    key: row.key,
    kind: row.kind,
    attempts: row.attempts,
    nextAttemptAt: canonicalInstant(row.nextAttemptAt),
  };
  const optional = {
    mapId: row.mapId,
    outlookId: row.outlookId,
    outlookContainer: row.outlookContainer,
    crmId: row.crmId,
    outlookChange: row.outlookChange,
    outlookAt: row.outlookAt === null ? null : canonicalInstant(row.outlookAt),
    crmChange: row.crmChange,
    crmAt: row.crmAt === null ? null : canonicalInstant(row.crmAt),
    lastError: row.lastError,
    reason: row.reason,
  };
  for (const [name, value] of Object.entries(optional)) if (value !== null) columns[name] = value;
  return columns;
}

const mappingShape = z.object({
  mapId: z.string().min(1),
  kind: z.enum(ITEM_KINDS),
  outlookId: z.string().min(1).nullable(),
  // Rows stored before the column existed have none: they read as null (unknown container).
  outlookContainer: z.string().min(1).nullable().optional().transform((value) => value ?? null),
  crmId: z.string().min(1).nullable(),
  state: z.enum(['linked', 'pendingCreate', 'unlinked', 'deletedLocally']),
  trackedVia: z.enum(['outlook', 'crm', 'both']),
  baselineHash: z.string(),
  outlookVersion: z.string().nullable(),
  crmVersion: z.string().nullable(),
  visitedEpoch: z.number().int(),
  verifiedAt: z.string().nullable(),
});

/** Checks a mapping handed to commit; a malformed one fails its unit alone. */
export function validMapping(row: MappingRow): MappingRow {
  const parsed = mappingShape.safeParse(row);
  if (!parsed.success) {
    throw new ItemRejectedError('invalid-mapping', `mapping rejected: ${parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
  }
  if (row.baseline === null || typeof row.baseline !== 'object' || Array.isArray(row.baseline)) {
    throw new ItemRejectedError('invalid-mapping', 'mapping rejected: baseline is not an object');
  }
  return row;
}

/** Scalar columns of a stored mapping (the baseline is stored separately, see encodeLargeJson). */
export type MappingColumns = z.infer<typeof mappingShape>;

export function mappingColumns(row: MappingRow): MappingColumns {
  return mappingShape.parse(row);
}

export function parseStoredMapping(columns: Readonly<Record<string, unknown>>, baseline: unknown, etag: string): MappingRow {
  const parsed = mappingShape.safeParse(columns);
  const parsedBaseline = z.record(z.unknown()).safeParse(baseline);
  if (!parsed.success || !parsedBaseline.success) throw new InvariantError('stored mapping row is malformed');
  return { ...parsed.data, baseline: parsedBaseline.data as MappingRow['baseline'], etag };
}

// Row keys of the SyncState table.
export const mappingKey = (mapId: string) => rowKey('mapping', encodeKeyPart(mapId));
export const outlookIndexKey = (kind: ItemKind, outlookId: string) => rowKey('byOutlookId', kind, encodeKeyPart(outlookId));
export const crmIndexKey = (kind: ItemKind, crmId: string) => rowKey('byCrmId', kind, encodeKeyPart(crmId));
export const changeKey = (key: string) => rowKey('change', encodeKeyPart(key));
export const cursorKey = (stream: string) => rowKey('cursor', encodeKeyPart(stream));

/** The index rows a mapping owns. */
export function indexKeys(row: Pick<MappingRow, 'kind' | 'outlookId' | 'crmId'>): string[] {
  const keys: string[] = [];
  if (row.outlookId !== null) keys.push(outlookIndexKey(row.kind, row.outlookId));
  if (row.crmId !== null) keys.push(crmIndexKey(row.kind, row.crmId));
  return keys;
}

/** A unit may touch each row once (entity group transaction rule, service-limits.md §2). */
export function checkUnitShape(unit: CommitUnit): void {
  if (unit.deleteChange && unit.putChange && unit.deleteChange.key === unit.putChange.key) {
    throw new InvariantError('a commit unit both deletes and writes the same change row');
  }
  if (unit.mapping && 'put' in unit.mapping) validMapping(unit.mapping.put);
}

/** Keeps the `limit` smallest items of a stream without holding the whole stream (memory stays flat). */
export class SmallestN<T> {
  private items: T[] = [];
  constructor(private readonly limit: number, private readonly compare: (a: T, b: T) => number) {}

  add(item: T): void {
    if (this.limit <= 0) return;
    this.items.push(item);
    if (this.items.length >= this.limit * 2 + 16) this.trim();
  }

  result(): T[] {
    this.trim();
    return this.items;
  }

  private trim(): void {
    this.items.sort(this.compare);
    this.items.length = Math.min(this.items.length, this.limit);
  }
}

export type VerifiedKey = Pick<MappingRow, 'mapId' | 'verifiedAt'>;

/** Never-verified first, then oldest verifiedAt; mapId breaks ties so both adapters agree. */
export function compareVerified(a: VerifiedKey, b: VerifiedKey): number {
  if (a.verifiedAt !== b.verifiedAt) {
    if (a.verifiedAt === null) return -1;
    if (b.verifiedAt === null) return 1;
    const byTime = Date.parse(a.verifiedAt) - Date.parse(b.verifiedAt);
    if (byTime !== 0) return byTime;
  }
  return a.mapId < b.mapId ? -1 : a.mapId > b.mapId ? 1 : 0;
}

/** Oldest nextAttemptAt first; the key breaks ties. */
export function compareDue(a: ChangeRow, b: ChangeRow): number {
  if (a.nextAttemptAt !== b.nextAttemptAt) return a.nextAttemptAt < b.nextAttemptAt ? -1 : 1;
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}
