// Three-way merge per field against the baseline (DESIGN.md §5, the seed's OriginalXML):
// - a field changed on one side only takes that side's value;
// - changed on both sides to different values: the policy decides (`latest` compares Graph lastModifiedDateTime with
//   CRM modifiedon, equal within the clock-skew tolerance → tie-break; or `crm-wins` / `outlook-wins`) and the
//   conflict is logged with both values;
// - first link (no baseline) under `latest`: the tie-break side wins every true conflict. The timestamps say nothing
//   there: tagging an item in Outlook bumps its lastModifiedDateTime, so the stale side would always look newer;
// - changed on both sides to equal values is no conflict;
// - a side is written only for fields whose merged value differs from that side's current value.
import type { ConflictPolicy, FieldConflict, FieldValues, JsonValue, Side } from './model';
import { canonicalJson } from './hash';
import { comparisonKey, type FieldType } from './normalize';
import type { Direction } from './mappings/types';

export interface MergeField {
  name: string;
  /** Comparison semantics (e-mail addresses ignore case); default compares canonical JSON. */
  type?: FieldType;
  direction?: Direction;
  /** `any-true`: the merged value is true when either side is true (a sticky flag such as a cancellation). */
  rule?: 'any-true';
}

export interface MergeInput {
  fields: readonly MergeField[];
  /** Last synced values; null when the pair has never been synced (first link). */
  base: FieldValues | null;
  outlook: FieldValues;
  crm: FieldValues;
  outlookModified: string;
  crmModified: string;
  policy: ConflictPolicy;
  tieBreak: Side;
  /**
   * `latest`: timestamps this close count as equal and go to the tie-break (sync-lessons.md §1.3: Graph's and
   * Dataverse's clocks are different hosts' clocks). Default DEFAULT_SKEW_TOLERANCE_MS.
   */
  skewToleranceMs?: number;
}

/** Two minutes: well above the skew between two NTP-synchronized services, well below a human's edit interval. */
export const DEFAULT_SKEW_TOLERANCE_MS = 120_000;

export interface MergeResult {
  merged: Record<string, JsonValue>;
  /** Fields to write to Outlook: the merged value differs from Outlook's current value. */
  outlookWrites: string[];
  /** Fields to write to the CRM. */
  crmWrites: string[];
  conflicts: FieldConflict[];
}

function instantMs(iso: string): number {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? Number.NEGATIVE_INFINITY : ms;
}

/** Which side wins a true conflict under the policy. */
export function conflictWinner(input: Pick<MergeInput, 'policy' | 'tieBreak' | 'outlookModified' | 'crmModified' | 'skewToleranceMs'>): Side {
  if (input.policy === 'crm-wins') return 'crm';
  if (input.policy === 'outlook-wins') return 'outlook';
  const outlook = instantMs(input.outlookModified);
  const crm = instantMs(input.crmModified);
  const tolerance = Math.max(0, input.skewToleranceMs ?? DEFAULT_SKEW_TOLERANCE_MS);
  // An unparseable time (−∞) never ties with a real one, however large the tolerance.
  if (outlook === crm || (Number.isFinite(outlook) && Number.isFinite(crm) && Math.abs(outlook - crm) <= tolerance)) return input.tieBreak;
  return outlook > crm ? 'outlook' : 'crm';
}

function get(values: FieldValues | null, name: string): JsonValue {
  const v = values?.[name];
  return v === undefined ? null : v;
}

export function merge(input: MergeInput): MergeResult {
  const merged: Record<string, JsonValue> = {};
  const outlookWrites: string[] = [];
  const crmWrites: string[] = [];
  const conflicts: FieldConflict[] = [];
  // No baseline: nothing says which side changed last, and the item's timestamp was just bumped by the tagging.
  const winner = input.base === null && input.policy === 'latest' ? input.tieBreak : conflictWinner(input);

  for (const field of input.fields) {
    const type = field.type ?? 'text';
    const key = (v: JsonValue) => comparisonKey(type, v);
    const o = get(input.outlook, field.name);
    const c = get(input.crm, field.name);
    const direction = field.direction ?? 'both';
    let value: JsonValue;

    if (field.rule === 'any-true') value = o === true || c === true;
    // One way from the CRM, but a CRM without a value (a contact without a parent account) does not clear Outlook's.
    else if (direction === 'crm-to-outlook') value = c === null ? o : c;
    else if (direction === 'outlook-to-crm') value = o;
    else if (key(o) === key(c)) {
      // Equal on both sides (changed or not): no conflict. Prefer the baseline's spelling when it is still equal, so a
      // case-only difference between the sides never causes a write.
      const b = get(input.base, field.name);
      if (canonicalJson(o) === canonicalJson(c)) value = o;
      else value = input.base !== null && key(b) === key(o) ? b : winner === 'outlook' ? o : c;
    } else if (input.base === null) {
      // First link: no baseline to tell who changed. A value on one side only fills the other; otherwise the policy.
      if (o === null) value = c;
      else if (c === null) value = o;
      else {
        value = winner === 'outlook' ? o : c;
        conflicts.push(conflict(field.name, undefined, o, c, winner, input));
      }
    } else {
      const b = get(input.base, field.name);
      const outlookChanged = key(o) !== key(b);
      const crmChanged = key(c) !== key(b);
      if (outlookChanged && !crmChanged) value = o;
      else if (crmChanged && !outlookChanged) value = c;
      else {
        value = winner === 'outlook' ? o : c;
        conflicts.push(conflict(field.name, b, o, c, winner, input));
      }
    }

    merged[field.name] = value;
    if (direction !== 'outlook-to-crm' && key(o) !== key(value)) outlookWrites.push(field.name);
    if (direction !== 'crm-to-outlook' && key(c) !== key(value)) crmWrites.push(field.name);
  }
  return { merged, outlookWrites, crmWrites, conflicts };
}

function conflict(field: string, base: JsonValue | undefined, outlook: JsonValue, crm: JsonValue, winner: Side, input: MergeInput): FieldConflict {
  return { field, base, outlook, crm, winner, outlookModified: input.outlookModified, crmModified: input.crmModified };
}
