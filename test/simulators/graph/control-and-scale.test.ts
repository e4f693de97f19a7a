// The /_sim control surface for `npm run simulate`, contact folders, the SDK PageIterator, and a 40,000-item
// mailbox (benchmarks need O(page) delta pages).
import { PageIterator } from '@microsoft/microsoft-graph-client';
import { deltaRound, startTestSimulator, values, type GraphTestClient, type JsonRecord } from './harness';

describe('Graph simulator: control surface and scale', () => {
  let t: GraphTestClient;
  beforeAll(async () => {
    t = await startTestSimulator();
  });
  afterAll(() => t.stop());
  beforeEach(() => t.sim.control.resetKnobs());

  const control = async (method: string, path: string, body?: unknown) => {
    const res = await t.fetch(`${t.sim.baseUrl}_sim/${path}`, { method, headers: body === undefined ? {} : { 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as JsonRecord };
  };

  it('creates users, seeds mail, sets knobs, reads the request log and evicts tokens over HTTP; none of it is a Graph request', async () => {
    const upn = 'ctl@contoso.test';
    expect((await control('POST', 'users', { userPrincipalName: upn })).status).toBe(201);
    expect((await control('GET', 'users')).body).toEqual(expect.arrayContaining([expect.objectContaining({ userPrincipalName: upn })]));
    const seeded = await control('POST', `users/${upn}/messages`, { folder: 'inbox', subject: 'seeded', isDraft: false });
    expect(seeded.body).toMatchObject({ kind: 'message', props: expect.objectContaining({ subject: 'seeded', isDraft: false }) });
    await control('DELETE', 'requests');
    const round = await deltaRound(t, `users/${upn}/mailFolders/inbox/messages/delta`);
    expect(round.items.map((m) => m['subject'])).toEqual(['seeded']);
    expect((await control('PATCH', 'knobs', { throttleNext: 1, retryAfterSeconds: 3 })).body).toMatchObject({ throttleNext: 1, retryAfterSeconds: 3 });
    expect((await control('PATCH', 'knobs', { noSuchKnob: 1 })).status).toBe(400);
    expect((await t.call('GET', `users/${upn}`)).status).toBe(429);
    await control('POST', `users/${upn}/evict-tokens`);
    expect((await t.call('GET', round.deltaLink)).status).toBe(410);
    const log = await control('GET', `requests?mailbox=${upn}`);
    expect((log.body['entries'] as JsonRecord[]).map((e) => [e['method'], e['kind'], e['status']])).toEqual([
      ['GET', 'messages.delta', 200], ['GET', 'users.get', 429], ['GET', 'messages.delta', 410],
    ]);
    const seededContacts = await control('POST', `users/${upn}/seed`, { kind: 'contact', items: [{ givenName: 'S1' }, { givenName: 'S2' }] });
    expect((seededContacts.body['ids'] as string[]).length).toBe(2);
    expect((await control('POST', `users/${upn}/seed`, { kind: 'contact', items: [{ givenName: 'x', singleValueExtendedProperties: [{ id: 'bad', value: 'v' }] }] })).status).toBe(400);
    expect((await control('GET', '')).body).toMatchObject({ service: 'graph-simulator' });
    const folders = await control('GET', `users/${upn}/folders`);
    expect(Object.keys(folders.body).sort()).toEqual(['calendar', 'contacts', 'deleteditems', 'drafts', 'inbox', 'sentitems', 'tasks']);
  });

  it('contact folders: create, per-folder contacts and delta; the folder list excludes the default folder (§2.1)', async () => {
    const upn = 'folders@contoso.test';
    t.sim.control.createUser(upn);
    const folder = await t.call('POST', `users/${upn}/contactFolders`, { body: { displayName: 'CRM' } });
    expect(folder.status).toBe(201);
    const fid = encodeURIComponent(String(folder.body['id']));
    await t.call('POST', `users/${upn}/contactFolders/${fid}/contacts`, { body: { givenName: 'InFolder' } });
    await t.call('POST', `users/${upn}/contacts`, { body: { givenName: 'InDefault' } });
    expect(values((await t.call('GET', `users/${upn}/contactFolders`)).body).map((f) => f['displayName'])).toEqual(['CRM']);
    expect((await deltaRound(t, `users/${upn}/contactFolders/${fid}/contacts/delta`)).items.map((c) => c['givenName'])).toEqual(['InFolder']);
    expect((await deltaRound(t, `users/${upn}/contacts/delta`)).items.map((c) => c['givenName'])).toEqual(['InDefault']);
    const defaultId = encodeURIComponent(t.sim.control.folders(upn).contacts);
    expect((await deltaRound(t, `users/${upn}/contactFolders/${defaultId}/contacts/delta`)).items.map((c) => c['givenName'])).toEqual(['InDefault']);
  });

  it('the SDK PageIterator walks empty pages with nextLinks to the deltaLink (§9.3, §1.1)', async () => {
    const upn = 'iterator@contoso.test';
    t.sim.control.createUser(upn);
    t.sim.control.seed(upn, 'contact', [{ givenName: 'a' }, { givenName: 'b' }, { givenName: 'c' }]);
    t.sim.knobs.emptyPagesBeforeData = 2;
    const client = t.sdk();
    const prefer = { Prefer: 'odata.maxpagesize=2' };
    const first = await client.api(`/users/${upn}/contacts/delta`).headers(prefer).get();
    const seen: string[] = [];
    const it = new PageIterator(client, first, (c: JsonRecord) => {
      seen.push(String(c['givenName']));
      return true;
    }, { headers: prefer });
    await it.iterate();
    expect(seen).toEqual(['a', 'b', 'c']);
    expect(it.getDeltaLink()).toContain('$deltatoken=');
  });

  it('serves a 40,000-contact mailbox: a full round in 40 pages, then a small incremental round', async () => {
    const upn = 'big@contoso.test';
    t.sim.control.createUser(upn);
    const ids = t.sim.control.seed(upn, 'contact', Array.from({ length: 40_000 }, (_, i) => ({ givenName: `G${i}`, emailAddresses: [{ address: `g${i}@x.test` }] })));
    t.sim.requestLog.reset();
    const round = await deltaRound(t, `users/${upn}/contacts/delta?$select=givenName,categories`, { Prefer: 'odata.maxpagesize=1000' });
    expect(round.pages).toHaveLength(40);
    expect(new Set(round.items.map((i) => i['id'])).size).toBe(40_000);
    for (const id of ids.slice(0, 5)) await t.call('PATCH', `users/${upn}/contacts/${encodeURIComponent(id)}`, { body: { categories: ['Tracked to CRM'] } });
    const next = await deltaRound(t, round.deltaLink, { Prefer: 'odata.maxpagesize=1000' });
    expect(next.items.map((i) => i['id'])).toEqual(ids.slice(0, 5));
    expect(t.sim.requestLog.count({ mailbox: upn, kind: 'contacts.delta' })).toBe(41);
  });
});
