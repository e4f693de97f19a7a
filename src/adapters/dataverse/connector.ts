// CrmConnector for Dataverse (Web API v9.2). The change feed is table-wide (change tracking rejects $filter,
// dataverse-behaviour.md §1.2), so scope is decided here: contacts the user owns; activities the user owns or is a
// party to. Writes act as the mailbox owner through CallerObjectId (§5); reads use the application user, which holds
// the organization-level Read that change tracking needs (§1.6).
import { z } from 'zod';
import type { CrmParty, CrmRecord, CrmWrite, ItemKind, JsonObject } from '../../core/model';
import type {
  CrmChange,
  CrmChangePage,
  CrmConnector,
  CrmUser,
  CrmWriteOp,
  CrmWriteOptions,
  CrmWriteResult,
} from '../../ports/crm-connector';
import { AuthError, ConcurrencyError, ItemRejectedError, ResyncRequiredError, TransientError } from '../../ports/errors';
import type { ItemFailure } from '../../ports/mailbox-source';
import {
  DataverseHttp,
  errorInfo,
  failureFor,
  sendChangeSet,
  sendChangeSets,
  parseRetryAfter,
  type ChangeSetOutcome,
  type ChangeSetRequest,
  type DataverseHttpOptions,
  type DataverseResponse,
} from './http';
import { findEmailsByMessageId } from './match';
import { parseRow } from './records';
import { DataverseRecycleBin } from './recycle-bin';
import { DATAVERSE_COLUMNS, DATAVERSE_ENTITIES, PARTY_COLUMNS, entitySetOf } from './schema';
import { checkPartiesAllowed, deterministicCrmId, isRecordInScope, sameId, splitStateAttributes } from './scope';
import type { Logger } from '../../ports/logger';
import { DataverseTimeZones } from './timezone';

export interface DataverseConnectorOptions extends DataverseHttpOptions {
  /** `odata.maxpagesize` for the change feed and queries (§1.4: ≤ 5,000). */
  pageSize?: number;
  /** Ids per `$batch` read (§2.6 recommends small batches). */
  readBatchSize?: number;
  /** Writes (one change set each) per `$batch` of `writeBatch` (§2.6: small batches; default 20). */
  writeBatchSize?: number;
  now?: () => number;
  /** Where the connector says why a user's time zone is unknown (a refused read of their settings). */
  logger?: Logger;
}

type ReadOutcome = { type: 'record'; record: CrmRecord } | { type: 'gone' } | { type: 'failure'; failure: ItemFailure };

/** One write of a `writeBatch` on its way: its change set, then what became of it. */
interface PlannedWrite {
  index: number;
  op: CrmWriteOp;
  id: string;
  /** The change set; empty for an update with nothing to write (it is only read back, as `update` does). */
  requests: ChangeSetRequest[];
  /** A create's state pair, set by a PATCH after the POST (§4). */
  state: { statecode: number; statuscode: number } | null;
  outcome?: ChangeSetOutcome | null;
  /** A create whose id already existed: an earlier attempt made the record. */
  existed?: boolean;
}

/** §2.6 caps a batch at 1,000 requests; a write is at most 3 (reopen, edit, close). */
const MAX_BATCH_REQUESTS = 1000;

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
  private readonly writeBatchSize: number;
  private readonly now: () => number;
  private readonly timeZones: DataverseTimeZones;
  private readonly recycleBin: DataverseRecycleBin;

  constructor(options: DataverseConnectorOptions) {
    this.http = new DataverseHttp(options);
    this.timeZones = new DataverseTimeZones(this.http, options.logger);
    this.pageSize = Math.min(options.pageSize ?? 500, 5000);
    this.readBatchSize = Math.min(options.readBatchSize ?? 50, 1000);
    this.writeBatchSize = Math.max(1, Math.min(options.writeBatchSize ?? 20, Math.floor(MAX_BATCH_REQUESTS / 3)));
    this.now = options.now ?? Date.now;
    this.recycleBin = new DataverseRecycleBin(this.http, this.now);
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
    const timeZone = await this.timeZones.ofUser(row.data.systemuserid);
    return { id: row.data.systemuserid, azureObjectId: row.data.azureactivedirectoryobjectid ?? null, address: mailboxAddress, timeZone };
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
    const { id, requests: writes, state } = this.createRequests(kind, write, options.idempotencyKey, options.actAs);
    const entity = DATAVERSE_ENTITIES[kind];
    const failure = await this.createWrites(writes, options.actAs);
    if (failure) {
      if (!isDuplicateKey(failure)) throw failureFor(errorInfo(failure.status, failure.body), `POST ${entity.entitySet}`);
      // The earlier attempt may have been the pre-change-set kind that died between its POST and its PATCH.
      const current = state ? await this.readOne(kind, id) : null;
      if (state && current && !hasState(current, state)) {
        await this.patch(kind, id, state, current.version, options.actAs);
      }
    }
    const created = await this.readOne(kind, id);
    if (created === null) throw new ItemRejectedError('crm-record-gone', `${kind} ${id} vanished after its create`);
    return created;
  }

  async update(kind: ItemKind, id: string, write: CrmWrite, options: CrmWriteOptions & { ifMatch: string }): Promise<CrmRecord> {
    checkPartiesAllowed(kind, write);
    const regarding = write.regarding === undefined ? {} : await this.regardingChange(kind, id, write.regarding);
    const steps = this.updateSteps(kind, write, regarding, options.actAs);
    let ifMatch = options.ifMatch;
    for (const step of steps) ifMatch = await this.patch(kind, id, step, ifMatch, options.actAs);
    const record = await this.readOne(kind, id);
    if (record === null) throw new ItemRejectedError('crm-record-gone', `${kind} ${id} no longer exists`);
    if (steps.length === 0) checkUnchangedVersion(kind, id, record, options.ifMatch);
    return record;
  }

  async delete(kind: ItemKind, id: string, options: CrmWriteOptions): Promise<void> {
    const entity = DATAVERSE_ENTITIES[kind];
    const response = await this.http.send({ method: 'DELETE', url: `${entity.entitySet}(${id})`, callerObjectId: options.actAs.azureObjectId });
    const failure = deleteFailure(kind, response);
    if (failure) throw failure;
  }

  /**
   * §2.6: one `$batch` per `writeBatchSize` writes with `Prefer: odata.continue-on-error`, each write in a change set
   * of its own, so it is atomic (a create's POST and state PATCH; an update's reopen, edit and close) and fails alone.
   * The records written are then read back in batched GETs, instead of one GET each. Per write, the outcome and its
   * errors are those of create/update/delete; only auth failures and a batch failing as a whole throw.
   */
  async writeBatch(ops: readonly CrmWriteOp[], options: CrmWriteOptions): Promise<CrmWriteResult[]> {
    const results: (CrmWriteResult | undefined)[] = new Array<CrmWriteResult | undefined>(ops.length);
    const fail = (index: number, error: unknown) => {
      results[index] = { ok: false, error: itemError(error) };
    };
    // An update that clears `regarding` needs the navigation property bound now: one batched read before the writes.
    const clearing = ops.flatMap((op) => (op.type === 'update' && op.write.regarding === null ? [{ kind: op.kind, id: op.id }] : []));
    const current = await this.readRefs(clearing);
    const planned: PlannedWrite[] = [];
    ops.forEach((op, index) => {
      try {
        planned.push(this.planWrite(op, index, current, options.actAs));
      } catch (error) {
        fail(index, error);
      }
    });

    const sendable = planned.filter((write) => write.requests.length > 0);
    for (const chunk of chunkWrites(sendable, this.writeBatchSize)) {
      const outcomes = await sendChangeSets(this.http, chunk.map((write) => write.requests), {
        callerObjectId: options.actAs.azureObjectId,
        continueOnError: true,
      });
      chunk.forEach((write, i) => {
        write.outcome = outcomes[i] ?? null;
      });
    }

    const readBack: PlannedWrite[] = [];
    for (const write of planned) {
      if (write.requests.length === 0) {
        readBack.push(write);
        continue;
      }
      const outcome = write.outcome ?? null;
      if (outcome === null) {
        // The service stopped before this change set although asked to continue: it was not applied.
        fail(write.index, new TransientError(`${write.op.kind} ${write.id}: the $batch stopped before this write`));
        continue;
      }
      if (outcome.ok) {
        if (write.op.type === 'delete') results[write.index] = { ok: true, record: null };
        else readBack.push(write);
        continue;
      }
      const { failure } = outcome;
      const info = errorInfo(failure.status, failure.body);
      // The user's rights or the token: the same for every write of the batch.
      if (failure.status === 401 || failure.status === 403) throw failureFor(info, 'POST $batch');
      // §3: a throttled part was not applied; alone it would have been retried and then thrown as transient.
      if (failure.status === 429 || failure.status === 503) {
        const retryAfter = parseRetryAfter(failure.headers['retry-after'] ?? null, this.now());
        fail(write.index, new TransientError(`${write.op.kind} ${write.id}: throttled in $batch (${info.code || failure.status})`, retryAfter));
        continue;
      }
      const entitySet = DATAVERSE_ENTITIES[write.op.kind].entitySet;
      if (write.op.type === 'create') {
        if (isDuplicateKey(failure)) {
          write.existed = true;
          readBack.push(write);
        } else fail(write.index, failureFor(info, `POST ${entitySet}`));
      } else if (write.op.type === 'update') {
        fail(write.index, updateFailure(write.op.kind, write.id, write.op.ifMatch, failure));
      } else {
        const error = deleteFailure(write.op.kind, failure);
        if (error) fail(write.index, error);
        else results[write.index] = { ok: true, record: null };
      }
    }

    const stateFixes = await this.settleReadBack(readBack, results, true);
    // A create met the record of an earlier attempt in the wrong state: set it, as create() does, then read it again.
    const fixed: PlannedWrite[] = [];
    for (const { write, record } of stateFixes) {
      try {
        await this.patch(write.op.kind, write.id, write.state as JsonObject, record.version, options.actAs);
        fixed.push(write);
      } catch (error) {
        if (error instanceof AuthError) throw error;
        fail(write.index, error);
      }
    }
    await this.settleReadBack(fixed, results, false);
    return results.map((result, index) => result ?? { ok: false, error: new TransientError(`write ${index} of the batch has no outcome`) });
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

  /** The table's recycle bin, read with FetchXml `datasource='bin'` (recycle-bin.ts); null while the bin is off. */
  async findDeleted(kind: ItemKind, ids: readonly string[], _user: CrmUser): Promise<Set<string> | null> {
    return this.recycleBin.findDeleted(kind, ids);
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

  /** The requests of a create: the POST with the deterministic id, and the state PATCH when the write sets one (§4). */
  private createRequests(
    kind: ItemKind,
    write: CrmWrite,
    idempotencyKey: string,
    actAs: CrmUser,
  ): { id: string; requests: ChangeSetRequest[]; state: { statecode: number; statuscode: number } | null } {
    checkPartiesAllowed(kind, write);
    const entity = DATAVERSE_ENTITIES[kind];
    const id = deterministicCrmId(kind, idempotencyKey);
    const { fields, state } = splitStateAttributes(kind, write.attributes);
    const body: JsonObject = { ...fields, ...this.partiesBody(kind, write.parties, actAs), [entity.primaryKey]: id };
    if (write.regarding) Object.assign(body, this.regardingBind(kind, write.regarding));
    // §4: statecode is not valid on create, so a closed or scheduled state is a PATCH after the POST; both go in one
    // change set (§2.6) so the record never exists in the wrong state.
    const requests: ChangeSetRequest[] = [{ method: 'POST', url: entity.entitySet, body }];
    if (state) requests.push({ method: 'PATCH', url: `${entity.entitySet}(${id})`, headers: { 'If-Match': '*' }, body: state });
    return { id, requests, state };
  }

  /** The PATCH bodies of an update, in order: a closed activity is read-only, so reopen before editing, edit before closing. */
  private updateSteps(kind: ItemKind, write: CrmWrite, regarding: JsonObject, actAs: CrmUser): JsonObject[] {
    const { fields, state } = splitStateAttributes(kind, write.attributes);
    const body: JsonObject = { ...fields, ...this.partiesBody(kind, write.parties, actAs), ...regarding };
    const steps: JsonObject[] = [];
    if (state && state.statecode === 0) steps.push(state);
    if (Object.keys(body).length > 0) steps.push(body);
    if (state && state.statecode !== 0) steps.push(state);
    return steps;
  }

  /** One write of a batch as its change set. Throws what the single-item method would throw before sending. */
  private planWrite(op: CrmWriteOp, index: number, current: Map<string, ReadOutcome>, actAs: CrmUser): PlannedWrite {
    const entity = DATAVERSE_ENTITIES[op.kind];
    if (op.type === 'create') {
      const { id, requests, state } = this.createRequests(op.kind, op.write, op.idempotencyKey, actAs);
      return { index, op, id, requests, state };
    }
    if (op.type === 'delete') {
      return { index, op, id: op.id, requests: [{ method: 'DELETE', url: `${entity.entitySet}(${op.id})` }], state: null };
    }
    checkPartiesAllowed(op.kind, op.write);
    let regarding: JsonObject = {};
    if (op.write.regarding) regarding = this.regardingBind(op.kind, op.write.regarding);
    else if (op.write.regarding === null) {
      const outcome = current.get(refKey(op.kind, op.id));
      if (outcome?.type === 'failure') throw new ItemRejectedError(outcome.failure.reason, `${op.kind} ${op.id}: ${outcome.failure.detail}`);
      regarding = regardingClear(op.kind, outcome?.type === 'record' ? outcome.record : null);
    }
    // §2.3: every PATCH carries If-Match, so none upserts a deleted record; the caller's version guards the first, and
    // the later ones run in the same atomic change set, right after it.
    const requests = this.updateSteps(op.kind, op.write, regarding, actAs).map(
      (body, step): ChangeSetRequest => ({
        method: 'PATCH',
        url: `${entity.entitySet}(${op.id})`,
        headers: { 'If-Match': step === 0 ? op.ifMatch : '*' },
        body,
      }),
    );
    return { index, op, id: op.id, requests, state: null };
  }

  /**
   * Read back the records of writes that went through, in batched GETs, and settle their results. With `fixStates`,
   * returns instead of settling the creates that met an earlier attempt's record in another state than asked for.
   */
  private async settleReadBack(
    writes: readonly PlannedWrite[],
    results: (CrmWriteResult | undefined)[],
    fixStates: boolean,
  ): Promise<{ write: PlannedWrite; record: CrmRecord }[]> {
    let outcomes: Map<string, ReadOutcome>;
    try {
      outcomes = await this.readRefs(writes.map((write) => ({ kind: write.op.kind, id: write.id })));
    } catch (error) {
      if (error instanceof AuthError) throw error;
      // The writes were applied; only their answers are missing, as with a lost response to a single write.
      for (const write of writes) results[write.index] = { ok: false, error: itemError(error) };
      return [];
    }
    const stateFixes: { write: PlannedWrite; record: CrmRecord }[] = [];
    for (const write of writes) {
      const { kind } = write.op;
      const outcome = outcomes.get(refKey(kind, write.id));
      let result: CrmWriteResult;
      if (outcome === undefined || outcome.type === 'gone') {
        const what = write.op.type === 'create' ? 'vanished after its create' : 'no longer exists';
        result = { ok: false, error: new ItemRejectedError('crm-record-gone', `${kind} ${write.id} ${what}`) };
      } else if (outcome.type === 'failure') {
        result = { ok: false, error: new ItemRejectedError(outcome.failure.reason, `${kind} ${write.id}: ${outcome.failure.detail}`) };
      } else if (write.op.type === 'update' && write.requests.length === 0 && !sameVersion(outcome.record, write.op.ifMatch)) {
        result = { ok: false, error: new ConcurrencyError(`${kind} ${write.id} changed since version ${write.op.ifMatch}`) };
      } else if (fixStates && write.existed && write.state && !hasState(outcome.record, write.state)) {
        stateFixes.push({ write, record: outcome.record });
        continue;
      } else result = { ok: true, record: outcome.record };
      results[write.index] = result;
    }
    return stateFixes;
  }

  private async readOne(kind: ItemKind, id: string): Promise<CrmRecord | null> {
    return (await this.read(kind, [id], { id: '', azureObjectId: null, address: '' })).get(id) ?? null;
  }

  /** By id: a plain GET for one, `$batch` GETs for more; 404 → gone, a malformed row → a failure of its own. */
  private async readOutcomes(kind: ItemKind, ids: readonly string[]): Promise<Map<string, ReadOutcome>> {
    const byRef = await this.readRefs(ids.map((id) => ({ kind, id })));
    const out = new Map<string, ReadOutcome>();
    for (const id of ids) out.set(id, byRef.get(refKey(kind, id)) as ReadOutcome);
    return out;
  }

  /** Records of any kinds by id, `readBatchSize` per `$batch`, keyed by `refKey`. */
  private async readRefs(refs: readonly { kind: ItemKind; id: string }[]): Promise<Map<string, ReadOutcome>> {
    const out = new Map<string, ReadOutcome>();
    const unique = [...new Map(refs.map((ref) => [refKey(ref.kind, ref.id), ref])).values()];
    for (let i = 0; i < unique.length; i += this.readBatchSize) {
      const chunk = unique.slice(i, i + this.readBatchSize);
      // §2.1: `If-None-Match: null` defeats cached $expand results (the party lists of activities).
      const requests = chunk.map(({ kind, id }): { url: string; headers: Record<string, string> } => ({
        url: this.recordUrl(kind, id),
        headers: DATAVERSE_ENTITIES[kind].partiesProperty ? { Prefer: ANNOTATIONS, 'If-None-Match': 'null' } : { Prefer: ANNOTATIONS },
      }));
      let parts: { status: number; body: unknown }[];
      if (chunk.length === 1) {
        const request = requests[0] as { url: string; headers: Record<string, string> };
        parts = [await this.http.send({ method: 'GET', url: request.url, headers: request.headers })];
      } else {
        parts = await this.http.batchGet(requests);
      }
      chunk.forEach(({ kind, id }, index) => {
        const part = parts[index] as { status: number; body: unknown };
        out.set(refKey(kind, id), readOutcome(kind, id, part));
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
    if (response.status >= 300) throw updateFailure(kind, id, ifMatch, response);
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
    return regardingClear(kind, await this.readOne(kind, id));
  }

  private expectOk(response: DataverseResponse, what: string): unknown {
    if (response.status !== 200) throw failureFor(errorInfo(response.status, response.body), what);
    return response.body;
  }
}

/** §4.1: unbind the regarding lookup through the navigation property of the table it points to now (none: nothing to do). */
function regardingClear(kind: ItemKind, current: CrmRecord | null): JsonObject {
  const entity = current?.data['_regardingobjectid_value@Microsoft.Dynamics.CRM.lookuplogicalname'];
  if (typeof entity !== 'string' || current?.data._regardingobjectid_value === null) return {};
  return { [`regardingobjectid_${entity}_${kind}@odata.bind`]: null };
}

/** §2.2/§2.4: the id already exists ("DuplicateRecord", 412 or the code): an earlier attempt made the record. */
function isDuplicateKey(failure: { status: number; body: unknown }): boolean {
  const info = errorInfo(failure.status, failure.body);
  return failure.status === 412 || info.code.toLowerCase() === DUPLICATE_RECORD || /matching key values already exists/i.test(info.message);
}

/** A failed PATCH of an update. §2.3: with If-Match a missing record is a 404, never an upsert. */
function updateFailure(kind: ItemKind, id: string, ifMatch: string, failure: { status: number; body: unknown }): Error {
  if (failure.status === 404) return new ItemRejectedError('crm-record-gone', `${kind} ${id} no longer exists`);
  // §2.4: key on the 412, not on the (unconfirmed) code.
  if (failure.status === 412) return new ConcurrencyError(`${kind} ${id} changed since version ${ifMatch}`);
  return failureFor(errorInfo(failure.status, failure.body), `PATCH ${DATAVERSE_ENTITIES[kind].entitySet}`);
}

/** A DELETE's answer: null when the record is gone now. §2.3: 404 when absent, which is what the caller wanted. */
function deleteFailure(kind: ItemKind, response: { status: number; body: unknown }): Error | null {
  if (response.status === 204 || response.status === 200 || response.status === 404) return null;
  return failureFor(errorInfo(response.status, response.body), `DELETE ${DATAVERSE_ENTITIES[kind].entitySet}`);
}

/** An update with nothing to write still honours its If-Match: the record must be at that version. */
function checkUnchangedVersion(kind: ItemKind, id: string, record: CrmRecord, ifMatch: string): void {
  if (!sameVersion(record, ifMatch)) throw new ConcurrencyError(`${kind} ${id} changed since version ${ifMatch}`);
}

function sameVersion(record: CrmRecord, ifMatch: string): boolean {
  return ifMatch === '*' || record.version === ifMatch;
}

function hasState(record: CrmRecord, state: { statecode: number; statuscode: number }): boolean {
  return record.data.statecode === state.statecode && record.data.statuscode === state.statuscode;
}

/** One GET by id: 404 → gone; a refusal of this record → a failure of its own; auth and transient failures throw. */
function readOutcome(kind: ItemKind, id: string, part: { status: number; body: unknown }): ReadOutcome {
  if (part.status === 404) return { type: 'gone' };
  if (part.status !== 200) {
    const error = failureFor(errorInfo(part.status, part.body), `GET ${kind} ${id}`);
    if (!(error instanceof ItemRejectedError)) throw error;
    return { type: 'failure', failure: { id, reason: error.reason, detail: error.message } };
  }
  const parsed = parseRow(kind, part.body);
  if (parsed.type === 'record') return { type: 'record', record: parsed.record };
  if (parsed.type === 'failure') return { type: 'failure', failure: parsed.failure };
  return { type: 'gone' };
}

function refKey(kind: ItemKind, id: string): string {
  return `${kind}:${id.toLowerCase()}`;
}

/** Consecutive writes per `$batch`: at most `size` change sets and 1,000 requests (§2.6). */
function chunkWrites(writes: readonly PlannedWrite[], size: number): PlannedWrite[][] {
  const chunks: PlannedWrite[][] = [];
  let chunk: PlannedWrite[] = [];
  let requests = 0;
  for (const write of writes) {
    if (chunk.length >= size || requests + write.requests.length > MAX_BATCH_REQUESTS) {
      chunks.push(chunk);
      chunk = [];
      requests = 0;
    }
    chunk.push(write);
    requests += write.requests.length;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

/** A write's own failure as the port's error; a bug (anything else) is never turned into a result. */
function itemError(error: unknown): Error {
  if (error instanceof ItemRejectedError || error instanceof ConcurrencyError || error instanceof TransientError) return error;
  throw error;
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
