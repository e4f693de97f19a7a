// Throttling and injected faults (graph-behaviour.md §5.1, §5.2, §9.2). Counts are exact; no timing assertions.
import { GraphError } from '@microsoft/microsoft-graph-client';
import { startTestSimulator, type GraphTestClient, type JsonRecord } from './harness';

describe('Graph simulator: throttling and faults', () => {
  let t: GraphTestClient;
  let n = 0;
  let upn = '';
  beforeAll(async () => {
    t = await startTestSimulator();
  });
  afterAll(() => t.stop());
  beforeEach(() => {
    t.sim.control.resetKnobs();
    t.sim.requestLog.reset();
    upn = `fault${++n}@contoso.test`;
    t.sim.control.createUser(upn);
  });

  const givenNames = () => t.sim.control.listItems(upn, 'contact').map((item) => (item['props'] as JsonRecord)['givenName']);

  it('throttleNext: 429 TooManyRequests with a fractional Retry-After, which the SDK RetryHandler honours (§5.1, §9.2)', async () => {
    t.sim.knobs.throttleNext = 2;
    t.sim.knobs.retryAfterSeconds = 0.01;
    const raw = await t.call('GET', `users/${upn}/contacts`);
    expect(raw.status).toBe(429);
    expect(raw.headers.get('retry-after')).toBe('0.01');
    const err = raw.body['error'] as JsonRecord;
    expect(err['code']).toBe('TooManyRequests');
    expect((err['innerError'] as JsonRecord)['status']).toBe('429');
    const page = (await t.sdk().api(`/users/${upn}/contacts`).get()) as JsonRecord;
    expect(page['value']).toEqual([]);
    expect(t.sim.requestLog.list({ mailbox: upn, kind: 'contacts.list' }).map((e) => e.status)).toEqual([429, 429, 200]);
  });

  it('503/504 injection with and without Retry-After; the SDK retries 503 and gives up after maxRetries (§5.1, §9.2)', async () => {
    t.sim.knobs.serverErrorNext = 1;
    t.sim.knobs.serverErrorRetryAfter = 0.01;
    const r503 = await t.call('GET', `users/${upn}`);
    expect([r503.status, r503.headers.get('retry-after')]).toEqual([503, '0.01']);
    t.sim.knobs.serverErrorNext = 1;
    t.sim.knobs.serverErrorStatus = 504;
    t.sim.knobs.serverErrorRetryAfter = null;
    const r504 = await t.call('GET', `users/${upn}`);
    expect([r504.status, r504.headers.get('retry-after')]).toEqual([504, null]);
    t.sim.requestLog.reset();
    t.sim.knobs.serverErrorNext = 5;
    t.sim.knobs.serverErrorStatus = 503;
    t.sim.knobs.serverErrorRetryAfter = 0;
    const failure = await t.sdk({ maxRetries: 2 }).api(`/users/${upn}/contacts`).get().catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(GraphError);
    expect((failure as GraphError).statusCode).toBe(503);
    expect(t.sim.requestLog.count({ mailbox: upn, kind: 'contacts.list' })).toBe(3);
  });

  it('per-mailbox request budget: the request past the limit gets 429; other mailboxes are unaffected (§5.2)', async () => {
    t.sim.knobs.requestBudget = { limit: 3, windowSeconds: 600 };
    const other = `other${n}@contoso.test`;
    t.sim.control.createUser(other);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await t.call('GET', `users/${upn}/contacts`)).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    expect((await t.call('GET', `users/${other}/contacts`)).status).toBe(200);
    // the window frees up as simulated time passes
    t.sim.control.advanceClock(601_000);
    expect((await t.call('GET', `users/${upn}/contacts`)).status).toBe(200);
  });

  it('4 concurrent requests per mailbox, on by default: the fifth in flight gets 429 MailboxConcurrency (§5.2, §10.10)', async () => {
    expect(t.sim.knobs.concurrencyLimit).toBe(4);
    t.sim.knobs.latencyMs = 600; // long enough that all six overlap even on a loaded machine
    const results = await Promise.all(Array.from({ length: 6 }, () => t.call('GET', `users/${upn}/contacts`)));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
    const throttled = results.find((r) => r.status === 429);
    expect(((throttled?.body['error'] as JsonRecord)['message'])).toBe('Application is over its MailboxConcurrency limit.');
  });

  it('failAfterCommitNext: the create is applied but the client gets 504, and the SDK RetryHandler duplicates it (§9.2)', async () => {
    t.sim.knobs.failAfterCommitNext = 1;
    // reads do not use the fault up
    expect((await t.call('GET', `users/${upn}/contacts`)).status).toBe(200);
    const lost = await t.call('POST', `users/${upn}/contacts`, { body: { givenName: 'Once' } });
    expect(lost.status).toBe(504);
    expect((lost.body['error'] as JsonRecord)['code']).toBe('GatewayTimeout');
    expect(givenNames()).toEqual(['Once']);
    expect(t.sim.knobs.failAfterCommitNext).toBe(0);
    // §9.2: the SDK retries a POST after 503/504, so a create whose answer was lost is made twice
    t.sim.knobs.failAfterCommitNext = 1;
    t.sim.knobs.failAfterCommitStatus = 503;
    t.sim.knobs.serverErrorRetryAfter = 0;
    const retried = (await t.sdk().api(`/users/${upn}/contacts`).post({ givenName: 'Twice' })) as JsonRecord;
    expect(retried['givenName']).toBe('Twice');
    expect(t.sim.requestLog.list({ mailbox: upn, kind: 'contacts.create' }).map((e) => e.status)).toEqual([504, 503, 201]);
    expect(givenNames().filter((name) => name === 'Twice')).toHaveLength(2);
  });

  it('failAfterCommitNext applies to batch sub-requests: the item reports 504, the write stands (§5.3, §9.2)', async () => {
    t.sim.knobs.failAfterCommitNext = 1;
    const batch = await t.call('POST', '$batch', {
      body: { requests: [{ id: '1', method: 'POST', url: `/users/${upn}/contacts`, headers: { 'Content-Type': 'application/json' }, body: { givenName: 'InBatch' } }] },
    });
    expect(batch.status).toBe(200);
    expect(((batch.body['responses'] as JsonRecord[])[0] as JsonRecord)['status']).toBe(504);
    expect(givenNames()).toEqual(['InBatch']);
  });

  it('a write the handler refuses does not use failAfterCommitNext up: nothing was applied', async () => {
    t.sim.knobs.failAfterCommitNext = 1;
    const missing = await t.call('PATCH', `users/${upn}/contacts/AAMkAGnope`, { body: { givenName: 'x' } });
    expect(missing.status).toBe(404);
    expect(t.sim.knobs.failAfterCommitNext).toBe(1);
  });

  it('conflictNextPatch: 412 ErrorIrresolvableConflict on a PATCH without If-Match ([R] §8)', async () => {
    const c = await t.call('POST', `users/${upn}/contacts`, { body: { givenName: 'x' } });
    t.sim.knobs.conflictNextPatch = 1;
    const patch = await t.call('PATCH', `users/${upn}/contacts/${encodeURIComponent(String(c.body['id']))}`, { body: { givenName: 'y' } });
    expect(patch.status).toBe(412);
    expect((patch.body['error'] as JsonRecord)['code']).toBe('ErrorIrresolvableConflict');
    expect((await t.call('PATCH', `users/${upn}/contacts/${encodeURIComponent(String(c.body['id']))}`, { body: { givenName: 'y' } })).status).toBe(200);
  });
});
