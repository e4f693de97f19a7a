// Contacts CRUD and delta against the simulator (graph-behaviour.md §1, §2.1, §8).
import { deltaRound, startTestSimulator, values, type GraphTestClient, type JsonRecord } from './harness';

const UPN = 'adele@contoso.test';

describe('Graph simulator: contacts', () => {
  let t: GraphTestClient;
  beforeAll(async () => {
    t = await startTestSimulator();
  });
  afterAll(() => t.stop());
  beforeEach(() => {
    t.sim.control.resetKnobs();
    t.sim.requestLog.reset();
  });

  it('serves users by UPN and id, case-insensitively; unknown users are 404 in the Graph error shape (§9.4)', async () => {
    const user = t.sim.control.createUser(UPN, 'Adele Vance');
    const byUpn = await t.call('GET', `users/${encodeURIComponent(UPN.toUpperCase())}`);
    expect(byUpn.status).toBe(200);
    expect(byUpn.body['id']).toBe(user.id);
    const byId = await t.call('GET', `USERS/${user.id}`);
    expect(byId.body['userPrincipalName']).toBe(UPN);
    expect(((await t.call('GET', 'users/nobody@contoso.test')).body['error'] as JsonRecord)['code']).toBe('Request_ResourceNotFound');
    const missing = await t.call('GET', 'users/nobody@contoso.test/contacts');
    expect(missing.status).toBe(404);
    const err = missing.body['error'] as JsonRecord;
    expect(err['code']).toBe('ErrorInvalidUser');
    expect(Object.keys(err['innerError'] as JsonRecord)).toEqual(expect.arrayContaining(['request-id', 'date']));
  });

  it('requires a bearer token (401 InvalidAuthenticationToken) and logs its presence', async () => {
    t.sim.control.createUser(UPN);
    const res = await t.call('GET', `users/${UPN}/contacts`, { token: null });
    expect(res.status).toBe(401);
    expect((res.body['error'] as JsonRecord)['code']).toBe('InvalidAuthenticationToken');
    expect(t.sim.requestLog.list({ kind: 'contacts.list' }).map((e) => [e.status, e.authorized])).toEqual([[401, false]]);
  });

  it('creates, reads, updates and deletes contacts with etag = W/"changeKey" bumped on every change (§8)', async () => {
    t.sim.control.createUser(UPN);
    const created = await t.call('POST', `users/${UPN}/contacts`, { body: { givenName: 'Max', surname: 'Mustermann', emailAddresses: [{ address: 'max@contoso.com', name: 'Max' }], categories: ['Tracked to CRM'] } });
    expect(created.status).toBe(201);
    const id = String(created.body['id']);
    expect(created.body['displayName']).toBe('Max Mustermann');
    expect(created.body['@odata.etag']).toBe(`W/"${String(created.body['changeKey'])}"`);
    const patched = await t.call('PATCH', `users/${UPN}/contacts/${encodeURIComponent(id)}`, { body: { jobTitle: 'CTO' } });
    expect(patched.status).toBe(200);
    expect(patched.body['changeKey']).not.toBe(created.body['changeKey']);
    expect(patched.body['@odata.etag']).toBe(`W/"${String(patched.body['changeKey'])}"`);
    const got = await t.call('GET', `users/${UPN}/contacts/${encodeURIComponent(id)}?$select=jobTitle,displayName`);
    expect(got.body).toMatchObject({ id, jobTitle: 'CTO', displayName: 'Max Mustermann' });
    expect(got.body['surname']).toBeUndefined();
    // §8 (UNCONFIRMED for Outlook, on by default): a stale If-Match gets 412 ErrorIrresolvableConflict
    const stale = await t.call('PATCH', `users/${UPN}/contacts/${encodeURIComponent(id)}`, { body: { jobTitle: 'CEO' }, headers: { 'If-Match': String(created.body['@odata.etag']) } });
    expect(stale.status).toBe(412);
    expect((stale.body['error'] as JsonRecord)['code']).toBe('ErrorIrresolvableConflict');
    const fresh = await t.call('PATCH', `users/${UPN}/contacts/${encodeURIComponent(id)}`, { body: { jobTitle: 'CEO' }, headers: { 'If-Match': String(patched.body['@odata.etag']) } });
    expect(fresh.status).toBe(200);
    const del = await t.call('DELETE', `users/${UPN}/contacts/${encodeURIComponent(id)}`);
    expect(del.status).toBe(204);
    expect((await t.call('GET', `users/${UPN}/contacts/${encodeURIComponent(id)}`)).status).toBe(404);
    expect(t.validated()).toBeGreaterThan(5);
  });

  it('pages a delta round with maxpagesize per request; links are absolute https on the simulator host and carry exactly one of nextLink/deltaLink (§1.1, §1.3)', async () => {
    const upn = 'paging@contoso.test';
    t.sim.control.createUser(upn);
    for (let i = 0; i < 25; i++) await t.call('POST', `users/${upn}/contacts`, { body: { givenName: `C${i}` } });
    const round = await deltaRound(t, `users/${upn}/contacts/delta`, { Prefer: 'odata.maxpagesize=10' });
    expect(round.pages.map((p) => values(p).length)).toEqual([10, 10, 5]);
    expect(round.items.map((i) => i['givenName'])).toEqual(Array.from({ length: 25 }, (_, i) => `C${i}`));
    for (const p of round.pages) {
      const link = String(p['@odata.nextLink'] ?? p['@odata.deltaLink']);
      expect(link.startsWith(t.sim.baseUrl + 'v1.0/')).toBe(true);
    }
    // links do not remember the page size: without the header the default 10 applies (§1.3)
    const first = await t.call('GET', `users/${upn}/contacts/delta`, { headers: { Prefer: 'odata.maxpagesize=3' } });
    expect(values(first.body)).toHaveLength(3);
    const second = await t.call('GET', String(first.body['@odata.nextLink']));
    expect(values(second.body)).toHaveLength(10);
  });

  it('reports creates, updates and removals in the next round, coalesced per item (§1.4)', async () => {
    const upn = 'rounds@contoso.test';
    t.sim.control.createUser(upn);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(String((await t.call('POST', `users/${upn}/contacts`, { body: { givenName: `R${i}` } })).body['id']));
    const initial = await deltaRound(t, `users/${upn}/contacts/delta?$select=givenName,categories`);
    expect(initial.items).toHaveLength(3);
    expect(Object.keys(initial.items[0] ?? {}).sort()).toEqual(['@odata.etag', '@odata.type', 'categories', 'givenName', 'id']);
    await t.call('PATCH', `users/${upn}/contacts/${ids[0]}`, { body: { givenName: 'R0b' } });
    await t.call('PATCH', `users/${upn}/contacts/${ids[0]}`, { body: { givenName: 'R0c' } });
    await t.call('DELETE', `users/${upn}/contacts/${ids[1]}`);
    const added = String((await t.call('POST', `users/${upn}/contacts`, { body: { givenName: 'R3' } })).body['id']);
    const next = await deltaRound(t, initial.deltaLink);
    expect(next.items).toEqual([
      expect.objectContaining({ id: ids[0], givenName: 'R0c' }),
      { '@odata.type': '#microsoft.graph.contact', id: ids[1], '@removed': { reason: 'deleted' } },
      expect.objectContaining({ id: added, givenName: 'R3' }),
    ]);
    // $select is encoded in the token: the next round still carries only the selected properties (§1.1.5)
    expect(next.items[0]?.['surname']).toBeUndefined();
    const quiet = await deltaRound(t, next.deltaLink);
    expect(quiet.items).toEqual([]);
  });

  it('reaches contacts through the real Graph SDK, which follows the https nextLinks (§9.3, §9.6)', async () => {
    const upn = 'sdk@contoso.test';
    t.sim.control.createUser(upn);
    const client = t.sdk();
    for (let i = 0; i < 4; i++) await client.api(`/users/${upn}/contacts`).post({ givenName: `S${i}` });
    let page = (await client.api(`/users/${upn}/contacts/microsoft.graph.delta`).header('Prefer', 'odata.maxpagesize=3').get()) as JsonRecord;
    const seen: string[] = values(page).map((v) => String(v['givenName']));
    while (typeof page['@odata.nextLink'] === 'string') {
      page = (await client.api(page['@odata.nextLink']).header('Prefer', 'odata.maxpagesize=3').get()) as JsonRecord;
      seen.push(...values(page).map((v) => String(v['givenName'])));
    }
    expect(seen).toEqual(['S0', 'S1', 'S2', 'S3']);
    expect(typeof page['@odata.deltaLink']).toBe('string');
    await client.api(`/users/${upn}/contacts`).post({ givenName: 'S4' });
    const next = (await client.api(String(page['@odata.deltaLink'])).get()) as JsonRecord;
    expect(values(next).map((v) => v['givenName'])).toEqual(['S4']);
    expect(t.sim.requestLog.count({ mailbox: upn, kind: 'contacts.delta' })).toBe(3);
    expect(t.sim.requestLog.count({ mailbox: upn, kind: 'contacts.create', method: 'POST' })).toBe(5);
  });
});
