// The adapter's single retry layer, unit level: Retry-After parsing (graph-behaviour.md §5.1, §9.2) and the weighted
// per-mailbox semaphore. The end-to-end retry and concurrency tests against the simulator are in graph-adapter.test.ts.
import { currentCallBudget, DEFAULT_RETRY_POLICY, mayRetry, middlewareRetries, parseRetryAfter, retryDelayMs, withCallBudget } from '../../../src/adapters/graph/retry';
import { WeightedSemaphore } from '../../../src/adapters/graph/transport';

describe('Retry-After', () => {
  const now = Date.parse('2026-11-21T06:00:00Z');

  it('reads integer and fractional seconds (§5.1: "Retry-After: 2.128")', () => {
    expect(parseRetryAfter('10', now)).toBe(10_000);
    expect(parseRetryAfter('2.128', now)).toBe(2_128);
    expect(parseRetryAfter('0', now)).toBe(0);
  });

  it('reads an HTTP-date relative to now, never negative', () => {
    expect(parseRetryAfter('Sat, 21 Nov 2026 06:00:07 GMT', now)).toBe(7_000);
    expect(parseRetryAfter('Sat, 21 Nov 2026 05:00:00 GMT', now)).toBe(0);
  });

  it('ignores absent or unreadable values, and then backs off exponentially', () => {
    expect(parseRetryAfter(null, now)).toBeNull();
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter('-3', now)).toBeNull();
    const policy = { ...DEFAULT_RETRY_POLICY, baseDelayMs: 100 };
    expect([1, 2, 3].map((attempt) => retryDelayMs(null, attempt, policy))).toEqual([100, 200, 400]);
    expect(retryDelayMs(2_500, 3, policy)).toBe(2_500);
  });

  it('stops at the attempt bound and refuses a wait beyond maxDelayMs', () => {
    const policy = { ...DEFAULT_RETRY_POLICY, maxAttempts: 3, maxDelayMs: 5_000 };
    expect(mayRetry(2, 1_000, policy)).toBe(true);
    expect(mayRetry(3, 1_000, policy)).toBe(false);
    expect(mayRetry(1, 5_001, policy)).toBe(false);
  });
});

describe('WeightedSemaphore', () => {
  it('never lets more than its capacity through, and serves waiters in order', async () => {
    const semaphore = new WeightedSemaphore(4);
    let inUse = 0;
    let peak = 0;
    const order: string[] = [];
    const task = async (name: string, weight: number) => {
      const release = await semaphore.acquire(weight);
      inUse += Math.min(weight, 4);
      peak = Math.max(peak, inUse);
      order.push(name);
      await new Promise((resolve) => setTimeout(resolve, 5));
      inUse -= Math.min(weight, 4);
      release();
    };
    await Promise.all([task('a', 1), task('b', 1), task('batch', 20), task('c', 1), task('d', 3), task('e', 1)]);
    expect(peak).toBe(4);
    expect(order.indexOf('batch')).toBeLessThan(order.indexOf('c'));
    expect(order).toHaveLength(6);
  });
});

describe('retry ownership and the call budget', () => {
  it('the middleware retries idempotent requests on 429/503/504, a create POST only on 429, a $batch never (§9.2)', () => {
    const url = 'https://localhost:8443/v1.0/users/a/contacts';
    expect(['GET', 'PATCH', 'DELETE'].every((m) => [429, 503, 504].every((s) => middlewareRetries(m, url, s)))).toBe(true);
    expect(middlewareRetries('POST', url, 429)).toBe(true);
    expect(middlewareRetries('POST', url, 503)).toBe(false);
    expect(middlewareRetries('POST', url, 504)).toBe(false);
    expect(middlewareRetries('POST', 'https://localhost:8443/v1.0/$batch', 429)).toBe(false);
    expect(middlewareRetries('GET', url, 500)).toBe(false);
  });

  it('one budget per call, shared by nested calls, well under the 10-minute Functions timeout', async () => {
    expect(DEFAULT_RETRY_POLICY.maxCallDelayMs).toBeLessThanOrEqual(120_000);
    const slept: number[] = [];
    const policy = { ...DEFAULT_RETRY_POLICY, maxCallDelayMs: 1_000, sleep: async (ms: number) => void slept.push(ms) };
    await withCallBudget(policy, async () => {
      await currentCallBudget().sleep(600, policy);
      await withCallBudget(policy, async () => {
        expect(currentCallBudget().remainingMs).toBe(400);
        expect(mayRetry(1, 500, policy)).toBe(false);
        expect(mayRetry(1, 400, policy)).toBe(true);
      });
    });
    await withCallBudget(policy, async () => expect(currentCallBudget().remainingMs).toBe(1_000));
    expect(slept).toEqual([600]);
  });
});
