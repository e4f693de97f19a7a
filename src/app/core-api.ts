// The few pure-core functions the app calls, in one place: the planner decides, the app only executes.
import type { CrmRecord, FieldValues, ItemKind, OutlookItem } from '../core/model';
import { differingFields } from '../core/compare';
import { baselineForComparing, fieldsOfCrm, fieldsOfOutlook, hashFields } from '../core/fields';
import { activeFields, DEFAULT_PRODUCT_GUID, directionOf, mappingFor } from '../core/mappings';
import { pendingCreateKeyOf, plan, PENDING_CREATE_KEY, PENDING_CRM_ID } from '../core/planner';
import type { Plan, PlanInput } from '../core/plan';
import type { RunContext } from './run-context';

export { canonicalJson, fnv1a64 } from '../core/hash';
export { baselineAfterCreate } from '../core/after-create';
export { isDeferredPlan, OUT_OF_VIEW_DEFERRED } from '../core/outcomes';
export { isStillTracked } from '../core/rules';
export { PENDING_CREATE_KEY, PENDING_CRM_ID, pendingCreateKeyOf };

export function planPair(input: PlanInput): Plan {
  return plan(input);
}

export function hashBaseline(baseline: FieldValues): string {
  return hashFields(baseline);
}

function fieldMappingOf(ctx: RunContext, kind: ItemKind) {
  return ctx.options.fieldMappings[kind] ?? mappingFor(kind);
}

export function outlookFields(ctx: RunContext, kind: ItemKind, item: OutlookItem): FieldValues {
  return fieldsOfOutlook(item, ctx.settings.kinds[kind], ctx.options.productGuid ?? DEFAULT_PRODUCT_GUID, fieldMappingOf(ctx, kind));
}

/** With `baseline`, a CRM value unchanged since that baseline reads as it was synced (a time zone changed meanwhile). */
export function crmFields(ctx: RunContext, kind: ItemKind, record: CrmRecord, baseline?: FieldValues): FieldValues {
  return fieldsOfCrm(record, ctx.settings.kinds[kind], fieldMappingOf(ctx, kind), baseline);
}

/**
 * Fields whose value on `side` can change the pair after creation: not createOnly (e-mail), and not one-way from the
 * other side (a CRM value of an Outlook-to-CRM field is never read back).
 */
export function fieldsSyncedFrom(ctx: RunContext, kind: ItemKind, side: 'outlook' | 'crm'): Set<string> {
  const ignored = side === 'outlook' ? 'crm-to-outlook' : 'outlook-to-crm';
  return new Set(
    activeFields(fieldMappingOf(ctx, kind), ctx.settings.kinds[kind])
      .filter((field) => !field.createOnly && directionOf(field) !== ignored)
      .map((field) => field.field),
  );
}

/**
 * One-way fields whose value is read on `side` only (an event's organizer from Outlook, a company name from the CRM):
 * the merge compares that side's value with the baseline, and never writes that side.
 */
export function oneWayFieldsFrom(ctx: RunContext, kind: ItemKind, side: 'outlook' | 'crm'): string[] {
  const direction = side === 'outlook' ? 'outlook-to-crm' : 'crm-to-outlook';
  return activeFields(fieldMappingOf(ctx, kind), ctx.settings.kinds[kind])
    .filter((field) => !field.createOnly && directionOf(field) === direction)
    .map((field) => field.field);
}

/**
 * Whether `values` read on `side` differ from the baseline in a field that side can change, compared as the merge
 * compares (per field type: an e-mail address without case), so reconciliation never reports what the merge ignores.
 */
export function differsFromBaseline(ctx: RunContext, kind: ItemKind, side: 'outlook' | 'crm', values: FieldValues, baseline: FieldValues): boolean {
  const mapping = fieldMappingOf(ctx, kind);
  const fields = activeFields(mapping, ctx.settings.kinds[kind]);
  const comparable = baselineForComparing(baseline, ctx.settings.kinds[kind], mapping);
  return differingFields(fields, values, comparable, fieldsSyncedFrom(ctx, kind, side)).length > 0;
}
