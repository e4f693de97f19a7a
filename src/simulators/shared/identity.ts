// A loopback stand-in for the Entra ID (Azure AD) v2.0 endpoints that @azure/msal-node 3 uses for the
// client-credentials flow, so the worker's real auth code runs against the simulators:
//   GET  /{tenant}/v2.0/.well-known/openid-configuration   (authority metadata; msal asks for it first)
//   GET  /{tenant}/.well-known/openid-configuration        (the OIDC protocol-mode variant)
//   GET  /common/discovery/instance                        (instance discovery; skipped by msal when the host is in
//                                                          `knownAuthorities`, served anyway for other configs)
//   GET  /{tenant}/discovery/v2.0/keys                     (jwks_uri; empty key set, tokens are opaque)
//   POST /{tenant}/oauth2/v2.0/token                       (grant_type=client_credentials → {token_type, expires_in,
//                                                          ext_expires_in, access_token})
// Errors use Entra's OAuth shape {error, error_description, error_codes, timestamp, trace_id, correlation_id}.
// Shared by the Graph and Dataverse simulators: `handleIdentityRequest` returns false for any other route.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes, randomUUID } from 'node:crypto';
import { readBody, sendJson } from './http';

export interface IdentityOptions {
  /** The simulator's own base, e.g. `https://localhost:8443/` (with the trailing slash). */
  baseUrl: string;
  /** Seconds in `expires_in`; Entra returns about 3599. */
  tokenLifetimeSeconds?: number;
  /** When set, only these client ids (with these secrets, if a secret is given) get tokens; others get invalid_client. */
  clients?: ReadonlyMap<string, string | null>;
  /** Called for every identity request served (for request logs). */
  onRequest?: (info: { method: string; kind: string; status: number; path: string }) => void;
  /** Called for every token issued, e.g. to accept only issued tokens later. */
  onTokenIssued?: (token: string, info: { tenant: string; clientId: string; scope: string }) => void;
}

export interface TokenEndpointInfo {
  /** Authority to give msal: `https://localhost:PORT/{tenant}`. */
  authority: (tenant: string) => string;
  /** Value for msal's `knownAuthorities`: `localhost:PORT`. */
  knownAuthority: string;
  tokenUrl: (tenant: string) => string;
}

export function tokenEndpointInfo(baseUrl: string): TokenEndpointInfo {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  return {
    authority: (tenant) => `${base}${tenant}`,
    knownAuthority: new URL(base).host,
    tokenUrl: (tenant) => `${base}${tenant}/oauth2/v2.0/token`,
  };
}

const TENANT = '([A-Za-z0-9._-]+)';
const OPENID = new RegExp(`^/${TENANT}(/v2\\.0)?/\\.well-known/openid-configuration$`, 'i');
const TOKEN = new RegExp(`^/${TENANT}/oauth2/v2\\.0/token$`, 'i');
const KEYS = new RegExp(`^/${TENANT}/discovery/v2\\.0/keys$`, 'i');
const INSTANCE = /^\/common\/discovery\/instance$/i;

/** Serves the identity routes; returns false (and touches nothing) when `req` is not one of them. */
export async function handleIdentityRequest(req: IncomingMessage, res: ServerResponse, options: IdentityOptions): Promise<boolean> {
  const url = new URL(req.url ?? '/', 'https://localhost');
  const path = url.pathname;
  const method = (req.method ?? 'GET').toUpperCase();
  const base = options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`;
  const reply = (kind: string, status: number, body: unknown): true => {
    sendJson(res, status, body, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store, no-cache' });
    options.onRequest?.({ method, kind, status, path });
    return true;
  };

  let m = OPENID.exec(path);
  if (m && method === 'GET') {
    const tenant = m[1] ?? 'common';
    const issuerBase = `${base}${tenant}`;
    return reply('identity.openid-configuration', 200, {
      token_endpoint: `${issuerBase}/oauth2/v2.0/token`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
      jwks_uri: `${issuerBase}/discovery/v2.0/keys`,
      response_modes_supported: ['query', 'fragment', 'form_post'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      issuer: `${issuerBase}/v2.0`,
      request_uri_parameter_supported: false,
      userinfo_endpoint: `${base}oidc/userinfo`,
      authorization_endpoint: `${issuerBase}/oauth2/v2.0/authorize`,
      device_authorization_endpoint: `${issuerBase}/oauth2/v2.0/devicecode`,
      http_logout_supported: true,
      frontchannel_logout_supported: true,
      end_session_endpoint: `${issuerBase}/oauth2/v2.0/logout`,
      claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'tid', 'oid'],
      tenant_region_scope: 'EU',
      cloud_instance_name: new URL(base).host,
      cloud_graph_host_name: new URL(base).host,
      msgraph_host: new URL(base).host,
    });
  }
  if (INSTANCE.test(path) && method === 'GET') {
    const host = new URL(base).host;
    return reply('identity.instance-discovery', 200, {
      tenant_discovery_endpoint: `${base}common/v2.0/.well-known/openid-configuration`,
      'api-version': '1.1',
      metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
    });
  }
  m = KEYS.exec(path);
  if (m && method === 'GET') return reply('identity.keys', 200, { keys: [] });

  m = TOKEN.exec(path);
  if (m) {
    const tenant = m[1] ?? 'common';
    if (method !== 'POST') return reply('identity.token', 405, oauthError('invalid_request', 900561, 'AADSTS900561: The endpoint only accepts POST requests.'));
    const form = new URLSearchParams(await readBody(req));
    const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '');
    let clientId = form.get('client_id') ?? '';
    let secret = form.get('client_secret');
    if (basic?.[1]) {
      const [id, pw] = Buffer.from(basic[1], 'base64').toString('utf8').split(':');
      clientId ||= decodeURIComponent(id ?? '');
      secret ??= decodeURIComponent(pw ?? '');
    }
    const grant = form.get('grant_type');
    const scope = form.get('scope') ?? '';
    if (grant !== 'client_credentials') {
      return reply('identity.token', 400, oauthError('unsupported_grant_type', 70003, `AADSTS70003: The app requested an unsupported grant type '${grant ?? ''}'.`));
    }
    if (!clientId) return reply('identity.token', 400, oauthError('invalid_request', 900144, "AADSTS900144: The request body must contain the following parameter: 'client_id'."));
    if (!scope) return reply('identity.token', 400, oauthError('invalid_request', 900144, "AADSTS900144: The request body must contain the following parameter: 'scope'."));
    if (!secret && !form.get('client_assertion')) {
      return reply('identity.token', 401, oauthError('invalid_client', 7000218, "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'."));
    }
    if (options.clients) {
      if (!options.clients.has(clientId)) {
        return reply('identity.token', 400, oauthError('unauthorized_client', 700016, `AADSTS700016: Application with identifier '${clientId}' was not found in the directory '${tenant}'.`));
      }
      const expected = options.clients.get(clientId);
      if (expected && secret !== expected) {
        return reply('identity.token', 401, oauthError('invalid_client', 7000215, 'AADSTS7000215: Invalid client secret provided.'));
      }
    }
    const token = `simtok.${Buffer.from(JSON.stringify({ tid: tenant, appid: clientId })).toString('base64url')}.${randomBytes(18).toString('base64url')}`;
    options.onTokenIssued?.(token, { tenant, clientId, scope });
    const lifetime = options.tokenLifetimeSeconds ?? 3599;
    return reply('identity.token', 200, { token_type: 'Bearer', expires_in: lifetime, ext_expires_in: lifetime, access_token: token });
  }
  return false;
}

function oauthError(error: string, code: number, description: string): Record<string, unknown> {
  const traceId = randomUUID();
  return {
    error,
    error_description: `${description}\r\nTrace ID: ${traceId}\r\nCorrelation ID: ${randomUUID()}\r\nTimestamp: ${new Date().toISOString()}`,
    error_codes: [code],
    timestamp: new Date().toISOString().replace('T', ' ').slice(0, 19) + 'Z',
    trace_id: traceId,
    correlation_id: randomUUID(),
  };
}
