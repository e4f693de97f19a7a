import { createHash } from 'node:crypto';

// An in-memory log of the requests a simulator served, so tests can assert exact request counts per mailbox, method
// and route kind (the brief asks for counts, not timings).

export interface RequestLogEntry {
  at: string;
  /** The mailbox (user principal name, lower-cased) the request addressed; null for tenant-level routes. */
  mailbox: string | null;
  method: string;
  /** Route kind such as `contacts.delta`, `events.get`, `$batch`, `identity.token`. */
  kind: string;
  status: number;
  /** True when the request carried a non-empty bearer token. */
  authorized: boolean;
  /** Short fingerprint of the bearer token (tells two clients of one mailbox apart); null without one. */
  token?: string | null;
  /** True for a sub-request of a `$batch`. */
  viaBatch: boolean;
  path: string;
}

export interface RequestLogFilter {
  mailbox?: string;
  method?: string;
  kind?: string | RegExp;
  status?: number;
  viaBatch?: boolean;
  token?: string;
}

export class RequestLog {
  private entries: RequestLogEntry[] = [];
  /** Caps memory in long benchmark runs: the oldest entries are dropped, counters stay exact. */
  private readonly totals = new Map<string, number>();

  constructor(private readonly maxEntries = 500_000) {}

  record(entry: RequestLogEntry): void {
    // delta links carry long tokens; the start of the path is what identifies a request
    this.entries.push(entry.path.length > 240 ? { ...entry, path: `${entry.path.slice(0, 240)}…` } : entry);
    if (this.entries.length > this.maxEntries) this.entries.splice(0, this.entries.length - this.maxEntries);
    const key = `${entry.mailbox ?? ''}\u0000${entry.method}\u0000${entry.kind}`;
    this.totals.set(key, (this.totals.get(key) ?? 0) + 1);
  }

  list(filter: RequestLogFilter = {}): RequestLogEntry[] {
    return this.entries.filter((e) => matches(e, filter));
  }

  count(filter: RequestLogFilter = {}): number {
    return this.list(filter).length;
  }

  /** Counts grouped by `mailbox method kind`, over everything since the last reset. */
  summary(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [key, n] of this.totals) out[key.split('\u0000').join(' ').trim()] = n;
    return out;
  }

  reset(): void {
    this.entries = [];
    this.totals.clear();
  }
}

function matches(e: RequestLogEntry, f: RequestLogFilter): boolean {
  if (f.mailbox !== undefined && e.mailbox !== f.mailbox.toLowerCase()) return false;
  if (f.method !== undefined && e.method !== f.method.toUpperCase()) return false;
  if (f.status !== undefined && e.status !== f.status) return false;
  if (f.viaBatch !== undefined && e.viaBatch !== f.viaBatch) return false;
  if (f.token !== undefined && e.token !== f.token) return false;
  if (f.kind !== undefined) {
    if (typeof f.kind === 'string' ? e.kind !== f.kind : !f.kind.test(e.kind)) return false;
  }
  return true;
}

/** The fingerprint `RequestLogEntry.token` holds for a bearer token. */
export function tokenFingerprint(authorization: string | undefined): string | null {
  const m = /^Bearer\s+(\S+)/i.exec(authorization ?? '');
  return m?.[1] ? createHash('sha256').update(m[1]).digest('hex').slice(0, 12) : null;
}
