// A local Dataverse Web API (v9.2) for tests, benchmarks and the sandbox: HTTPS on loopback with the shared start-up
// certificate, in-memory tables, change tracking, `$batch`, concurrency, service protection and impersonation as
// described in /work/shared/reference/dataverse-behaviour.md (§7 is the checklist).
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { handleIdentityRequest, tokenEndpointInfo, type TokenEndpointInfo } from '../shared/identity';
import { simulatorCertificate } from '../shared/tls';
import { DataverseEngine, type BatchPartLog, type RequestKind, type RequestLogEntry } from './engine';
import { CODES, DataverseError, MESSAGES } from './errors';
import { defaultKnobs, type DataverseKnobs, type FaultSpec } from './knobs';
import type { SimRequest, SimResponse } from './request';
import { API_PATH, jsonResponse } from './request';
import { tableBySet, type TableDef } from './schema';
import type { Row } from './store';

export type { BatchPartLog, DataverseKnobs, FaultSpec, RequestKind, RequestLogEntry };
export { CODES as DATAVERSE_ERROR_CODES, MESSAGES as DATAVERSE_ERROR_MESSAGES };
export { TIME_ZONE_CODES } from './schema';

export interface DataverseSimulatorOptions {
  port?: number;
  knobs?: Partial<DataverseKnobs>;
  /** Serve HTTPS with `simulatorCertificate()` (default true). */
  https?: boolean;
}

export interface SeedOptions {
  /** systemuserid the write acts as (owner/createdby default to it); default the application user. */
  as?: string;
}

export interface DataverseControl {
  /** The application user the simulator authenticates every bearer token as. */
  readonly applicationUserId: string;
  createUser(user: {
    fullname: string;
    internalemailaddress: string;
    azureactivedirectoryobjectid: string | null;
    systemuserid?: string;
    isdisabled?: boolean;
  }): string;
  /**
   * Creates a record through the same write path as POST (same body shape), without logging a request. For
   * activities a `statecode` (+ `statuscode`) is applied as a second write, since it is not valid on create (§4).
   */
  seed(entitySet: string, body: Record<string, unknown>, options?: SeedOptions): string;
  /** Updates a record as a CRM user would (PATCH body shape), without logging a request. */
  update(entitySet: string, id: string, body: Record<string, unknown>, options?: SeedOptions): void;
  /** Deletes a record (and an activity's parties); false when absent. */
  remove(entitySet: string, id: string): boolean;
  /** Reassigns a record to another systemuser (a write: new version, change feed entry). */
  reassign(entitySet: string, id: string, ownerId: string): void;
  /** The row as the API returns it with all columns, no annotations (activities include their parties), or null. */
  get(entitySet: string, id: string): Record<string, unknown> | null;
  /** The stored row: columns, lookups with their target table, version and party rows; null when absent. */
  raw(entitySet: string, id: string): RawRow | null;
  /** All rows of a table as `get` returns them. */
  rows(entitySet: string): Record<string, unknown>[];
  count(entitySet: string): number;
  /**
   * Sets a user's time zone in the CRM: `usersettings.timezonecode`, a TimeZoneDefinition code (TIME_ZONE_CODES, e.g.
   * 35 Eastern Standard Time). Not a logged request.
   */
  setUserTimeZoneCode(systemUserId: string, timeZoneCode: number): void;
  /** Moves the simulator's clock (createdon/modifiedon, token retention, request windows). */
  advanceClock(ms: number): void;
  now(): Date;
  /** Invalidates every delta token issued so far (e.g. the org's retention was changed or maintenance ran). */
  expireDeltaTokens(): void;
  /** Expires every access token issued by the identity routes (requests with them get 401). */
  expireAccessTokens(): void;
  /** msal-node settings for the identity routes: authority(tenant), knownAuthority, tokenUrl(tenant). */
  identity(): TokenEndpointInfo;
}

export interface RawRow {
  id: string;
  version: number;
  values: Record<string, string | number | boolean | null>;
  lookups: Record<string, { id: string; table: string } | null>;
  parties: RawRow[];
}

export interface DataverseRequestLog {
  readonly entries: readonly RequestLogEntry[];
  count(filter?: Partial<Pick<RequestLogEntry, 'method' | 'entitySet' | 'kind' | 'status' | 'viaBatch' | 'callerId'>>): number;
  reset(): void;
}

export interface DataverseSimulator {
  /** e.g. `https://localhost:PORT/`; the Web API is at `${baseUrl}api/data/v9.2/`. */
  readonly baseUrl: string;
  readonly apiUrl: string;
  /** PEM of the CA to trust (null when serving plain HTTP). */
  readonly caCert: string | null;
  readonly knobs: DataverseKnobs;
  readonly control: DataverseControl;
  readonly requestLog: DataverseRequestLog;
  stop(): Promise<void>;
}

function tableOf(entitySet: string): TableDef {
  const table = tableBySet(entitySet);
  if (!table) throw new Error(`unknown entity set ${entitySet}`);
  return table;
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function lowerHeaders(req: http.IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

/** A request that can change data: any method but GET, except a `$batch` whose parts are all GETs. */
function isWrite(request: SimRequest): boolean {
  if (request.method.toUpperCase() === 'GET') return false;
  if (!/^\$batch$/i.test(request.path.replace(/^\/+/, ''))) return true;
  return /^(POST|PATCH|PUT|DELETE) /im.test(request.body);
}

export async function startDataverseSimulator(options: DataverseSimulatorOptions = {}): Promise<DataverseSimulator> {
  const defaults = defaultKnobs();
  const knobs: DataverseKnobs = {
    ...defaults,
    ...options.knobs,
    // A partial per-table map overrides only the tables it names.
    changeTracking: { ...defaults.changeTracking, ...options.knobs?.changeTracking },
    recycleBin: { ...defaults.recycleBin, ...options.knobs?.recycleBin },
  };
  const engine = new DataverseEngine(knobs);
  let inFlight = 0;

  const send = (res: http.ServerResponse, response: SimResponse) => {
    res.writeHead(response.status, response.headers);
    res.end(response.body);
  };

  const onRequest = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    inFlight++;
    try {
      // Entra token endpoint for msal-node's client-credentials flow (authority = `${baseUrl}<tenant>`).
      const served = await handleIdentityRequest(req, res, {
        baseUrl,
        tokenLifetimeSeconds: knobs.tokenLifetimeSeconds,
        onRequest: (info) =>
          engine.log.push({ method: info.method, entitySet: null, kind: 'identity', status: info.status, viaBatch: false, callerId: null, path: info.path }),
        onTokenIssued: (token, info) =>
          engine.issuedTokens.set(token, { expiresAt: engine.now() + knobs.tokenLifetimeSeconds * 1000, scope: info.scope }),
      });
      if (served) return;
      const body = await readBody(req);
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (!url.pathname.startsWith(API_PATH)) {
        send(res, jsonResponse(404, { error: { code: '0x8006088a', message: `Resource not found for the segment '${url.pathname}'.` } }));
        return;
      }
      // §3: the concurrency limit errors immediately.
      if (knobs.maxConcurrentRequests !== null && inFlight > knobs.maxConcurrentRequests) {
        const rejected = engine.errorResponse(
          new DataverseError(429, CODES.concurrencyExceeded, MESSAGES.concurrencyExceeded, {
            'Retry-After': String(knobs.retryAfterSeconds),
          }),
        );
        engine.logRejected(
          { method: req.method ?? 'GET', path: url.pathname.slice(API_PATH.length), query: url.searchParams, headers: lowerHeaders(req), body },
          rejected,
        );
        send(res, rejected);
        return;
      }
      if (knobs.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, knobs.latencyMs));
      const rawPath = url.pathname.slice(API_PATH.length);
      const request: SimRequest = {
        method: req.method ?? 'GET',
        path: rawPath,
        query: url.searchParams,
        headers: lowerHeaders(req),
        body,
      };
      const response = engine.handleTopLevel(request);
      // A `$batch` answered with its parts ran them, whatever its own status (knob batchFailureStatus).
      const applied = response.status < 400 || /^multipart\/mixed/i.test(response.headers['Content-Type'] ?? '');
      if (knobs.failAfterCommitNext > 0 && isWrite(request) && applied) {
        // The request was applied; its answer is lost on the way back (knob failAfterCommitNext).
        knobs.failAfterCommitNext--;
        const entry = engine.log[engine.log.length - 1];
        if (entry) entry.answerLost = knobs.failAfterCommitMode;
        if (knobs.failAfterCommitMode === 'drop') {
          res.socket?.destroy();
          return;
        }
        // UNCONFIRMED body: §2.5 lists 503 without a code; a gateway in front of the service answers without one.
        send(res, jsonResponse(503, { error: { code: '', message: 'The service is temporarily unavailable. Please try again later.' } }));
        return;
      }
      send(res, response);
    } catch (error) {
      send(res, engine.errorResponse(error));
    } finally {
      inFlight--;
    }
  };

  let baseUrl = '';
  const useHttps = options.https ?? true;
  const certificate = useHttps ? await simulatorCertificate() : null;
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => void onRequest(req, res);
  const server = certificate ? https.createServer({ cert: certificate.cert, key: certificate.key }, handler) : http.createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  baseUrl = `${useHttps ? 'https' : 'http'}://localhost:${port}/`;
  engine.apiBase = `${baseUrl}api/data/v9.2/`;

  const actorFor = (options?: SeedOptions) => {
    const id = options?.as ?? engine.applicationUserId;
    if (!engine.store.get('systemuser', id)) throw new Error(`unknown systemuser ${id}`);
    return { callerId: id, realCallerId: id };
  };
  const identity = (value: string) => value;
  const view = (table: TableDef, id: string) => {
    const row = engine.store.get(table.logicalName, id);
    if (!row) return null;
    const expand = table.partyNavigation ? [{ navigation: table.partyNavigation, select: null }] : [];
    return engine.records.serialize(table, row, null, () => false, expand);
  };
  const raw = (row: Row): RawRow => ({
    id: row.id,
    version: row.version,
    values: Object.fromEntries(row.values),
    lookups: Object.fromEntries([...row.lookups].map(([k, v]) => [k, v ? { ...v } : null])),
    parties: engine.records.partiesOf(row).map(raw),
  });

  const control: DataverseControl = {
    applicationUserId: engine.applicationUserId,
    createUser: (user) =>
      engine.seedUser({
        fullname: user.fullname,
        internalemailaddress: user.internalemailaddress,
        azureactivedirectoryobjectid: user.azureactivedirectoryobjectid,
        ...(user.systemuserid !== undefined ? { systemuserid: user.systemuserid } : {}),
        ...(user.isdisabled !== undefined ? { isdisabled: user.isdisabled } : {}),
      }),
    setUserTimeZoneCode: (systemUserId, timeZoneCode) => engine.setUserTimeZoneCode(systemUserId, timeZoneCode),
    seed: (entitySet, body, seedOptions) => {
      const table = tableOf(entitySet);
      // Activities cannot be created closed (§4): a seeded state is applied as a second write, like a user would.
      const { statecode, statuscode, ...createBody } = body;
      const closeLater = table.isActivity && statecode !== undefined;
      const parsed = engine.records.parseWrite(table, closeLater ? createBody : body, 'create', identity);
      const id = parsed.primaryKey ?? randomUUID();
      if (engine.store.get(table.logicalName, id)) throw new Error(`${entitySet}(${id}) exists`);
      const actor = actorFor(seedOptions);
      engine.store.transaction(() => {
        const created = engine.records.buildCreate(table, id, parsed, actor);
        engine.store.put(table.logicalName, created);
        if (!closeLater) return;
        const state = engine.records.parseWrite(table, { statecode, ...(statuscode !== undefined ? { statuscode } : {}) }, 'update', identity);
        engine.store.put(table.logicalName, engine.records.buildUpdate(table, created, state, actor));
      });
      return id;
    },
    update: (entitySet, id, body, seedOptions) => {
      const table = tableOf(entitySet);
      const existing = engine.store.get(table.logicalName, id);
      if (!existing) throw new Error(`${entitySet}(${id}) does not exist`);
      const parsed = engine.records.parseWrite(table, body, 'update', identity);
      const actor = actorFor(seedOptions);
      engine.store.transaction(() => engine.store.put(table.logicalName, engine.records.buildUpdate(table, existing, parsed, actor)));
    },
    remove: (entitySet, id) => {
      const table = tableOf(entitySet);
      const existing = engine.store.get(table.logicalName, id);
      if (!existing) return false;
      engine.store.transaction(() => {
        engine.records.removeParties(existing);
        engine.store.remove(table.logicalName, id);
      });
      return true;
    },
    reassign: (entitySet, id, ownerId) => {
      control.update(entitySet, id, { 'ownerid@odata.bind': `/systemusers(${ownerId})` });
    },
    get: (entitySet, id) => view(tableOf(entitySet), id.toLowerCase()),
    raw: (entitySet, id) => {
      const row = engine.store.get(tableOf(entitySet).logicalName, id.toLowerCase());
      return row ? raw(row) : null;
    },
    rows: (entitySet) => {
      const table = tableOf(entitySet);
      return [...engine.store.table(table.logicalName).rows.keys()].map((id) => view(table, id) as Record<string, unknown>);
    },
    count: (entitySet) => engine.store.table(tableOf(entitySet).logicalName).rows.size,
    advanceClock: (ms) => {
      engine.clockOffsetMs += ms;
    },
    now: () => new Date(engine.now()),
    expireDeltaTokens: () => engine.store.expireAllTokens(),
    expireAccessTokens: () => {
      for (const issued of engine.issuedTokens.values()) issued.expiresAt = 0;
    },
    identity: () => tokenEndpointInfo(baseUrl),
  };

  const requestLog: DataverseRequestLog = {
    get entries() {
      return engine.log;
    },
    count: (filter = {}) =>
      engine.log.filter((entry) =>
        Object.entries(filter).every(([key, value]) => entry[key as keyof RequestLogEntry] === value),
      ).length,
    reset: () => {
      engine.log.length = 0;
    },
  };

  return {
    baseUrl,
    apiUrl: engine.apiBase,
    caCert: certificate?.cert ?? null,
    knobs,
    control,
    requestLog,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
