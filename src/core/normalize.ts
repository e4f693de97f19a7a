// Normalization makes mapped values round-trip (DESIGN.md §5 "No ping-pong"): the value read from either side, after
// normalization, is what the other side stores and gives back. Every function here is total and idempotent:
// normalize(normalize(x)) === normalize(x), and anything empty or malformed becomes null ("empty ≡ missing").
import { canonicalJson } from './hash';
import type { JsonValue } from './model';
import { resolveZone, zonedToEpochMs } from './timezone';
import { UNKNOWN_TIME_ZONE, UnreadableValue } from './unreadable';

export type FieldType =
  /** Single-value text, trimmed. */
  | 'text'
  /** Multi-line text: CR/CRLF → LF, trailing whitespace of every line and of the whole removed. */
  | 'body'
  /** Address street: lines trimmed, blank lines dropped, at most 3 lines (Dataverse has line1..3). */
  | 'street'
  /** A UTC instant, second precision: `YYYY-MM-DDTHH:MM:SSZ`. */
  | 'instant'
  /** A floating calendar date: `YYYY-MM-DD`. */
  | 'date'
  /** An appointment boundary: a date for all-day events, else an instant. */
  | 'instantOrDate'
  | 'bool'
  | 'int'
  /** One of a fixed set of strings (`choices`). */
  | 'choice'
  /** An e-mail address, trimmed; compared case-insensitively, stored as the user typed it. */
  | 'email'
  /** Ordered e-mail addresses (at most `maxItems`); compared case-insensitively. */
  | 'emailList'
  /** A set of party addresses: lower-cased, unique, sorted (attendee order carries no meaning). */
  | 'addressSet'
  | 'phone'
  /** Ordered phone numbers (at most `maxItems`). */
  | 'phoneList'
  /** Ordered short texts (at most `maxItems`); items are split on `splitOn` so a joined form round-trips. */
  | 'textList';

export interface ValueSpec {
  type: FieldType;
  /** Text/body: the longest value the narrower side stores (UTF-16 units); longer values are cut at a code point. */
  maxLength?: number;
  maxItems?: number;
  choices?: readonly string[];
  /** choice: what a missing or unknown value means (both services default these columns, e.g. importance normal). */
  default?: string;
  /** textList: separators that a joined representation uses (e.g. `childrensnames`). */
  splitOn?: RegExp;
}

export function normText(raw: unknown, maxLength?: number): string | null {
  if (typeof raw !== 'string') return null;
  const trimmed = cut(raw.trim(), maxLength).trim();
  return trimmed === '' ? null : trimmed;
}

/** Cut to at most `max` UTF-16 units without splitting a surrogate pair. */
function cut(text: string, max: number | undefined): string {
  if (max === undefined || text.length <= max) return text;
  let end = max;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return text.slice(0, end);
}

export function normBody(raw: unknown, maxLength?: number): string | null {
  if (typeof raw !== 'string') return null;
  const lines = raw.replace(/\r\n?/g, '\n').split('\n').map((line) => line.replace(/\s+$/u, ''));
  const joined = cut(lines.join('\n').replace(/\s+$/u, ''), maxLength).replace(/\s+$/u, '');
  return joined === '' ? null : joined;
}

export const MAX_STREET_LINES = 3;

export function normStreet(raw: unknown): string | null {
  if (typeof raw !== 'string') return null;
  const lines = raw
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  if (lines.length > MAX_STREET_LINES) {
    lines.splice(MAX_STREET_LINES - 1, lines.length, lines.slice(MAX_STREET_LINES - 1).join(', '));
  }
  return lines.length === 0 ? null : lines.join('\n');
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

/** Date.UTC that does not map years 0–99 to 1900–1999. */
export function utcEpoch(year: number, month: number, day: number, hour = 0, minute = 0, second = 0): number {
  const date = new Date(Date.UTC(2000, month, day, hour, minute, second));
  date.setUTCFullYear(year);
  return date.getTime();
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

export function formatInstant(epochMs: number): string {
  const d = new Date(Math.floor(epochMs / 1000) * 1000);
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(
    d.getUTCMinutes(),
  )}:${pad(d.getUTCSeconds())}Z`;
}

/** Parses ISO-8601 (any fraction, `Z`, an offset, or none = UTC) to epoch ms; null when malformed. */
export function parseInstant(raw: unknown): number | null {
  if (typeof raw !== 'string') return null;
  const match = ISO.exec(raw.trim());
  if (!match) return null;
  const [, y, mo, d, h, mi, s, , zone] = match;
  const month = Number(mo);
  const day = Number(d);
  if (month < 1 || month > 12 || day < 1 || day > 31) return null;
  let epoch = utcEpoch(Number(y), month - 1, day, Number(h ?? '0'), Number(mi ?? '0'), Number(s ?? '0'));
  if (new Date(epoch).getUTCDate() !== day) return null;
  if (zone && zone.toUpperCase() !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    epoch -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4))) * 60_000;
  }
  return Number.isFinite(epoch) ? epoch : null;
}

export function normInstant(raw: unknown): string | null {
  const epoch = parseInstant(raw);
  return epoch === null ? null : formatInstant(epoch);
}

/** The calendar date of a value as written (floating: the zone is ignored, graph-behaviour.md §7 all-day events). */
export function normDate(raw: unknown): string | null {
  if (typeof raw !== 'string') return null;
  const text = raw.trim();
  const match = ISO.exec(text);
  if (!match) return null;
  const [, y, mo, d] = match;
  const epoch = utcEpoch(Number(y), Number(mo) - 1, Number(d));
  if (new Date(epoch).getUTCDate() !== Number(d) || Number(mo) > 12) return null;
  return `${y}-${mo}-${d}`;
}

export function isDateOnly(value: unknown): value is string {
  return typeof value === 'string' && DATE_ONLY.test(value);
}

/** Graph `dateTimeTimeZone` → UTC instant. */
export function normDateTimeTimeZone(raw: unknown): string | null {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return null;
  const { dateTime, timeZone } = raw as { dateTime?: unknown; timeZone?: unknown };
  if (typeof dateTime !== 'string') return null;
  if (typeof timeZone !== 'string' || timeZone.trim() === '') return normInstant(dateTime);
  // A dateTime with its own offset wins over the zone name.
  if (/(Z|[+-]\d{2}:?\d{2})$/i.test(dateTime.trim())) return normInstant(dateTime);
  const local = dateTime.trim().replace(/\.\d+$/, '');
  const epoch = zonedToEpochMs(local, timeZone);
  return epoch === null ? null : formatInstant(epoch);
}

/**
 * Graph `dateTimeTimeZone` → UTC instant for a mapping's reader: like normDateTimeTimeZone, but a well-formed wall clock
 * in a zone this runtime cannot resolve is `UnreadableValue('unknown-time-zone')`, not null. Null would read as "the
 * user cleared the date" and be written to the other side (graph-behaviour.md §7).
 */
export function readDateTimeTimeZone(raw: unknown): string | null | UnreadableValue {
  const value = normDateTimeTimeZone(raw);
  if (value !== null || raw === null || typeof raw !== 'object' || Array.isArray(raw)) return value;
  const { dateTime, timeZone } = raw as { dateTime?: unknown; timeZone?: unknown };
  if (typeof dateTime !== 'string' || typeof timeZone !== 'string' || timeZone.trim() === '') return value;
  const wellFormed = parseInstant(dateTime.trim().replace(/\.\d+$/, '') + 'Z') !== null;
  return wellFormed && resolveZone(timeZone) === null ? new UnreadableValue(UNKNOWN_TIME_ZONE) : value;
}

function normBool(raw: unknown): boolean {
  return raw === true || raw === 'true' || raw === 1;
}

function normInt(raw: unknown): number | null {
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
  return Number.isFinite(n) ? Math.round(n) : null;
}

function list(raw: unknown): unknown[] {
  if (Array.isArray(raw)) return raw;
  return raw === null || raw === undefined ? [] : [raw];
}

function normStrings(raw: unknown, each: (v: unknown) => string | null, maxItems?: number, splitOn?: RegExp): string[] | null {
  const out: string[] = [];
  for (const item of list(raw)) {
    const pieces = splitOn && typeof item === 'string' ? item.split(splitOn) : [item];
    for (const piece of pieces) {
      const value = each(piece);
      if (value !== null) out.push(value);
    }
  }
  const limited = maxItems === undefined ? out : out.slice(0, maxItems);
  return limited.length === 0 ? null : limited;
}

function normEmailList(raw: unknown, maxItems?: number): string[] | null {
  const seen = new Set<string>();
  const unique = (normStrings(raw, (v) => normText(v)) ?? []).filter((address) => {
    const key = address.toLowerCase();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  const limited = maxItems === undefined ? unique : unique.slice(0, maxItems);
  return limited.length === 0 ? null : limited;
}

function normAddressSet(raw: unknown): string[] | null {
  const addresses = new Set((normStrings(raw, (v) => normText(v)) ?? []).map((a) => a.toLowerCase()));
  return addresses.size === 0 ? null : [...addresses].sort();
}

export function normalizeValue(spec: ValueSpec, raw: unknown): JsonValue {
  switch (spec.type) {
    case 'text':
    case 'phone':
    case 'email':
      return normText(raw, spec.maxLength);
    case 'body':
      return normBody(raw, spec.maxLength);
    case 'street':
      return normStreet(raw);
    case 'instant':
      return normInstant(raw);
    case 'date':
      return normDate(raw);
    case 'instantOrDate':
      return isDateOnly(typeof raw === 'string' ? raw.trim() : raw) ? normDate(raw) : normInstant(raw);
    case 'bool':
      return normBool(raw);
    case 'int':
      return normInt(raw);
    case 'choice': {
      const value = normText(raw);
      return value !== null && (spec.choices ?? []).includes(value) ? value : (spec.default ?? null);
    }
    case 'emailList':
      return normEmailList(raw, spec.maxItems);
    case 'addressSet':
      return normAddressSet(raw);
    case 'phoneList':
    case 'textList':
      return normStrings(raw, (v) => normText(v, spec.maxLength), spec.maxItems, spec.splitOn);
  }
}

/** The form two values are compared in: e-mail addresses ignore case. */
export function comparisonKey(type: FieldType, value: JsonValue | undefined): string {
  const v = value === undefined ? null : value;
  if (type === 'email' || type === 'emailList') return canonicalJson(v).toLowerCase();
  return canonicalJson(v);
}

export function sameValue(type: FieldType, a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  return comparisonKey(type, a) === comparisonKey(type, b);
}
