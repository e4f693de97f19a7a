// The one retry layer of the Graph adapter (DESIGN.md §4 "only one layer retries").
//
// Decision: the adapter builds its own middleware chain WITHOUT the SDK's RetryHandler and retries here, because
// - the same policy must also cover throttled sub-requests inside a `$batch`, which the SDK never retries
//   (graph-behaviour.md §5.3, §9.5); with RetryHandler there would be two retry policies to keep consistent;
// - the SDK sleeps up to 180 s per attempt (§9.2), longer than a queue-triggered Function should block: here a
//   Retry-After beyond `maxDelayMs` is not waited out but handed to the caller as TransientError(retryAfterInMs) so the
//   item is rescheduled;
// - the sleep is injectable, so tests assert the exact waits and request counts without real time passing.
// Like RetryHandler it retries 429, 503 and 504 only, for every method (§9.2): POSTs stay safe because creates are
// idempotent (event transactionId, match-before-create), not because they are never retried.
import type { Context, Middleware } from '@microsoft/microsoft-graph-client';

export interface RetryPolicy {
  /** Total attempts per request, the first included (≥ 1). */
  maxAttempts: number;
  /** Longest single wait; a longer Retry-After ends the retries and is reported to the caller instead. */
  maxDelayMs: number;
  /** Backoff base when the response carries no Retry-After: base · 2^(attempt−1). */
  baseDelayMs: number;
  sleep: (ms: number) => Promise<void>;
  /** Wall clock for HTTP-date Retry-After values. */
  now: () => number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 4,
  maxDelayMs: 30_000,
  baseDelayMs: 1_000,
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
  return attempt < policy.maxAttempts && delayMs <= policy.maxDelayMs;
}

/**
 * Retries 429/503/504 honouring Retry-After. When it gives up, the last response goes back up the chain unchanged,
 * the SDK turns it into a GraphError, and the adapter translates that into TransientError(retryAfterInMs).
 */
export class RetryMiddleware implements Middleware {
  private next: Middleware | undefined;

  constructor(private readonly policy: RetryPolicy) {}

  setNext(next: Middleware): void {
    this.next = next;
  }

  async execute(context: Context): Promise<void> {
    if (!this.next) throw new Error('RetryMiddleware has no next middleware');
    for (let attempt = 1; ; attempt++) {
      await this.next.execute(context);
      const response = context.response;
      if (!response || !RETRYABLE_STATUSES.has(response.status)) return;
      const delay = retryDelayMs(parseRetryAfter(response.headers.get('Retry-After'), this.policy.now()), attempt, this.policy);
      if (!mayRetry(attempt, delay, this.policy)) return;
      await this.policy.sleep(delay);
    }
  }
}
