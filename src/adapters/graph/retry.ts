// The one retry layer of the Graph adapter (DESIGN.md §4 "only one layer retries").
//
// Decision: the adapter builds its own middleware chain WITHOUT the SDK's RetryHandler and retries here, because
// - the SDK sleeps up to 180 s per attempt (§9.2), longer than a queue-triggered Function should block: here a
//   Retry-After beyond `maxDelayMs` is not waited out but handed to the caller as TransientError(retryAfterInMs) so the
//   item is rescheduled;
// - every adapter call has one sleep budget (`maxCallDelayMs`, shared by all of its requests, retries and waits for a
//   mailbox pause), so one call can never sleep for minutes of the 10-minute Function timeout;
// - the sleep is injectable, so tests assert the exact waits and request counts without real time passing.
// Who retries what (each request has exactly one owner):
// - this middleware: 429/503/504 of idempotent requests (GET, PATCH, DELETE); a non-idempotent POST only on 429,
//   because a 429 means the server did not act, while a 503/504 may arrive after it did (graph-behaviour.md §9.2:
//   "Non-idempotent creates can be duplicated"): the create path checks for the item before it posts again;
// - `$batch` POSTs: not here at all. The adapter's batch loop owns both the envelope and the throttled sub-requests
//   (§5.3, §9.5: the SDK never retries those), with one attempt count for the two.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Context, Middleware } from '@microsoft/microsoft-graph-client';

export interface RetryPolicy {
  /** Total attempts per request, the first included (≥ 1). */
  maxAttempts: number;
  /** Longest single wait; a longer Retry-After ends the retries and is reported to the caller instead. */
  maxDelayMs: number;
  /** Backoff base when the response carries no Retry-After: base · 2^(attempt−1). */
  baseDelayMs: number;
  /**
   * Total sleep (retry waits and waits for a mailbox pause) one adapter call may spend, over all of its requests.
   * Well under the Functions timeout (10 min by default): what does not fit is rescheduled by the caller.
   */
  maxCallDelayMs: number;
  sleep: (ms: number) => Promise<void>;
  /** Wall clock for HTTP-date Retry-After values and mailbox pauses. */
  now: () => number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 4,
  maxDelayMs: 30_000,
  baseDelayMs: 1_000,
  maxCallDelayMs: 60_000,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  now: () => Date.now(),
};

export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([429, 503, 504]);

/** Retry-After as delta-seconds (integer or fractional, §5.1) or HTTP-date → milliseconds; null if absent or invalid. */
export function parseRetryAfter(value: string | null | undefined, now: number): number | null {
  if (value === null || value === undefined) return null;
  const text = value.trim();
  if (text === '') return null;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  // An HTTP-date names its weekday and month; without letters, Date.parse would read '-3' as a year.
  const at = /[a-z]/i.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - now);
}

/** The wait before the next attempt: Retry-After when given, else exponential backoff. */
export function retryDelayMs(retryAfterMs: number | null, attempt: number, policy: RetryPolicy): number {
  return retryAfterMs ?? policy.baseDelayMs * 2 ** (attempt - 1);
}

/** Whether another attempt is allowed after `attempt` attempts, given the wait it would need. */
export function mayRetry(attempt: number, delayMs: number, policy: RetryPolicy): boolean {
  return attempt < policy.maxAttempts && delayMs <= policy.maxDelayMs && currentCallBudget().fits(delayMs);
}

/** The sleep budget of one adapter call (see RetryPolicy.maxCallDelayMs). */
export class CallBudget {
  private spent = 0;

  constructor(readonly limitMs: number) {}

  get remainingMs(): number {
    return Math.max(0, this.limitMs - this.spent);
  }

  fits(ms: number): boolean {
    return ms <= this.remainingMs;
  }

  async sleep(ms: number, policy: RetryPolicy): Promise<void> {
    this.spent += ms;
    await policy.sleep(ms);
  }
}

const callBudgets = new AsyncLocalStorage<CallBudget>();
const UNBOUNDED = new CallBudget(Number.POSITIVE_INFINITY);

/** Runs one adapter call under a fresh budget; a nested call (createItem → findByCrmId) shares its caller's. */
export function withCallBudget<T>(policy: RetryPolicy, call: () => Promise<T>): Promise<T> {
  if (callBudgets.getStore()) return call();
  return callBudgets.run(new CallBudget(policy.maxCallDelayMs), call);
}

/** Runs caller code (a readDelta page callback) outside the adapter call's budget: the caller's own adapter calls get theirs. */
export function outsideCallBudget<T>(fn: () => T): T {
  return callBudgets.exit(fn);
}

/** The budget of the adapter call in progress (unbounded outside one, e.g. in unit tests of the middleware). */
export function currentCallBudget(): CallBudget {
  return callBudgets.getStore() ?? UNBOUNDED;
}

/** Whether the middleware may retry this status for this request (see the header comment). */
export function middlewareRetries(method: string, url: string, status: number): boolean {
  if (!RETRYABLE_STATUSES.has(status)) return false;
  if (method.toUpperCase() !== 'POST') return true;
  if (isBatchUrl(url)) return false;
  return status === 429;
}

export function isBatchUrl(url: string): boolean {
  return /\/\$batch(\?|$)/.test(url);
}

/**
 * Retries what `middlewareRetries` allows, honouring Retry-After, within the attempt bound, the single-wait bound and
 * the call's budget. When it gives up, the last response goes back up the chain unchanged, the SDK turns it into a
 * GraphError, and the adapter translates that into TransientError(retryAfterInMs).
 */
export class RetryMiddleware implements Middleware {
  private next: Middleware | undefined;

  constructor(private readonly policy: RetryPolicy) {}

  setNext(next: Middleware): void {
    this.next = next;
  }

  async execute(context: Context): Promise<void> {
    if (!this.next) throw new Error('RetryMiddleware has no next middleware');
    const url = typeof context.request === 'string' ? context.request : context.request.url;
    const method = context.options?.method ?? 'GET';
    for (let attempt = 1; ; attempt++) {
      await this.next.execute(context);
      const response = context.response;
      if (!response || !middlewareRetries(method, url, response.status)) return;
      const delay = retryDelayMs(parseRetryAfter(response.headers.get('Retry-After'), this.policy.now()), attempt, this.policy);
      if (!mayRetry(attempt, delay, this.policy)) return;
      await currentCallBudget().sleep(delay, this.policy);
    }
  }
}
