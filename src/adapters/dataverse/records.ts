// zod at the edge: a Web API row becomes a CrmRecord, or fails alone with a reason code (never the whole page).
import { z } from 'zod';
import type { CrmParty, CrmRecord, ItemKind, JsonObject, JsonValue } from '../../core/model';
import type { ItemFailure } from '../../ports/mailbox-source';
import { DATAVERSE_ENTITIES } from './schema';

const LOOKUP_ENTITY = '@Microsoft.Dynamics.CRM.lookuplogicalname';
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const jsonValue: z.ZodType<JsonValue> = z.lazy(() =>
  z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(jsonValue), z.record(jsonValue)]),
);

const partyRow = z
  .object({
    participationtypemask: z.number().int().min(1).max(12),
    _partyid_value: z.string().regex(GUID).nullable().optional(),
    [`_partyid_value${LOOKUP_ENTITY}`]: z.string().optional(),
    addressused: z.string().nullable().optional(),
  })
  .passthrough();

function rowSchema(kind: ItemKind) {
  const entity = DATAVERSE_ENTITIES[kind];
  const shape: Record<string, z.ZodTypeAny> = {
    '@odata.etag': z.string().min(1),
    [entity.primaryKey]: z.string().regex(GUID),
    modifiedon: z.string().datetime({ offset: true }),
    _ownerid_value: z.string().regex(GUID).nullable().optional(),
  };
  if (entity.partiesProperty) shape[entity.partiesProperty] = z.array(partyRow).optional();
  return z.object(shape).passthrough();
}

const ROW_SCHEMAS = {
  contact: rowSchema('contact'),
  appointment: rowSchema('appointment'),
  task: rowSchema('task'),
  email: rowSchema('email'),
} as const;

/** `{"@odata.context":"…/$deletedEntity","id":"<guid>","reason":"deleted"}` (dataverse-behaviour.md §1.3). */
const deletedRow = z.object({
  '@odata.context': z.string().regex(/\$deletedEntity$/),
  id: z.string().regex(GUID),
  reason: z.string(),
});

export type ParsedRow =
  | { type: 'record'; record: CrmRecord }
  | { type: 'deleted'; id: string }
  | { type: 'failure'; failure: ItemFailure };

export function parseRow(kind: ItemKind, row: unknown): ParsedRow {
  const deleted = deletedRow.safeParse(row);
  if (deleted.success) return { type: 'deleted', id: deleted.data.id };
  const entity = DATAVERSE_ENTITIES[kind];
  const parsed = ROW_SCHEMAS[kind].safeParse(row);
  const rawId = typeof row === 'object' && row !== null ? (row as Record<string, unknown>)[entity.primaryKey] : undefined;
  const id = typeof rawId === 'string' ? rawId : null;
  if (!parsed.success) {
    return { type: 'failure', failure: { id, reason: 'crm-invalid-record', detail: summarize(parsed.error) } };
  }
  const values = z.record(jsonValue).safeParse(row);
  if (!values.success) return { type: 'failure', failure: { id, reason: 'crm-invalid-record', detail: summarize(values.error) } };
  const parties: CrmParty[] = [];
  const rawParties = entity.partiesProperty ? parsed.data[entity.partiesProperty] : undefined;
  for (const raw of (rawParties ?? []) as z.infer<typeof partyRow>[]) {
    const party = toParty(raw);
    if (!party) {
      return { type: 'failure', failure: { id, reason: 'crm-invalid-party', detail: 'an activity party names a record without its table' } };
    }
    parties.push(party);
  }
  const data: JsonObject = {};
  for (const [name, value] of Object.entries(values.data)) {
    if (name.startsWith('@odata.') || name === entity.partiesProperty || name.startsWith(`${entity.partiesProperty}@`)) continue;
    data[name] = value;
  }
  const owner = parsed.data._ownerid_value as string | null | undefined;
  return {
    type: 'record',
    record: {
      kind,
      id: parsed.data[entity.primaryKey] as string,
      version: parsed.data['@odata.etag'] as string,
      modifiedOn: new Date(parsed.data.modifiedon as string).toISOString().replace(/\.000Z$/, 'Z'),
      ownerId: owner ?? null,
      data,
      parties,
    },
  };
}

function toParty(row: z.infer<typeof partyRow>): CrmParty | null {
  const address = row.addressused ?? null;
  const id = row._partyid_value ?? null;
  if (id === null) return { participationTypeMask: row.participationtypemask, address, party: null };
  const entity = row[`_partyid_value${LOOKUP_ENTITY}`];
  if (entity === undefined) return null;
  if (entity === 'contact' || entity === 'systemuser' || entity === 'account') {
    return { participationTypeMask: row.participationtypemask, address, party: { entity, id } };
  }
  // Queues, knowledge articles …: not a person the mailbox can sync; keep the address only.
  return { participationTypeMask: row.participationtypemask, address, party: null };
}

function summarize(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.join('.') || '(row)'}: ${issue.message}`)
    .join('; ');
}
