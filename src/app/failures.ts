// Per-item failure handling (DESIGN.md §4.3, sync-lessons.md §4.14): a failing item updates its own change row with
// attempts, backoff and a reason code, and never blocks the others.
import type { ReasonCode } from '../core/model';
import {
  AuthError,
  ConcurrencyError,
  InvariantError,
  ItemRejectedError,
  ResyncRequiredError,
  TransientError,
} from '../ports/errors';
import type { ChangeRow } from '../ports/state-store';
import type { BackoffPolicy } from './deps';

export interface ClassifiedError {
  reason: ReasonCode;
  /** Safe to store and show: no bodies, addresses or tokens, bounded length. */
  detail: string;
  /** The run cannot go on for this mailbox (credentials refused, a bug). */
  fatal: boolean;
  retryAfterMs: number | null;
  concurrency: boolean;
}

const MAX_DETAIL = 300;

/** Strip what must never reach logs or state: e-mail addresses, bearer tokens, long opaque strings, bodies. */
export function redact(message: string): string {
  return message
    .replace(/Bearer\s+[A-Za-z0-9._~+/=-]+/gi, 'Bearer <redacted>')
    .replace(/[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g, '<address>')
    .replace(/[A-Za-z0-9+/=_-]{64,}/g, '<opaque>')
    .replace(/\s+/g, ' ')
    .slice(0, MAX_DETAIL);
}

export function classifyError(error: unknown): ClassifiedError {
  const base = { fatal: false, retryAfterMs: null, concurrency: false };
  if (error instanceof ItemRejectedError) return { ...base, reason: error.reason, detail: redact(error.message) };
  if (error instanceof ConcurrencyError) {
    return { ...base, reason: 'concurrency', detail: redact(error.message), concurrency: true };
  }
  if (error instanceof TransientError) {
    return { ...base, reason: 'transient', detail: redact(error.message), retryAfterMs: error.retryAfterInMs };
  }
  if (error instanceof AuthError) return { ...base, reason: 'auth', detail: redact(error.message), fatal: true };
  if (error instanceof InvariantError) return { ...base, reason: 'invariant', detail: redact(error.message), fatal: true };
  if (error instanceof ResyncRequiredError) return { ...base, reason: 'resync-required', detail: redact(error.message) };
  if (error instanceof Error) return { ...base, reason: 'error', detail: redact(`${error.name}: ${error.message}`) };
  return { ...base, reason: 'error', detail: 'non-error thrown' };
}

/**
 * Exponential backoff with "equal jitter": half the delay is fixed, half is scaled by a deterministic fraction, so
 * retries of many items spread out but tests and concurrent workers agree on the time.
 */
export function backoffDelayMs(
  attempts: number,
  classified: ClassifiedError,
  policy: BackoffPolicy,
  jitterFraction: number,
): number {
  if (classified.concurrency) return policy.concurrencyMs;
  const exponential = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempts - 1));
  const jittered = Math.round(exponential / 2 + (exponential / 2) * jitterFraction);
  return Math.max(jittered, classified.retryAfterMs ?? 0);
}

export function failedRow(
  row: ChangeRow,
  classified: ClassifiedError,
  now: Date,
  policy: BackoffPolicy,
  jitter: (key: string, attempt: number) => number,
): ChangeRow {
  const attempts = row.attempts + 1;
  const delay = backoffDelayMs(attempts, classified, policy, jitter(row.key, attempts));
  return {
    ...row,
    attempts,
    nextAttemptAt: new Date(now.getTime() + delay).toISOString(),
    lastError: classified.detail,
    reason: classified.reason,
  };
}
