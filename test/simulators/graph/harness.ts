// Test harness for the Graph simulator: a validating fetch and a real Graph SDK client whose terminal middleware
// validates every JSON response against Microsoft's OpenAPI description (test/support/openapi.ts).
import { AuthenticationHandler, Client, RetryHandler, RetryHandlerOptions, type Context, type Middleware } from '@microsoft/microsoft-graph-client';
import { trustedFetch, type Fetch } from '../../../src/adapters/http/trusted-fetch';
import { startGraphSimulator, type GraphKnobs, type GraphSimulator } from '../../../src/simulators/graph';
import { assertGraphResponse } from '../../support/openapi';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };
export type JsonRecord = { [k: string]: JsonValue };

export interface SimResponseView {
  status: number;
  headers: Headers;
  body: JsonRecord;
}

/** Checks a received body against the OpenAPI description, by the request path, method and status. */
export function validateReceived(url: string, method: string, status: number, body: unknown): void {
  const path = new URL(url).pathname.replace(/^\/v1\.0/i, '');
  assertGraphResponse({ path, method, status }, body);
}

/** Validates each `$batch` sub-response against the route of its own request (JSON batching is not in the OpenAPI). */
function validateBatch(requestBody: unknown, responseBody: unknown): number {
  const requests = (requestBody as { requests?: { id: string; url: string; method: string }[] } | undefined)?.requests ?? [];
  const responses = (responseBody as { responses?: { id: string; status: number; body?: unknown }[] } | undefined)?.responses ?? [];
  let n = 0;
  for (const r of responses) {
    const req = requests.find((q) => q.id.toLowerCase() === String(r.id).toLowerCase());
    if (!req || r.body === undefined) continue;
    validateReceived(`https://localhost/v1.0/${req.url.replace(/^\/?(v1\.0\/)?/i, '')}`, req.method, r.status, r.body);
    n += 1;
  }
  return n;
}

export interface GraphTestClient {
  sim: GraphSimulator;
  fetch: Fetch;
  /** fetch relative to `${baseUrl}v1.0/` (or absolute), with a bearer token; the JSON response is validated. */
  call(method: string, url: string, options?: { body?: unknown; headers?: Record<string, string>; token?: string | null }): Promise<SimResponseView>;
  sdk(options?: { maxRetries?: number }): Client;
  /** Number of responses validated so far (so tests can show the validation ran). */
  validated(): number;
  stop(): Promise<void>;
}

export async function startTestSimulator(knobs: Partial<GraphKnobs> = {}): Promise<GraphTestClient> {
  const sim = await startGraphSimulator({ port: 0, knobs });
  const fetch = trustedFetch(sim.caCert);
  let validatedCount = 0;

  const call: GraphTestClient['call'] = async (method, url, options = {}) => {
    const absolute = /^https:\/\//.test(url) ? url : `${sim.baseUrl}v1.0/${url.replace(/^\//, '')}`;
    const headers: Record<string, string> = { ...(options.headers ?? {}) };
    if (options.token !== null) headers['Authorization'] = `Bearer ${options.token ?? 'test-token'}`;
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(absolute, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
    const text = await res.text();
    const body = (text ? JSON.parse(text) : {}) as JsonRecord;
    if (text && /\/\$batch$/i.test(new URL(absolute).pathname) && res.status === 200) validatedCount += validateBatch(options.body, body);
    else if (text) {
      validateReceived(absolute, method, res.status, body);
      validatedCount += 1;
    }
    return { status: res.status, headers: res.headers, body };
  };

  /** Terminal middleware: the trusted fetch, plus OpenAPI validation of every JSON response. */
  class ValidatingFetchHandler implements Middleware {
    async execute(context: Context): Promise<void> {
      const url = typeof context.request === 'string' ? context.request : (context.request as { url: string }).url;
      const response = await fetch(url, context.options as Parameters<Fetch>[1]);
      const method = (context.options?.method ?? 'GET').toUpperCase();
      const type = response.headers.get('content-type') ?? '';
      if (type.includes('json')) {
        const text = await response.clone().text();
        if (text && /\/\$batch$/i.test(new URL(url).pathname) && response.status === 200) {
          const sent = typeof context.options?.body === 'string' ? (JSON.parse(context.options.body) as unknown) : undefined;
          validatedCount += validateBatch(sent, JSON.parse(text));
        } else if (text) {
          validateReceived(url, method, response.status, JSON.parse(text));
          validatedCount += 1;
        }
      }
      context.response = response;
    }
  }

  const sdk = (options: { maxRetries?: number } = {}): Client => {
    const auth = new AuthenticationHandler({ getAccessToken: async () => 'sdk-token' });
    const retry = new RetryHandler(new RetryHandlerOptions(0, options.maxRetries ?? 3));
    auth.setNext(retry);
    retry.setNext(new ValidatingFetchHandler());
    return Client.initWithMiddleware({ middleware: auth, baseUrl: sim.baseUrl, customHosts: new Set(['localhost']) });
  };

  return { sim, fetch, call, sdk, validated: () => validatedCount, stop: () => sim.stop() };
}

export function values(body: JsonRecord): JsonRecord[] {
  return (body['value'] ?? []) as JsonRecord[];
}

/** Follows a delta round from `start` to its deltaLink, returning all pages. */
export async function deltaRound(t: GraphTestClient, start: string, headers: Record<string, string> = {}): Promise<{ pages: JsonRecord[]; items: JsonRecord[]; deltaLink: string }> {
  const pages: JsonRecord[] = [];
  let url: string | undefined = start;
  for (let guard = 0; url && guard < 10_000; guard++) {
    const res = await t.call('GET', url, { headers });
    if (res.status !== 200) throw Object.assign(new Error(`delta page ${res.status}: ${JSON.stringify(res.body)}`), { status: res.status, body: res.body });
    pages.push(res.body);
    const next = res.body['@odata.nextLink'];
    const delta = res.body['@odata.deltaLink'];
    if (next !== undefined && delta !== undefined) throw new Error('page with both nextLink and deltaLink');
    if (typeof delta === 'string') return { pages, items: pages.flatMap(values), deltaLink: delta };
    url = typeof next === 'string' ? next : undefined;
  }
  throw new Error('delta round did not end');
}

/**
 * One simulator for the suite, and before each test default knobs, an empty request log and a fresh mailbox
 * (`<prefix><n>@contoso.test`), so tests never see each other's items.
 */
export function useSimulatorMailbox(prefix: string): { readonly t: GraphTestClient; readonly upn: string } {
  let client: GraphTestClient | null = null;
  let n = 0;
  let upn = '';
  const started = (): GraphTestClient => {
    if (!client) throw new Error('the simulator is started in beforeAll');
    return client;
  };
  beforeAll(async () => {
    client = await startTestSimulator();
  });
  afterAll(async () => {
    await client?.stop();
  });
  beforeEach(() => {
    const sim = started().sim;
    sim.control.resetKnobs();
    sim.requestLog.reset();
    upn = `${prefix}${++n}@contoso.test`;
    sim.control.createUser(upn);
  });
  return {
    get t() {
      return started();
    },
    get upn() {
      return upn;
    },
  };
}
