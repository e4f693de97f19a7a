// The baseline of a pair just created, from what the create actually produced. A create is idempotent (DESIGN.md §4):
// a retried create whose first response was lost gets back the record (or item) the first attempt made, WITHOUT this
// attempt's values applied. The plan's baseline is what the plan meant to write; where the returned record holds
// something else, the baseline must say so, or the next cycle reads the difference as a change made on the created
// side and writes those stale values back over the newer ones on the side the create came from.
import type { CrmRecord, FieldValues, JsonValue, OutlookItem } from './model';
import { readCrmValues, readOutlookValues } from './fields';
import { activeFields, DEFAULT_PRODUCT_GUID, directionOf } from './mappings';
import { sameValue } from './normalize';
import { mappingOfContext, type Plan, type PlanContext } from './plan';
import { CRM_OWNER_KEY } from './rules';

export interface CreatedSides {
  /** The record `CrmConnector.create` returned (null when the plan created nothing in the CRM). */
  crmRecord: CrmRecord | null;
  /** The item `MailboxSource.createItem` returned (null when the plan created nothing in Outlook). */
  outlookItem: OutlookItem | null;
}

/**
 * The baseline to store after executing `plan` (null when the plan stores no mapping). For every two-way field where
 * the created record/item holds a different value than the plan wrote, the baseline takes the created side's value:
 * the baseline then equals what that side holds, the source side differs from it, and the next cycle's merge counts
 * the source side's value as the change, which wins and is written to the created side (a one-sided change, no
 * conflict). A fresh create that applied the write returns what was written, and the baseline stays as planned.
 * One-way and create-only fields keep the planned value: the merge never reads their baseline.
 */
export function baselineAfterCreate(plan: Plan, created: CreatedSides, context: PlanContext): FieldValues | null {
  if (plan.mapping.type !== 'put') return null;
  const planned = plan.mapping.baseline;
  const mapping = mappingOfContext(context);
  const active = activeFields(mapping, context.settings);
  const fields = active.filter((f) => directionOf(f) === 'both' && !f.createOnly);
  let held: FieldValues | null = null;
  const baseline: Record<string, JsonValue> = { ...planned };
  if (plan.crm.type === 'create' && created.crmRecord) {
    held = readCrmValues(mapping, active, created.crmRecord);
    if (created.crmRecord.ownerId !== null) baseline[CRM_OWNER_KEY] = created.crmRecord.ownerId;
  } else if (plan.outlook.type === 'create' && created.outlookItem) {
    held = readOutlookValues(mapping, active, created.outlookItem, context.productGuid ?? DEFAULT_PRODUCT_GUID);
  }
  if (held === null) return planned;
  for (const field of fields) {
    const value = held[field.field] ?? null;
    if (!sameValue(field.spec.type, value, planned[field.field] ?? null)) baseline[field.field] = value;
  }
  return baseline;
}
