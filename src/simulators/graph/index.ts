// A faithful local Microsoft Graph (Outlook workloads) over HTTPS on loopback, for the worker's tests, benchmarks
// and `npm run simulate`. Behaviour follows /work/shared/reference/graph-behaviour.md; faults and UNCONFIRMED
// behaviour are knobs (knobs.ts), all injected faults off by default. It also serves the Entra ID token endpoints
// (shared/identity.ts) so @azure/msal-node can authenticate against it, and checks the tokens it issued (expiry,
// audience; knobs `acceptAnyBearer`, `tokenLifetimeSeconds`).
//
//   const sim = await startGraphSimulator({ port: 0 });
//   sim.control.createUser('adele@contoso.test');
//   Client.initWithMiddleware({ baseUrl: sim.baseUrl, customHosts: new Set(['localhost']), fetchOptions: { dispatcher }, … })
//   msal: authority sim.tokenEndpoint.authority(tenant), knownAuthorities [sim.tokenEndpoint.knownAuthority]
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { simulatorCertificate } from '../shared/tls';
import { handleIdentityRequest, tokenEndpointInfo, type TokenEndpointInfo } from '../shared/identity';
import { graphErrorBody, readBody, sendJson } from '../shared/http';
import { RequestLog, tokenFingerprint } from '../shared/request-log';
import { runBatch } from './batch';
import { createClock, createControl, handleControlRequest, type GraphControl } from './control';
import { defaultKnobs, type GraphKnobs } from './knobs';
import { ODataError } from './odata';
import { GraphService, errorResponse, type SimRequest, type SimResponse } from './service';
import type { Json } from './store';

export type { GraphKnobs, RequestBudget } from './knobs';
export type { GraphControl, SeedMessageOptions, WellKnownIds } from './control';
export type { RequestLog, RequestLogEntry, RequestLogFilter } from '../shared/request-log';
export { tokenFingerprint } from '../shared/request-log';
export type { TokenEndpointInfo } from '../shared/identity';
export { defaultKnobs } from './knobs';

export interface GraphSimulatorOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  knobs?: Partial<GraphKnobs>;
  /** Optional client registry for the token endpoint (client id → secret, or null for any secret). */
  clients?: ReadonlyMap<string, string | null>;
}

export interface GraphSimulator {
  /** `https://localhost:PORT/`: give it to the SDK as `baseUrl` with `customHosts: new Set(['localhost'])` (§9.6). */
  baseUrl: string;
  port: number;
  /** PEM of the certificate to trust (see adapters/http/trusted-fetch.ts). */
  caCert: string;
  tokenEndpoint: TokenEndpointInfo;
  /** Live knobs: mutate between requests. */
  knobs: GraphKnobs;
  control: GraphControl;
  requestLog: RequestLog;
  stop(): Promise<void>;
}

export async function startGraphSimulator(options: GraphSimulatorOptions = {}): Promise<GraphSimulator> {
  const cert = await simulatorCertificate();
  const knobs: GraphKnobs = { ...defaultKnobs(), ...(options.knobs ?? {}) };
  const clock = createClock();
  const requestLog = new RequestLog();
  let baseUrl = '';
  const service = new GraphService(knobs, clock, () => baseUrl, requestLog);
  const control = createControl(service, clock);

  const server = https.createServer({ cert: cert.cert, key: cert.key }, (req, res) => {
    serve(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, graphErrorBody('InternalServerError', err instanceof Error ? err.message : String(err), new Date()));
      else res.end();
    });
  });

  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const handled = await handleIdentityRequest(req, res, {
      baseUrl,
      clients: options.clients,
      tokenLifetimeSeconds: knobs.tokenLifetimeSeconds,
      onTokenIssued: (token, info) => service.recordIssuedToken(token, info.scope),
      onRequest: (info) => requestLog.record({ at: clock.now().toISOString(), mailbox: null, method: info.method, kind: info.kind, status: info.status, authorized: false, viaBatch: false, path: info.path }),
    });
    if (handled) return;
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const path = q < 0 ? rawUrl : rawUrl.slice(0, q);
    const query = q < 0 ? '' : rawUrl.slice(q + 1);
    const method = (req.method ?? 'GET').toUpperCase();
    const text = await readBody(req);
    let body: Json | undefined;
    if (text.trim()) {
      try {
        body = JSON.parse(text) as Json;
      } catch {
        const r = errorResponse(400, 'BadRequest', 'Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.', clock.now(), randomUUID());
        return write(res, r);
      }
    }
    const controlReply = handleControlRequest(service, control, method, path, new URLSearchParams(query), body);
    if (controlReply) {
      if (controlReply.body === undefined) {
        res.writeHead(controlReply.status);
        res.end();
      } else sendJson(res, controlReply.status, controlReply.body, { 'Content-Type': 'application/json' });
      return;
    }
    const version = /^\/(v1\.0)(\/.*)?$/i.exec(path);
    if (!version) {
      return write(res, errorResponse(400, 'BadRequest', `Invalid version: ${path.split('/')[1] ?? ''}`, clock.now(), randomUUID()));
    }
    const headers: Record<string, string | undefined> = {};
    for (const [k, v] of Object.entries(req.headers)) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
    const simReq: SimRequest = { method, path: version[2] ?? '/', query, headers, body, viaBatch: false };
    if (/^\/\$batch\/?$/i.test(simReq.path)) return write(res, await batch(simReq));
    return write(res, await service.handle(simReq));
  };

  const batch = async (req: SimRequest): Promise<SimResponse> => {
    const now = clock.now();
    const requestId = randomUUID();
    let response: SimResponse;
    const authFailure = service.authenticate(req.headers['authorization'], now, requestId);
    if (authFailure) response = authFailure;
    else if (req.method !== 'POST') response = errorResponse(405, 'ErrorInvalidRequest', 'The $batch endpoint accepts POST only.', now, requestId);
    else {
      try {
        response = await runBatch(service, req);
      } catch (err) {
        response = err instanceof ODataError ? errorResponse(err.status, err.code, err.message, now, requestId) : service.errorFrom(err, now, requestId);
      }
    }
    requestLog.record({ at: now.toISOString(), mailbox: null, method: req.method, kind: '$batch', status: response.status, authorized: authFailure === null, token: tokenFingerprint(req.headers['authorization']), viaBatch: false, path: '/$batch' });
    response.headers['request-id'] ??= requestId;
    return response;
  };

  // Clients close idle keep-alive sockets first (undici: 4 s default, trusted-fetch: 1 s); a server that closed first
  // would race a client reusing the socket after a long synchronous stretch (bulk seeding) → "fetch failed".
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  baseUrl = `https://localhost:${port}/`;

  return {
    baseUrl,
    port,
    caCert: cert.cert,
    tokenEndpoint: tokenEndpointInfo(baseUrl),
    knobs,
    control,
    requestLog,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function write(res: ServerResponse, r: SimResponse): void {
  if (r.body === undefined) {
    res.writeHead(r.status, r.headers);
    res.end();
    return;
  }
  sendJson(res, r.status, r.body, r.headers);
}
