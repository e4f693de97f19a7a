// Small readers and writers over the two wire vocabularies, shared by the per-kind mappings.
import type { CrmParty, CrmRecord, JsonObject, JsonValue } from '../model';
import { formatInstant, isDateOnly, parseInstant } from '../normalize';

export function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** `data.a.b.c`, or undefined when any step is missing. */
export function at(data: unknown, ...path: string[]): unknown {
  let current: unknown = data;
  for (const key of path) {
    if (!isObject(current)) return undefined;
    current = current[key];
  }
  return current;
}

export function asString(value: JsonValue): string | null {
  return typeof value === 'string' ? value : null;
}

export function asStrings(value: JsonValue): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

// ---- Extended properties (graph-behaviour.md §3.1–§3.3) -------------------------------------------------------------

/** Reads a single-value extended property from `singleValueExtendedProperties: [{id, value}]`. */
export function readExtended(data: JsonObject, id: string): unknown {
  const props = data.singleValueExtendedProperties;
  if (!Array.isArray(props)) return undefined;
  // The Name part of the id is case-sensitive in filters, but Graph echoes ids with its own casing of the type and
  // the proptag hex digits, so type, GUID and tag are compared case-insensitively and the name exactly.
  const wanted = extendedKey(id);
  for (const prop of props) {
    if (isObject(prop) && typeof prop.id === 'string' && extendedKey(prop.id) === wanted) return prop.value;
  }
  return undefined;
}

function extendedKey(id: string): string {
  const match = /^(\S+)\s+(\{[^}]+\})\s+Name\s+(.+)$/i.exec(id.trim());
  if (match) return `${match[1]?.toLowerCase()} ${match[2]?.toLowerCase()} Name ${match[3]}`;
  return id.trim().toLowerCase();
}

/** Values are strings in Graph JSON (§3.2); clearing writes `""` because no delete is documented. */
export function writeExtended(id: string, value: string | null): JsonObject {
  return { singleValueExtendedProperties: [{ id, value: value ?? '' }] };
}

// ---- Dates ------------------------------------------------------------------------------------------------------------

/** Graph `dateTimeTimeZone` in UTC for an instant or (all-day) a date, with the 7 fraction digits Graph uses. */
export function toDateTimeTimeZone(value: JsonValue): JsonObject | null {
  if (typeof value !== 'string') return null;
  if (isDateOnly(value)) return { dateTime: `${value}T00:00:00.0000000`, timeZone: 'UTC' };
  const epoch = parseInstant(value);
  if (epoch === null) return null;
  return { dateTime: `${formatInstant(epoch).slice(0, 19)}.0000000`, timeZone: 'UTC' };
}

/** Midnight UTC of a date, the ISO form Graph `birthday` and SystemTime extended properties take. */
export function dateToMidnightUtc(value: JsonValue): string | null {
  return typeof value === 'string' && isDateOnly(value) ? `${value}T00:00:00Z` : null;
}

// ---- Dataverse --------------------------------------------------------------------------------------------------------

export const FORMATTED = '@OData.Community.Display.V1.FormattedValue';
export const LOOKUP_LOGICAL_NAME = '@Microsoft.Dynamics.CRM.lookuplogicalname';

export function attr(record: CrmRecord, name: string): unknown {
  return record.data[name];
}

export function partyAddresses(record: CrmRecord, mask: number): string[] {
  return record.parties
    .filter((p) => p.participationTypeMask === mask && typeof p.address === 'string')
    .map((p) => p.address as string);
}

/** Unresolved parties by address; the connector resolves addresses to records (DESIGN.md §2). */
export function partiesFor(mask: number, addresses: readonly string[]): CrmParty[] {
  return addresses.map((address) => ({ participationTypeMask: mask, address, party: null }));
}
