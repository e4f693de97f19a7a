// Field equality as the merge sees it (DESIGN.md §5): per field type, so e-mail addresses compare without case and a
// case-only difference is never a change. Callers outside the planner (reconciliation) must compare the same way, or
// they see changes the merge then ignores.
import type { FieldValues, JsonValue } from './model';
import type { FieldDescriptor } from './mappings';
import { sameValue } from './normalize';

export function sameFieldValue(field: Pick<FieldDescriptor, 'spec'>, a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  return sameValue(field.spec.type, a ?? null, b ?? null);
}

/** The fields (of `fields`, optionally only those in `only`) whose values differ between `a` and `b`. */
export function differingFields(fields: readonly FieldDescriptor[], a: FieldValues, b: FieldValues, only?: ReadonlySet<string>): string[] {
  return fields.filter((f) => (!only || only.has(f.field)) && !sameFieldValue(f, a[f.field], b[f.field])).map((f) => f.field);
}
