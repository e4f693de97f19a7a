// The adapter's single retry layer, unit level: Retry-After parsing (graph-behaviour.md §5.1, §9.2) and the weighted
// per-mailbox semaphore. The end-to-end retry and concurrency tests against the simulator are in graph-adapter.test.ts.
import { DEFAULT_RETRY_POLICY, mayRetry, parseRetryAfter, retryDelayMs } from '../../../src/adapters/graph/retry';
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
