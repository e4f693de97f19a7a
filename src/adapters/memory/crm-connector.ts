// A whole CRM in memory, with the semantics of the Dataverse connector (dataverse-behaviour.md): row versions bumped on
// every write, a table-wide change feed filtered to the user's scope, cursors that can expire, idempotent create by a
// deterministic id, optimistic concurrency and no resurrection. Test-side controls play the CRM's users and faults.
import type { CrmParty, CrmRecord, CrmWrite, ItemKind, JsonObject, JsonValue } from '../../core/model';
import type {
  CrmChange,
  CrmChangePage,
  CrmConnector,
  CrmUser,
  CrmWriteOp,
  CrmWriteOptions,
  CrmWriteResult,
} from '../../ports/crm-connector';
import { ConcurrencyError, ItemRejectedError, ResyncRequiredError, TransientError } from '../../ports/errors';
import { DATAVERSE_COLUMNS, DATAVERSE_ENTITIES } from '../dataverse/schema';
import { checkPartiesAllowed, deterministicCrmId, isRecordInScope, sameId, splitStateAttributes } from '../dataverse/scope';

interface StoredUser {
  id: string;
  azureObjectId: string | null;
  address: string;
  domainName: string | null;
  /** The user's time zone in the CRM (IANA or Windows id); UTC unless a test sets one (setUserTimeZone). */
  timeZone: string | null;
}

interface StoredRecord {
  kind: ItemKind;
  id: string;
  /** Attributes as the Web API would return them (lookups as `_<name>_value`, annotations alongside). */
  data: JsonObject;
  parties: CrmParty[];
  version: number;
  modifiedOn: string;
  /** Position in the change log; a round returns rows whose changeSeq falls in its window. */
  changeSeq: number;
  deleted: boolean;
}

export interface SeedRecord {
  attributes: JsonObject;
  ownerId: string;
  parties?: CrmParty[];
  regarding?: { entity: string; id: string } | null;
  id?: string;
}

export interface InMemoryCrmOptions {
  /** Changes per page of the feed (Dataverse `odata.maxpagesize`). */
  pageSize?: number;
  now?: () => Date;
  /**
   * Keep deleted records, as Dataverse does for tables with the recycle bin on ("Restore deleted records",
   * src/ports/crm-connector.ts findDeleted): true for every kind, or the kinds that keep them. Default off: findDeleted
   * answers null (the CRM keeps nothing). A record deleted while its kind keeps deleted records is reported by
   * findDeleted for `deletedRecordRetentionDays`, also after a record is re-created with the same id.
   */
  keepDeletedRecords?: boolean | readonly ItemKind[];
  /** How long a deleted record is kept (Dataverse `recyclebinconfig.cleanupintervalindays`, default 30 days). */
  deletedRecordRetentionDays?: number;
}

export interface InMemoryCrmCounters {
  /** Writes made, whether by the single-item methods or inside a `writeBatch`. */
  create: number;
  update: number;
  delete: number;
  read: number;
  changePages: number;
  /** `writeBatch` calls (Dataverse: one `$batch` per chunk), and the writes they carried. */
  batch: number;
  batchedWrites: number;
}

interface CursorState {
  generation: number;
  /** Changes after this sequence number (-1: initial round, everything in scope and no deletes). */
  since: number;
}

const CURSOR_PREFIX = 'memcrm1:';

export class InMemoryCrmConnector implements CrmConnector {
  private readonly users: StoredUser[] = [];
  private readonly records = new Map<string, StoredRecord>();
  private versionCounter = 900_000;
  private sequence = 0;
  private generation = 1;
  private pendingRejection: string | null = null;
  private pendingQueryFailure: Error | null = null;
  private loseCreateResponses = 0;
  private readonly pageSize: number;
  private readonly now: () => Date;
  private readonly keepsDeleted: ReadonlySet<ItemKind>;
  private readonly deletedRetentionMs: number;
  /** The bin: key(kind, id) → when the record was first deleted (a later delete of a re-created record keeps it). */
  private readonly deletedAt = new Map<string, number>();
  readonly counters: InMemoryCrmCounters = { create: 0, update: 0, delete: 0, read: 0, changePages: 0, batch: 0, batchedWrites: 0 };

  constructor(options: InMemoryCrmOptions = {}) {
    this.pageSize = options.pageSize ?? 500;
    this.now = options.now ?? (() => new Date());
    const keep = options.keepDeletedRecords ?? false;
    this.keepsDeleted = new Set<ItemKind>(keep === true ? ['contact', 'appointment', 'task', 'email'] : keep === false ? [] : keep);
    this.deletedRetentionMs = (options.deletedRecordRetentionDays ?? 30) * 86_400_000;
  }

  // ---- test-side controls: the CRM's users and faults ----

  addUser(user: { address: string; id?: string; azureObjectId?: string | null; domainName?: string | null; timeZone?: string | null }): CrmUser {
    const stored: StoredUser = {
      id: user.id ?? deterministicCrmId('contact', `systemuser:${user.address}`),
      azureObjectId: user.azureObjectId === undefined ? deterministicCrmId('contact', `aad:${user.address}`) : user.azureObjectId,
      address: user.address,
      domainName: user.domainName ?? null,
      timeZone: user.timeZone === undefined ? 'UTC' : user.timeZone,
    };
    this.users.push(stored);
    return { id: stored.id, azureObjectId: stored.azureObjectId, address: stored.address, timeZone: stored.timeZone };
  }

  /** The user's time zone in the CRM (what Dataverse keeps in usersettings.timezonecode); null: none known. */
  setUserTimeZone(idOrAddress: string, timeZone: string | null): void {
    const wanted = idOrAddress.toLowerCase();
    const user = this.users.find((u) => u.id.toLowerCase() === wanted || u.address.toLowerCase() === wanted);
    if (!user) throw new Error(`no CRM user ${idOrAddress}`);
    user.timeZone = timeZone;
  }

  /** A record created by someone in the CRM (not through the connector). */
  userCreate(kind: ItemKind, seed: SeedRecord): string {
    const id = seed.id ?? deterministicCrmId(kind, `seed:${this.sequence}`);
    const record: StoredRecord = {
      kind,
      id,
      data: { _ownerid_value: seed.ownerId },
      parties: [],
      version: 0,
      modifiedOn: '',
      changeSeq: 0,
      deleted: false,
    };
    this.applyAttributes(record, seed.attributes);
    const state = splitStateAttributes(kind, seed.attributes).state;
    if (state) Object.assign(record.data, state);
    if (seed.parties) record.parties = seed.parties.map((party) => ({ ...party }));
    if (seed.regarding !== undefined) this.applyRegarding(record, seed.regarding);
    this.records.set(key(kind, id), record);
    this.touch(record);
    return id;
  }

  userEdit(kind: ItemKind, id: string, attributes: JsonObject): void {
    const record = this.live(kind, id);
    if (!record) throw new Error(`no ${kind} ${id}`);
    this.applyAttributes(record, attributes);
    const state = splitStateAttributes(kind, attributes).state;
    if (state) Object.assign(record.data, state);
    this.touch(record);
  }

  userSetParties(kind: ItemKind, id: string, parties: CrmParty[]): void {
    const record = this.live(kind, id);
    if (!record) throw new Error(`no ${kind} ${id}`);
    record.parties = parties.map((party) => ({ ...party }));
    this.touch(record);
  }

  userDelete(kind: ItemKind, id: string): void {
    const record = this.live(kind, id);
    if (!record) return;
    record.deleted = true;
    this.touch(record);
    // Dataverse ignores the copy to the bin when the key is already there (restore-deleted-records, "Primary Key
    // Violation on Delete"): the first deletion stays.
    const binKey = key(kind, id);
    if (this.keepsDeleted.has(kind) && !this.binHolds(binKey)) this.deletedAt.set(binKey, this.now().getTime());
  }

  reassign(kind: ItemKind, id: string, ownerId: string): void {
    const record = this.live(kind, id);
    if (!record) throw new Error(`no ${kind} ${id}`);
    record.data._ownerid_value = ownerId;
    this.touch(record);
  }

  /** Every cursor handed out so far expires (dataverse-behaviour.md §1.5: ExpiredVersionStamp). */
  expireCursors(): void {
    this.generation += 1;
  }

  /** The next create/update/delete fails with ItemRejectedError(reason) and changes nothing. */
  rejectNextWrite(reason = 'crm-rejected'): void {
    this.pendingRejection = reason;
  }

  /** The next findEmailsByMessageId throws `error` (an outage or throttling of the query). */
  failNextMessageIdQuery(error: Error): void {
    this.pendingQueryFailure = error;
  }

  /** The next create succeeds in the CRM but its response is lost (the caller sees a TransientError). */
  loseNextCreateResponse(): void {
    this.loseCreateResponses += 1;
  }

  /** The record as stored, or null (assertions of tests). */
  peek(kind: ItemKind, id: string): CrmRecord | null {
    const record = this.live(kind, id);
    return record ? this.toRecord(record) : null;
  }

  /** Live records of a kind (assertions of tests). */
  all(kind: ItemKind): CrmRecord[] {
    return [...this.records.values()].filter((r) => r.kind === kind && !r.deleted).map((r) => this.toRecord(r));
  }

  // ---- the port ----

  async resolveUser(mailboxAddress: string): Promise<CrmUser | null> {
    const wanted = mailboxAddress.toLowerCase();
    const user = this.users.find((u) => u.address.toLowerCase() === wanted || u.domainName?.toLowerCase() === wanted);
    return user ? { id: user.id, azureObjectId: user.azureObjectId, address: mailboxAddress, timeZone: user.timeZone } : null;
  }

  async readChanges(
    kind: ItemKind,
    user: CrmUser,
    cursor: string | null,
    onPage: (page: CrmChangePage) => Promise<void>,
  ): Promise<void> {
    const start = cursor === null ? { generation: this.generation, since: -1 } : parseCursor(cursor);
    if (!start || start.generation !== this.generation) {
      throw new ResyncRequiredError(`crm:${kind}`, 'Version stamp associated with the client has expired. Please perform a full sync.');
    }
    const until = this.sequence;
    const changes = this.changesBetween(kind, user, start.since, until);
    let offset = 0;
    do {
      const slice = changes.slice(offset, offset + this.pageSize);
      offset += slice.length;
      const final = offset >= changes.length;
      // Resuming mid-round replays the round from its start: an offset into a list that later edits reshuffle could
      // skip a change, a replay only repeats upserts (at least once, like a Dataverse nextLink retried).
      const next: CursorState = { generation: this.generation, since: final ? until : start.since };
      this.counters.changePages += 1;
      await onPage({ changes: slice, failures: [], cursor: formatCursor(next), final });
      if (final) return;
    } while (offset < changes.length);
  }

  async read(kind: ItemKind, ids: readonly string[], _user: CrmUser): Promise<Map<string, CrmRecord | null>> {
    this.counters.read += 1;
    const result = new Map<string, CrmRecord | null>();
    for (const id of ids) {
      const record = this.live(kind, id);
      result.set(id, record ? this.toRecord(record) : null);
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
    const { record, made } = this.applyCreate(kind, write, options.actAs, options.idempotencyKey);
    if (made && this.takeLostResponse()) throw new TransientError('the create response was lost');
    return record;
  }

  async update(kind: ItemKind, id: string, write: CrmWrite, options: CrmWriteOptions & { ifMatch: string }): Promise<CrmRecord> {
    return this.applyUpdate(kind, id, write, options.ifMatch);
  }

  async delete(kind: ItemKind, id: string, _options: CrmWriteOptions): Promise<void> {
    this.applyDelete(kind, id);
  }

  /**
   * The writes in order, each alone with the semantics of the single-item method (Dataverse: a change set each, with
   * continue-on-error). A lost create response loses the answer to the whole batch, after every write was applied.
   */
  async writeBatch(ops: readonly CrmWriteOp[], options: CrmWriteOptions): Promise<CrmWriteResult[]> {
    this.counters.batch += 1;
    this.counters.batchedWrites += ops.length;
    const results: CrmWriteResult[] = [];
    let answerLost = false;
    for (const op of ops) {
      try {
        if (op.type === 'create') {
          const { record, made } = this.applyCreate(op.kind, op.write, options.actAs, op.idempotencyKey);
          if (made && this.takeLostResponse()) answerLost = true;
          results.push({ ok: true, record });
        } else if (op.type === 'update') {
          results.push({ ok: true, record: this.applyUpdate(op.kind, op.id, op.write, op.ifMatch) });
        } else {
          this.applyDelete(op.kind, op.id);
          results.push({ ok: true, record: null });
        }
      } catch (error) {
        if (!(error instanceof ItemRejectedError || error instanceof ConcurrencyError || error instanceof TransientError)) throw error;
        results.push({ ok: false, error });
      }
    }
    if (answerLost) throw new TransientError('the $batch response was lost');
    return results;
  }

  async findContactsByEmail(addresses: readonly string[], user: CrmUser): Promise<CrmRecord[]> {
    const wanted = new Set(addresses.map((a) => a.toLowerCase()));
    return this.all('contact').filter(
      (record) =>
        record.ownerId !== null &&
        sameId(record.ownerId, user.id) &&
        ['emailaddress1', 'emailaddress2', 'emailaddress3'].some((column) => {
          const value = record.data[column];
          return typeof value === 'string' && wanted.has(value.toLowerCase());
        }),
    );
  }

  /** Exact `messageid` matches, whoever owns them (as the Dataverse connector's query, src/adapters/dataverse/match.ts). */
  async findEmailsByMessageId(messageIds: readonly string[], _user: CrmUser): Promise<CrmRecord[]> {
    const wanted = new Set(messageIds.map((id) => id.trim()).filter((id) => id.length > 0));
    this.counters.read += 1;
    const failure = this.pendingQueryFailure;
    this.pendingQueryFailure = null;
    if (failure) throw failure;
    return this.all('email').filter((record) => {
      const messageId = record.data.messageid;
      return typeof messageId === 'string' && wanted.has(messageId);
    });
  }

  /** The ids among `ids` deleted while `kind` kept deleted records, within the retention; null when it keeps none. */
  async findDeleted(kind: ItemKind, ids: readonly string[], _user: CrmUser): Promise<Set<string> | null> {
    if (!this.keepsDeleted.has(kind)) return null;
    this.counters.read += 1;
    const found = new Set<string>();
    for (const id of ids) if (this.binHolds(key(kind, id))) found.add(id.toLowerCase());
    return found;
  }

  // ---- internals ----

  private binHolds(binKey: string): boolean {
    const at = this.deletedAt.get(binKey);
    return at !== undefined && this.now().getTime() - at <= this.deletedRetentionMs;
  }

  private applyCreate(kind: ItemKind, write: CrmWrite, actAs: CrmUser, idempotencyKey: string): { record: CrmRecord; made: boolean } {
    this.takeRejection();
    checkPartiesAllowed(kind, write);
    this.counters.create += 1;
    const id = deterministicCrmId(kind, idempotencyKey);
    const existing = this.live(kind, id);
    // The same id again: an earlier attempt made the record (dataverse-behaviour.md §2.2, client-supplied key).
    if (existing) return { record: this.toRecord(existing), made: false };
    checkAttributes(write.attributes);
    this.userCreate(kind, { id, attributes: write.attributes, ownerId: actAs.id, parties: write.parties ?? [], regarding: write.regarding });
    const created = this.live(kind, id);
    if (!created) throw new Error('create lost its record');
    return { record: this.toRecord(created), made: true };
  }

  private applyUpdate(kind: ItemKind, id: string, write: CrmWrite, ifMatch: string): CrmRecord {
    this.takeRejection();
    checkPartiesAllowed(kind, write);
    this.counters.update += 1;
    const record = this.live(kind, id);
    // dataverse-behaviour.md §2.3: with If-Match the PATCH never upserts, so a deleted record stays deleted.
    if (!record) throw new ItemRejectedError('crm-record-gone', `${kind} ${id} no longer exists`);
    if (ifMatch !== '*' && ifMatch !== etag(record.version)) {
      throw new ConcurrencyError(`${kind} ${id} changed since version ${ifMatch}`);
    }
    // Checked before anything changes, so a refused write leaves the record as it was (a change set, §2.6).
    checkAttributes(write.attributes);
    this.applyAttributes(record, write.attributes);
    const state = splitStateAttributes(kind, write.attributes).state;
    if (state) Object.assign(record.data, state);
    if (write.parties) record.parties = write.parties.map((party) => ({ ...party }));
    if (write.regarding !== undefined) this.applyRegarding(record, write.regarding);
    this.touch(record);
    return this.toRecord(record);
  }

  private applyDelete(kind: ItemKind, id: string): void {
    this.takeRejection();
    this.counters.delete += 1;
    this.userDelete(kind, id);
  }

  private takeLostResponse(): boolean {
    if (this.loseCreateResponses === 0) return false;
    this.loseCreateResponses -= 1;
    return true;
  }

  private changesBetween(kind: ItemKind, user: CrmUser, since: number, until: number): CrmChange[] {
    const window = [...this.records.values()].filter((r) => r.kind === kind && r.changeSeq > since && r.changeSeq <= until);
    const at = this.now().toISOString();
    const upserts: CrmChange[] = [];
    const deletes: CrmChange[] = [];
    // dataverse-behaviour.md §1.3: new/updated rows by version first, then deletes; an initial round has no deletes.
    for (const stored of window.sort((a, b) => a.version - b.version)) {
      if (stored.deleted) {
        if (since >= 0) deletes.push({ type: 'deleted', id: stored.id, at });
        continue;
      }
      const record = this.toRecord(stored);
      if (isRecordInScope(record, user)) upserts.push({ type: 'upsert', id: stored.id, record, at: record.modifiedOn });
      else if (since >= 0) upserts.push({ type: 'outOfScope', id: stored.id, record, at: record.modifiedOn });
    }
    return [...upserts, ...deletes];
  }

  private live(kind: ItemKind, id: string): StoredRecord | null {
    const record = this.records.get(key(kind, id));
    return record && !record.deleted ? record : null;
  }

  private touch(record: StoredRecord): void {
    this.versionCounter += 1;
    this.sequence += 1;
    record.version = this.versionCounter;
    record.changeSeq = this.sequence;
    record.modifiedOn = this.now().toISOString().replace(/\.\d{3}Z$/, 'Z');
  }

  private takeRejection(): void {
    const reason = this.pendingRejection;
    if (reason === null) return;
    this.pendingRejection = null;
    throw new ItemRejectedError(reason, `the CRM refused the write (${reason})`);
  }

  /** Writes use Web API names: plain columns, and lookups as `<navigation>@odata.bind` (dataverse-behaviour.md §4.1). */
  private applyAttributes(record: StoredRecord, attributes: JsonObject): void {
    for (const [name, value] of Object.entries(attributes)) {
      if (name === 'statecode' || name === 'statuscode') continue;
      const bind = /^(parentcustomerid|ownerid)(?:_(\w+))?@odata\.bind$/.exec(name);
      if (bind) {
        record.data[`_${bind[1]}_value`] = typeof value === 'string' ? (/\(([^)]+)\)/.exec(value)?.[1] ?? null) : null;
        continue;
      }
      checkAttributes({ [name]: value });
      record.data[name] = value;
    }
  }

  private applyRegarding(record: StoredRecord, regarding: { entity: string; id: string } | null): void {
    record.data._regardingobjectid_value = regarding?.id ?? null;
    if (regarding) record.data['_regardingobjectid_value@Microsoft.Dynamics.CRM.lookuplogicalname'] = regarding.entity;
    else delete record.data['_regardingobjectid_value@Microsoft.Dynamics.CRM.lookuplogicalname'];
  }

  /** What a `$select` of the mapped columns returns: every selected column (null when unset) and its annotations. */
  private toRecord(stored: StoredRecord): CrmRecord {
    const columns = DATAVERSE_COLUMNS[stored.kind];
    const data: JsonObject = { [DATAVERSE_ENTITIES[stored.kind].primaryKey]: stored.id };
    for (const column of columns) data[column] = clone(stored.data[column] ?? null);
    data.modifiedon = stored.modifiedOn;
    for (const [name, value] of Object.entries(stored.data)) {
      const at = name.indexOf('@');
      if (at > 0 && columns.includes(name.slice(0, at))) data[name] = clone(value);
    }
    const owner = stored.data._ownerid_value;
    return {
      kind: stored.kind,
      id: stored.id,
      version: etag(stored.version),
      modifiedOn: stored.modifiedOn,
      ownerId: typeof owner === 'string' ? owner : null,
      data,
      parties: stored.parties.map((party) => ({ ...party, party: party.party ? { ...party.party } : null })),
    };
  }
}

/** Lookups are read as `_<name>_value` and written only through `@odata.bind` (dataverse-behaviour.md §2.2, §4.1). */
function checkAttributes(attributes: JsonObject): void {
  for (const name of Object.keys(attributes)) {
    if (name.startsWith('_')) throw new ItemRejectedError('crm-invalid-attribute', `${name} is read-only`);
  }
}

function etag(version: number): string {
  return `W/"${version}"`;
}

function key(kind: ItemKind, id: string): string {
  return `${kind}:${id.toLowerCase()}`;
}

function clone(value: JsonValue): JsonValue {
  return value !== null && typeof value === 'object' ? (JSON.parse(JSON.stringify(value)) as JsonValue) : value;
}

function formatCursor(state: CursorState): string {
  return `${CURSOR_PREFIX}${state.generation}:${state.since}`;
}

function parseCursor(cursor: string): CursorState | null {
  const match = /^memcrm1:(\d+):(-?\d+)$/.exec(cursor);
  return match ? { generation: Number(match[1]), since: Number(match[2]) } : null;
}
