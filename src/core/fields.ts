// Reading normalized field values from either side, and turning merged values into the writes for each side.
import { canonicalJson, hashJson } from './hash';
import type { CrmParty, CrmRecord, CrmWrite, FieldValues, JsonObject, JsonValue, KindSettings, OutlookItem, OutlookWrite } from './model';
import { normalizeValue } from './normalize';
import { activeFields, DEFAULT_PRODUCT_GUID, directionOf, mappingFor, type FieldDescriptor, type KindMapping, type MappingContext } from './mappings';
import type { MergeField } from './merge';
import { UnreadableValue, type UnreadableField } from './unreadable';

function derived(mapping: KindMapping, values: Record<string, JsonValue>): FieldValues {
  mapping.derive?.(values);
  return values;
}

/**
 * A read value, normalized. An `UnreadableValue` reads as null here (values stay plain JSON) and is reported to
 * `unreadable` when the caller collects them: callers that merge must leave those fields out (see syncPair).
 */
function readValue(field: FieldDescriptor, raw: unknown, side: UnreadableField['side'], unreadable: UnreadableField[] | undefined): JsonValue {
  if (raw instanceof UnreadableValue) {
    unreadable?.push({ field: field.field, side, reason: raw.reason });
    return null;
  }
  return normalizeValue(field.spec, raw);
}

export function readOutlookValues(
  mapping: KindMapping,
  fields: readonly FieldDescriptor[],
  item: OutlookItem,
  productGuid: string,
  unreadable?: UnreadableField[],
): FieldValues {
  const ctx: MappingContext = { productGuid, item };
  const values: Record<string, JsonValue> = {};
  for (const field of fields) values[field.field] = readValue(field, field.outlook.read(item.data, ctx), 'outlook', unreadable);
  return derived(mapping, values);
}

/** `readAs`: raw values to take instead of the fields' readers (readings against a baseline: FieldDescriptor.sinceBaseline). */
export function readCrmValues(
  mapping: KindMapping,
  fields: readonly FieldDescriptor[],
  record: CrmRecord,
  unreadable?: UnreadableField[],
  readAs?: ReadonlyMap<string, JsonValue>,
): FieldValues {
  const values: Record<string, JsonValue> = {};
  for (const field of fields) {
    const raw = readAs?.has(field.field) ? readAs.get(field.field) : field.crm.read(record);
    values[field.field] = readValue(field, raw, 'crm', unreadable);
  }
  return derived(mapping, values);
}

/**
 * A linked pair's baseline for comparing (stored values of an earlier form in the field's form) and the CRM values read
 * against the stored baseline (FieldDescriptor.sinceBaseline), which replace the fields' readers (readCrmValues
 * `readAs`). Callers that compare a record with a baseline outside the planner (reconciliation) need both, or they see
 * changes the planner then ignores. Without a baseline, nothing.
 */
export function readingsSince(
  fields: readonly FieldDescriptor[],
  baseline: FieldValues | null,
  record: CrmRecord | null,
): { base: FieldValues | null; crm: Map<string, JsonValue> } {
  const crm = new Map<string, JsonValue>();
  if (!baseline) return { base: null, crm };
  let base: Record<string, JsonValue> | null = null;
  for (const f of fields) {
    if (!f.sinceBaseline || !(f.field in baseline)) continue;
    const converted = f.sinceBaseline.upgrade(baseline[f.field] ?? null);
    if (converted !== undefined) (base ??= { ...baseline })[f.field] = converted;
    const read = record ? f.sinceBaseline.crm(record, baseline) : undefined;
    if (read !== undefined) crm.set(f.field, read);
  }
  return { base: base ?? baseline, crm };
}

/** Normalizes values of this mapping (idempotent) and applies its derivations. */
export function normalizeValues(mapping: KindMapping, fields: readonly FieldDescriptor[], values: FieldValues): FieldValues {
  const out: Record<string, JsonValue> = {};
  for (const field of fields) out[field.field] = normalizeValue(field.spec, values[field.field] ?? null);
  return derived(mapping, out);
}

/**
 * Normalized mapped fields of an Outlook item under the mailbox's settings for its kind. Fields whose value cannot be
 * read (an unknown time zone) read as null and are listed in `unreadable` when given: compare them with nothing.
 */
export function fieldsOfOutlook(
  item: OutlookItem,
  settings: KindSettings,
  productGuid = DEFAULT_PRODUCT_GUID,
  mapping = mappingFor(item.kind),
  unreadable?: UnreadableField[],
): FieldValues {
  return readOutlookValues(mapping, activeFields(mapping, settings), item, productGuid, unreadable);
}

/**
 * Normalized mapped fields of a CRM record under the mailbox's settings for its kind. With the pair's stored
 * `baseline`, read as the planner reads them against it (readingsSince).
 */
export function fieldsOfCrm(record: CrmRecord, settings: KindSettings, mapping = mappingFor(record.kind), baseline?: FieldValues): FieldValues {
  const fields = activeFields(mapping, settings);
  return readCrmValues(mapping, fields, record, undefined, baseline ? readingsSince(fields, baseline, record).crm : undefined);
}

/** A stored baseline with values of an earlier form in their fields' form, as the planner compares it (readingsSince). */
export function baselineForComparing(baseline: FieldValues, settings: KindSettings, mapping: KindMapping): FieldValues {
  return readingsSince(activeFields(mapping, settings), baseline, null).base ?? baseline;
}

/**
 * Hash of the mapped fields, for cheap change detection (DESIGN.md §5). Keys starting with `@` are bookkeeping the
 * planner keeps in the baseline (e.g. the CRM owner) and are not part of the content.
 */
export function hashFields(values: FieldValues): string {
  const content: JsonObject = {};
  for (const [key, value] of Object.entries(values)) if (!key.startsWith('@')) content[key] = value;
  return hashJson(content);
}

export function mergeFieldsOf(fields: readonly FieldDescriptor[]): MergeField[] {
  return fields.map((f) => ({ name: f.field, type: f.spec.type, direction: directionOf(f), ...(f.mergeRule ? { rule: f.mergeRule } : {}) }));
}

/** The named fields plus every field written in the same unit (group) on that side. */
function withGroups(fields: readonly FieldDescriptor[], names: readonly string[], side: 'outlook' | 'crm'): FieldDescriptor[] {
  const wanted = new Set(names);
  const skip = side === 'outlook' ? 'outlook-to-crm' : 'crm-to-outlook';
  const groups = new Set(fields.filter((f) => wanted.has(f.field) && f.group && directionOf(f) !== skip).map((f) => f.group));
  return fields.filter((f) => (wanted.has(f.field) || (f.group !== undefined && groups.has(f.group))) && directionOf(f) !== skip);
}

function mergeOutlookFragment(target: JsonObject, fragment: JsonObject): void {
  for (const [key, value] of Object.entries(fragment)) {
    const existing = target[key];
    if (key === 'singleValueExtendedProperties' && Array.isArray(existing) && Array.isArray(value)) {
      target[key] = [...existing, ...value];
    } else {
      target[key] = value;
    }
  }
}

/**
 * The Graph properties that carry these fields' merged values; null when there is nothing to write. `current` is the
 * item being updated: list properties (attendees, e-mail addresses) are edited from it, so what the mapping does not
 * carry (rooms, display names, responses) survives the PATCH that replaces the list.
 */
export function buildOutlookWrite(
  fields: readonly FieldDescriptor[],
  names: readonly string[],
  values: FieldValues,
  productGuid: string,
  current?: OutlookItem,
): OutlookWrite | null {
  const data: JsonObject = {};
  const ctx: MappingContext = current ? { productGuid, item: current } : { productGuid };
  for (const field of withGroups(fields, names, 'outlook')) {
    mergeOutlookFragment(data, field.outlook.write(values[field.field] ?? null, values, ctx));
  }
  return Object.keys(data).length === 0 ? null : { data };
}

/** The Dataverse attributes, parties and regarding that carry these fields' merged values; null when nothing. */
export function buildCrmWrite(fields: readonly FieldDescriptor[], names: readonly string[], values: FieldValues): CrmWrite | null {
  const attributes: JsonObject = {};
  const parties = new Map<string, CrmParty>();
  let partiesWritten = false;
  let regarding: CrmWrite['regarding'];
  for (const field of withGroups(fields, names, 'crm')) {
    const fragment = field.crm.write(values[field.field] ?? null, values);
    Object.assign(attributes, fragment.attributes ?? {});
    if (fragment.parties) {
      partiesWritten = true;
      for (const party of fragment.parties) parties.set(canonicalJson(party as unknown as JsonValue), party);
    }
    if (fragment.regarding !== undefined) regarding = fragment.regarding;
  }
  const write: CrmWrite = { attributes };
  if (partiesWritten) write.parties = [...parties.values()];
  if (regarding !== undefined) write.regarding = regarding;
  return Object.keys(attributes).length === 0 && !partiesWritten && regarding === undefined ? null : write;
}
