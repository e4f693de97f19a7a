// The Dataverse Web API v9.2 over fetch (there is no SDK): headers, the ONE retry layer for throttling, error
// translation into the port's errors, and `$batch` (dataverse-behaviour.md §2.1, §2.5, §2.6, §3).
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { AuthError, ConcurrencyError, ItemRejectedError, TransientError } from '../../ports/errors';
import { trustedFetch, type Fetch } from '../http/trusted-fetch';

/** A bearer token for the environment; `forceRefresh` skips the cache after the service refused a token (401). */
export type TokenProvider = (options?: { forceRefresh?: boolean }) => Promise<string>;

export interface DataverseHttpOptions {
  /** `https://<org>.crm.dynamics.com` (the Web API lives under `/api/data/v9.2/`). */
  environmentUrl: string;
  getToken: TokenProvider;
  /** Default: the global fetch, trusting `extraCaPem` as well when given. */
  fetch?: Fetch;
  /** An extra CA to trust (the simulators' start-up certificate); production leaves it unset. */
  extraCaPem?: string;
  /** Retries of one request after 429/503 before giving up with TransientError (default 3). */
  maxRetries?: number;
  /** A Retry-After longer than this is not waited for: the item is retried later instead (default 60 s). */
  maxRetryWaitMs?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

export interface DataverseRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** Absolute (links the service returned, used whole) or relative to the Web API base. */
  url: string;
  headers?: Record<string, string>;
  body?: unknown;
  /** Entra object id of the user to act as (`CallerObjectId`, dataverse-behaviour.md §5). */
  callerObjectId?: string | null;
}

export interface DataverseResponse {
  status: number;
  headers: Headers;
  /** Parsed JSON body, or null when there is none. */
  body: unknown;
}

export interface BatchPartResponse {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

/** `{"error":{"code","message"}}` (dataverse-behaviour.md §2.5). */
const errorBody = z.object({ error: z.object({ code: z.string().optional(), message: z.string().optional() }) });

export interface DataverseErrorInfo {
  status: number;
  code: string;
  message: string;
}

export function errorInfo(status: number, body: unknown): DataverseErrorInfo {
  const parsed = errorBody.safeParse(body);
  return {
    status,
    code: parsed.success ? (parsed.data.error.code ?? '') : '',
    message: parsed.success ? (parsed.data.error.message ?? '') : `HTTP ${status}`,
  };
}

/** Stable reason codes for item failures, from the error code where it says more than the status. */
const REASONS: Record<string, string> = {
  '0x80040333': 'crm-duplicate-detected',
  '0x80048d19': 'crm-invalid-payload',
  '0x80060888': 'crm-unknown-column',
  '0x80044331': 'crm-value-too-long',
  '0x80040203': 'crm-invalid-argument',
  '0x80040220': 'crm-caller-not-found',
  '0x80040217': 'crm-record-gone',
};

/** The port's error for a failed request the caller had no special case for. */
export function failureFor(info: DataverseErrorInfo, what: string): Error {
  const detail = `${what}: HTTP ${info.status} ${info.code} ${info.message}`.trim();
  if (info.status === 401 || info.status === 403) return new AuthError(detail, { status: info.status });
  if (info.status === 412) return new ConcurrencyError(detail);
  if (info.status === 404) return new ItemRejectedError('crm-record-gone', detail);
  if (info.status >= 500 && REASONS[info.code] === undefined) return new TransientError(detail);
  return new ItemRejectedError(REASONS[info.code] ?? `crm-http-${info.status}`, detail);
}

const RETRIED_STATUSES = new Set([429, 503]);

export class DataverseHttp {
  readonly apiBase: string;
  private readonly maxRetries: number;
  private readonly maxRetryWaitMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;
  /** §3: when throttled, pause every request of this client (one user's budget), not only the one that got the 429. */
  private pausedUntil = 0;
  private readonly fetch: Fetch;

  constructor(private readonly options: DataverseHttpOptions) {
    this.fetch = options.fetch ?? trustedFetch(options.extraCaPem);
    this.apiBase = `${options.environmentUrl.replace(/\/+$/, '')}/api/data/v9.2/`;
    this.maxRetries = options.maxRetries ?? 3;
    this.maxRetryWaitMs = options.maxRetryWaitMs ?? 60_000;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.now = options.now ?? Date.now;
  }

  resolve(url: string): string {
    return /^https?:\/\//i.test(url) ? url : `${this.apiBase}${url}`;
  }

  /**
   * Send one request. 429/503 are retried here and only here, honouring Retry-After, a bounded number of times;
   * 401/403 throw AuthError. Every other status is returned for the caller to interpret.
   */
  async send(request: DataverseRequest): Promise<DataverseResponse> {
    let refreshedToken = false;
    for (let attempt = 0; ; attempt += 1) {
      const wait = this.pausedUntil - this.now();
      // §3: a pause longer than we wait for ends this request unsent; sending anyway would lengthen the Retry-After.
      if (wait > this.maxRetryWaitMs) throw new TransientError(`Dataverse requests paused for ${wait} ms after throttling`, wait);
      if (wait > 0) await this.sleep(wait);
      let response = await this.sendOnce(request, false);
      // §2.6: a `$batch` answered with its parts ran them, whatever the envelope's status (UNCONFIRMED, a simulator
      // knob): resending would apply its writes twice, and each part carries its own status for the caller.
      if (/^multipart\/mixed/i.test(response.headers.get('content-type') ?? '')) return response;
      // A token revoked or expired early: one fresh token, then the refusal stands.
      if (response.status === 401 && !refreshedToken) {
        refreshedToken = true;
        response = await this.sendOnce(request, true);
      }
      if (!RETRIED_STATUSES.has(response.status)) {
        if (response.status === 401 || response.status === 403) {
          throw failureFor(errorInfo(response.status, response.body), `${request.method} ${request.url}`);
        }
        return response;
      }
      const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), this.now()) ?? 1_000 * 2 ** attempt;
      // The pause holds for every later request of this user too, including after this one gives up (§3).
      this.pausedUntil = Math.max(this.pausedUntil, this.now() + retryAfterMs);
      if (attempt >= this.maxRetries || retryAfterMs > this.maxRetryWaitMs) {
        const info = errorInfo(response.status, response.body);
        throw new TransientError(`Dataverse throttled ${request.method} (${info.code || response.status}): ${info.message}`, retryAfterMs);
      }
    }
  }

  private async sendOnce(request: DataverseRequest, forceRefresh: boolean): Promise<DataverseResponse> {
    let token: string;
    try {
      token = await this.options.getToken(forceRefresh ? { forceRefresh } : undefined);
    } catch (error) {
      throw new AuthError('could not obtain a Dataverse token', { cause: error });
    }
    const headers: Record<string, string> = {
      Accept: 'application/json',
      'OData-MaxVersion': '4.0',
      'OData-Version': '4.0',
      Authorization: `Bearer ${token}`,
      ...request.headers,
    };
    if (request.callerObjectId) headers.CallerObjectId = request.callerObjectId;
    let body: string | undefined;
    if (typeof request.body === 'string') body = request.body;
    else if (request.body !== undefined) {
      body = JSON.stringify(request.body);
      headers['Content-Type'] ??= 'application/json';
    }
    let response: Response;
    try {
      response = await this.fetch(this.resolve(request.url), { method: request.method, headers, body });
    } catch (error) {
      throw new TransientError(`Dataverse unreachable: ${(error as Error).message}`, null, { cause: error });
    }
    const text = await response.text();
    const contentType = response.headers.get('content-type') ?? '';
    let parsed: unknown = null;
    if (text && contentType.includes('json')) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = null;
      }
    } else if (text) parsed = text;
    return { status: response.status, headers: response.headers, body: parsed };
  }

  /**
   * GETs in one `$batch` (dataverse-behaviour.md §2.6: ≤ 1,000 per batch, one request against the limits), each with
   * its own headers. With `odata.continue-on-error` a 404 part does not stop the parts after it.
   */
  async batchGet(requests: readonly { url: string; headers: Record<string, string> }[]): Promise<BatchPartResponse[]> {
    const boundary = `batch_${randomUUID()}`;
    const lines: string[] = [];
    for (const request of requests) {
      lines.push(`--${boundary}`, 'Content-Type: application/http', 'Content-Transfer-Encoding: binary', '');
      lines.push(`GET ${this.resolve(request.url)} HTTP/1.1`, 'Accept: application/json');
      for (const [name, value] of Object.entries(request.headers)) lines.push(`${name}: ${value}`);
      lines.push('');
    }
    lines.push(`--${boundary}--`, '');
    const response = await this.send({
      method: 'POST',
      url: '$batch',
      headers: { 'Content-Type': `multipart/mixed;boundary=${boundary}`, Prefer: 'odata.continue-on-error' },
      body: lines.join('\r\n'),
    });
    const parts = batchAnswer(response, 'POST $batch').flat();
    if (parts.length !== requests.length) {
      throw new TransientError(`$batch answered ${parts.length} of ${requests.length} requests`);
    }
    return parts;
  }
}

export interface ChangeSetRequest {
  method: 'POST' | 'PATCH' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  body?: unknown;
}

/** What one change set did: every part's response, or the response of the request that failed it (none applied). */
export type ChangeSetOutcome = { ok: true; parts: BatchPartResponse[] } | { ok: false; failure: BatchPartResponse };

/**
 * Change sets in one `$batch`, in order (dataverse-behaviour.md §2.6): each atomic, all of it applied or none. One
 * outcome per change set; null for a change set the service never ran because it stopped at an earlier failure
 * (without `continueOnError`, or when it ignored the preference). Throws when the batch as a whole failed (no
 * multipart answer): then any of the change sets may or may not have been applied.
 */
export async function sendChangeSets(
  http: DataverseHttp,
  changeSets: readonly (readonly ChangeSetRequest[])[],
  options: { callerObjectId: string | null; continueOnError: boolean },
): Promise<(ChangeSetOutcome | null)[]> {
  const batch = `batch_${randomUUID()}`;
  const lines: string[] = [];
  let contentId = 0;
  for (const requests of changeSets) {
    const changeset = `changeset_${randomUUID()}`;
    lines.push(`--${batch}`, `Content-Type: multipart/mixed;boundary=${changeset}`, '');
    for (const request of requests) {
      contentId += 1;
      lines.push(`--${changeset}`, 'Content-Type: application/http', 'Content-Transfer-Encoding: binary', `Content-ID: ${contentId}`, '');
      lines.push(`${request.method} ${http.resolve(request.url)} HTTP/1.1`, 'Accept: application/json');
      if (request.body !== undefined) lines.push('Content-Type: application/json');
      // §5: every write acts as the user, so the part says so too, not only the envelope.
      if (options.callerObjectId) lines.push(`CallerObjectId: ${options.callerObjectId}`);
      for (const [name, value] of Object.entries(request.headers ?? {})) lines.push(`${name}: ${value}`);
      lines.push('', request.body === undefined ? '' : JSON.stringify(request.body));
    }
    lines.push(`--${changeset}--`);
  }
  lines.push(`--${batch}--`, '');
  const headers: Record<string, string> = { 'Content-Type': `multipart/mixed;boundary=${batch}` };
  if (options.continueOnError) headers.Prefer = 'odata.continue-on-error';
  const response = await http.send({ method: 'POST', url: '$batch', headers, body: lines.join('\r\n'), callerObjectId: options.callerObjectId });
  const items = batchAnswer(response, 'POST $batch');
  if (items.length > changeSets.length) throw new TransientError(`$batch answered ${items.length} items to ${changeSets.length} change sets`);
  return changeSets.map((requests, index) => {
    const parts = items[index];
    if (parts === undefined) return null;
    // A failed change set answers with the failing request alone (§2.6), or, should a service wrap it, among others.
    const failure = parts.find((part) => part.status >= 300);
    if (failure) return { ok: false, failure };
    if (parts.length !== requests.length) throw new TransientError(`$batch answered ${parts.length} of ${requests.length} requests of a change set`);
    return { ok: true, parts };
  });
}

/** One change set alone, without continue-on-error (the create of a record in a state, §4). */
export async function sendChangeSet(http: DataverseHttp, requests: readonly ChangeSetRequest[], callerObjectId: string | null): Promise<ChangeSetOutcome> {
  const [outcome] = await sendChangeSets(http, [requests], { callerObjectId, continueOnError: false });
  if (!outcome) throw new TransientError('$batch answered without its change set');
  return outcome;
}

/**
 * The items of a `$batch` answer. A multipart body is read whatever the envelope's status: after a failed part it is
 * UNCONFIRMED (§2.6) and may differ between "stopped" and "continued". Anything else is the batch failing as a whole.
 */
function batchAnswer(response: DataverseResponse, what: string): BatchPartResponse[][] {
  const contentType = response.headers.get('content-type') ?? '';
  if (typeof response.body !== 'string' || !/^multipart\/mixed/i.test(contentType.trim())) {
    throw failureFor(errorInfo(response.status, response.body), what);
  }
  return parseBatchResponse(response.body, contentType);
}

/** Retry-After in seconds or as an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | null, now: number): number | null {
  if (value === null || value.trim() === '') return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, Math.round(seconds * 1000));
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

/** A `multipart/mixed` batch response, change-set responses flattened in order (dataverse-behaviour.md §2.6). */
export function parseMultipart(text: string, contentType: string): BatchPartResponse[] {
  return parseBatchResponse(text, contentType).flat();
}

/**
 * A `multipart/mixed` batch response as its top-level items, in order: a response outside a change set is an item of
 * one part, a change-set response an item of its parts (dataverse-behaviour.md §2.6).
 */
export function parseBatchResponse(text: string, contentType: string): BatchPartResponse[][] {
  const boundary = /boundary=("?)([^";]+)\1/i.exec(contentType)?.[2];
  if (!boundary) throw new TransientError('$batch response without a multipart boundary');
  const out: BatchPartResponse[][] = [];
  const sections = text.split(`--${boundary}`).slice(1);
  for (const section of sections) {
    if (section.startsWith('--')) break;
    const [partHeaderText, rest] = splitHead(section.replace(/^\r?\n/, ''));
    const partHeaders = headerMap(partHeaderText);
    const nested = partHeaders['content-type'] ?? '';
    if (nested.toLowerCase().startsWith('multipart/mixed')) {
      out.push(parseBatchResponse(rest, nested).flat());
      continue;
    }
    out.push([parseHttpResponse(rest)]);
  }
  return out;
}

function parseHttpResponse(text: string): BatchPartResponse {
  const [httpHead, body] = splitHead(text);
  const [statusLine = '', ...headerLines] = httpHead.split(/\r?\n/);
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1] ?? NaN);
  if (!Number.isFinite(status)) throw new TransientError(`unreadable $batch part: ${statusLine}`);
  const headers = headerMap(headerLines.join('\n'));
  const trimmed = body.trim();
  let parsed: unknown = null;
  if (trimmed) {
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      parsed = trimmed;
    }
  }
  return { status, headers, body: parsed };
}

function splitHead(text: string): [string, string] {
  const match = /\r?\n\r?\n/.exec(text);
  if (!match) return [text, ''];
  return [text.slice(0, match.index), text.slice(match.index + match[0].length)];
}

function headerMap(text: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return headers;
}
