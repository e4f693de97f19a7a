import { ConfidentialClientApplication, type INetworkModule, type NetworkRequestOptions, type NetworkResponse } from '@azure/msal-node';
import { trustedFetch, type Fetch } from '../../../src/adapters/http/trusted-fetch';
import { startDataverseSimulator } from '../../../src/simulators/dataverse';
import { idFromEntityId, startClient, values, type TestClient } from './client';

function networkClient(fetchImpl: Fetch): INetworkModule {
  const send = async <T>(method: string, url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> => {
    const response = await fetchImpl(url, { method, headers: options?.headers, body: options?.body });
    const headers: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      headers[name] = value;
    });
    return { headers, body: (await response.json()) as T, status: response.status };
  };
  return { sendGetRequestAsync: (url, o) => send('GET', url, o), sendPostRequestAsync: (url, o) => send('POST', url, o) };
}

describe('Dataverse simulator: service protection, duplicate detection, authentication', () => {
  let c: TestClient;

  beforeEach(async () => {
    c = await startClient();
  });
  afterEach(() => c.sim.stop());

  it('request budget: 429 + Retry-After + 0x80072322 once the window is full; a $batch counts once', async () => {
    // dataverse-behaviour.md §3 (LIM), §7.9
    c.sim.knobs.requestLimit = { requests: 3, windowSeconds: 300 };
    expect((await c.get('contacts?$select=lastname')).status).toBe(200);
    c.sim.control.advanceClock(100_000);
    const boundary = 'batch_1';
    const batch = [`--${boundary}`, 'Content-Type: application/http', 'Content-Transfer-Encoding: binary', '', 'GET contacts?$select=lastname HTTP/1.1', '', '',
      `--${boundary}`, 'Content-Type: application/http', 'Content-Transfer-Encoding: binary', '', 'GET accounts?$select=name HTTP/1.1', '', '', `--${boundary}--`, ''].join('\r\n');
    expect((await c.request('POST', '$batch', { raw: batch, headers: { 'Content-Type': `multipart/mixed;boundary=${boundary}` } })).status).toBe(200);
    expect((await c.get('accounts?$select=name')).status).toBe(200);
    const throttled = await c.get('contacts?$select=lastname');
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get('retry-after')).toBe('200');
    expect(throttled.json).toEqual({
      error: { code: '0x80072322', message: 'Number of requests exceeded the limit of 6000 over time window of 300 seconds.' },
    });
    // Retrying before Retry-After elapsed lengthens it (§3 "Continuing to hammer lengthens the Retry-After").
    const hammered = await c.get('contacts?$select=lastname');
    expect([hammered.status, hammered.headers.get('retry-after')]).toEqual([429, '205']);
    c.sim.control.advanceClock(205_000);
    expect((await c.get('contacts?$select=lastname')).status).toBe(200);
    expect(c.sim.requestLog.count({ status: 429 })).toBe(2);
  });

  it('normal responses carry the remaining-budget debug header; the budget holder is a knob', async () => {
    // dataverse-behaviour.md §3 (x-ms-ratelimit-burst-remaining-xrm-requests; evaluated per user), §5 (UNCONFIRMED)
    c.sim.knobs.requestLimit = { requests: 2, windowSeconds: 300 };
    const oid = 'dddddddd-0000-4000-8000-000000000001';
    c.sim.control.createUser({ fullname: 'Ivy Impersonated', internalemailaddress: 'ivy@x.test', azureactivedirectoryobjectid: oid });
    const first = await c.get('contacts?$select=lastname');
    expect(first.headers.get('x-ms-ratelimit-burst-remaining-xrm-requests')).toBe('1');
    expect((await c.get('contacts?$select=lastname', { CallerObjectId: oid })).status).toBe(200);
    // Default: the impersonated call used the application user's budget, which is now spent.
    expect((await c.get('contacts?$select=lastname', { CallerObjectId: oid })).status).toBe(429);
    c.sim.knobs.throttleBudgetPer = 'caller';
    expect((await c.get('contacts?$select=lastname', { CallerObjectId: oid })).status).toBe(200);
    expect(c.sim.requestLog.count({ status: 429 })).toBe(1);
  });

  it('injected faults: execution-time limit 429 with its own Retry-After, once, for the matching requests only', async () => {
    // dataverse-behaviour.md §3 (0x80072321)
    c.sim.knobs.faults.push({
      status: 429,
      code: '0x80072321',
      message: 'Combined execution time of incoming requests exceeded limit of 1,200,000 milliseconds over time window of 300 seconds. Decrease number of concurrent requests or reduce the duration of requests and try again later.',
      retryAfterSeconds: 7,
      times: 1,
      match: { method: 'POST', entitySet: 'contacts' },
    });
    expect((await c.get('contacts?$select=lastname')).status).toBe(200);
    const hit = await c.post('contacts', { lastname: 'x' });
    expect([hit.status, hit.headers.get('retry-after'), (hit.json['error'] as { code: string }).code]).toEqual([429, '7', '0x80072321']);
    expect((await c.post('contacts', { lastname: 'x' })).status).toBe(204);
    expect(c.sim.control.count('contacts')).toBe(1);
  });

  it('failAfterCommitNext (503): the create is applied although the client got the 503; reads and refused writes do not use it up', async () => {
    // dataverse-behaviour.md §2.2 (create → 204), §2.5 (503 in the status map), §3 (retries meet the first attempt)
    c.sim.knobs.failAfterCommitNext = 1;
    expect((await c.get('contacts?$select=lastname')).status).toBe(200);
    // a write the service refuses was not applied: it keeps the fault for the next one
    expect((await c.post('contacts', { nosuchcolumn: 'x' })).status).toBe(400);
    const lost = await c.post('contacts', { lastname: 'Applied' });
    expect(lost.status).toBe(503);
    expect(lost.json).toEqual({ error: { code: '', message: 'The service is temporarily unavailable. Please try again later.' } });
    expect(values(await c.get('contacts?$select=lastname')).map((row) => row['lastname'])).toEqual(['Applied']);
    expect(c.sim.knobs.failAfterCommitNext).toBe(0);
    const created = c.sim.requestLog.entries.filter((entry) => entry.kind === 'create');
    expect(created.map((entry) => [entry.status, entry.answerLost])).toEqual([[400, undefined], [204, 503]]);
    expect((await c.post('contacts', { lastname: 'Answered' })).status).toBe(204);
  });

  it('failAfterCommitNext: a $batch of reads only is answered; a $batch with a write loses its answer (§2.6)', async () => {
    c.sim.knobs.failAfterCommitNext = 1;
    const part = (line: string, body?: string) => ['--b', 'Content-Type: application/http', 'Content-Transfer-Encoding: binary', '', line, ...(body ? ['Content-Type: application/json', '', body] : ['', '']) ];
    const send = (parts: string[][]) => c.request('POST', '$batch', { raw: [...parts.flat(), '--b--', ''].join('\r\n'), headers: { 'Content-Type': 'multipart/mixed;boundary=b' } });
    expect((await send([part('GET contacts?$select=lastname HTTP/1.1')])).status).toBe(200);
    expect(c.sim.knobs.failAfterCommitNext).toBe(1);
    expect((await send([part('POST contacts HTTP/1.1', '{"lastname":"Batched"}')])).status).toBe(503);
    expect(c.sim.control.count('contacts')).toBe(1);
  });

  it("failAfterCommitNext ('drop'): the PATCH is applied, the connection closes without an answer", async () => {
    // dataverse-behaviour.md §2.3 (PATCH → 204); a lost response is what a client sees after a network failure
    const id = idFromEntityId(await c.post('contacts', { lastname: 'Before' }));
    c.sim.knobs.failAfterCommitNext = 1;
    c.sim.knobs.failAfterCommitMode = 'drop';
    await expect(c.patch(`contacts(${id})`, { lastname: 'After' }, { 'If-Match': '*' })).rejects.toThrow(/fetch failed/);
    expect((await c.get(`contacts(${id})?$select=lastname`)).json['lastname']).toBe('After');
    expect(c.sim.requestLog.entries.filter((entry) => entry.kind === 'update').map((entry) => entry.answerLost)).toEqual(['drop']);
  });

  it('concurrency limit: requests beyond the cap fail at once with 0x80072326', async () => {
    // dataverse-behaviour.md §3 ("the concurrency limit errors immediately"; 52 by default, lowered here)
    c.sim.knobs.maxConcurrentRequests = 2;
    c.sim.knobs.latencyMs = 1500;
    const replies = await Promise.all(Array.from({ length: 5 }, () => c.get('contacts?$select=lastname')));
    const statuses = replies.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 200, 429, 429, 429]);
    const rejected = replies.find((r) => r.status === 429);
    expect((rejected?.json['error'] as { code: string }).code).toBe('0x80072326');
    expect(c.sim.requestLog.count({ status: 429, entitySet: 'contacts', kind: 'retrieveMultiple' })).toBe(3);
  });

  it('duplicate detection fires only with MSCRM.SuppressDuplicateDetection: false', async () => {
    // dataverse-behaviour.md §2.7 (DUP), §7.10
    expect((await c.post('contacts', { lastname: 'A', emailaddress1: 'dup@x.test' })).status).toBe(204);
    expect((await c.post('contacts', { lastname: 'B', emailaddress1: 'DUP@x.test' })).status).toBe(204);
    const enforced = await c.post('contacts', { lastname: 'C', emailaddress1: 'dup@x.test' }, { 'MSCRM.SuppressDuplicateDetection': 'false' });
    expect(enforced.status).toBe(500);
    expect(enforced.json).toEqual({
      error: { code: '0x80040333', message: 'A record was not created or updated because a duplicate of the current record already exists.' },
    });
    const other = await c.post('contacts', { lastname: 'D', emailaddress1: 'unique@x.test' }, { 'MSCRM.SuppressDuplicateDetection': 'false' });
    expect(other.status).toBe(204);
    c.sim.knobs.duplicateDetection = false;
    expect((await c.post('contacts', { lastname: 'E', emailaddress1: 'dup@x.test' }, { 'MSCRM.SuppressDuplicateDetection': 'false' })).status).toBe(204);
    expect(c.sim.control.count('contacts')).toBe(4);
  });

  it('WhoAmI reports the impersonated user; EntityDefinitions describes a table; plain HTTP is available', async () => {
    // dataverse-behaviour.md §5 (CallerObjectId), §1.1 (EntityDefinitions … ChangeTrackingEnabled)
    const oid = 'eeeeeeee-0000-4000-8000-000000000001';
    const user = c.sim.control.createUser({ fullname: 'Wanda Who', internalemailaddress: 'wanda@x.test', azureactivedirectoryobjectid: oid });
    expect((await c.get('WhoAmI', { CallerObjectId: oid })).json['UserId']).toBe(user);
    const contact = await c.get("EntityDefinitions(LogicalName='contact')?$select=LogicalName,EntitySetName,ChangeTrackingEnabled");
    expect(contact.json).toEqual(expect.objectContaining({ LogicalName: 'contact', EntitySetName: 'contacts', ChangeTrackingEnabled: true }));
    const plain = await startDataverseSimulator({ https: false });
    try {
      expect(plain.caCert).toBeNull();
      const reply = await globalThis.fetch(`${plain.apiUrl}WhoAmI`, { headers: { Authorization: 'Bearer x' } });
      expect(reply.status).toBe(200);
    } finally {
      await plain.stop();
    }
  });

  it('msal-node client credentials against the identity routes; expired and foreign tokens get 401', async () => {
    // dataverse-behaviour.md §5 (scope `<environment-url>/.default`, tokens ~60 minutes)
    const identity = c.sim.control.identity();
    const fetch = trustedFetch(c.sim.caCert ?? undefined);
    const app = new ConfidentialClientApplication({
      auth: { clientId: 'client-1', clientSecret: 'secret', authority: identity.authority('tenant-1'), knownAuthorities: [identity.knownAuthority] },
      system: { networkClient: networkClient(fetch) },
    });
    const origin = new URL(c.sim.baseUrl).origin;
    const token = (await app.acquireTokenByClientCredential({ scopes: [`${origin}/.default`] }))?.accessToken ?? '';
    const whoAmI = await c.get('WhoAmI', { Authorization: `Bearer ${token}` });
    expect(whoAmI.status).toBe(200);
    expect(whoAmI.json['UserId']).toBe(c.sim.control.applicationUserId);

    const foreign = (await app.acquireTokenByClientCredential({ scopes: ['https://graph.microsoft.com/.default'] }))?.accessToken ?? '';
    expect((await c.get('WhoAmI', { Authorization: `Bearer ${foreign}` })).status).toBe(401);

    c.sim.control.expireAccessTokens();
    const expired = await c.get('WhoAmI', { Authorization: `Bearer ${token}` });
    expect(expired.status).toBe(401);
    expect(expired.headers.get('www-authenticate')).toContain('invalid_token');
    expect(c.sim.requestLog.count({ kind: 'identity', method: 'POST' })).toBe(2);
  });
});
