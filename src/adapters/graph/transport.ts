// The bottom of the Graph middleware chain: a per-mailbox concurrency limit around the actual HTTP exchange, over a
// fetch that trusts the simulator CA in tests (graph-behaviour.md §9.6) and is the global fetch in production.
//
// Outlook allows 4 concurrent requests per app and mailbox (graph-behaviour.md §5.2), and runs up to 4 sub-requests
// of a `$batch` in parallel (§5.3). So a batch takes min(sub-requests, limit) permits: a 20-GET batch and three other
// requests would otherwise put 7 requests in flight at Outlook and draw 429 MailboxConcurrency.
// The permit is held until the response body is read, i.e. until the server is done with the request.
import type { Context, Middleware } from '@microsoft/microsoft-graph-client';
import type { Fetch } from '../http/trusted-fetch';

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

export interface RequestObservation {
  method: string;
  url: string;
  status: number;
  /** Permits held (1, or the sub-request count of a batch up to the limit). */
  weight: number;
  /** Permits in use on this mailbox while the request was in flight, itself included. */
  inFlight: number;
}

export class LimitedFetchMiddleware implements Middleware {
  private inUse = 0;

  constructor(
    private readonly fetch: Fetch,
    private readonly semaphore: WeightedSemaphore,
    private readonly observe?: (observation: RequestObservation) => void,
  ) {}

  async execute(context: Context): Promise<void> {
    const url = typeof context.request === 'string' ? context.request : context.request.url;
    const method = (context.options?.method ?? 'GET').toUpperCase();
    const weight = batchWeight(url, context.options?.body, this.semaphore.capacity);
    const release = await this.semaphore.acquire(weight);
    this.inUse += weight;
    const inFlight = this.inUse;
    try {
      const response = await this.fetch(context.request, context.options);
      const body = await response.arrayBuffer();
      const empty = response.status === 204 || response.status === 205 || response.status === 304;
      context.response = new Response(empty ? null : body, { status: response.status, statusText: response.statusText, headers: response.headers });
      this.observe?.({ method, url, status: response.status, weight, inFlight });
    } finally {
      this.inUse -= weight;
      release();
    }
  }
}

function batchWeight(url: string, body: unknown, capacity: number): number {
  if (!/\/\$batch(\?|$)/.test(url) || typeof body !== 'string') return 1;
  try {
    const parsed: unknown = JSON.parse(body);
    const requests = typeof parsed === 'object' && parsed !== null ? (parsed as { requests?: unknown }).requests : undefined;
    return Array.isArray(requests) ? Math.min(Math.max(1, requests.length), capacity) : 1;
  } catch {
    return 1;
  }
}
