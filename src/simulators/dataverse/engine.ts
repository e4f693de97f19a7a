// The Web API surface: routing, CRUD with concurrency (§2.2–2.4), queries and paging (§1.4), change tracking (§1),
// `$batch` (§2.6), service protection (§3), impersonation (§5) and the request log. Handlers are synchronous over
// the in-memory store, so a change set runs without interleaving and can be undone as a unit.
import { randomUUID } from 'node:crypto';
import {
  boundaryOf,
  parseBatch,
  relativePath,
  resolveContentIdBody,
  resolveContentIdUrl,
  runBatch,
  serializeBatchResponse,
  type BatchRequestPart,
} from './batch';
import { CODES, DataverseError, MESSAGES, badRequest, notFound, unknownQueryProperty } from './errors';
import { matchesFetchFilter, parseFetchXml, type FetchFilter } from './fetchxml';
import { compilePredicate, evaluateFilter, filterProperties, parseFilter, type Predicate } from './filter';
import type { DataverseKnobs } from './knobs';
import { GUID_RE, Records, type Actor, type AnnotationFilter, type ExpandSpec } from './records';
import {
  annotationMatcher,
  emptyResponse,
  jsonResponse,
  parsePrefer,
  type Preferences,
  type SimRequest,
  type SimResponse,
} from './request';
import type { TableDef } from './schema';
import { lookupOfValueProperty, SCHEMA_NAMES, TABLES, tableByName, tableBySet, TIME_ZONE_DEFINITIONS } from './schema';
import { ServiceProtection } from './protection';
import { DataverseStore, type LookupRef, type Row } from './store';
import { ChangeFeed, type TrackingCursor } from './tracking';

export type RequestKind =
  | 'create'
  | 'update'
  | 'upsert'
  | 'delete'
  | 'retrieve'
  | 'retrieveMultiple'
  | 'trackChanges'
  | 'delta'
  | 'count'
  | 'batch'
  | 'whoAmI'
  | 'metadata'
  | 'identity'
  | 'other';

export interface RequestLogEntry {
  method: string;
  entitySet: string | null;
  kind: RequestKind;
  status: number;
  /** Inner request of a `$batch` (the batch itself is logged once, as kind `batch`). */
  viaBatch: boolean;
  /** The systemuser the request acted as. */
  callerId: string | null;
  path: string;
  /** Set when the request was applied but the client got a 503 or a dropped connection instead (knob failAfterCommitNext). */
  answerLost?: 503 | 'drop';
  /**
   * A `$batch` (kind `batch`): its inner requests in the order they ran, each also logged on its own as `viaBatch`
   * (§2.6: the batch is one request toward the limits, its parts are the work).
   */
  parts?: BatchPartLog[];
  /** An inner request of a `$batch` that ran in a change set: the change set's index among the batch's change sets. */
  changeSet?: number;
}

export type BatchPartLog = Pick<RequestLogEntry, 'method' | 'entitySet' | 'kind' | 'status' | 'callerId' | 'path'> & {
  /** Index of the change set the part ran in (0-based among the batch's change sets), or null outside one. */
  changeSet: number | null;
};

interface Route {
  table: TableDef | null;
  id: string | null;
  /** Segment after `(id)/` or after the entity set (`$count`). */
  sub: string | null;
  special: 'batch' | 'whoAmI' | 'entityDefinitions' | 'metadata' | null;
  definitionKey: string | null;
}

interface Context {
  actor: Actor;
  prefer: Preferences;
  annotate: AnnotationFilter;
  headers: Record<string, string>;
}

/** Paging state carried inside the opaque `$skiptoken` cookie. */
interface PageState {
  /** Normal reads: creation sequence of the last row returned, or offset when ordered. */
  afterSeq?: number;
  offset?: number;
  /** Change tracking reads. */
  tracking?: TrackingCursor;
  page: number;
  pageSize: number;
}

/** `@odata.bind` values are used as sent; `$n` Content-ID references were resolved by the batch runner. */
const asIs = (reference: string): string => reference;

const UNSUPPORTED_WITH_TRACKING = ['$filter', '$orderby', '$expand', '$top'] as const;

export class DataverseEngine {
  readonly store: DataverseStore;
  readonly records: Records;
  private readonly changes: ChangeFeed;
  private readonly protection: ServiceProtection;
  readonly log: RequestLogEntry[] = [];
  clockOffsetMs = 0;
  readonly applicationUserId: string;
  readonly organizationId = randomUUID();
  readonly businessUnitId = randomUUID();
  apiBase = '';

  constructor(readonly knobs: DataverseKnobs) {
    this.store = new DataverseStore(() => this.now(), (table) => this.binRetentionMs(table));
    this.records = new Records(this.store, () => this.knobs, () => this.now());
    this.changes = new ChangeFeed(this.store, () => this.knobs, () => this.now());
    this.protection = new ServiceProtection(() => this.knobs, () => this.now());
    this.applicationUserId = this.seedUser({
      fullname: '# outlook-crm-sync',
      internalemailaddress: null,
      azureactivedirectoryobjectid: randomUUID(),
      applicationid: randomUUID(),
      accessmode: 4,
    });
    const org = this.records.buildCreate(tableByName('organization'), this.organizationId, {
      values: new Map([['name', 'Simulated organization']]),
      lookups: new Map(),
      parties: null,
      primaryKey: null,
    }, { callerId: this.applicationUserId, realCallerId: this.applicationUserId });
    this.store.put('organization', org, false);
    for (const zone of TIME_ZONE_DEFINITIONS) {
      const values = new Map<string, string | number | boolean | null>([
        ['timezonecode', zone.timezonecode],
        ['standardname', zone.standardname],
        ['daylightname', zone.standardname.replace(/Standard Time$/, 'Daylight Time')],
        ['userinterfacename', zone.userinterfacename],
        ['bias', zone.bias],
        ['retiredorder', 0],
      ]);
      this.putSystemRow('timezonedefinition', randomUUID(), values);
    }
    for (const table of TABLES) {
      const id = randomUUID();
      this.entityMetadataIds.set(table.logicalName, id);
      this.putSystemRow('entity', id, new Map([
        ['name', SCHEMA_NAMES[table.logicalName] ?? table.logicalName],
        ['logicalname', table.logicalName],
      ]));
    }
  }

  /** `entity` row id (the table's metadata id) per table logical name. */
  private readonly entityMetadataIds = new Map<string, string>();

  /** A row of a read-only system table (usersettings, timezonedefinition), not change-tracked. */
  private putSystemRow(
    logicalName: string,
    id: string,
    values: Map<string, string | number | boolean | null>,
    lookups: Map<string, LookupRef> = new Map(),
  ): void {
    const actor = this.applicationUserId ?? id;
    const row = this.records.buildCreate(tableByName(logicalName), id, { values, lookups, parties: null, primaryKey: id }, {
      callerId: actor,
      realCallerId: actor,
    });
    this.store.put(logicalName, row, false);
  }

  /** `usersettings.timezonecode` of a user (a TimeZoneDefinition code, e.g. 35 Eastern Standard Time). */
  setUserTimeZoneCode(systemUserId: string, timeZoneCode: number): void {
    const id = systemUserId.toLowerCase();
    if (!this.store.get('systemuser', id)) throw new Error(`unknown systemuser ${systemUserId}`);
    this.putSystemRow('usersettings', id, new Map([['timezonecode', timeZoneCode]]));
  }

  now(): number {
    return Date.now() + this.clockOffsetMs;
  }

  seedUser(input: {
    fullname: string;
    internalemailaddress: string | null;
    azureactivedirectoryobjectid: string | null;
    systemuserid?: string;
    applicationid?: string;
    accessmode?: number;
    isdisabled?: boolean;
  }): string {
    const def = tableByName('systemuser');
    const id = (input.systemuserid ?? randomUUID()).toLowerCase();
    const actorId = this.applicationUserId ?? id;
    const values = new Map<string, string | number | boolean | null>([
      ['fullname', input.fullname],
      ['internalemailaddress', input.internalemailaddress],
      ['domainname', input.internalemailaddress],
      ['azureactivedirectoryobjectid', input.azureactivedirectoryobjectid?.toLowerCase() ?? null],
      ['applicationid', input.applicationid ?? null],
      ['accessmode', input.accessmode ?? 0],
      ['isdisabled', input.isdisabled ?? false],
    ]);
    const [first, ...rest] = input.fullname.split(' ');
    values.set('firstname', rest.length ? (first ?? null) : null);
    values.set('lastname', rest.length ? rest.join(' ') : input.fullname);
    const row = this.records.buildCreate(def, id, { values: new Map(), lookups: new Map(), parties: null, primaryKey: id }, {
      callerId: actorId,
      realCallerId: actorId,
    });
    const merged = new Map(row.values);
    for (const [k, v] of values) merged.set(k, v);
    this.store.put('systemuser', { ...row, values: merged });
    // Every user has a usersettings row (same key) holding its time zone.
    this.putSystemRow('usersettings', id, new Map([['timezonecode', this.knobs.defaultTimeZoneCode]]));
    return id;
  }

  /** How long a table keeps deleted rows (knobs `recycleBin`, `recycleBinCleanupIntervalDays`); null: none. */
  private binRetentionMs(table: TableDef): number | null {
    return this.knobs.recycleBin[table.entitySet] === true ? this.knobs.recycleBinCleanupIntervalDays * 86_400_000 : null;
  }

  private recycleBinConfigState = '';

  /** `recyclebinconfig` rows mirror the recycle-bin knobs (schema.ts recyclebinconfig), rebuilt when they change. */
  private syncRecycleBinConfig(): void {
    const state = JSON.stringify([this.knobs.recycleBin, this.knobs.recycleBinCleanupIntervalDays]);
    if (state === this.recycleBinConfigState) return;
    this.recycleBinConfigState = state;
    const rows = this.store.table('recyclebinconfig').rows;
    for (const id of [...rows.keys()]) this.store.remove('recyclebinconfig', id, false);
    const tables = Object.entries(this.knobs.recycleBin);
    if (tables.length === 0) return;
    // The table is named only through `extensionofrecordid` (restore-deleted-records: "The RecycleBinConfig table
    // doesn't contain the name of the table"); `name` is set on the organization row alone.
    const put = (logicalName: string, name: string | null, enabled: boolean, interval: number) => {
      const entityId = this.entityMetadataIds.get(logicalName);
      if (entityId === undefined) return;
      this.putSystemRow('recyclebinconfig', randomUUID(), new Map<string, string | number | boolean | null>([
        ['name', name],
        ['statecode', enabled ? 0 : 1],
        ['statuscode', enabled ? 1 : 2],
        ['isreadyforrecyclebin', enabled],
        ['cleanupintervalindays', interval],
      ]), new Map([['extensionofrecordid', { id: entityId, table: 'entity' }]]));
    };
    put('organization', 'organization', true, this.knobs.recycleBinCleanupIntervalDays);
    for (const [entitySet, enabled] of tables) {
      const table = tableBySet(entitySet);
      if (table) put(table.logicalName, null, enabled, -1);
    }
  }

  /** `organization.expirechangetrackingindays` mirrors the retention knob (§1.5: read it at runtime). */
  private syncOrganization(): void {
    const org = this.store.get('organization', this.organizationId);
    if (!org || org.values.get('expirechangetrackingindays') === this.knobs.changeTrackingRetentionDays) return;
    const values = new Map(org.values);
    values.set('expirechangetrackingindays', this.knobs.changeTrackingRetentionDays);
    this.store.put('organization', { ...org, values }, false);
  }

  // ---------- top level ----------

  /** One top-level HTTP request (path relative to the Web API root). */
  handleTopLevel(request: SimRequest): SimResponse {
    let route: Route | null = null;
    let kind: RequestKind = 'other';
    let actorId: string | null = null;
    let response: SimResponse;
    let routeError: unknown = null;
    const partsFrom = this.log.length;
    let parts: BatchPartLog[] | undefined;
    try {
      route = this.route(request.path);
      kind = this.kindOf(request, route);
    } catch (error) {
      routeError = error;
    }
    try {
      this.syncOrganization();
      this.syncRecycleBinConfig();
      // Authentication comes first: an unauthenticated caller learns nothing about the URL.
      this.authenticate(request);
      if (routeError !== null || route === null) throw routeError;
      this.protection.checkFaults(request.method, route.table?.entitySet ?? null);
      const context = this.context(request.headers);
      actorId = context.actor.callerId;
      const debugHeaders = this.protection.checkRequestLimit(context.actor);
      response = route.special === 'batch' ? this.batch(request, context) : this.dispatch(request, route, context);
      Object.assign(response.headers, debugHeaders);
    } catch (error) {
      response = this.errorResponse(error, request.headers['prefer']);
    }
    if (kind === 'batch') {
      parts = this.log.slice(partsFrom).map((entry) => ({
        method: entry.method,
        entitySet: entry.entitySet,
        kind: entry.kind,
        status: entry.status,
        callerId: entry.callerId,
        path: entry.path,
        changeSet: entry.changeSet ?? null,
      }));
    }
    this.log.push({
      method: request.method,
      entitySet: route?.table?.entitySet ?? null,
      kind,
      status: response.status,
      viaBatch: false,
      callerId: actorId,
      path: request.path,
      ...(parts ? { parts } : {}),
    });
    return response;
  }

  /** Logs a request the HTTP layer rejected before it reached the engine (the concurrency limit, §3). */
  logRejected(request: SimRequest, response: SimResponse): void {
    let route: Route | null = null;
    let kind: RequestKind = 'other';
    try {
      route = this.route(request.path);
      kind = this.kindOf(request, route);
    } catch {
      // An unroutable path is logged without an entity set.
    }
    this.log.push({ method: request.method, entitySet: route?.table?.entitySet ?? null, kind, status: response.status, viaBatch: false, callerId: null, path: request.path });
  }

  /** §2.5: with `odata.include-annotations` matching, errors carry the CDS error-detail annotations. */
  errorResponse(error: unknown, preferHeader?: string): SimResponse {
    if (error instanceof DataverseError) {
      const body = error.body() as { error: Record<string, unknown> };
      const annotate = annotationMatcher(parsePrefer(preferHeader).annotations);
      const hex = error.code.replace(/^0x/, '');
      const details: Record<string, unknown> = {
        '@Microsoft.PowerApps.CDS.ErrorDetails.OperationStatus': '0',
        '@Microsoft.PowerApps.CDS.ErrorDetails.SubErrorCode': hex ? String(parseInt(hex, 16) | 0) : '',
        '@Microsoft.PowerApps.CDS.HelpLink': `http://go.microsoft.com/fwlink/?LinkID=398563&error=Microsoft.Crm.CrmException%3a${hex}&client=platform`,
        '@Microsoft.PowerApps.CDS.TraceText': '',
        '@Microsoft.PowerApps.CDS.InnerError.Message': error.message,
      };
      for (const [name, value] of Object.entries(details)) if (annotate(name.slice(1))) body.error[name] = value;
      return jsonResponse(error.status, body, { ...error.headers });
    }
    const message = error instanceof Error ? error.message : String(error);
    return jsonResponse(500, { error: { code: '0x80040216', message: `An unexpected error occurred: ${message}` } });
  }

  /** Tokens issued by the identity routes this simulator serves, with their expiry on the simulator clock. */
  readonly issuedTokens = new Map<string, { expiresAt: number; scope: string }>();

  private authenticate(request: SimRequest): void {
    if (!this.knobs.requireBearer) return;
    const m = /^Bearer\s+(\S+)$/i.exec((request.headers['authorization'] ?? '').trim());
    const fail = (description: string) =>
      new DataverseError(401, CODES.authFailed, `The user is not authenticated: ${description}`, {
        'WWW-Authenticate': `Bearer error="invalid_token", error_description="${description}", authorization_uri=https://login.microsoftonline.com/common/oauth2/authorize`,
      });
    if (!m) throw fail('a Bearer token is required.');
    const token = m[1] as string;
    const issued = this.issuedTokens.get(token);
    if (issued) {
      if (issued.expiresAt <= this.now()) throw fail('the token has expired.');
      // §5: the token's scope is `<environment-url>/.default`; a token for another resource is not valid here.
      const origin = new URL(this.apiBase).origin;
      if (!issued.scope.split(' ').some((s) => s.replace(/\/?\.default$/, '').replace(/\/+$/, '') === origin)) {
        throw fail(`the token audience is not ${origin}.`);
      }
      return;
    }
    // Tokens in the identity simulator's format that this simulator did not issue (e.g. a Graph token) are invalid.
    if (token.startsWith('simtok.') || !this.knobs.acceptAnyBearer) throw fail('the token was not issued for this environment.');
  }

  private usersByObjectId = new Map<string, string>();

  /** Index of systemusers by Entra object id, rebuilt when a lookup misses or finds a stale entry. */
  private userByObjectId(objectId: string): Row | undefined {
    const cached = this.usersByObjectId.get(objectId);
    const row = cached ? this.store.get('systemuser', cached) : undefined;
    if (row && row.values.get('azureactivedirectoryobjectid') === objectId) return row;
    this.usersByObjectId = new Map();
    for (const user of this.store.table('systemuser').rows.values()) {
      const oid = user.values.get('azureactivedirectoryobjectid');
      if (typeof oid === 'string') this.usersByObjectId.set(oid, user.id);
    }
    const id = this.usersByObjectId.get(objectId);
    return id ? this.store.get('systemuser', id) : undefined;
  }

  /** §5: `CallerObjectId` (Entra object id) or legacy `MSCRMCallerID` (systemuserid) selects the acting user. */
  private context(headers: Record<string, string>): Context {
    const prefer = parsePrefer(headers['prefer']);
    const actor: Actor = { callerId: this.applicationUserId, realCallerId: this.applicationUserId };
    const objectId = headers['callerobjectid'] ?? headers['mscrm.callerobjectid'];
    const systemUserId = headers['mscrmcallerid'] ?? headers['mscrm.callerid'];
    if (objectId) {
      const user = this.userByObjectId(objectId.trim().toLowerCase());
      if (!user || user.values.get('isdisabled') === true) {
        // UNCONFIRMED code and status for an unknown impersonation target.
        throw new DataverseError(403, CODES.callerNotFound, `The user with CallerObjectId ${objectId} does not exist or is disabled.`);
      }
      actor.callerId = user.id;
    } else if (systemUserId) {
      const user = this.store.get('systemuser', systemUserId.trim().toLowerCase());
      if (!user) throw new DataverseError(403, CODES.callerNotFound, `The user with SystemUserId ${systemUserId} does not exist.`);
      actor.callerId = user.id;
    }
    return { actor, prefer, annotate: annotationMatcher(prefer.annotations), headers };
  }

  private route(rawPath: string): Route {
    const path = decodeURIComponent(rawPath.replace(/^\/+/, ''));
    const none: Route = { table: null, id: null, sub: null, special: null, definitionKey: null };
    if (path === '$batch') return { ...none, special: 'batch' };
    if (path === 'WhoAmI' || path === 'WhoAmI()') return { ...none, special: 'whoAmI' };
    if (path === '$metadata') return { ...none, special: 'metadata' };
    const defs = /^EntityDefinitions(?:\(LogicalName='([a-z_]+)'\))?$/.exec(path);
    if (defs) return { ...none, special: 'entityDefinitions', definitionKey: defs[1] ?? null };
    const m = /^([A-Za-z_]+)(?:\(([^)]*)\))?(?:\/(.+))?$/.exec(path);
    const table = m ? tableBySet(m[1] as string) : undefined;
    if (!m || !table) {
      throw new DataverseError(404, '0x8006088a', `Resource not found for the segment '${path.split(/[(/]/)[0] ?? path}'.`);
    }
    let id: string | null = null;
    if (m[2] !== undefined) {
      const key = m[2].replace(new RegExp(`^${table.primaryKey}=`), '');
      if (!GUID_RE.test(key)) throw badRequest(`Invalid key '${m[2]}' for ${table.entitySet}.`, CODES.payloadError);
      id = key.toLowerCase();
    }
    return { table, id, sub: m[3] ?? null, special: null, definitionKey: null };
  }

  private kindOf(request: SimRequest, route: Route): RequestKind {
    if (route.special === 'batch') return 'batch';
    if (route.special === 'whoAmI') return 'whoAmI';
    if (route.special) return 'metadata';
    const method = request.method.toUpperCase();
    if (route.sub === '$count') return 'count';
    if (method === 'POST' && route.id === null) return 'create';
    if (method === 'DELETE') return 'delete';
    if (method === 'PATCH' || method === 'PUT') {
      if (request.headers['if-none-match'] === '*') return 'create';
      return request.headers['if-match'] ? 'update' : 'upsert';
    }
    if (method === 'GET') {
      if (route.id !== null && route.sub === null) return 'retrieve';
      if (request.query.has('$deltatoken')) return 'delta';
      if (parsePrefer(request.headers['prefer']).trackChanges || this.isTrackingSkiptoken(request.query.get('$skiptoken'))) {
        return 'trackChanges';
      }
      return 'retrieveMultiple';
    }
    return 'other';
  }

  private dispatch(request: SimRequest, route: Route, context: Context): SimResponse {
    const method = request.method.toUpperCase();
    if (route.special === 'whoAmI') {
      return jsonResponse(200, {
        '@odata.context': `${this.apiBase}$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse`,
        BusinessUnitId: this.businessUnitId,
        UserId: context.actor.callerId,
        OrganizationId: this.organizationId,
      });
    }
    if (route.special === 'entityDefinitions') return this.entityDefinitions(request, route);
    if (route.special === 'metadata') {
      throw new DataverseError(501, '0x80040216', 'This simulator does not serve $metadata; use EntityDefinitions.');
    }
    const table = route.table as TableDef;
    if (table.readOnlyTable && method !== 'GET') {
      throw new DataverseError(405, '0x80060888', `The ${table.entitySet} entity set does not support ${method} in this simulator.`);
    }
    if (route.id === null) {
      if (route.sub === '$count' && method === 'GET') return this.count(table, request);
      if (route.sub !== null) throw new DataverseError(404, '0x8006088a', `Resource not found for the segment '${route.sub}'.`);
      if (method === 'GET') return this.collection(table, request, context);
      if (method === 'POST') return this.create(table, request, context);
      throw new DataverseError(405, '0x80060888', `${method} is not supported on a collection.`);
    }
    if (route.sub !== null) return this.property(table, route.id, route.sub, request, context);
    if (method === 'GET') return this.retrieve(table, route.id, request, context);
    if (method === 'PATCH') return this.patch(table, route.id, request, context);
    if (method === 'DELETE') return this.remove(table, route.id, request);
    throw new DataverseError(405, '0x80060888', `${method} is not supported on an entity.`);
  }

  // ---------- CRUD ----------

  private entityUrl(table: TableDef, id: string): string {
    return `${this.apiBase}${table.entitySet}(${id})`;
  }

  private parseJson(body: string): unknown {
    try {
      return JSON.parse(body === '' ? '{}' : body) as unknown;
    } catch {
      throw badRequest('The request body is not valid JSON.', CODES.payloadError);
    }
  }

  private contextPath(table: TableDef, select: readonly string[] | null): string {
    return `${this.apiBase}$metadata#${table.entitySet}${select ? `(${select.join(',')})` : ''}`;
  }

  private representation(table: TableDef, row: Row, request: SimRequest, context: Context, status: number, extra: Record<string, string> = {}): SimResponse {
    const select = this.records.parseSelect(table, request.query.get('$select'));
    const expand = this.records.parseExpand(table, request.query.get('$expand'));
    const body = {
      '@odata.context': `${this.contextPath(table, select)}/$entity`,
      ...this.records.serialize(table, row, select, context.annotate, expand),
    };
    return jsonResponse(status, body, { ...this.preferenceApplied(context, { representation: true }), ...extra });
  }

  private preferenceApplied(context: Context, applied: { representation?: boolean; pageSize?: number | null; tracking?: boolean }): Record<string, string> {
    const values: string[] = [];
    if (applied.tracking) values.push('odata.track-changes');
    if (applied.pageSize) values.push(`odata.maxpagesize=${applied.pageSize}`);
    if (applied.representation && context.prefer.returnRepresentation) values.push('return=representation');
    if (context.prefer.annotationsRaw !== null) values.push(`odata.include-annotations=${context.prefer.annotationsRaw}`);
    return values.length ? { 'Preference-Applied': values.join(',') } : {};
  }

  /** Query options are validated before a write, so a bad `$select` fails the request without writing. */
  private validateQuery(table: TableDef, request: SimRequest): void {
    this.records.parseSelect(table, request.query.get('$select'));
    this.records.parseExpand(table, request.query.get('$expand'));
  }

  private create(table: TableDef, request: SimRequest, context: Context): SimResponse {
    this.validateQuery(table, request);
    const parsed = this.records.parseWrite(table, this.parseJson(request.body), 'create', asIs);
    const id = parsed.primaryKey ?? randomUUID();
    if (this.store.get(table.logicalName, id)) {
      // A client-supplied key that exists: the idempotent-create retry case (UNCONFIRMED status/code, knob).
      const d = this.knobs.duplicateKeyOnCreate;
      throw new DataverseError(d.status, d.code, d.message);
    }
    const row = this.store.transaction(() => {
      const built = this.records.buildCreate(table, id, parsed, context.actor);
      if (this.duplicateDetectionRequested(context)) this.records.checkDuplicates(table, built);
      this.store.put(table.logicalName, built);
      return built;
    });
    // §2.2: 201 with body and no OData-EntityId when return=representation, else 204 + OData-EntityId.
    if (context.prefer.returnRepresentation) return this.representation(table, row, request, context, 201);
    return emptyResponse(204, { 'OData-EntityId': this.entityUrl(table, id) });
  }

  /** §2.7: duplicate detection runs only when the caller opts in. */
  private duplicateDetectionRequested(context: Context): boolean {
    return this.knobs.duplicateDetection && (context.headers['mscrm.suppressduplicatedetection'] ?? '').trim().toLowerCase() === 'false';
  }

  private checkIfMatch(table: TableDef, id: string, existing: Row | undefined, headers: Record<string, string>): void {
    const ifMatch = headers['if-match']?.trim();
    const ifNoneMatch = headers['if-none-match']?.trim();
    if (ifNoneMatch === '*' && existing) {
      // §2.3: If-None-Match: * makes the PATCH a pure create.
      throw new DataverseError(412, CODES.duplicateRecord, MESSAGES.matchingKeyExists);
    }
    if (ifMatch) {
      if (!existing) throw notFound(table.logicalName, id);
      if (ifMatch !== '*' && ifMatch !== `W/"${existing.version}"`) {
        throw new DataverseError(412, this.knobs.concurrencyMismatchCode, MESSAGES.concurrencyVersionMismatch);
      }
    }
  }

  private patch(table: TableDef, id: string, request: SimRequest, context: Context): SimResponse {
    this.validateQuery(table, request);
    const existing = this.store.get(table.logicalName, id);
    this.checkIfMatch(table, id, existing, request.headers);
    const parsed = this.records.parseWrite(table, this.parseJson(request.body), existing ? 'update' : 'create', asIs);
    if (parsed.primaryKey !== null && parsed.primaryKey !== id) {
      throw badRequest(`The key in the body does not match the key in the URL.`, CODES.invalidArgument);
    }
    const row = this.store.transaction(() => {
      const built = existing
        ? this.records.buildUpdate(table, existing, parsed, context.actor)
        : this.records.buildCreate(table, id, parsed, context.actor);
      if (this.duplicateDetectionRequested(context)) this.records.checkDuplicates(table, built);
      this.store.put(table.logicalName, built);
      return built;
    });
    const entityId = { 'OData-EntityId': this.entityUrl(table, id) };
    // §2.3: upsert returns 201 for a create and 200 for an update with return=representation, else 204.
    if (context.prefer.returnRepresentation) return this.representation(table, row, request, context, existing ? 200 : 201);
    return emptyResponse(204, entityId);
  }

  private remove(table: TableDef, id: string, request: SimRequest): SimResponse {
    const existing = this.store.get(table.logicalName, id);
    if (!existing) throw notFound(table.logicalName, id);
    const ifMatch = request.headers['if-match']?.trim();
    if (ifMatch && ifMatch !== '*' && ifMatch !== `W/"${existing.version}"`) {
      throw new DataverseError(412, this.knobs.concurrencyMismatchCode, MESSAGES.concurrencyVersionMismatch);
    }
    this.store.transaction(() => {
      this.records.removeParties(existing);
      this.store.remove(table.logicalName, id);
    });
    return emptyResponse(204);
  }

  private retrieve(table: TableDef, id: string, request: SimRequest, context: Context): SimResponse {
    const row = this.store.get(table.logicalName, id);
    if (!row) throw notFound(table.logicalName, id);
    const select = this.records.parseSelect(table, request.query.get('$select'));
    const expand = this.records.parseExpand(table, request.query.get('$expand'));
    const ifNoneMatch = request.headers['if-none-match']?.trim();
    // §2.4: 304 when unchanged, never with $expand or annotations.
    if (ifNoneMatch && ifNoneMatch === `W/"${row.version}"` && expand.length === 0 && context.prefer.annotations.length === 0) {
      return emptyResponse(304);
    }
    const body = {
      '@odata.context': `${this.contextPath(table, select)}/$entity`,
      ...this.records.serialize(table, row, select, context.annotate, expand),
    };
    return jsonResponse(200, body, { ETag: `W/"${row.version}"`, ...this.preferenceApplied(context, {}) });
  }

  /** `(id)/nav` collection reads, and single-column `PUT {value}` / `DELETE` (§2.3). */
  private property(table: TableDef, id: string, sub: string, request: SimRequest, context: Context): SimResponse {
    const row = this.store.get(table.logicalName, id);
    if (!row) throw notFound(table.logicalName, id);
    const method = request.method.toUpperCase();
    if (method === 'GET' && sub === table.partyNavigation) {
      const partyDef = tableByName('activityparty');
      const select = this.records.parseSelect(partyDef, request.query.get('$select'));
      return jsonResponse(200, {
        '@odata.context': this.contextPath(partyDef, select),
        value: this.records.partiesOf(row).map((p) => this.records.serialize(partyDef, p, select, context.annotate)),
      });
    }
    const column = table.columns[sub];
    if (!column) throw unknownQueryProperty(table.logicalName, sub);
    if (method === 'GET') {
      return jsonResponse(200, { '@odata.context': `${this.apiBase}$metadata#${table.entitySet}(${id})/${sub}`, value: row.values.get(sub) ?? null });
    }
    if (method !== 'PUT' && method !== 'DELETE') throw new DataverseError(405, '0x80060888', `${method} is not supported on a property.`);
    const value = method === 'PUT' ? (this.parseJson(request.body) as { value?: unknown }).value ?? null : null;
    const parsed = this.records.parseWrite(table, { [sub]: value }, 'update', asIs);
    this.store.transaction(() => this.store.put(table.logicalName, this.records.buildUpdate(table, row, parsed, context.actor)));
    return emptyResponse(204);
  }

  // ---------- queries ----------

  private pageSize(context: Context, fallback?: number): number {
    return Math.min(context.prefer.maxPageSize ?? fallback ?? this.knobs.maxPageSize, this.knobs.maxPageSize);
  }

  private encodeSkiptoken(state: PageState, tracking: boolean): string {
    const cookie = Buffer.from(JSON.stringify(state)).toString('base64url');
    return `<cookie pagenumber="${state.page}" pagingcookie="${encodeURIComponent(cookie)}" istracking="${tracking ? 'True' : 'False'}" />`;
  }

  private decodeSkiptoken(token: string): PageState {
    const m = /pagingcookie="([^"]*)"/.exec(token);
    try {
      if (!m) throw new Error('no cookie');
      return JSON.parse(Buffer.from(decodeURIComponent(m[1] as string), 'base64url').toString('utf8')) as PageState;
    } catch {
      throw badRequest('The $skiptoken is not valid.', CODES.invalidArgument);
    }
  }

  private isTrackingSkiptoken(token: string | null): boolean {
    return token !== null && token.includes('istracking="True"');
  }

  private linkWith(table: TableDef, request: SimRequest, replace: Record<string, string | null>): string {
    const params: string[] = [];
    for (const [key, value] of request.query) {
      if (key in replace) continue;
      params.push(`${key}=${encodeURIComponent(value).replace(/%2C/g, ',')}`);
    }
    for (const [key, value] of Object.entries(replace)) if (value !== null) params.push(`${key}=${encodeURIComponent(value)}`);
    return `${this.apiBase}${table.entitySet}${params.length ? `?${params.join('&')}` : ''}`;
  }

  /** A row matcher for `$filter`, or null when there is none; unknown properties fail with 400 before any scan. */
  private compileFilter(table: TableDef, raw: string | null): ((row: Row) => boolean) | null {
    if (raw === null || raw.trim() === '') return null;
    const { text, paths } = this.lookupPaths(raw);
    const node = parseFilter(text);
    for (const property of filterProperties(node)) {
      const path = paths.get(property);
      if (path) {
        const target = table.lookups[path.lookup]?.bindings[path.lookup];
        const targetTable = target === undefined ? undefined : tableByName(target);
        if (!targetTable || !this.records.isReadableProperty(targetTable, path.column)) {
          throw unknownQueryProperty(table.logicalName, `${path.lookup}/${path.column}`);
        }
      } else if (!this.records.isReadableProperty(table, property)) throw unknownQueryProperty(table.logicalName, property);
    }
    const predicate: Predicate = compilePredicate(node);
    let current: Row | null = null;
    const direct = this.getterFor(table, () => current as Row);
    const get = (property: string): unknown => {
      const path = paths.get(property);
      if (!path) return direct(property);
      const ref = (current as Row).lookups.get(path.lookup);
      const target = ref ? this.store.get(ref.table, ref.id) : undefined;
      if (!ref || !target) return null;
      return path.column === tableByName(ref.table).primaryKey ? target.id : (target.values.get(path.column) ?? null);
    };
    return (row) => {
      current = row;
      return predicate(get);
    };
  }

  /**
   * Lookup-path properties (`extensionofrecordid/name`: a single-valued navigation property, then a column of the
   * related row; restore-deleted-records, "Disable recycle bin for a table", Web API tab) rewritten outside string
   * literals to one identifier filter.ts can tokenize, with the path each stands for.
   */
  private lookupPaths(raw: string): { text: string; paths: Map<string, { lookup: string; column: string }> } {
    const paths = new Map<string, { lookup: string; column: string }>();
    const pieces = raw.split(/('(?:[^']|'')*')/);
    const text = pieces
      .map((piece, i) =>
        i % 2 === 1
          ? piece
          : piece.replace(/\b([A-Za-z_][A-Za-z0-9_]*)\/([A-Za-z_][A-Za-z0-9_]*)\b/g, (_m, lookup: string, column: string) => {
              const token = `__path_${paths.size}`;
              paths.set(token, { lookup, column });
              return token;
            }),
      )
      .join('');
    return { text, paths };
  }

  /** A property reader over whichever row `row()` returns (one closure per query, not per row). */
  private getterFor(table: TableDef, row: () => Row): (property: string) => unknown {
    const lookupNames = new Map<string, string | null>();
    return (property) => {
      const r = row();
      if (property === table.primaryKey) return r.id;
      let lookup = lookupNames.get(property);
      if (lookup === undefined) {
        lookup = lookupOfValueProperty(table, property);
        lookupNames.set(property, lookup);
      }
      if (lookup !== null) return r.lookups.get(lookup)?.id ?? null;
      return r.values.get(property) ?? null;
    };
  }

  private propertyGetter(table: TableDef, row: Row): (property: string) => unknown {
    return this.getterFor(table, () => row);
  }

  private collection(table: TableDef, request: SimRequest, context: Context): SimResponse {
    const fetchXml = request.query.get('fetchXml');
    if (fetchXml !== null) return this.fetchCollection(table, request, context, fetchXml);
    const skiptoken = request.query.get('$skiptoken');
    const deltatoken = request.query.get('$deltatoken');
    const wantsTracking = context.prefer.trackChanges || deltatoken !== null || this.isTrackingSkiptoken(skiptoken);
    if (wantsTracking) {
      for (const option of UNSUPPORTED_WITH_TRACKING) {
        if (request.query.has(option)) {
          // §1.2: documented message; status UNCONFIRMED (400).
          throw badRequest(`The "${option}" query parameter isn't supported when Change Tracking is enabled.`, CODES.invalidArgument);
        }
      }
      if (this.knobs.changeTracking[table.entitySet]) return this.trackedCollection(table, request, context);
      if (this.knobs.trackChangesOnUntrackedTable === 'reject' || deltatoken !== null) {
        throw badRequest(`Change tracking is not enabled for the entity '${table.logicalName}'.`, CODES.invalidArgument);
      }
      // §1.1: untracked table with track-changes → a normal read without deltaLink.
    }
    const select = this.records.parseSelect(table, request.query.get('$select'));
    const expand = this.records.parseExpand(table, request.query.get('$expand'));
    const filter = this.compileFilter(table, request.query.get('$filter'));
    const orderby = this.parseOrderBy(table, request.query.get('$orderby'));
    const topRaw = request.query.get('$top');
    const top = topRaw === null ? null : Number(topRaw);
    if (top !== null && (!Number.isInteger(top) || top < 0)) throw badRequest(`Invalid $top '${topRaw}'.`);
    if (request.query.has('$skip')) throw badRequest('The query parameter $skip is not supported.', CODES.invalidArgument);
    const state: PageState | null = skiptoken ? this.decodeSkiptoken(skiptoken) : null;
    // §1.4: $top is ignored when odata.maxpagesize is present; without either, pages of up to 5,000 with a nextLink.
    const pagePreferred = context.prefer.maxPageSize !== null || state !== null || top === null;
    const pageSize = this.pageSize(context, state?.pageSize);
    const limit = !pagePreferred && top !== null ? Math.min(top, pageSize) : pageSize;
    const matches = (row: Row) => filter === null || filter(row);
    const rows: Row[] = [];
    let more = false;
    const tableStore = this.store.table(table.logicalName);
    let nextState: PageState | null = null;
    let count = 0;
    const wantCount = request.query.get('$count') === 'true';
    if (orderby.length > 0) {
      const all = [...tableStore.rows.values()].filter(matches);
      count = all.length;
      all.sort((a, b) => this.compareRows(table, a, b, orderby));
      const offset = state?.offset ?? 0;
      rows.push(...all.slice(offset, offset + limit));
      more = pagePreferred && offset + limit < all.length;
      nextState = { offset: offset + limit, page: (state?.page ?? 1) + 1, pageSize };
    } else {
      const afterSeq = state?.afterSeq ?? 0;
      for (const row of tableStore.rows.values()) {
        if (row.seq <= afterSeq && !wantCount) continue;
        if (!matches(row)) continue;
        count++;
        if (row.seq <= afterSeq) continue;
        if (rows.length < limit) rows.push(row);
        else if (pagePreferred) {
          more = true;
          if (!wantCount) break;
        } else if (!wantCount) break;
      }
      nextState = { afterSeq: rows[rows.length - 1]?.seq ?? afterSeq, page: (state?.page ?? 1) + 1, pageSize };
    }
    const body: Record<string, unknown> = { '@odata.context': this.contextPath(table, select) };
    if (wantCount) body['@odata.count'] = count;
    body['value'] = rows.map((row) => this.records.serialize(table, row, select, context.annotate, expand));
    if (more && nextState) {
      body['@odata.nextLink'] = this.linkWith(table, request, { $skiptoken: this.encodeSkiptoken(nextState, false) });
    }
    return jsonResponse(200, body, this.preferenceApplied(context, { pageSize: context.prefer.maxPageSize ? pageSize : null }));
  }

  /**
   * `GET <entityset>?fetchXml=…` (fetchxml.ts). With `datasource='bin'` the rows are the table's recycle bin within the
   * cleanup interval (restore-deleted-records: "Currently, you can only retrieve deleted records using FetchXml").
   */
  private fetchCollection(table: TableDef, request: SimRequest, context: Context, text: string): SimResponse {
    for (const key of request.query.keys()) {
      if (key !== 'fetchXml') throw badRequest(`The query parameter ${key} cannot be combined with fetchXml.`, CODES.invalidArgument);
    }
    const query = parseFetchXml(text);
    if (query.entity !== table.logicalName) {
      throw badRequest(`The entity '${query.entity}' in the FetchXml does not match the entity set '${table.entitySet}'.`);
    }
    const property = (attribute: string): string => {
      const name = table.lookups[attribute] ? `_${attribute}_value` : attribute;
      if (!this.records.isReadableProperty(table, name)) throw unknownQueryProperty(table.logicalName, attribute);
      return name;
    };
    const select = query.attributes?.map(property) ?? null;
    if (query.filter) checkFetchAttributes(query.filter, property);
    let candidates: Iterable<Row>;
    if (query.datasource === 'bin') {
      const retention = this.binRetentionMs(table);
      if (retention === null) {
        // restore-deleted-records: with the bin off "you won't find any records"; the error form is a knob.
        if (this.knobs.binQueryOnDisabledTable === 'error') {
          throw badRequest(`The recycle bin is not enabled for the entity '${table.logicalName}'.`);
        }
        candidates = [];
      } else {
        const since = this.now() - retention;
        candidates = [...this.store.table(table.logicalName).bin.values()].filter((kept) => kept.at >= since).map((kept) => kept.row);
      }
    } else {
      candidates = this.store.table(table.logicalName).rows.values();
    }
    const rows: Row[] = [];
    let current: Row | null = null;
    const get = this.getterFor(table, () => current as Row);
    const limit = Math.min(query.top ?? this.knobs.maxPageSize, this.knobs.maxPageSize);
    for (const row of candidates) {
      current = row;
      if (query.filter && !matchesFetchFilter(query.filter, (attribute) => get(property(attribute)))) continue;
      if (rows.length === limit) {
        if (query.top === null) throw badRequest('This simulator does not page FetchXml results; narrow the query.');
        break;
      }
      rows.push(row);
    }
    return jsonResponse(200, {
      '@odata.context': this.contextPath(table, select),
      value: rows.map((row) => this.records.serialize(table, row, select, context.annotate, [])),
    });
  }

  private parseOrderBy(table: TableDef, raw: string | null): { property: string; descending: boolean }[] {
    if (raw === null || raw.trim() === '') return [];
    return raw.split(',').map((part) => {
      const [property, direction] = part.trim().split(/\s+/);
      if (!property || !this.records.isReadableProperty(table, property)) throw unknownQueryProperty(table.logicalName, property ?? '');
      return { property, descending: direction?.toLowerCase() === 'desc' };
    });
  }

  private compareRows(table: TableDef, a: Row, b: Row, orderby: { property: string; descending: boolean }[]): number {
    const ga = this.propertyGetter(table, a);
    const gb = this.propertyGetter(table, b);
    for (const { property, descending } of orderby) {
      const x = ga(property);
      const y = gb(property);
      if (x === y) continue;
      if (x === null || x === undefined) return descending ? 1 : -1;
      if (y === null || y === undefined) return descending ? -1 : 1;
      const c = typeof x === 'string' && typeof y === 'string' ? x.toLowerCase().localeCompare(y.toLowerCase()) : (x as number) < (y as number) ? -1 : 1;
      if (c !== 0) return descending ? -c : c;
    }
    return a.seq - b.seq;
  }

  private count(table: TableDef, request: SimRequest): SimResponse {
    const deltatoken = request.query.get('$deltatoken');
    let n: number;
    if (deltatoken !== null) {
      // §1.2: count of changes since a token.
      n = this.changes.countChanges(this.store.table(table.logicalName), deltatoken);
    } else {
      const filter = this.compileFilter(table, request.query.get('$filter'));
      n = 0;
      for (const row of this.store.table(table.logicalName).rows.values()) {
        if (filter === null || filter(row)) n++;
      }
    }
    return { status: 200, headers: { 'Content-Type': 'text/plain', 'OData-Version': '4.0' }, body: String(n) };
  }

  // ---------- change tracking (§1) ----------

  private trackedCollection(table: TableDef, request: SimRequest, context: Context): SimResponse {
    const t = this.store.table(table.logicalName);
    const select = this.records.parseSelect(table, request.query.get('$select'));
    const skiptoken = request.query.get('$skiptoken');
    let state: PageState;
    if (skiptoken !== null && this.isTrackingSkiptoken(skiptoken)) {
      state = this.decodeSkiptoken(skiptoken);
      if (!state.tracking) throw badRequest('The $skiptoken is not valid.', CODES.invalidArgument);
      this.changes.resume(t, state.tracking);
    } else {
      state = { tracking: this.changes.start(t, request.query.get('$deltatoken')), page: 1, pageSize: this.pageSize(context) };
    }
    const cursor = state.tracking as TrackingCursor;
    const pageSize = this.pageSize(context, state.pageSize);
    const { entries, next } = this.changes.page(t, cursor, pageSize);
    const deletedContext = `${this.apiBase}$metadata#${table.entitySet}/$deletedEntity`;
    const value = entries.map((entry) =>
      entry.kind === 'upsert'
        ? this.records.serialize(table, entry.row, select, context.annotate)
        : { '@odata.context': deletedContext, id: entry.id, reason: 'deleted' },
    );
    const body: Record<string, unknown> = {
      '@odata.context': `${this.contextPath(table, select)}${cursor.initial ? '' : '/$delta'}`,
      value,
    };
    const base: Record<string, string> = select ? { $select: select.join(',') } : {};
    if (next) {
      const nextState: PageState = { tracking: next, page: state.page + 1, pageSize };
      body['@odata.nextLink'] = this.linkOf(table, { ...base, $skiptoken: this.encodeSkiptoken(nextState, true) });
    } else {
      // §1.4: the deltaLink only on the last page.
      body['@odata.deltaLink'] = this.linkOf(table, { ...base, $deltatoken: this.changes.deltaToken(cursor.upto) });
    }
    const applied = this.preferenceApplied(context, {
      tracking: context.prefer.trackChanges,
      pageSize: context.prefer.maxPageSize ? pageSize : null,
    });
    return jsonResponse(200, body, applied);
  }

  private linkOf(table: TableDef, params: Record<string, string>): string {
    const query = Object.entries(params)
      .map(([k, v]) => `${k}=${k === '$select' ? v : encodeURIComponent(v)}`)
      .join('&');
    return `${this.apiBase}${table.entitySet}?${query}`;
  }

  // ---------- EntityDefinitions (§1.1: check ChangeTrackingEnabled at runtime) ----------

  private entityDefinitions(request: SimRequest, route: Route): SimResponse {
    const describe = (def: TableDef): Record<string, unknown> => ({
      LogicalName: def.logicalName,
      SchemaName: def.logicalName[0]?.toUpperCase() + def.logicalName.slice(1),
      EntitySetName: def.entitySet,
      PrimaryIdAttribute: def.primaryKey,
      PrimaryNameAttribute: def.primaryName,
      ChangeTrackingEnabled: this.knobs.changeTracking[def.entitySet] === true,
      IsOptimisticConcurrencyEnabled: true,
      MetadataId: def.logicalName,
    });
    const select = request.query.get('$select')?.split(',').map((s) => s.trim()) ?? null;
    const project = (obj: Record<string, unknown>) =>
      select ? Object.fromEntries(Object.entries(obj).filter(([k]) => select.includes(k) || k === 'MetadataId')) : obj;
    const context = `${this.apiBase}$metadata#EntityDefinitions${select ? `(${select.join(',')})` : ''}`;
    if (route.definitionKey !== null) {
      const def = [...['systemuser', 'contact', 'account', 'appointment', 'task', 'email', 'activityparty', 'organization']]
        .map((n) => tableByName(n))
        .find((d) => d.logicalName === route.definitionKey);
      if (!def) throw new DataverseError(404, '0x80040217', `Could not find an entity with name ${route.definitionKey}.`);
      return jsonResponse(200, { '@odata.context': `${context}/$entity`, ...project(describe(def)) });
    }
    const filterRaw = request.query.get('$filter');
    const filter = filterRaw ? parseFilter(filterRaw) : null;
    const all = ['systemuser', 'contact', 'account', 'appointment', 'task', 'email', 'activityparty', 'organization']
      .map((n) => describe(tableByName(n)))
      .filter((obj) => filter === null || evaluateFilter(filter, (p) => obj[p]));
    return jsonResponse(200, { '@odata.context': context, value: all.map(project) });
  }

  // ---------- $batch (§2.6) ----------

  private batch(request: SimRequest, context: Context): SimResponse {
    if (request.method.toUpperCase() !== 'POST') throw new DataverseError(405, '0x80060888', '$batch requires POST.');
    const boundary = boundaryOf(request.headers['content-type']);
    if (!boundary) throw badRequest("The batch request must have a 'Content-Type' of multipart/mixed with a boundary.");
    const items = parseBatch(request.body, boundary);
    const changeSetOf = new Map<BatchRequestPart, number>();
    items.filter((item) => item.kind === 'changeset').forEach((item, index) => {
      for (const part of item.requests) changeSetOf.set(part, index);
    });
    const run = runBatch(items, {
      maxRequests: this.knobs.batchMaxRequests,
      continueOnError: context.prefer.continueOnError,
      transaction: (work) => this.store.transaction(work),
      runPart: (part, contentIds) => this.batchPart(part, context, contentIds, changeSetOf.get(part) ?? null),
    });
    const serialized = serializeBatchResponse(run.items);
    // §2.6: the envelope's status after a failure is UNCONFIRMED (knob batchFailureStatus).
    const failureStatus = run.stopped ? this.knobs.batchFailureStatus.stopped : this.knobs.batchFailureStatus.continued;
    return {
      status: run.failed ? failureStatus : 200,
      headers: { 'Content-Type': `multipart/mixed; boundary=${serialized.boundary}`, 'OData-Version': '4.0' },
      body: serialized.body,
    };
  }

  private batchPart(part: BatchRequestPart, outer: Context, contentIds: Map<string, string>, changeSet: number | null): SimResponse {
    let route: Route | null = null;
    let kind: RequestKind = 'other';
    let response: SimResponse;
    let callerId: string | null = null;
    let path = '';
    try {
      if (part.method.toUpperCase() === 'GET' && part.url.length > 32_768) {
        // §2.6: GET URLs inside a batch may be up to 32,768 characters.
        throw badRequest('The URL of a GET request in a batch exceeds 32768 characters.');
      }
      path = resolveContentIdUrl(relativePath(part.url), contentIds);
      const [pathOnly, queryString] = splitUrl(path);
      const body = part.body.trim() === '' ? '' : resolveContentIdBody(part.body, contentIds);
      // Inner headers override the batch's (Prefer, If-Match, CallerObjectId …).
      const headers = { ...outer.headers, ...part.headers };
      delete headers['content-type'];
      if (part.headers['content-type']) headers['content-type'] = part.headers['content-type'];
      if (!part.headers['prefer']) delete headers['prefer'];
      const request: SimRequest = { method: part.method, path: pathOnly, query: new URLSearchParams(queryString), headers, body };
      route = this.route(pathOnly);
      if (route.special === 'batch') throw badRequest('Nested $batch requests are not supported.');
      kind = this.kindOf(request, route);
      const context = this.context(headers);
      callerId = context.actor.callerId;
      response = this.dispatch(request, route, context);
      if (part.contentId !== null && route.table && response.status < 300) {
        const created = response.headers['OData-EntityId'] ?? this.createdUrlFrom(route.table, response);
        if (created) contentIds.set(part.contentId, created);
      }
    } catch (error) {
      response = this.errorResponse(error, part.headers['prefer'] ?? outer.headers['prefer']);
    }
    this.log.push({
      method: part.method,
      entitySet: route?.table?.entitySet ?? null,
      kind,
      status: response.status,
      viaBatch: true,
      callerId,
      path,
      ...(changeSet !== null ? { changeSet } : {}),
    });
    return response;
  }

  private createdUrlFrom(table: TableDef, response: SimResponse): string | null {
    if (!response.body) return null;
    try {
      const body = JSON.parse(response.body) as Record<string, unknown>;
      const id = body[table.primaryKey];
      return typeof id === 'string' ? this.entityUrl(table, id) : null;
    } catch {
      return null;
    }
  }

}

function splitUrl(path: string): [string, string] {
  const q = path.indexOf('?');
  return q < 0 ? [path, ''] : [path.slice(0, q), path.slice(q + 1)];
}

export type { ExpandSpec };

/** Every attribute a FetchXml filter names must exist (400 before any row is read, as for `$filter`). */
function checkFetchAttributes(filter: FetchFilter, property: (attribute: string) => string): void {
  for (const condition of filter.conditions) property(condition.attribute);
  for (const inner of filter.filters) checkFetchAttributes(inner, property);
}
