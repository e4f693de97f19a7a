// CrmConnector for Dataverse (Web API v9.2). The change feed is table-wide (change tracking rejects $filter,
// dataverse-behaviour.md §1.2), so scope is decided here: contacts the user owns; activities the user owns or is a
// party to. Writes act as the mailbox owner through CallerObjectId (§5); reads use the application user, which holds
// the organization-level Read that change tracking needs (§1.6).
import { z } from 'zod';
import type { CrmParty, CrmRecord, CrmWrite, ItemKind, JsonObject } from '../../core/model';
import type { CrmChange, CrmChangePage, CrmConnector, CrmUser, CrmWriteOptions } from '../../ports/crm-connector';
import { ConcurrencyError, ItemRejectedError, ResyncRequiredError, TransientError } from '../../ports/errors';
import type { ItemFailure } from '../../ports/mailbox-source';
import { DataverseHttp, errorInfo, failureFor, sendChangeSet, type ChangeSetRequest, type DataverseHttpOptions, type DataverseResponse } from './http';
import { findEmailsByMessageId } from './match';
import { parseRow } from './records';
import { DATAVERSE_COLUMNS, DATAVERSE_ENTITIES, PARTY_COLUMNS, entitySetOf } from './schema';
import { checkPartiesAllowed, deterministicCrmId, isRecordInScope, sameId, splitStateAttributes } from './scope';

export interface DataverseConnectorOptions extends DataverseHttpOptions {
  /** `odata.maxpagesize` for the change feed and queries (§1.4: ≤ 5,000). */
  pageSize?: number;
  /** Ids per `$batch` read (§2.6 recommends small batches). */
  readBatchSize?: number;
  now?: () => number;
}

/** The change-tracking table answered without a deltaLink: the table is not tracked (§1.1). */
export class ChangeTrackingDisabledError extends Error {
  constructor(readonly entitySet: string) {
    super(`change tracking is not enabled on ${entitySet} (dataverse-behaviour.md §1.1)`);
    this.name = 'ChangeTrackingDisabledError';
  }
}

/** §2.1: formatted values (related names) and the table behind each lookup (to read activity parties). */
const ANNOTATIONS = 'odata.include-annotations="OData.Community.Display.V1.FormattedValue,Microsoft.Dynamics.CRM.lookuplogicalname"';
const EXPIRED_VERSION_STAMP = '0x80044352';
const DUPLICATE_RECORD = '0x80040237';
const OWNER_PARTY = 9;
const ORGANIZER_PARTY = 7;

const collectionPage = z.object({
  value: z.array(z.unknown()),
  '@odata.nextLink': z.string().optional(),
  '@odata.deltaLink': z.string().optional(),
});

const systemUserRow = z.object({
  systemuserid: z.string(),
  azureactivedirectoryobjectid: z.string().nullable().optional(),
});

export class DataverseCrmConnector implements CrmConnector {
  readonly http: DataverseHttp;
  private readonly pageSize: number;
  private readonly readBatchSize: number;
  private readonly now: () => number;

  constructor(options: DataverseConnectorOptions) {
    this.http = new DataverseHttp(options);
    this.pageSize = Math.min(options.pageSize ?? 500, 5000);
    this.readBatchSize = Math.min(options.readBatchSize ?? 50, 1000);
    this.now = options.now ?? Date.now;
  }

  async resolveUser(mailboxAddress: string): Promise<CrmUser | null> {
    const address = odataString(mailboxAddress);
    const filter = `(internalemailaddress eq ${address} or domainname eq ${address}) and isdisabled eq false`;
    const response = await this.http.send({
      method: 'GET',
      url: `systemusers?$select=systemuserid,azureactivedirectoryobjectid&$filter=${encodeURIComponent(filter)}`,
    });
    const page = collectionPage.safeParse(this.expectOk(response, 'GET systemusers'));
    if (!page.success) throw new TransientError('unreadable systemusers response');
    const row = systemUserRow.safeParse(page.data.value[0]);
    if (!row.success) return null;
    return { id: row.data.systemuserid, azureObjectId: row.data.azureactivedirectoryobjectid ?? null, address: mailboxAddress };
  }

  async readChanges(kind: ItemKind, user: CrmUser, cursor: string | null, onPage: (page: CrmChangePage) => Promise<void>): Promise<void> {
    const entity = DATAVERSE_ENTITIES[kind];
    const initial = cursor === null;
    // §1.2: the deltaLink and nextLinks are used whole; only the first request is built here.
    let url = cursor ?? `${entity.entitySet}?$select=${DATAVERSE_COLUMNS[kind].join(',')}`;
    for (;;) {
      const response = await this.http.send({
        method: 'GET',
        url,
        // §1.4: the same maxpagesize on every page.
        headers: { Prefer: `odata.track-changes,odata.maxpagesize=${this.pageSize},${ANNOTATIONS}` },
      });
      if (response.status !== 200) {
        const info = errorInfo(response.status, response.body);
        // §1.5: ExpiredVersionStamp; the HTTP status is unconfirmed, so the code decides.
        if (info.code.toLowerCase() === EXPIRED_VERSION_STAMP || /version stamp .* expired/i.test(info.message)) {
          throw new ResyncRequiredError(`crm:${kind}`, info.message);
        }
        throw failureFor(info, `GET ${entity.entitySet} changes`);
      }
      const page = collectionPage.safeParse(response.body);
      if (!page.success) throw new TransientError(`unreadable ${entity.entitySet} change page`);
      const next = page.data['@odata.nextLink'] ?? null;
      const delta = page.data['@odata.deltaLink'] ?? null;
      if (next === null && delta === null) throw new ChangeTrackingDisabledError(entity.entitySet);
      const { changes, failures } = await this.toChanges(kind, user, page.data.value, initial);
      await onPage({ changes, failures, cursor: next ?? (delta as string), final: next === null });
      if (next === null) return;
      url = next;
    }
  }

  async read(kind: ItemKind, ids: readonly string[], _user: CrmUser): Promise<Map<string, CrmRecord | null>> {
    const result = new Map<string, CrmRecord | null>();
    const outcomes = await this.readOutcomes(kind, ids);
    for (const [id, outcome] of outcomes) {
      if (outcome.type === 'failure') {
        throw new ItemRejectedError(outcome.failure.reason, `${kind} ${id}: ${outcome.failure.detail}`);
      }
      result.set(id, outcome.type === 'record' ? outcome.record : null);
    }
    return result;
  }

  isInScope(record: CrmRecord, user: CrmUser): boolean {
    return isRecordInScope(record, user);
  }

  idForCreate(kind: ItemKind, idempotencyKey: string): string {
    return deterministicCrmId(kind, idempotencyKey);
  }

  async create(kind: ItemKind, write: CrmWrite, options: CrmWriteOptions & { idempotencyKey: string }): Promise<CrmRecord> {
    checkPartiesAllowed(kind, write);
    const entity = DATAVERSE_ENTITIES[kind];
    const id = deterministicCrmId(kind, options.idempotencyKey);
    const { fields, state } = splitStateAttributes(kind, write.attributes);
    const body: JsonObject = { ...fields, ...this.partiesBody(kind, write.parties, options.actAs), [entity.primaryKey]: id };
    if (write.regarding) Object.assign(body, this.regardingBind(kind, write.regarding));
    // §4: statecode is not valid on create, so a closed or scheduled state is a PATCH after the POST; both go in one
    // change set (§2.6) so the record never exists in the wrong state.
    const writes: ChangeSetRequest[] = [{ method: 'POST', url: entity.entitySet, body }];
    if (state) writes.push({ method: 'PATCH', url: `${entity.entitySet}(${id})`, headers: { 'If-Match': '*' }, body: state });
    const failure = await this.createWrites(writes, options.actAs);
    if (failure) {
      const info = errorInfo(failure.status, failure.body);
      // §2.2/§2.4: the id already exists ("DuplicateRecord", 412 or the code): an earlier attempt made the record.
      const duplicateKey =
        failure.status === 412 || info.code.toLowerCase() === DUPLICATE_RECORD || /matching key values already exists/i.test(info.message);
      if (!duplicateKey) throw failureFor(info, `POST ${entity.entitySet}`);
      // The earlier attempt may have been the pre-change-set kind that died between its POST and its PATCH.
      const current = state ? await this.readOne(kind, id) : null;
      if (state && current && (current.data.statecode !== state.statecode || current.data.statuscode !== state.statuscode)) {
        await this.patch(kind, id, state, current.version, options.actAs);
      }
    }
    const created = await this.readOne(kind, id);
    if (created === null) throw new ItemRejectedError('crm-record-gone', `${kind} ${id} vanished after its create`);
    return created;
  }

  async update(kind: ItemKind, id: string, write: CrmWrite, options: CrmWriteOptions & { ifMatch: string }): Promise<CrmRecord> {
    checkPartiesAllowed(kind, write);
    const { fields, state } = splitStateAttributes(kind, write.attributes);
    const body: JsonObject = { ...fields, ...this.partiesBody(kind, write.parties, options.actAs) };
    if (write.regarding !== undefined) Object.assign(body, await this.regardingChange(kind, id, write.regarding));
    // A closed activity is read-only: reopen before editing, edit before closing.
    const steps: JsonObject[] = [];
    if (state && state.statecode === 0) steps.push(state);
    if (Object.keys(body).length > 0) steps.push(body);
    if (state && state.statecode !== 0) steps.push(state);
    let ifMatch = options.ifMatch;
    for (const step of steps) ifMatch = await this.patch(kind, id, step, ifMatch, options.actAs);
    const record = await this.readOne(kind, id);
    if (record === null) throw new ItemRejectedError('crm-record-gone', `${kind} ${id} no longer exists`);
    if (steps.length === 0 && options.ifMatch !== '*' && record.version !== options.ifMatch) {
      throw new ConcurrencyError(`${kind} ${id} changed since version ${options.ifMatch}`);
    }
    return record;
  }

  async delete(kind: ItemKind, id: string, options: CrmWriteOptions): Promise<void> {
    const entity = DATAVERSE_ENTITIES[kind];
    const response = await this.http.send({ method: 'DELETE', url: `${entity.entitySet}(${id})`, callerObjectId: options.actAs.azureObjectId });
    // §2.3: 404 when absent, which is what the caller wanted.
    if (response.status === 204 || response.status === 200 || response.status === 404) return;
    throw failureFor(errorInfo(response.status, response.body), `DELETE ${entity.entitySet}`);
  }

  async findContactsByEmail(addresses: readonly string[], user: CrmUser): Promise<CrmRecord[]> {
    const wanted = [...new Set(addresses.map((a) => a.trim().toLowerCase()).filter((a) => a.length > 0))];
    const found = new Map<string, CrmRecord>();
    for (let i = 0; i < wanted.length; i += 10) {
      const chunk = wanted.slice(i, i + 10);
      const anyAddress = chunk
        .flatMap((address) => ['emailaddress1', 'emailaddress2', 'emailaddress3'].map((column) => `${column} eq ${odataString(address)}`))
        .join(' or ');
      const filter = `_ownerid_value eq ${user.id} and (${anyAddress})`;
      let url: string | null = `contacts?$select=${DATAVERSE_COLUMNS.contact.join(',')}&$filter=${encodeURIComponent(filter)}`;
      while (url !== null) {
        const response: DataverseResponse = await this.http.send({
          method: 'GET',
          url,
          headers: { Prefer: `odata.maxpagesize=${this.pageSize},${ANNOTATIONS}` },
        });
        const page = collectionPage.safeParse(this.expectOk(response, 'GET contacts'));
        if (!page.success) throw new TransientError('unreadable contacts page');
        for (const row of page.data.value) {
          const parsed = parseRow('contact', row);
          // The server compares case-insensitively on the default collation; this re-check keeps that a fact here.
          if (parsed.type === 'record' && hasAnyAddress(parsed.record, chunk) && sameId(parsed.record.ownerId ?? '', user.id)) {
            found.set(parsed.record.id.toLowerCase(), parsed.record);
          }
        }
        url = page.data['@odata.nextLink'] ?? null;
      }
    }
    return [...found.values()];
  }

  /** Match before create by the Internet Message-ID (match.ts). */
  async findEmailsByMessageId(messageIds: readonly string[], _user: CrmUser): Promise<CrmRecord[]> {
    return findEmailsByMessageId(this.http, messageIds, this.pageSize);
  }

  // ---- internals ----

  private async toChanges(
    kind: ItemKind,
    user: CrmUser,
    rows: unknown[],
    initial: boolean,
  ): Promise<{ changes: CrmChange[]; failures: ItemFailure[] }> {
    const at = new Date(this.now()).toISOString();
    const failures: ItemFailure[] = [];
    const records: CrmRecord[] = [];
    const deletes: CrmChange[] = [];
    for (const row of rows) {
      const parsed = parseRow(kind, row);
      if (parsed.type === 'failure') failures.push(parsed.failure);
      else if (parsed.type === 'deleted') deletes.push({ type: 'deleted', id: parsed.id, at });
      else records.push(parsed.record);
    }
    let hydrated = records;
    // §1.2: no $expand with change tracking, so the parties of changed appointments/e-mails cost one $batch read per
    // page (readBatchSize ids per batch). The re-read rows replace the delta rows; a row gone by now is a delete.
    if (DATAVERSE_ENTITIES[kind].partiesProperty && records.length > 0) {
      hydrated = [];
      const outcomes = await this.readOutcomes(kind, records.map((r) => r.id));
      for (const [id, outcome] of outcomes) {
        if (outcome.type === 'record') hydrated.push(outcome.record);
        else if (outcome.type === 'failure') failures.push(outcome.failure);
        else deletes.push({ type: 'deleted', id, at });
      }
    }
    const changes: CrmChange[] = [];
    for (const record of hydrated) {
      if (isRecordInScope(record, user)) changes.push({ type: 'upsert', id: record.id, record, at: record.modifiedOn });
      else if (!initial) changes.push({ type: 'outOfScope', id: record.id, record, at: record.modifiedOn });
    }
    return { changes: [...changes, ...deletes], failures };
  }

  /** One POST alone, or the POST and its state PATCH as one change set. Returns the failing response, if any. */
  private async createWrites(writes: ChangeSetRequest[], actAs: CrmUser): Promise<{ status: number; body: unknown } | null> {
    if (writes.length === 1) {
      const [post] = writes as [ChangeSetRequest];
      const response = await this.http.send({ method: post.method, url: post.url, body: post.body, callerObjectId: actAs.azureObjectId });
      return response.status >= 300 ? response : null;
    }
    const outcome = await sendChangeSet(this.http, writes, actAs.azureObjectId);
    if (outcome.ok) return null;
    if (outcome.failure.status === 401 || outcome.failure.status === 403) throw failureFor(errorInfo(outcome.failure.status, outcome.failure.body), 'POST $batch');
    return outcome.failure;
  }

  private async readOne(kind: ItemKind, id: string): Promise<CrmRecord | null> {
    return (await this.read(kind, [id], { id: '', azureObjectId: null, address: '' })).get(id) ?? null;
  }

  /** By id: a plain GET for one, `$batch` GETs for more; 404 → gone, a malformed row → a failure of its own. */
  private async readOutcomes(
    kind: ItemKind,
    ids: readonly string[],
  ): Promise<Map<string, { type: 'record'; record: CrmRecord } | { type: 'gone' } | { type: 'failure'; failure: ItemFailure }>> {
    const out = new Map<string, { type: 'record'; record: CrmRecord } | { type: 'gone' } | { type: 'failure'; failure: ItemFailure }>();
    const unique = [...new Set(ids)];
    for (let i = 0; i < unique.length; i += this.readBatchSize) {
      const chunk = unique.slice(i, i + this.readBatchSize);
      const urls = chunk.map((id) => this.recordUrl(kind, id));
      // §2.1: `If-None-Match: null` defeats cached $expand results (the party lists of activities).
      const headers: Record<string, string> = DATAVERSE_ENTITIES[kind].partiesProperty ? { Prefer: ANNOTATIONS, 'If-None-Match': 'null' } : { Prefer: ANNOTATIONS };
      let parts: { status: number; body: unknown }[];
      if (chunk.length === 1) {
        const response = await this.http.send({ method: 'GET', url: urls[0] as string, headers });
        parts = [response];
      } else {
        parts = await this.http.batchGet(urls, headers);
      }
      chunk.forEach((id, index) => {
        const part = parts[index] as { status: number; body: unknown };
        if (part.status === 404) out.set(id, { type: 'gone' });
        else if (part.status !== 200) {
          const error = failureFor(errorInfo(part.status, part.body), `GET ${kind} ${id}`);
          // A record the service refuses to return fails alone; auth and transient failures stop the whole read.
          if (!(error instanceof ItemRejectedError)) throw error;
          out.set(id, { type: 'failure', failure: { id, reason: error.reason, detail: error.message } });
        } else {
          const parsed = parseRow(kind, part.body);
          if (parsed.type === 'record') out.set(id, { type: 'record', record: parsed.record });
          else if (parsed.type === 'failure') out.set(id, { type: 'failure', failure: parsed.failure });
          else out.set(id, { type: 'gone' });
        }
      });
    }
    return out;
  }

  private recordUrl(kind: ItemKind, id: string): string {
    const entity = DATAVERSE_ENTITIES[kind];
    const expand = entity.partiesProperty ? `&$expand=${entity.partiesProperty}($select=${PARTY_COLUMNS.join(',')})` : '';
    return `${entity.entitySet}(${id})?$select=${DATAVERSE_COLUMNS[kind].join(',')}${expand}`;
  }

  /** PATCH with If-Match, returning the new etag. §2.3: If-Match keeps the PATCH from upserting a deleted record. */
  private async patch(kind: ItemKind, id: string, body: JsonObject, ifMatch: string, actAs: CrmUser): Promise<string> {
    const entity = DATAVERSE_ENTITIES[kind];
    const response = await this.http.send({
      method: 'PATCH',
      url: `${entity.entitySet}(${id})?$select=modifiedon`,
      headers: { 'If-Match': ifMatch, Prefer: 'return=representation' },
      body,
      callerObjectId: actAs.azureObjectId,
    });
    if (response.status === 404) throw new ItemRejectedError('crm-record-gone', `${kind} ${id} no longer exists`);
    // §2.4: key on the 412, not on the (unconfirmed) code.
    if (response.status === 412) throw new ConcurrencyError(`${kind} ${id} changed since version ${ifMatch}`);
    if (response.status >= 300) throw failureFor(errorInfo(response.status, response.body), `PATCH ${entity.entitySet}`);
    const etag = z.object({ '@odata.etag': z.string() }).safeParse(response.body);
    return etag.success ? etag.data['@odata.etag'] : '*';
  }

  /**
   * §4.2: parties are written through the activity's collection navigation property (deep insert / replace). The
   * organizer must be a systemuser: an organizer known only by address is bound to the acting user when it is their
   * address (keeping `addressused`, so the value reads back the same and does not ping-pong), and left out otherwise
   * (someone else's meeting: Dataverse then keeps its own default).
   */
  private partiesBody(kind: ItemKind, parties: CrmParty[] | undefined, actAs: CrmUser): JsonObject {
    const property = DATAVERSE_ENTITIES[kind].partiesProperty;
    if (!property || parties === undefined) return {};
    const rows: JsonObject[] = [];
    for (const given of parties) {
      // The Owner party (9) is the platform's own row, derived from ownerid; it is never written.
      if (given.participationTypeMask === OWNER_PARTY) continue;
      const party = given.participationTypeMask === ORGANIZER_PARTY && !given.party ? organizerAs(given, actAs) : given;
      if (!party) continue;
      const row: JsonObject = { participationtypemask: party.participationTypeMask };
      if (party.party) row[`partyid_${party.party.entity}@odata.bind`] = `/${entitySetOf(party.party.entity)}(${party.party.id})`;
      if (party.address !== null) row.addressused = party.address;
      rows.push(row);
    }
    return { [property]: rows };
  }

  /** §4.1: regarding is bound through the entity-suffixed navigation property of this activity. */
  private regardingBind(kind: ItemKind, regarding: { entity: string; id: string }): JsonObject {
    return { [`regardingobjectid_${regarding.entity}_${kind}@odata.bind`]: `/${entitySetOf(regarding.entity)}(${regarding.id})` };
  }

  /** Clearing needs the navigation property of the table currently bound, which only a read tells. */
  private async regardingChange(kind: ItemKind, id: string, regarding: { entity: string; id: string } | null): Promise<JsonObject> {
    if (regarding) return this.regardingBind(kind, regarding);
    const current = await this.readOne(kind, id);
    const entity = current?.data['_regardingobjectid_value@Microsoft.Dynamics.CRM.lookuplogicalname'];
    if (typeof entity !== 'string' || current?.data._regardingobjectid_value === null) return {};
    return { [`regardingobjectid_${entity}_${kind}@odata.bind`]: null };
  }

  private expectOk(response: DataverseResponse, what: string): unknown {
    if (response.status !== 200) throw failureFor(errorInfo(response.status, response.body), what);
    return response.body;
  }
}

function organizerAs(party: CrmParty, actAs: CrmUser): CrmParty | null {
  if (party.address === null || party.address.toLowerCase() !== actAs.address.toLowerCase()) return null;
  return { ...party, party: { entity: 'systemuser', id: actAs.id } };
}

/** An OData string literal: quotes doubled (OData ABNF `SQUOTE-in-string`). */
function odataString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

function hasAnyAddress(record: CrmRecord, addresses: readonly string[]): boolean {
  return ['emailaddress1', 'emailaddress2', 'emailaddress3'].some((column) => {
    const value = record.data[column];
    return typeof value === 'string' && addresses.includes(value.toLowerCase());
  });
}
