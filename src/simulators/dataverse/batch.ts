// Hand-written multipart/mixed parser and serializer for `$batch` (dataverse-behaviour.md §2.6): a batch holds
// application/http parts and change sets (nested multipart/mixed), each part an HTTP/1.1 request.
import { randomUUID } from 'node:crypto';
import { badRequest } from './errors';
import { STATUS_TEXT, type SimResponse } from './request';

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
