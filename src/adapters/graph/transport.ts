// The bottom of the Graph middleware chain: per-mailbox admission (a pause after throttling, then a concurrency limit,
// then an optional app-wide limit) around the actual HTTP exchange, over a fetch that trusts the simulator CA in tests
// (graph-behaviour.md §9.6) and is the global fetch in production.
//
// Outlook allows 4 concurrent requests per app and mailbox (graph-behaviour.md §5.2), and runs up to 4 sub-requests
// of a `$batch` in parallel (§5.3). So a batch takes min(sub-requests, limit) permits: a 20-GET batch and three other
// requests would otherwise put 7 requests in flight at Outlook and draw 429 MailboxConcurrency.
// The permit is held until the response body is read, i.e. until the server is done with the request.
//
// A 429 or 503 with Retry-After (and a throttled `$batch` sub-response, reported by the adapter) pauses the whole
// mailbox until then: §5.1 "Avoid immediate retries, because all requests accrue against your usage limits" — so the
// other requests of that mailbox wait too, not only the one that was throttled. A pause longer than the wait bound is
// not waited out: the request is answered locally with a 429 carrying the remaining time, never sent, and the caller
// gets TransientError(remaining).
import type { Context, Middleware } from '@microsoft/microsoft-graph-client';
import type { Fetch } from '../http/trusted-fetch';
import { currentCallBudget, isBatchUrl, parseRetryAfter, type RetryPolicy } from './retry';

export class WeightedSemaphore {
  private available: number;
  private readonly waiters: { weight: number; resolve: () => void }[] = [];

  constructor(readonly capacity: number) {
    this.available = capacity;
  }

  async acquire(weight: number): Promise<() => void> {
    const w = Math.min(Math.max(1, weight), this.capacity);
    if (this.waiters.length === 0 && this.available >= w) {
      this.available -= w;
    } else {
      await new Promise<void>((resolve) => this.waiters.push({ weight: w, resolve }));
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.available += w;
      this.drain();
    };
  }

  /** FIFO, so a batch waiting for all permits is not starved by single requests. */
  private drain(): void {
    for (let head = this.waiters[0]; head && this.available >= head.weight; head = this.waiters[0]) {
      this.waiters.shift();
      this.available -= head.weight;
      head.resolve();
    }
  }
}

/** Admission state of one mailbox: its concurrency limit and the time until which it is paused after throttling. */
export class MailboxGate {
  /** Epoch ms; requests of the mailbox are not sent before it. */
  pausedUntil = 0;
  inUse = 0;

  constructor(readonly semaphore: WeightedSemaphore) {}

  /** Extends the pause to `now + ms` (never shortens it). */
  pause(ms: number, now: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, now + ms);
  }

  remainingMs(now: number): number {
    return Math.max(0, this.pausedUntil - now);
  }
}

/** The app-wide limit across all mailboxes of one adapter (optional, graph-behaviour.md §5.2's ambiguous wording). */
export class AppGate {
  inUse = 0;

  constructor(readonly semaphore: WeightedSemaphore | null) {}
}

export interface RequestObservation {
  method: string;
  url: string;
  status: number;
  /** Permits held (1, or the sub-request count of a batch up to the limit). */
  weight: number;
  /** Permits in use on this mailbox while the request was in flight, itself included. */
  inFlight: number;
  /** Permits in use across all mailboxes of the adapter while the request was in flight, itself included. */
  appInFlight: number;
}

/** The header of the local answer to a request refused because its mailbox is paused beyond the wait bound. */
export const LOCAL_PAUSE_HEADER = 'x-ocs-mailbox-paused';

export class LimitedFetchMiddleware implements Middleware {
  constructor(
    private readonly fetch: Fetch,
    private readonly gate: MailboxGate,
    private readonly app: AppGate,
    private readonly policy: RetryPolicy,
    private readonly observe?: (observation: RequestObservation) => void,
  ) {}

  async execute(context: Context): Promise<void> {
    const url = typeof context.request === 'string' ? context.request : context.request.url;
    const method = (context.options?.method ?? 'GET').toUpperCase();
    const weight = batchWeight(url, context.options?.body, this.gate.semaphore.capacity);
    const releases: (() => void)[] = [];
    try {
      // A pause can start while this request waits for a permit, so look again once admitted (at most twice: a
      // clock that does not advance, as in tests, must not loop).
      for (let round = 0; ; round++) {
        if (!(await this.waitOutPause(context))) return;
        releases.push(await this.gate.semaphore.acquire(weight));
        if (this.gate.remainingMs(this.policy.now()) === 0 || round >= 1) break;
        releases.pop()?.();
      }
      if (this.app.semaphore) releases.push(await this.app.semaphore.acquire(weight));
      this.gate.inUse += weight;
      this.app.inUse += weight;
      const inFlight = this.gate.inUse;
      const appInFlight = this.app.inUse;
      try {
        const response = await this.fetch(context.request, context.options);
        const body = await response.arrayBuffer();
        const empty = response.status === 204 || response.status === 205 || response.status === 304;
        context.response = new Response(empty ? null : body, { status: response.status, statusText: response.statusText, headers: response.headers });
        this.noteThrottling(response);
        this.observe?.({ method, url, status: response.status, weight, inFlight, appInFlight });
      } finally {
        this.gate.inUse -= weight;
        this.app.inUse -= weight;
      }
    } finally {
      for (const release of releases.reverse()) release();
    }
  }

  /** Waits for the mailbox's pause to end; false (and a local 429 in the context) when it is beyond the bounds. */
  private async waitOutPause(context: Context): Promise<boolean> {
    const remaining = this.gate.remainingMs(this.policy.now());
    if (remaining === 0) return true;
    const budget = currentCallBudget();
    if (remaining > this.policy.maxDelayMs || !budget.fits(remaining)) {
      const seconds = (remaining / 1000).toFixed(3);
      context.response = new Response(
        JSON.stringify({ error: { code: 'TooManyRequests', message: `The mailbox is paused after throttling for another ${seconds} s (not sent).`, innerError: {} } }),
        { status: 429, headers: { 'Content-Type': 'application/json', 'Retry-After': seconds, [LOCAL_PAUSE_HEADER]: 'true' } },
      );
      return false;
    }
    await budget.sleep(remaining, this.policy);
    return true;
  }

  private noteThrottling(response: Response): void {
    if (response.status !== 429 && response.status !== 503) return;
    const now = this.policy.now();
    const retryAfter = parseRetryAfter(response.headers.get('Retry-After'), now);
    // A 429 without Retry-After still asks for a pause (§5.1: exponential backoff); a 503 without one is not throttling.
    const wait = retryAfter ?? (response.status === 429 ? this.policy.baseDelayMs : null);
    if (wait !== null) this.gate.pause(wait, now);
  }
}

function batchWeight(url: string, body: unknown, capacity: number): number {
  if (!isBatchUrl(url) || typeof body !== 'string') return 1;
  try {
    const parsed: unknown = JSON.parse(body);
    const requests = typeof parsed === 'object' && parsed !== null ? (parsed as { requests?: unknown }).requests : undefined;
    return Array.isArray(requests) ? Math.min(Math.max(1, requests.length), capacity) : 1;
  } catch {
    return 1;
  }
}
