// Descriptor builders for the common shapes: a Graph scalar ↔ a Dataverse column, a MAPI extended property ↔ a column.
import type { FieldValues, JsonValue } from '../model';
import type { FieldType, ValueSpec } from '../normalize';
import type { Direction, FieldDescriptor } from './types';
import { attr, readExtended, writeExtended } from './wire';

interface ScalarOptions {
  type?: FieldType;
  maxLength?: number;
  direction?: Direction;
  createOnly?: boolean;
}

function specOf(options: ScalarOptions): ValueSpec {
  return { type: options.type ?? 'text', ...(options.maxLength !== undefined ? { maxLength: options.maxLength } : {}) };
}

function extra(options: ScalarOptions): Pick<FieldDescriptor, 'direction' | 'createOnly'> {
  return {
    ...(options.direction ? { direction: options.direction } : {}),
    ...(options.createOnly ? { createOnly: true } : {}),
  };
}

/** A column read and written as is (`null` clears it). */
export function crmColumn(name: string): FieldDescriptor['crm'] {
  return {
    read: (record) => attr(record, name),
    write: (value: JsonValue) => ({ attributes: { [name]: value } }),
  };
}

/** A Graph top-level scalar property ↔ a Dataverse column. */
export function scalar(field: string, graphProperty: string, crmAttribute: string, options: ScalarOptions = {}): FieldDescriptor {
  return {
    field,
    spec: specOf(options),
    ...extra(options),
    outlookTargets: [graphProperty],
    crmTargets: [crmAttribute],
    outlook: {
      read: (data) => data[graphProperty],
      write: (value: JsonValue) => ({ [graphProperty]: value }),
    },
    crm: crmColumn(crmAttribute),
  };
}

/** A MAPI string extended property ↔ a Dataverse column (DESIGN.md §7 contact fields without a Graph property). */
export function mapiString(field: string, propertyId: string, crmAttribute: string, options: ScalarOptions = {}): FieldDescriptor {
  return {
    field,
    spec: specOf(options),
    ...extra(options),
    outlookTargets: [propertyId],
    crmTargets: [crmAttribute],
    outlook: {
      read: (data) => readExtended(data, propertyId),
      write: (value: JsonValue) => writeExtended(propertyId, typeof value === 'string' ? value : null),
    },
    crm: crmColumn(crmAttribute),
  };
}

/** A Graph `itemBody` ({contentType, content}) ↔ a memo column. Bodies are requested as text (DESIGN.md §4). */
export function itemBody(field: string, graphProperty: string, crmAttribute: string, options: ScalarOptions = {}): FieldDescriptor {
  return {
    field,
    spec: { type: 'body', ...(options.maxLength !== undefined ? { maxLength: options.maxLength } : {}) },
    ...extra(options),
    outlookTargets: [graphProperty],
    crmTargets: [crmAttribute],
    outlook: {
      read: (data) => {
        const body = data[graphProperty];
        return body !== null && typeof body === 'object' && !Array.isArray(body) ? body.content : undefined;
      },
      write: (value: JsonValue) => ({ [graphProperty]: { contentType: 'text', content: typeof value === 'string' ? value : '' } }),
    },
    crm: crmColumn(crmAttribute),
  };
}

export function valueOf(values: FieldValues, field: string): JsonValue {
  return values[field] ?? null;
}
