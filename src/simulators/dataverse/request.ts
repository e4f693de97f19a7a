// Request/response values passed between the HTTP server, `$batch` and the operation handlers, plus `Prefer` parsing.

/** The Web API root below the environment URL (dataverse-behaviour.md conventions: `{org}/api/data/v9.2/`). */
export const API_PATH = '/api/data/v9.2/';

export interface SimRequest {
  method: string;
  /** Path below the Web API root (no leading slash), e.g. `contacts(…)`; still URL-encoded. */
  path: string;
  query: URLSearchParams;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  body: string;
}

export interface SimResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface Preferences {
  returnRepresentation: boolean;
  /** Annotation patterns of `odata.include-annotations` (`*`, `OData.Community.Display.V1.FormattedValue`, `Microsoft.Dynamics.CRM.*`). */
  annotations: string[];
  annotationsRaw: string | null;
  maxPageSize: number | null;
  trackChanges: boolean;
  continueOnError: boolean;
}

/** Splits on commas outside double quotes. */
function splitPrefer(header: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (const c of header) {
    if (c === '"') quoted = !quoted;
    if (c === ',' && !quoted) {
      parts.push(current.trim());
      current = '';
    } else current += c;
  }
  if (current.trim()) parts.push(current.trim());
  return parts;
}

export function parsePrefer(header: string | undefined): Preferences {
  const prefs: Preferences = {
    returnRepresentation: false,
    annotations: [],
    annotationsRaw: null,
    maxPageSize: null,
    trackChanges: false,
    continueOnError: false,
  };
  if (!header) return prefs;
  for (const part of splitPrefer(header)) {
    const eq = part.indexOf('=');
    const name = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase();
    const value = eq < 0 ? '' : part.slice(eq + 1).trim();
    if (name === 'return' && value === 'representation') prefs.returnRepresentation = true;
    else if (name === 'odata.track-changes') prefs.trackChanges = true;
    else if (name === 'odata.continue-on-error') prefs.continueOnError = true;
    else if (name === 'odata.maxpagesize') {
      const n = Number(value);
      if (Number.isInteger(n) && n > 0) prefs.maxPageSize = n;
    } else if (name === 'odata.include-annotations') {
      prefs.annotationsRaw = value;
      prefs.annotations = value.replace(/^"|"$/g, '').split(',').map((s) => s.trim()).filter(Boolean);
    }
  }
  return prefs;
}

export function annotationMatcher(patterns: readonly string[]): (annotation: string) => boolean {
  if (patterns.length === 0) return () => false;
  return (annotation) =>
    patterns.some((p) => {
      if (p.startsWith('-')) return false;
      if (p === '*') return true;
      if (p.endsWith('.*')) return annotation.startsWith(p.slice(0, -1));
      return annotation === p;
    });
}

export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): SimResponse {
  return {
    status,
    headers: { 'Content-Type': 'application/json; odata.metadata=minimal', 'OData-Version': '4.0', ...headers },
    body: JSON.stringify(body),
  };
}

export function emptyResponse(status: number, headers: Record<string, string> = {}): SimResponse {
  return { status, headers: { 'OData-Version': '4.0', ...headers }, body: '' };
}

export const STATUS_TEXT: Record<number, string> = {
  200: 'OK', 201: 'Created', 204: 'No Content', 304: 'Not Modified', 400: 'Bad Request', 401: 'Unauthorized',
  403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 412: 'Precondition Failed', 413: 'Payload Too Large',
  429: 'Too Many Requests', 500: 'Internal Server Error', 501: 'Not Implemented', 503: 'Service Unavailable',
};
