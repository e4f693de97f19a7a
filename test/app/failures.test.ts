// Backoff and redaction of per-item failures (DESIGN.md §4.3, §8; sync-lessons.md §4.14).
import { DEFAULT_BACKOFF, hashJitter } from '../../src/app/deps';
import { backoffDelayMs, classifyError, failedRow, redact } from '../../src/app/failures';
import { AuthError, ConcurrencyError, ItemRejectedError, TransientError } from '../../src/ports/errors';
import type { ChangeRow } from '../../src/ports/state-store';

const row: ChangeRow = {
  key: 'o:contact:AAMk/+Q=',
  kind: 'contact',
  mapId: null,
  outlookId: 'AAMk/+Q=',
  outlookContainer: 'contacts',
  crmId: null,
  outlookChange: 'upsert',
  outlookAt: '2026-03-02T09:00:00.000Z',
  crmChange: null,
  crmAt: null,
  attempts: 0,
  nextAttemptAt: '2026-03-02T09:00:00.000Z',
  lastError: null,
  reason: null,
};

describe('backoff', () => {
  const transient = classifyError(new TransientError('503'));

  it('doubles per attempt between half and all of the exponential delay, up to the cap', () => {
    const policy = { baseMs: 1_000, maxMs: 60_000, concurrencyMs: 500 };
    expect([1, 2, 3, 4].map((n) => backoffDelayMs(n, transient, policy, 0))).toEqual([500, 1_000, 2_000, 4_000]);
    expect([1, 2, 3, 4].map((n) => backoffDelayMs(n, transient, policy, 0.999999))).toEqual([1_000, 2_000, 4_000, 8_000]);
    expect(backoffDelayMs(30, transient, policy, 0.5)).toBe(45_000);
  });

  it('honours Retry-After and retries a lost concurrency race soon', () => {
    const throttled = classifyError(new TransientError('429', 120_000));
    expect(backoffDelayMs(1, throttled, DEFAULT_BACKOFF, 0)).toBe(120_000);
    expect(backoffDelayMs(7, classifyError(new ConcurrencyError('412')), DEFAULT_BACKOFF, 0.9)).toBe(DEFAULT_BACKOFF.concurrencyMs);
  });

  it('has a deterministic jitter in [0, 1) that differs between rows and attempts', () => {
    const values = ['a', 'b', 'c'].flatMap((key) => [1, 2, 3].map((attempt) => hashJitter(key, attempt)));
    expect(values.every((value) => value >= 0 && value < 1)).toBe(true);
    expect(new Set(values).size).toBe(values.length);
    expect(hashJitter('a', 1)).toBe(values[0]);
  });

  it('updates only the failing row: attempts, next attempt, reason and a safe message', () => {
    const classified = classifyError(new ItemRejectedError('crm-invalid-attribute', 'bad value for ada@example.org'));
    const next = failedRow({ ...row, attempts: 2 }, classified, new Date('2026-03-02T10:00:00.000Z'), DEFAULT_BACKOFF, () => 0);
    expect(next).toEqual({
      ...row,
      attempts: 3,
      nextAttemptAt: new Date(Date.parse('2026-03-02T10:00:00.000Z') + 2 * 60_000).toISOString(),
      reason: 'crm-invalid-attribute',
      lastError: 'bad value for <address>',
    });
  });
});

describe('classifyError', () => {
  it('gives reason codes by error type and marks credentials as fatal', () => {
    expect(classifyError(new AuthError('no token'))).toMatchObject({ reason: 'auth', fatal: true });
    expect(classifyError(new ItemRejectedError('graph-404', 'gone'))).toMatchObject({ reason: 'graph-404', fatal: false });
    expect(classifyError(new ConcurrencyError('412'))).toMatchObject({ reason: 'concurrency', concurrency: true });
    expect(classifyError('text')).toMatchObject({ reason: 'error' });
  });

  it('redacts addresses, bearer tokens and long opaque strings, and bounds the length', () => {
    const token = 'x'.repeat(80);
    expect(redact(`from bob@example.org with Bearer abc.def and ${token}`)).toBe('from <address> with Bearer <redacted> and <opaque>');
    expect(redact('y '.repeat(400)).length).toBe(300);
  });
});
