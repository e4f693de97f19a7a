// JSON batching (graph-behaviour.md §5.3, §9.5).
import { BatchRequestContent, BatchResponseContent } from '@microsoft/microsoft-graph-client';
import { startTestSimulator, type GraphTestClient, type JsonRecord } from './harness';
import { validateGraphResponse } from '../../support/openapi';

const UPN = 'batch@contoso.test';

describe('Graph simulator: $batch', () => {
  let t: GraphTestClient;
  beforeAll(async () => {
    t = await startTestSimulator();
    t.sim.control.createUser(UPN);
  });
  afterAll(() => t.stop());
  beforeEach(() => {
    t.sim.control.resetKnobs();
    t.sim.requestLog.reset();
  });

  const responses = (body: JsonRecord) => body['responses'] as JsonRecord[];
  const checkItems = (body: JsonRecord, urls: Record<string, { url: string; method: string }>) => {
    for (const r of responses(body)) {
      const req = urls[String(r['id'])];
      if (req && r['body'] !== undefined) expect(validateGraphResponse({ path: req.url, method: req.method, status: Number(r['status']) }, r['body']).errors).toEqual([]);
    }
  };

  it('answers each request with status, headers ("Content-Type" casing) and body; the SDK reads them as JSON (§9.5)', async () => {
    const created = await t.call('POST', `users/${UPN}/contacts`, { body: { givenName: 'Batched' } });
    const content = new BatchRequestContent([
      { id: '1', request: new Request(`${t.sim.baseUrl}v1.0/users/${UPN}/contacts/${encodeURIComponent(String(created.body['id']))}`, { method: 'GET' }) },
      { id: '2', request: new Request(`${t.sim.baseUrl}v1.0/users/${UPN}/contacts/missing-id`, { method: 'GET' }) },
    ]);
    const validatedBefore = t.validated();
    const raw = (await t.sdk().api('/$batch').post(await content.getContent())) as JsonRecord;
    // both sub-responses went through the OpenAPI check of their own routes
    expect(t.validated() - validatedBefore).toBe(2);
    expect(responses(raw).map((r) => (r['headers'] as JsonRecord)['Content-Type'])).toEqual(['application/json', 'application/json']);
    checkItems(raw, { '1': { url: `/users/${UPN}/contacts/x`, method: 'GET' }, '2': { url: `/users/${UPN}/contacts/x`, method: 'GET' } });
    const parsed = new BatchResponseContent(raw as never);
    const one = parsed.getResponseById('1');
    expect(one.status).toBe(200);
    expect(((await one.json()) as JsonRecord)['givenName']).toBe('Batched');
    expect(parsed.getResponseById('2').status).toBe(404);
    // the batch is one request; each item is logged as a sub-request of its mailbox
    expect(t.sim.requestLog.count({ kind: '$batch' })).toBe(1);
    expect(t.sim.requestLog.count({ mailbox: UPN, kind: 'contacts.get', viaBatch: true })).toBe(2);
  });

  it('rejects more than 20 requests and duplicate ids with 400 (§5.3)', async () => {
    const many = Array.from({ length: 21 }, (_, i) => ({ id: String(i), method: 'GET', url: `/users/${UPN}/contacts` }));
    expect((await t.call('POST', '$batch', { body: { requests: many } })).status).toBe(400);
    const dup = [{ id: 'a', method: 'GET', url: `/users/${UPN}` }, { id: 'A', method: 'GET', url: `/users/${UPN}` }];
    expect((await t.call('POST', '$batch', { body: { requests: dup } })).status).toBe(400);
    expect((await t.call('POST', '$batch', { body: { requests: many.slice(0, 20) } })).status).toBe(200);
  });

  it('dependsOn runs in order and fails dependents of a failed request with 424 (§5.3)', async () => {
    const res = await t.call('POST', '$batch', {
      body: {
        requests: [
          { id: '1', method: 'POST', url: `/users/${UPN}/contacts`, headers: { 'Content-Type': 'application/json' }, body: { givenName: 'first' } },
          { id: '2', method: 'PATCH', url: `/users/${UPN}/contacts/nope`, headers: { 'Content-Type': 'application/json' }, body: { givenName: 'x' }, dependsOn: ['1'] },
          { id: '3', method: 'GET', url: `/users/${UPN}/contacts`, dependsOn: ['2'] },
        ],
      },
    });
    expect(res.status).toBe(200);
    expect(responses(res.body).map((r) => [r['id'], r['status']])).toEqual([['1', 201], ['2', 404], ['3', 424]]);
  });

  it('per-item 429 with Retry-After in the item headers; the outer status stays 200 (§5.3)', async () => {
    t.sim.knobs.batchThrottleNext = 1;
    t.sim.knobs.retryAfterSeconds = 2;
    const res = await t.call('POST', '$batch', { body: { requests: [{ id: '1', method: 'GET', url: `/users/${UPN}` }, { id: '2', method: 'GET', url: `/users/${UPN}`, dependsOn: ['1'] }] } });
    expect(res.status).toBe(200);
    const [first, second] = responses(res.body);
    expect(first).toMatchObject({ id: '1', status: 429, headers: { 'Retry-After': '2', 'Content-Type': 'application/json' } });
    expect(((first?.['body'] as JsonRecord)['error'] as JsonRecord)['code']).toBe('TooManyRequests');
    expect(second).toMatchObject({ id: '2', status: 424 });
  });

  describe('PATCH sub-requests (what MailboxSource.updateItems sends)', () => {
    const contact = async (givenName: string) => {
      const created = await t.call('POST', `users/${UPN}/contacts`, { body: { givenName } });
      return { id: String(created.body['id']), etag: String(created.body['@odata.etag']) };
    };
    const patch = (id: string, requestId: string, body: JsonRecord, ifMatch?: string) => ({
      id: requestId,
      method: 'PATCH',
      url: `/users/${UPN}/contacts/${encodeURIComponent(id)}`,
      // §5.3: headers are required when a body is present and must include Content-Type.
      headers: { 'Content-Type': 'application/json', ...(ifMatch ? { 'If-Match': ifMatch } : {}) },
      body,
    });

    it('each writes its body under its own If-Match; a stale one gets 412 ErrorIrresolvableConflict as outside a batch (§5.3, §8)', async () => {
      const fresh = await contact('Fresh');
      const stale = await contact('Stale');
      // A user edit after our read: `stale.etag` is no longer the item's version.
      await t.call('PATCH', `users/${UPN}/contacts/${encodeURIComponent(stale.id)}`, { body: { jobTitle: 'Edited by the user' } });
      const validatedBefore = t.validated();
      const res = await t.call('POST', '$batch', {
        body: { requests: [patch(fresh.id, '1', { jobTitle: 'CEO' }, fresh.etag), patch(stale.id, '2', { jobTitle: 'CTO' }, stale.etag), patch(fresh.id.replace(/.$/, 'x'), '3', { jobTitle: 'x' })] },
      });
      expect(res.status).toBe(200);
      // Every sub-response went through the OpenAPI check of its own route (the 412 and 404 against the error shape).
      expect(t.validated() - validatedBefore).toBe(3);
      const byId = new Map(responses(res.body).map((r) => [String(r['id']), r]));
      expect(byId.get('1')).toMatchObject({ status: 200, body: { jobTitle: 'CEO' } });
      expect((byId.get('1')?.['body'] as JsonRecord)['@odata.etag']).not.toBe(fresh.etag);
      expect(byId.get('2')).toMatchObject({ status: 412, headers: { 'Content-Type': 'application/json' } });
      expect(((byId.get('2')?.['body'] as JsonRecord)['error'] as JsonRecord)['code']).toBe('ErrorIrresolvableConflict');
      expect(byId.get('3')).toMatchObject({ status: 404 });
      // The refused write left the user's edit; the same request outside a batch is refused the same way.
      expect((await t.call('GET', `users/${UPN}/contacts/${encodeURIComponent(stale.id)}`)).body).toMatchObject({ jobTitle: 'Edited by the user' });
      const direct = await t.call('PATCH', `users/${UPN}/contacts/${encodeURIComponent(stale.id)}`, { body: { jobTitle: 'CTO' }, headers: { 'If-Match': stale.etag } });
      expect(direct.status).toBe(412);
      expect((direct.body['error'] as JsonRecord)['code']).toBe('ErrorIrresolvableConflict');
      expect(t.sim.requestLog.count({ mailbox: UPN, method: 'PATCH', viaBatch: true })).toBe(3);
      expect(t.sim.requestLog.count({ mailbox: UPN, method: 'PATCH', viaBatch: true, status: 412 })).toBe(1);
    });

    it('the SDK builds the same PATCH sub-requests (BatchRequestContent keeps body and headers, §9.5)', async () => {
      const item = await contact('Sdk');
      const url = `${t.sim.baseUrl}v1.0/users/${UPN}/contacts/${encodeURIComponent(item.id)}`;
      const content = new BatchRequestContent([
        {
          id: '1',
          request: new Request(url, { method: 'PATCH', headers: { 'Content-Type': 'application/json', 'If-Match': item.etag }, body: JSON.stringify({ jobTitle: 'Lead' }) }),
        },
      ]);
      const parsed = new BatchResponseContent((await t.sdk().api('/$batch').post(await content.getContent())) as never);
      expect(parsed.getResponseById('1').status).toBe(200);
      expect((await t.call('GET', `users/${UPN}/contacts/${encodeURIComponent(item.id)}`)).body).toMatchObject({ jobTitle: 'Lead' });
    });

    it('with the enforceIfMatch knob off (Outlook honouring If-Match is UNCONFIRMED, §8) a stale version writes', async () => {
      const item = await contact('Loose');
      await t.call('PATCH', `users/${UPN}/contacts/${encodeURIComponent(item.id)}`, { body: { jobTitle: 'Edited' } });
      t.sim.knobs.enforceIfMatch = false;
      const res = await t.call('POST', '$batch', { body: { requests: [patch(item.id, '1', { jobTitle: 'Ours' }, item.etag)] } });
      expect(responses(res.body)[0]).toMatchObject({ status: 200, body: { jobTitle: 'Ours' } });
    });

    it('a sub-request with a body but no Content-Type fails the whole batch with 400, nothing written (§5.3)', async () => {
      const item = await contact('Bare');
      const res = await t.call('POST', '$batch', {
        body: { requests: [patch(item.id, '1', { jobTitle: 'A' }), { id: '2', method: 'PATCH', url: `/users/${UPN}/contacts/${encodeURIComponent(item.id)}`, body: { jobTitle: 'B' } }] },
      });
      expect(res.status).toBe(400);
      expect((await t.call('GET', `users/${UPN}/contacts/${encodeURIComponent(item.id)}`)).body['jobTitle'] ?? null).toBeNull();
    });
  });

  it('shuffles the response order when the knob is on (§5.3 "might appear in a different order")', async () => {
    const requests = Array.from({ length: 20 }, (_, i) => ({ id: String(i), method: 'GET', url: `/users/${UPN}` }));
    const inOrder = await t.call('POST', '$batch', { body: { requests } });
    expect(responses(inOrder.body).map((r) => r['id'])).toEqual(requests.map((r) => r.id));
    t.sim.knobs.batchShuffle = true;
    const shuffled = await t.call('POST', '$batch', { body: { requests } });
    const ids = responses(shuffled.body).map((r) => String(r['id']));
    expect([...ids].sort()).toEqual(requests.map((r) => r.id).sort());
    expect(ids).not.toEqual(requests.map((r) => r.id)); // 1 in 20! chance of a false failure
  });
});
