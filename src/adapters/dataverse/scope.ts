// Scope and write helpers shared by the Dataverse connector and the in-memory CRM, so both answer the same way.
import { createHash } from 'node:crypto';
import type { CrmParty, CrmRecord, CrmWrite, ItemKind, JsonObject, JsonValue } from '../../core/model';
import type { CrmUser } from '../../ports/crm-connector';
import { ItemRejectedError } from '../../ports/errors';
import { DATAVERSE_ENTITIES, STATUS_STATE } from './schema';

/**
 * DESIGN.md §2/§6: contacts are in scope when the user owns them; activities when the user owns them or is one of
 * their parties (as a resolved systemuser, or by address for unresolved parties, dataverse-behaviour.md §4.2).
 */
export function isRecordInScope(record: CrmRecord, user: CrmUser): boolean {
  if (record.ownerId !== null && sameId(record.ownerId, user.id)) return true;
  if (record.kind === 'contact') return false;
  return record.parties.some((party) => isUserParty(party, user));
}

export function isUserParty(party: CrmParty, user: CrmUser): boolean {
  if (party.party?.entity === 'systemuser' && sameId(party.party.id, user.id)) return true;
  return party.party === null && party.address !== null && party.address.toLowerCase() === user.address.toLowerCase();
}

export function sameId(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** Namespace of the deterministic CRM ids derived from idempotency keys (UUID v5, RFC 9562 §5.5). */
export const CRM_ID_NAMESPACE = '5b0f3a4e-2d7c-4d8e-9a61-7c3f0e1b9d24';

/**
 * A UUID v5 of `<kind>:<idempotencyKey>`: Dataverse accepts a client-supplied primary key on create, so a retried create
 * after a lost response targets the same id and meets the first attempt's record instead of making a second one.
 */
export function deterministicCrmId(kind: ItemKind, idempotencyKey: string): string {
  const namespace = Buffer.from(CRM_ID_NAMESPACE.replace(/-/g, ''), 'hex');
  const hash = createHash('sha1').update(namespace).update(`${kind}:${idempotencyKey}`, 'utf8').digest();
  const bytes = Buffer.from(hash.subarray(0, 16));
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x50;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export interface SplitAttributes {
  /** Everything but the state pair. */
  fields: JsonObject;
  /** `{statecode, statuscode}` completed to a valid pair, or null when the write does not touch the state. */
  state: { statecode: number; statuscode: number } | null;
}

/**
 * Separate the state pair from the other attributes: statecode is not valid on create (dataverse-behaviour.md §4) and
 * a state change always carries both columns (§2.3 [UPD]). A missing half is completed from the §4.4–§4.6 tables.
 */
export function splitStateAttributes(kind: ItemKind, attributes: JsonObject): SplitAttributes {
  const { statecode, statuscode, ...fields } = attributes;
  if (statecode === undefined && statuscode === undefined) return { fields, state: null };
  const table = STATUS_STATE[kind];
  const status = typeof statuscode === 'number' ? statuscode : null;
  const stateFromStatus = status !== null ? table?.stateOf[status] : undefined;
  const state = typeof statecode === 'number' ? statecode : stateFromStatus;
  if (state === undefined) return { fields: { ...fields, ...definedOnly({ statecode, statuscode }) }, state: null };
  const resolvedStatus = status ?? table?.defaultStatus[state];
  if (resolvedStatus === undefined) return { fields: { ...fields, ...definedOnly({ statecode, statuscode }) }, state: null };
  return { fields, state: { statecode: state, statuscode: resolvedStatus } };
}

function definedOnly(values: Record<string, JsonValue | undefined>): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(values)) if (value !== undefined) out[key] = value;
  return out;
}

/** dataverse-behaviour.md §4.2: tasks have no party lists. */
export function checkPartiesAllowed(kind: ItemKind, write: CrmWrite): void {
  if (write.parties && write.parties.length > 0 && DATAVERSE_ENTITIES[kind].partiesProperty === null) {
    throw new ItemRejectedError('crm-parties-unsupported', `a ${kind} has no activity parties`);
  }
}

