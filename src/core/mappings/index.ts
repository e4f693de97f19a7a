// The mapping registry, the settings filter, and admin overrides (validated here with plain TypeScript: core has no
// packages; the config layer's zod schema can delegate to `applyMappingOverrides` and report its errors).
import type { ItemKind, JsonObject, KindSettings } from '../model';
import { appointmentMapping } from './appointment';
import { contactMapping } from './contact';
import { emailMapping } from './email';
import { taskMapping } from './task';
import type { Direction, FieldDescriptor, KindMapping } from './types';
import { isObject } from './wire';

export * from './types';
export * from './extended-properties';

export const DEFAULT_MAPPINGS: Readonly<Record<ItemKind, KindMapping>> = {
  contact: contactMapping,
  appointment: appointmentMapping,
  task: taskMapping,
  email: emailMapping,
};

export function mappingFor(kind: ItemKind): KindMapping {
  return DEFAULT_MAPPINGS[kind];
}

/** The fields that sync under these settings. */
export function activeFields(mapping: KindMapping, settings: KindSettings): FieldDescriptor[] {
  return mapping.fields.filter((f) => !f.when || f.when(settings));
}

export function directionOf(field: FieldDescriptor): Direction {
  return field.direction ?? 'both';
}

export interface FieldOverride {
  field: string;
  /** `none` stops syncing the field. A one-way field can only be turned off. */
  direction?: Direction | 'none';
  /** Another Dataverse column for a single-column field (e.g. a custom `new_fax`). */
  crmAttribute?: string;
}

export type OverrideResult = { ok: true; mapping: KindMapping } | { ok: false; errors: string[] };

const DIRECTIONS = new Set(['both', 'crm-to-outlook', 'outlook-to-crm', 'none']);
const LOGICAL_NAME = /^[a-z_][a-z0-9_]*$/;
/** Lookups are read through annotations and written through navigation properties: not remappable by name. */
const NOT_REMAPPABLE = new Set(['parentcustomerid', 'regardingobjectid']);

function isRemappable(field: FieldDescriptor): boolean {
  const [target, ...rest] = field.crmTargets;
  return target !== undefined && rest.length === 0 && !target.startsWith('party:') && !NOT_REMAPPABLE.has(target);
}

/** Presents column `to` to the original reader as `from`, and renames `from` to `to` in what it writes. */
function remap(field: FieldDescriptor, to: string): FieldDescriptor {
  const from = field.crmTargets[0] as string;
  return {
    ...field,
    crmTargets: [to],
    crm: {
      read: (record) => field.crm.read({ ...record, data: { ...record.data, [from]: record.data[to] ?? null } }),
      write: (value, values) => {
        const fragment = field.crm.write(value, values);
        if (!fragment.attributes || !(from in fragment.attributes)) return fragment;
        const attributes: JsonObject = { ...fragment.attributes, [to]: fragment.attributes[from] ?? null };
        delete attributes[from];
        return { ...fragment, attributes };
      },
    },
  };
}

/**
 * Validates admin overrides for one kind and returns the resulting mapping. Rejects unknown fields, a field
 * overridden twice, bad directions, remaps of fields that are not a single plain column, and two fields that would
 * write one target (outside a group that is written as one unit).
 */
export function applyMappingOverrides(kind: ItemKind, overrides: unknown, base: KindMapping = mappingFor(kind)): OverrideResult {
  const errors: string[] = [];
  if (!Array.isArray(overrides)) return { ok: false, errors: [`${kind}: overrides must be a list`] };
  const byName = new Map(base.fields.map((f) => [f.field, f]));
  const seen = new Set<string>();
  const changed = new Map<string, FieldDescriptor | null>();
  overrides.forEach((raw: unknown, index) => {
    const where = `${kind} override #${index + 1}`;
    if (!isObject(raw) || typeof raw.field !== 'string') {
      errors.push(`${where}: needs a "field" name`);
      return;
    }
    const unknownKeys = Object.keys(raw).filter((k) => !['field', 'direction', 'crmAttribute'].includes(k));
    if (unknownKeys.length > 0) errors.push(`${where}: unknown setting(s) ${unknownKeys.join(', ')}`);
    const field = byName.get(raw.field);
    if (!field) {
      errors.push(`${where}: unknown field "${raw.field}" (known: ${[...byName.keys()].join(', ')})`);
      return;
    }
    if (seen.has(raw.field)) {
      errors.push(`${where}: field "${raw.field}" is overridden twice`);
      return;
    }
    seen.add(raw.field);
    let result: FieldDescriptor | null = field;
    if (raw.direction !== undefined) {
      if (typeof raw.direction !== 'string' || !DIRECTIONS.has(raw.direction)) {
        errors.push(`${where}: direction must be one of ${[...DIRECTIONS].join(', ')}`);
      } else if (raw.direction === 'none') {
        result = null;
      } else if (directionOf(field) !== 'both' && raw.direction !== directionOf(field)) {
        errors.push(`${where}: "${raw.field}" is one-way (${directionOf(field)}); it can only be turned off`);
      } else {
        result = { ...field, direction: raw.direction as Direction };
      }
    }
    if (raw.crmAttribute !== undefined) {
      if (typeof raw.crmAttribute !== 'string' || !LOGICAL_NAME.test(raw.crmAttribute)) {
        errors.push(`${where}: crmAttribute must be a Dataverse logical name`);
      } else if (!isRemappable(field)) {
        errors.push(`${where}: "${raw.field}" is not a single plain column and cannot be remapped`);
      } else if (result) {
        result = remap(result, raw.crmAttribute);
      }
    }
    changed.set(raw.field, result);
  });

  const fields = base.fields
    .map((f) => (changed.has(f.field) ? changed.get(f.field) ?? null : f))
    .filter((f): f is FieldDescriptor => f !== null);
  errors.push(...targetCollisions(kind, fields));
  return errors.length > 0 ? { ok: false, errors } : { ok: true, mapping: { ...base, fields } };
}

function targetCollisions(kind: ItemKind, fields: readonly FieldDescriptor[]): string[] {
  const errors: string[] = [];
  for (const side of ['crm', 'outlook'] as const) {
    const owners = new Map<string, FieldDescriptor>();
    for (const field of fields) {
      const direction = directionOf(field);
      if (side === 'crm' && direction === 'crm-to-outlook') continue;
      if (side === 'outlook' && direction === 'outlook-to-crm') continue;
      for (const target of side === 'crm' ? field.crmTargets : field.outlookTargets) {
        const owner = owners.get(target);
        if (owner && !(owner.group !== undefined && owner.group === field.group)) {
          errors.push(`${kind}: "${owner.field}" and "${field.field}" both map to ${side} target "${target}"`);
        } else if (!owner) owners.set(target, field);
      }
    }
  }
  return errors;
}
