// Table Storage's rules (service-limits.md §2), kept apart from the SDK so the in-memory twin enforces exactly the
// same key encoding, size limits and transaction packing as the Azure adapter.
import { gunzipSync, gzipSync } from 'node:zlib';
import { ItemRejectedError, InvariantError } from '../../ports/errors';

/** PartitionKey and RowKey: at most 1 KiB each (service-limits.md §2). */
export const MAX_KEY_CHARS = 1024;
/** A string property holds up to 64 KiB of UTF-16, i.e. 32 K characters (service-limits.md §2). */
export const MAX_STRING_CHARS = 32 * 1024;
/** A binary property holds up to 64 KiB (service-limits.md §2). */
export const MAX_BINARY_BYTES = 64 * 1024;
/**
 * An entity is at most 1 MiB, all properties included (service-limits.md §2): 14 binary parts of 64 KiB leave 128 KiB
 * for the row's other properties.
 */
export const MAX_LARGE_VALUE_PARTS = 14;
/** Entity group transaction: at most 100 operations and a payload under 4 MiB (service-limits.md §2). */
export const MAX_TRANSACTION_OPERATIONS = 100;
/** Kept under the 4 MiB transaction payload with room for the multipart envelope and JSON escaping. */
export const MAX_TRANSACTION_BYTES = 3.5 * 1024 * 1024;

/**
 * Reversible key encoding: base64url of the UTF-8 bytes. Its alphabet (A–Z a–z 0–9 - _) contains none of the
 * characters Table Storage forbids in keys (`/ \ # ?`, U+0000–U+001F, U+007F–U+009F), and Graph ids may contain `/` and
 * `+` (service-limits.md §2). Strings that UTF-8 cannot represent (lone surrogates) are refused rather than mangled.
 */
export function encodeKeyPart(value: string): string {
  const encoded = Buffer.from(value, 'utf8').toString('base64url');
  if (Buffer.from(encoded, 'base64url').toString('utf8') !== value) {
    throw new ItemRejectedError('invalid-key', 'a key contains characters that cannot be stored (unpaired surrogate)');
  }
  return encoded;
}

export function decodeKeyPart(encoded: string): string {
  return Buffer.from(encoded, 'base64url').toString('utf8');
}

/** Mailbox addresses are case-insensitive, so one mailbox has one partition (and one lease) however it is spelled. */
export function mailboxPartitionKey(mailbox: string): string {
  if (mailbox.trim() === '') throw new ItemRejectedError('invalid-key', 'the mailbox is empty');
  return checkedKey(encodeKeyPart(mailbox.trim().toLowerCase()));
}

export function checkedKey(key: string): string {
  if (key.length > MAX_KEY_CHARS) {
    throw new ItemRejectedError('key-too-long', `an encoded key is ${key.length} characters; Table Storage allows ${MAX_KEY_CHARS}`);
  }
  return key;
}

// Row-key prefixes of the SyncState table. Each is followed by `_`, so a prefix range `[p_, p\`)` lists one row type.
export const ROW_PREFIX = {
  mapping: 'm',
  byOutlookId: 'o',
  byCrmId: 'c',
  change: 'x',
  cursor: 'k',
} as const;
export type RowType = keyof typeof ROW_PREFIX;

export function rowKey(type: RowType, ...parts: string[]): string {
  return checkedKey([ROW_PREFIX[type], ...parts].join('_'));
}

/** The range of row keys holding one row type: `RowKey ge lower and RowKey lt upper`. */
export function rowKeyRange(type: RowType): { lower: string; upper: string } {
  // '`' is the character after '_', so every key `<p>_...` sorts inside the range.
  return { lower: `${ROW_PREFIX[type]}_`, upper: `${ROW_PREFIX[type]}\`` };
}

export type LargeValueProperties = Record<string, string | number | Uint8Array>;

/**
 * Stores a JSON value that may exceed one property: inline as a string when it fits in 32 K characters, otherwise
 * gzip-compressed and split across binary properties `<name>_0..n`. Never truncated: a value that cannot fit the 1 MiB
 * entity even compressed is refused (service-limits.md §2).
 */
export function encodeLargeJson(name: string, value: unknown): LargeValueProperties {
  const json = JSON.stringify(value);
  if (json.length <= MAX_STRING_CHARS) return { [name]: json };
  const compressed = gzipSync(Buffer.from(json, 'utf8'));
  const partCount = Math.ceil(compressed.length / MAX_BINARY_BYTES);
  if (partCount > MAX_LARGE_VALUE_PARTS) {
    throw new ItemRejectedError(
      'state-too-large',
      `${name} is ${compressed.length} bytes compressed; a Table Storage entity holds at most ${MAX_LARGE_VALUE_PARTS * MAX_BINARY_BYTES}`,
    );
  }
  const properties: LargeValueProperties = { [`${name}Parts`]: partCount };
  for (let i = 0; i < partCount; i++) {
    properties[`${name}_${i}`] = new Uint8Array(compressed.subarray(i * MAX_BINARY_BYTES, (i + 1) * MAX_BINARY_BYTES));
  }
  return properties;
}

export function decodeLargeJson(name: string, entity: Readonly<Record<string, unknown>>): unknown {
  const inline = entity[name];
  if (typeof inline === 'string') return JSON.parse(inline);
  const partCount = Number(entity[`${name}Parts`]);
  if (!Number.isInteger(partCount) || partCount < 1) throw new InvariantError(`stored row has no ${name}`);
  const parts: Buffer[] = [];
  for (let i = 0; i < partCount; i++) {
    const part = entity[`${name}_${i}`];
    if (!(part instanceof Uint8Array)) throw new InvariantError(`stored row misses part ${i} of ${name}`);
    parts.push(Buffer.from(part));
  }
  return JSON.parse(gunzipSync(Buffer.concat(parts)).toString('utf8'));
}

/** Rough wire size of an entity in a transaction body (UTF-16 worst case for strings, base64 for binary). */
export function estimatedEntityBytes(entity: Readonly<Record<string, unknown>>): number {
  let bytes = 512;
  for (const [key, value] of Object.entries(entity)) {
    bytes += key.length + 32;
    if (typeof value === 'string') bytes += value.length * 2;
    else if (value instanceof Uint8Array) bytes += Math.ceil(value.length / 3) * 4;
    else bytes += 24;
  }
  return bytes;
}

/** What packing needs to know about a unit: the rows it touches and its estimated payload. */
export interface PackableUnit {
  rowKeys: readonly string[];
  bytes: number;
}

/**
 * Packs units, in order, into transactions of at most 100 operations and 3.5 MiB, never splitting a unit and never
 * putting one row in a transaction twice (an entity may appear once per transaction; service-limits.md §2).
 * Returns the unit indexes of each transaction.
 */
export function packUnits(units: readonly PackableUnit[]): number[][] {
  const transactions: number[][] = [];
  let current: number[] = [];
  let rows = new Set<string>();
  let bytes = 0;
  units.forEach((unit, index) => {
    if (unit.rowKeys.length > MAX_TRANSACTION_OPERATIONS) {
      throw new InvariantError(`a commit unit has ${unit.rowKeys.length} operations; a transaction allows ${MAX_TRANSACTION_OPERATIONS}`);
    }
    const collides = unit.rowKeys.some((key) => rows.has(key));
    const tooMany = rows.size + unit.rowKeys.length > MAX_TRANSACTION_OPERATIONS;
    const tooBig = bytes + unit.bytes > MAX_TRANSACTION_BYTES;
    if (current.length > 0 && (collides || tooMany || tooBig)) {
      transactions.push(current);
      current = [];
      rows = new Set();
      bytes = 0;
    }
    current.push(index);
    unit.rowKeys.forEach((key) => rows.add(key));
    bytes += unit.bytes;
  });
  if (current.length > 0) transactions.push(current);
  return transactions;
}

/** Run-summary row keys sort newest first: the start time inverted, then the run id for uniqueness. */
export function runRowKey(startedAt: string, runId: string): string {
  const millis = Date.parse(startedAt);
  if (Number.isNaN(millis)) throw new ItemRejectedError('invalid-run', 'the run has no valid start time');
  const inverted = String(9_999_999_999_999 - millis).padStart(13, '0');
  return checkedKey(`${inverted}_${encodeKeyPart(runId)}`);
}

/** ISO-8601 UTC with milliseconds, so stored instants compare correctly as strings. */
export function canonicalInstant(value: string): string {
  const millis = Date.parse(value);
  if (Number.isNaN(millis)) throw new ItemRejectedError('invalid-instant', 'a timestamp is not a valid date');
  return new Date(millis).toISOString();
}
