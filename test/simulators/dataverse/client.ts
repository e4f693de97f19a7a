// A thin plain-fetch client for the simulator tests: the documented request headers (dataverse-behaviour.md §2.1)
// plus a bearer token, over the start-up CA.
import { trustedFetch } from '../../../src/adapters/http/trusted-fetch';
import { startDataverseSimulator, type DataverseSimulator, type DataverseSimulatorOptions } from '../../../src/simulators/dataverse';

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  json: Record<string, unknown>;
}

export interface TestClient {
  sim: DataverseSimulator;
  request(method: string, path: string, options?: { body?: unknown; headers?: Record<string, string>; raw?: string }): Promise<Reply>;
  get(path: string, headers?: Record<string, string>): Promise<Reply>;
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Reply>;
  patch(path: string, body: unknown, headers?: Record<string, string>): Promise<Reply>;
  del(path: string, headers?: Record<string, string>): Promise<Reply>;
  /** Absolute URLs (nextLink/deltaLink) as returned by the server. */
  getUrl(url: string, headers?: Record<string, string>): Promise<Reply>;
}

export async function startClient(options: DataverseSimulatorOptions = {}): Promise<TestClient> {
  const sim = await startDataverseSimulator(options);
  const fetch = trustedFetch(sim.caCert ?? undefined);
  const send = async (method: string, url: string, options: { body?: unknown; headers?: Record<string, string>; raw?: string } = {}) => {
    const headers: Record<string, string> = {
      Accept: 'application/json',
      'OData-MaxVersion': '4.0',
      'OData-Version': '4.0',
      Authorization: 'Bearer test-token',
      ...options.headers,
    };
    let body: string | undefined;
    if (options.raw !== undefined) body = options.raw;
    else if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['Content-Type'] ??= 'application/json';
    }
    for (const [k, v] of Object.entries(headers)) if (v === '') delete headers[k];
    const response = await fetch(url, { method, headers, body });
    const text = await response.text();
    let json: Record<string, unknown> = {};
    if (text && (response.headers.get('content-type') ?? '').includes('application/json')) json = JSON.parse(text) as Record<string, unknown>;
    return { status: response.status, headers: response.headers, text, json };
  };
  return {
    sim,
    request: (method, path, options) => send(method, sim.apiUrl + path, options),
    get: (path, headers) => send('GET', sim.apiUrl + path, { headers: headers ?? {} }),
    post: (path, body, headers) => send('POST', sim.apiUrl + path, { body, headers: headers ?? {} }),
    patch: (path, body, headers) => send('PATCH', sim.apiUrl + path, { body, headers: headers ?? {} }),
    del: (path, headers) => send('DELETE', sim.apiUrl + path, { headers: headers ?? {} }),
    getUrl: (url, headers) => send('GET', url, { headers: headers ?? {} }),
  };
}

export function values(reply: Reply): Record<string, unknown>[] {
  return reply.json['value'] as Record<string, unknown>[];
}

export function idFromEntityId(reply: Reply): string {
  const header = reply.headers.get('odata-entityid') ?? '';
  const m = /\(([0-9a-f-]{36})\)$/.exec(header);
  if (!m) throw new Error(`no OData-EntityId in ${reply.status} ${reply.text}`);
  return m[1] as string;
}
