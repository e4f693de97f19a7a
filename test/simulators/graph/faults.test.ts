// Throttling and injected faults (graph-behaviour.md §5.1, §5.2, §9.2). Counts are exact; no timing assertions.
import { GraphError } from '@microsoft/microsoft-graph-client';
import { type JsonRecord, useSimulatorMailbox } from './harness';

describe('Graph simulator: throttling and faults', () => {
  const mailbox = useSimulatorMailbox('fault');

  const givenNames = () => mailbox.t.sim.control.listItems(mailbox.upn, 'contact').map((item) => (item['props'] as JsonRecord)['givenName']);

  it('throttleNext: 429 TooManyRequests with a fractional Retry-After, which the SDK RetryHandler honours (§5.1, §9.2)', async () => {
    mailbox.t.sim.knobs.throttleNext = 2;
    mailbox.t.sim.knobs.retryAfterSeconds = 0.01;
    const raw = await mailbox.t.call('GET', `users/${mailbox.upn}/contacts`);
    expect(raw.status).toBe(429);
    expect(raw.headers.get('retry-after')).toBe('0.01');
    const err = raw.body['error'] as JsonRecord;
    expect(err['code']).toBe('TooManyRequests');
    expect((err['innerError'] as JsonRecord)['status']).toBe('429');
    const page = (await mailbox.t.sdk().api(`/users/${mailbox.upn}/contacts`).get()) as JsonRecord;
    expect(page['value']).toEqual([]);
    expect(mailbox.t.sim.requestLog.list({ mailbox: mailbox.upn, kind: 'contacts.list' }).map((e) => e.status)).toEqual([429, 429, 200]);
  });

  it('503/504 injection with and without Retry-After; the SDK retries 503 and gives up after maxRetries (§5.1, §9.2)', async () => {
    mailbox.t.sim.knobs.serverErrorNext = 1;
    mailbox.t.sim.knobs.serverErrorRetryAfter = 0.01;
    const r503 = await mailbox.t.call('GET', `users/${mailbox.upn}`);
    expect([r503.status, r503.headers.get('retry-after')]).toEqual([503, '0.01']);
    mailbox.t.sim.knobs.serverErrorNext = 1;
    mailbox.t.sim.knobs.serverErrorStatus = 504;
    mailbox.t.sim.knobs.serverErrorRetryAfter = null;
    const r504 = await mailbox.t.call('GET', `users/${mailbox.upn}`);
    expect([r504.status, r504.headers.get('retry-after')]).toEqual([504, null]);
    mailbox.t.sim.requestLog.reset();
    mailbox.t.sim.knobs.serverErrorNext = 5;
    mailbox.t.sim.knobs.serverErrorStatus = 503;
    mailbox.t.sim.knobs.serverErrorRetryAfter = 0;
    const failure = await mailbox.t.sdk({ maxRetries: 2 }).api(`/users/${mailbox.upn}/contacts`).get().catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(GraphError);
    expect((failure as GraphError).statusCode).toBe(503);
    expect(mailbox.t.sim.requestLog.count({ mailbox: mailbox.upn, kind: 'contacts.list' })).toBe(3);
  });

  it('per-mailbox request budget: the request past the limit gets 429; other mailboxes are unaffected (§5.2)', async () => {
    mailbox.t.sim.knobs.requestBudget = { limit: 3, windowSeconds: 600 };
    const other = `other-of-${mailbox.upn}`;
    mailbox.t.sim.control.createUser(other);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await mailbox.t.call('GET', `users/${mailbox.upn}/contacts`)).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    expect((await mailbox.t.call('GET', `users/${other}/contacts`)).status).toBe(200);
    // the window frees up as simulated time passes
    mailbox.t.sim.control.advanceClock(601_000);
    expect((await mailbox.t.call('GET', `users/${mailbox.upn}/contacts`)).status).toBe(200);
  });

  it('4 concurrent requests per mailbox, on by default: the fifth in flight gets 429 MailboxConcurrency (§5.2, §10.10)', async () => {
    expect(mailbox.t.sim.knobs.concurrencyLimit).toBe(4);
    mailbox.t.sim.knobs.latencyMs = 600; // long enough that all six overlap even on a loaded machine
    const results = await Promise.all(Array.from({ length: 6 }, () => mailbox.t.call('GET', `users/${mailbox.upn}/contacts`)));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
    const throttled = results.find((r) => r.status === 429);
    expect(((throttled?.body['error'] as JsonRecord)['message'])).toBe('Application is over its MailboxConcurrency limit.');
  });

  it('failAfterCommitNext: the create is applied but the client gets 504, and the SDK RetryHandler duplicates it (§9.2)', async () => {
    mailbox.t.sim.knobs.failAfterCommitNext = 1;
    // reads do not use the fault up
    expect((await mailbox.t.call('GET', `users/${mailbox.upn}/contacts`)).status).toBe(200);
    const lost = await mailbox.t.call('POST', `users/${mailbox.upn}/contacts`, { body: { givenName: 'Once' } });
    expect(lost.status).toBe(504);
    expect((lost.body['error'] as JsonRecord)['code']).toBe('GatewayTimeout');
    expect(givenNames()).toEqual(['Once']);
    expect(mailbox.t.sim.knobs.failAfterCommitNext).toBe(0);
    // §9.2: the SDK retries a POST after 503/504, so a create whose answer was lost is made twice
    mailbox.t.sim.knobs.failAfterCommitNext = 1;
    mailbox.t.sim.knobs.failAfterCommitStatus = 503;
    mailbox.t.sim.knobs.serverErrorRetryAfter = 0;
    const retried = (await mailbox.t.sdk().api(`/users/${mailbox.upn}/contacts`).post({ givenName: 'Twice' })) as JsonRecord;
    expect(retried['givenName']).toBe('Twice');
    expect(mailbox.t.sim.requestLog.list({ mailbox: mailbox.upn, kind: 'contacts.create' }).map((e) => e.status)).toEqual([504, 503, 201]);
    expect(givenNames().filter((name) => name === 'Twice')).toHaveLength(2);
  });

  it('failAfterCommitNext applies to batch sub-requests: the item reports 504, the write stands (§5.3, §9.2)', async () => {
    mailbox.t.sim.knobs.failAfterCommitNext = 1;
    const batch = await mailbox.t.call('POST', '$batch', {
      body: { requests: [{ id: '1', method: 'POST', url: `/users/${mailbox.upn}/contacts`, headers: { 'Content-Type': 'application/json' }, body: { givenName: 'InBatch' } }] },
    });
    expect(batch.status).toBe(200);
    expect(((batch.body['responses'] as JsonRecord[])[0] as JsonRecord)['status']).toBe(504);
    expect(givenNames()).toEqual(['InBatch']);
  });

  it('a write the handler refuses does not use failAfterCommitNext up: nothing was applied', async () => {
    mailbox.t.sim.knobs.failAfterCommitNext = 1;
    const missing = await mailbox.t.call('PATCH', `users/${mailbox.upn}/contacts/AAMkAGnope`, { body: { givenName: 'x' } });
    expect(missing.status).toBe(404);
    expect(mailbox.t.sim.knobs.failAfterCommitNext).toBe(1);
  });

  it('conflictNextPatch: 412 ErrorIrresolvableConflict on a PATCH without If-Match ([R] §8)', async () => {
    const c = await mailbox.t.call('POST', `users/${mailbox.upn}/contacts`, { body: { givenName: 'x' } });
    mailbox.t.sim.knobs.conflictNextPatch = 1;
    const patch = await mailbox.t.call('PATCH', `users/${mailbox.upn}/contacts/${encodeURIComponent(String(c.body['id']))}`, { body: { givenName: 'y' } });
    expect(patch.status).toBe(412);
    expect((patch.body['error'] as JsonRecord)['code']).toBe('ErrorIrresolvableConflict');
    expect((await mailbox.t.call('PATCH', `users/${mailbox.upn}/contacts/${encodeURIComponent(String(c.body['id']))}`, { body: { givenName: 'y' } })).status).toBe(200);
  });
});
