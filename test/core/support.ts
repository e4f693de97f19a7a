// Fixtures, faithful little "apply a write" models of both sides, and realistic value generators for the core tests.
import fc from 'fast-check';
import type { CrmRecord, CrmWrite, FieldValues, ItemKind, JsonObject, JsonValue, KindSettings, MappingRow, OutlookItem, OutlookWrite } from '../../src/core/model';
import type { PlanContext, TrackingUpkeep } from '../../src/core/plan';
import { LOOKUP_LOGICAL_NAME } from '../../src/core/mappings/wire';
import type { FieldDescriptor } from '../../src/core/mappings';
import type { ValueSpec } from '../../src/core/normalize';
import { buildCrmWrite, buildOutlookWrite } from '../../src/core/fields';

/** `LONG_PROPERTY_RUNS=1` raises the number of cases from ~100 to ~10,000. */
export const NUM_RUNS = process.env.LONG_PROPERTY_RUNS ? 10_000 : 100;

export const ME = 'user-me';
export const OTHER_USER = 'user-other';
export const NOW = '2026-06-15T12:00:00Z';
export const GUID = '6c1f3a52-8e4b-4c1d-9a0e-5b7d2f3c4e81';

export function settings(overrides: Partial<KindSettings> = {}): KindSettings {
  return {
    enabled: true,
    syncFromCrm: true,
    conflictPolicy: 'latest',
    tieBreak: 'crm',
    deleteInCrmOnUntrack: false,
    updateCompanyField: false,
    ...overrides,
  };
}

export function context(kind: ItemKind, overrides: Partial<PlanContext> = {}): PlanContext {
  return { kind, settings: settings(), ownerCrmUserId: ME, now: NOW, categoryName: 'Tracked to CRM', productGuid: GUID, ...overrides };
}

export function item(kind: ItemKind, data: JsonObject, overrides: Partial<OutlookItem> = {}): OutlookItem {
  return {
    kind,
    id: `o-${kind}-1`,
    container: kind === 'email' ? 'inbox' : kind === 'appointment' ? 'calendar' : 'folder',
    changeKey: 'ck1',
    lastModified: '2026-06-01T10:00:00Z',
    tracking: { marker: kind !== 'task', category: true },
    crmId: `c-${kind}-1`,
    regardingId: null,
    linkId: null,
    isDraft: false,
    data,
    ...overrides,
  };
}

export function record(kind: ItemKind, data: JsonObject, overrides: Partial<CrmRecord> = {}): CrmRecord {
  return {
    kind,
    id: `c-${kind}-1`,
    version: 'W/"100"',
    modifiedOn: '2026-06-01T09:00:00Z',
    ownerId: OTHER_USER,
    data,
    parties: [],
    ...overrides,
  };
}

export function mappingRow(kind: ItemKind, baseline: FieldValues, overrides: Partial<MappingRow> = {}): MappingRow {
  return {
    mapId: `m-${kind}-1`,
    kind,
    outlookId: `o-${kind}-1`,
    crmId: `c-${kind}-1`,
    state: 'linked',
    trackedVia: 'crm',
    baseline,
    baselineHash: 'unused',
    outlookVersion: 'ck1',
    crmVersion: 'W/"100"',
    visitedEpoch: 1,
    verifiedAt: null,
    ...overrides,
  };
}

// ---- Applying writes the way the two services do ------------------------------------------------------------------

/** Graph PATCH: top-level properties are replaced; single-value extended properties are set by id (§3.2). */
export function applyOutlookWrite(target: OutlookItem, write: OutlookWrite | null, tracking: TrackingUpkeep | null = null): OutlookItem {
  const data: JsonObject = { ...target.data };
  for (const [key, value] of Object.entries(write?.data ?? {})) {
    if (key === 'singleValueExtendedProperties' && Array.isArray(value)) {
      const existing = Array.isArray(data[key]) ? (data[key] as JsonValue[]) : [];
      const byId = new Map<string, JsonValue>();
      for (const prop of [...existing, ...value]) {
        if (prop && typeof prop === 'object' && !Array.isArray(prop) && typeof prop.id === 'string') byId.set(prop.id.toLowerCase(), prop);
      }
      data[key] = [...byId.values()];
    } else {
      data[key] = value;
    }
  }
  const next: OutlookItem = { ...target, data, lastModified: bump(target.lastModified) };
  if (tracking) {
    next.tracking = { marker: target.kind === 'task' ? false : tracking.marker, category: tracking.category };
    next.crmId = tracking.crmId;
  }
  return next;
}

/** Dataverse PATCH: attributes set; the party list replaced when written; regarding bound or cleared (§4.1, §4.2). */
export function applyCrmWrite(target: CrmRecord, write: CrmWrite | null): CrmRecord {
  if (!write) return target;
  const data: JsonObject = { ...target.data, ...write.attributes };
  if (write.regarding !== undefined) {
    data._regardingobjectid_value = write.regarding ? write.regarding.id : null;
    data[`_regardingobjectid_value${LOOKUP_LOGICAL_NAME}`] = write.regarding ? write.regarding.entity : null;
  }
  return { ...target, data, parties: write.parties ?? target.parties, modifiedOn: bump(target.modifiedOn), version: `W/"${Number(/\d+/.exec(target.version)?.[0] ?? 0) + 1}"` };
}

function bump(iso: string): string {
  return new Date(Date.parse(iso) + 60_000).toISOString().replace('.000Z', 'Z');
}

// ---- Value generators -------------------------------------------------------------------------------------------------

const ws = fc.constantFrom('', ' ', '  ', '\t', '\u00a0');
/** Unicode text with astral characters and combining marks, sometimes padded, sometimes empty. */
export const unicodeText = fc
  .tuple(ws, fc.oneof(fc.string({ unit: 'grapheme', maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 8 }), fc.constantFrom('Zoë', 'e\u0301clair', 'Ǆemal', '𝒜lice 😀', '李小龙', 'Ølaf-Ästrøm')), ws)
  .map(([a, t, b]) => `${a}${t}${b}`);

const bodyLine = fc.oneof(unicodeText, fc.constantFrom('', '   ', 'Regards,', '> quoted'));
export const bodyText = fc
  .tuple(fc.array(bodyLine, { maxLength: 8 }), fc.constantFrom('\n', '\r\n', '\r'), fc.integer({ min: 0, max: 2600 }))
  .map(([lines, eol, pad]) => lines.join(eol) + (pad > 2400 ? 'x'.repeat(pad) : ''));

const domain = fc.constantFrom('contoso.com', 'Fabrikam.COM', 'example.org', 'xn--mnchen-3ya.de');
export const emailAddress = fc
  .tuple(fc.stringMatching(/^[A-Za-z][A-Za-z0-9._-]{0,10}$/), domain, ws)
  .map(([local, d, pad]) => `${pad}${local}@${d}`);
export const phone = fc.stringMatching(/^\+?[0-9]{1,3}( ?\(?[0-9]{2,4}\)?)? [0-9]{3,4}[- ]?[0-9]{2,4}$/);

const epoch = fc.integer({ min: Date.UTC(1950, 0, 1), max: Date.UTC(2090, 0, 1) });
export const instantText = fc
  .tuple(epoch, fc.constantFrom('Z', '.0000000Z', '.123Z', '+02:00', '-05:30', ''))
  .map(([ms, suffix]) => {
    const iso = new Date(ms).toISOString().slice(0, 19);
    if (suffix === '+02:00') return new Date(ms + 2 * 3_600_000).toISOString().slice(0, 19) + suffix;
    if (suffix === '-05:30') return new Date(ms - 5.5 * 3_600_000).toISOString().slice(0, 19) + suffix;
    return iso + suffix;
  });
export const dateText = epoch.map((ms) => new Date(ms).toISOString().slice(0, 10));

function maybeEmpty<T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | string | null> {
  return fc.oneof({ weight: 4, arbitrary: arb }, { weight: 1, arbitrary: fc.constantFrom<string | null>('', null, '   ') });
}

/** A realistic raw value for a field spec (before normalization): empties, padding, odd formats included. */
export function rawValue(spec: ValueSpec): fc.Arbitrary<JsonValue> {
  switch (spec.type) {
    case 'text':
      return maybeEmpty(unicodeText);
    case 'body':
      return maybeEmpty(bodyText);
    case 'street':
      return maybeEmpty(fc.array(unicodeText, { maxLength: 5 }).map((lines) => lines.join('\r\n')));
    case 'instant':
      return maybeEmpty(instantText);
    case 'date':
      return maybeEmpty(dateText);
    case 'instantOrDate':
      return maybeEmpty(fc.oneof(instantText, dateText));
    case 'bool':
      return fc.boolean();
    case 'int':
      return fc.option(fc.integer({ min: 0, max: 100_000 }), { nil: null });
    case 'choice':
      return fc.option(fc.constantFrom(...(spec.choices ?? ['x'])), { nil: null });
    case 'email':
      return maybeEmpty(emailAddress);
    case 'emailList':
    case 'addressSet':
      return fc.array(emailAddress, { maxLength: 5 });
    case 'phone':
      return maybeEmpty(phone);
    case 'phoneList':
      return fc.array(maybeEmpty(phone), { maxLength: 3 }) as fc.Arbitrary<JsonValue>;
    case 'textList':
      return fc.array(unicodeText, { maxLength: 4 });
  }
}

/** Raw values for all fields of a kind; appointment boundaries are coherent (end after start, dates when all-day). */
export function rawValues(kind: ItemKind, fields: readonly FieldDescriptor[]): fc.Arbitrary<Record<string, JsonValue>> {
  const arbs: Record<string, fc.Arbitrary<JsonValue>> = {};
  for (const f of fields) arbs[f.field] = rawValue(f.spec);
  if (kind === 'email') arbs.regarding = fc.option(fc.tuple(fc.constantFrom('account', 'contact', 'opportunity'), fc.uuid()).map(([e, id]) => `${e}:${id}`), { nil: null });
  const base = fc.record(arbs);
  if (kind !== 'appointment') return base;
  return fc
    .tuple(base, fc.boolean(), epoch, fc.integer({ min: 0, max: 14 * 24 * 60 }))
    .map(([values, allDay, startMs, minutes]) => {
      const start = Math.floor(startMs / 60_000) * 60_000;
      if (allDay) {
        const day = Math.floor(start / 86_400_000) * 86_400_000;
        const days = 1 + (minutes % 5);
        return { ...values, isAllDay: true, start: iso(day).slice(0, 10), end: iso(day + days * 86_400_000).slice(0, 10) };
      }
      return { ...values, isAllDay: false, start: iso(start), end: iso(start + minutes * 60_000) };
    });
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * An Outlook item holding these normalized values: the writable fields through the mapping's own Outlook write, the
 * properties Outlook owns (never written by the worker: event organizer and cancellation, everything of a received
 * message) as Graph returns them.
 */
export function outlookItemFrom(kind: ItemKind, fields: readonly FieldDescriptor[], values: FieldValues, overrides: Partial<OutlookItem> = {}): OutlookItem {
  const addr = (a: JsonValue | undefined) => ({ emailAddress: { address: typeof a === 'string' ? a : null } });
  const list = (v: JsonValue | undefined) => (Array.isArray(v) ? v.map(addr) : []);
  let native: JsonObject = {};
  if (kind === 'appointment') native = { isCancelled: values.isCancelled === true, ...(values.organizer ? { organizer: addr(values.organizer) } : {}) };
  if (kind === 'email') {
    native = {
      subject: values.subject ?? null,
      body: { contentType: 'text', content: typeof values.body === 'string' ? values.body : '' },
      ...(values.from ? { from: addr(values.from) } : {}),
      toRecipients: list(values.to),
      ccRecipients: list(values.cc),
      internetMessageId: values.internetMessageId ?? null,
      sentDateTime: values.sentDateTime ?? null,
      receivedDateTime: values.receivedDateTime ?? null,
    };
  }
  const writable = fields.filter((f) => (f.direction ?? 'both') !== 'outlook-to-crm').map((f) => f.field);
  const base = item(kind, native, { container: kind === 'email' && values.direction === 'outgoing' ? 'sentitems' : item(kind, {}).container, ...overrides });
  return applyOutlookWrite(base, buildOutlookWrite(fields, writable, values, GUID));
}

export function crmRecordFrom(kind: ItemKind, fields: readonly FieldDescriptor[], values: FieldValues, overrides: Partial<CrmRecord> = {}): CrmRecord {
  const writable = fields.filter((f) => (f.direction ?? 'both') !== 'crm-to-outlook').map((f) => f.field);
  return applyCrmWrite(record(kind, {}, overrides), buildCrmWrite(fields, writable, values));
}
