// Hand-written multipart/mixed parser and serializer for `$batch` (dataverse-behaviour.md §2.6): a batch holds
// application/http parts and change sets (nested multipart/mixed), each part an HTTP/1.1 request.
import { randomUUID } from 'node:crypto';
import { badRequest } from './errors';
import { API_PATH, STATUS_TEXT, type SimResponse } from './request';

export interface BatchRequestPart {
  contentId: string | null;
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

export type BatchItem = { kind: 'request'; request: BatchRequestPart } | { kind: 'changeset'; requests: BatchRequestPart[] };

export function boundaryOf(contentType: string | undefined): string | null {
  if (!contentType || !/^multipart\/mixed/i.test(contentType.trim())) return null;
  const m = /boundary=("?)([^";]+)\1/i.exec(contentType);
  return m?.[2] ?? null;
}

function splitHeadersAndBody(text: string): { headers: Record<string, string>; body: string; firstLine: string | null } {
  const normalized = text.replace(/^(\r?\n)+/, '');
  const match = /\r?\n\r?\n/.exec(normalized);
  const head = match ? normalized.slice(0, match.index) : normalized;
  const body = match ? normalized.slice(match.index + match[0].length) : '';
  const lines = head.split(/\r?\n/);
  const headers: Record<string, string> = {};
  let firstLine: string | null = null;
  for (const [i, line] of lines.entries()) {
    const colon = line.indexOf(':');
    if (i === 0 && (colon < 0 || /^[A-Z]+ \S+/.test(line))) {
      firstLine = line;
      continue;
    }
    if (colon < 0) continue;
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { headers, body, firstLine };
}

function splitParts(body: string, boundary: string): string[] {
  const delimiter = `--${boundary}`;
  const parts: string[] = [];
  let index = body.indexOf(delimiter);
  if (index < 0) throw badRequest(`The batch body does not contain the boundary '${boundary}'.`);
  for (;;) {
    const start = index + delimiter.length;
    if (body.startsWith('--', start)) break;
    const next = body.indexOf(delimiter, start);
    if (next < 0) throw badRequest('The batch body is missing its closing boundary.');
    // The CRLF before a delimiter belongs to the delimiter (RFC 2046).
    parts.push(body.slice(start, next).replace(/^[ \t]*\r?\n/, '').replace(/\r?\n$/, ''));
    index = next;
  }
  return parts;
}

function parseHttpPart(text: string, mimeHeaders: Record<string, string>): BatchRequestPart {
  const { headers, body, firstLine } = splitHeadersAndBody(text);
  const m = firstLine ? /^([A-Z]+)\s+(\S+)(\s+HTTP\/1\.1)?$/.exec(firstLine.trim()) : null;
  if (!m) throw badRequest('A batch part does not start with an HTTP request line.');
  return {
    contentId: mimeHeaders['content-id'] ?? headers['content-id'] ?? null,
    method: m[1] as string,
    url: m[2] as string,
    headers,
    body: body.replace(/\r?\n$/, ''),
  };
}

export function parseBatch(body: string, boundary: string): BatchItem[] {
  const items: BatchItem[] = [];
  for (const part of splitParts(body, boundary)) {
    const { headers, body: partBody } = splitHeadersAndBody(part);
    const changesetBoundary = boundaryOf(headers['content-type']);
    if (changesetBoundary) {
      const requests = splitParts(partBody, changesetBoundary).map((p) => {
        const inner = splitHeadersAndBody(p);
        return parseHttpPart(inner.body, inner.headers);
      });
      items.push({ kind: 'changeset', requests });
    } else {
      items.push({ kind: 'request', request: parseHttpPart(partBody, headers) });
    }
  }
  return items;
}

export type BatchResponseItem =
  | { kind: 'response'; response: SimResponse; contentId: string | null }
  | { kind: 'changeset'; responses: { response: SimResponse; contentId: string | null }[] };

function serializeHttpPart(response: SimResponse, contentId: string | null): string {
  const lines = ['Content-Type: application/http', 'Content-Transfer-Encoding: binary'];
  if (contentId !== null) lines.push(`Content-ID: ${contentId}`);
  lines.push('', `HTTP/1.1 ${response.status} ${STATUS_TEXT[response.status] ?? ''}`.trimEnd());
  for (const [name, value] of Object.entries(response.headers)) lines.push(`${name}: ${value}`);
  lines.push('', response.body);
  return lines.join('\r\n');
}

export function serializeBatchResponse(items: BatchResponseItem[]): { boundary: string; body: string } {
  const boundary = `batchresponse_${randomUUID()}`;
  const chunks: string[] = [];
  for (const item of items) {
    chunks.push(`--${boundary}`);
    if (item.kind === 'response') {
      chunks.push(serializeHttpPart(item.response, item.contentId));
    } else {
      const inner = `changesetresponse_${randomUUID()}`;
      chunks.push(`Content-Type: multipart/mixed; boundary=${inner}`, '');
      for (const r of item.responses) chunks.push(`--${inner}`, serializeHttpPart(r.response, r.contentId));
      chunks.push(`--${inner}--`);
    }
  }
  chunks.push(`--${boundary}--`, '');
  return { boundary, body: chunks.join('\r\n') };
}

/** A URL in a batch part, relative to the Web API root: absolute URLs, absolute paths and relative paths are allowed. */
export function relativePath(url: string): string {
  const index = url.indexOf(API_PATH);
  if (index >= 0) return url.slice(index + API_PATH.length);
  return url.replace(/^\/+/, '');
}

function undeclared(reference: string) {
  return badRequest(`Content-ID Reference: '${reference}' does not exist in the batch context.`);
}

/** `$n` at the start of a part's URL stands for the entity created by part n of the same change set (§2.6). */
export function resolveContentIdUrl(path: string, contentIds: ReadonlyMap<string, string>): string {
  const m = /^\$([A-Za-z0-9_-]+)(.*)$/.exec(path);
  if (!m || m[1] === 'batch') return path;
  const target = contentIds.get(m[1] as string);
  if (!target) throw undeclared(`$${m[1]}`);
  return relativePath(target) + (m[2] ?? '');
}

/** `"…@odata.bind": "$n"` in a part's body, at any depth (deep-inserted parties included). */
export function resolveContentIdBody(body: string, contentIds: ReadonlyMap<string, string>): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw badRequest('The request body is not valid JSON.', '0x80048d19');
  }
  const visit = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(visit);
    if (typeof value !== 'object' || value === null) return value;
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
      if (key.endsWith('@odata.bind') && typeof v === 'string' && /^\$[A-Za-z0-9_-]+$/.test(v)) {
        const target = contentIds.get(v.slice(1));
        if (!target) throw undeclared(v);
        out[key] = `/${relativePath(target)}`;
      } else out[key] = visit(v);
    }
    return out;
  };
  return JSON.stringify(visit(parsed));
}

export interface BatchRunOptions {
  maxRequests: number;
  continueOnError: boolean;
  /** Runs a change set atomically: a throw undoes its writes. */
  transaction: <T>(work: () => T) => T;
  /** Runs one part; records what `$n` stands for in `contentIds` when the part created an entity. */
  runPart: (part: BatchRequestPart, contentIds: Map<string, string>) => SimResponse;
}

class ChangeSetFailed extends Error {}

export interface BatchRunResult {
  items: BatchResponseItem[];
  /** A request or change set failed. */
  failed: boolean;
  /** Processing stopped at that failure (no `odata.continue-on-error`): later items, if any, never ran. */
  stopped: boolean;
}

/**
 * §2.6: requests and change sets run in order; a change set is all or nothing and answers with the failing request
 * alone; the batch stops at the first failure unless `odata.continue-on-error`; at most 1,000 requests (those inside
 * change sets included); no GET inside a change set.
 */
export function runBatch(items: BatchItem[], options: BatchRunOptions): BatchRunResult {
  const total = items.reduce((n, item) => n + (item.kind === 'request' ? 1 : item.requests.length), 0);
  if (total > options.maxRequests) {
    throw badRequest(`The number of requests in the batch (${total}) exceeds the limit of ${options.maxRequests}.`);
  }
  for (const item of items) {
    if (item.kind === 'changeset' && item.requests.some((r) => r.method.toUpperCase() === 'GET')) {
      throw badRequest('A GET request cannot be part of a change set.');
    }
  }
  const results: BatchResponseItem[] = [];
  let failed = false;
  const stopped = () => ({ items: results, failed: true, stopped: true });
  for (const item of items) {
    if (item.kind === 'request') {
      const response = options.runPart(item.request, new Map());
      results.push({ kind: 'response', response, contentId: item.request.contentId });
      if (response.status >= 400) {
        if (!options.continueOnError) return stopped();
        failed = true;
      }
      continue;
    }
    const contentIds = new Map<string, string>();
    const responses: { response: SimResponse; contentId: string | null }[] = [];
    let failure: { response: SimResponse; contentId: string | null } | null = null;
    try {
      options.transaction(() => {
        for (const part of item.requests) {
          const response = options.runPart(part, contentIds);
          if (response.status >= 400) {
            failure = { response, contentId: part.contentId };
            throw new ChangeSetFailed();
          }
          responses.push({ response, contentId: part.contentId });
        }
      });
    } catch (error) {
      if (!(error instanceof ChangeSetFailed)) throw error;
    }
    if (failure) {
      results.push({ kind: 'response', ...(failure as { response: SimResponse; contentId: string | null }) });
      if (!options.continueOnError) return stopped();
      failed = true;
    } else results.push({ kind: 'changeset', responses });
  }
  return { items: results, failed, stopped: false };
}
