import { idFromEntityId, startClient, values, type TestClient } from './client';

describe('Dataverse simulator: CRUD, concurrency, lookups', () => {
  let c: TestClient;
  let alice: string;
  const aliceOid = '11111111-1111-4111-8111-111111111111';

  beforeAll(async () => {
    c = await startClient();
    alice = c.sim.control.createUser({ fullname: 'Alice Adams', internalemailaddress: 'alice@contoso.test', azureactivedirectoryobjectid: aliceOid });
  });
  afterAll(() => c.sim.stop());
  beforeEach(() => c.sim.requestLog.reset());

  it('requires a bearer token (401 otherwise)', async () => {
    // dataverse-behaviour.md §2.5: 401 for authentication failures; §5 OAuth bearer tokens.
    const reply = await c.request('GET', 'contacts', { headers: { Authorization: '' } });
    expect(reply.status).toBe(401);
    expect((await c.request('GET', 'nosuchset', { headers: { Authorization: '' } })).status).toBe(401);
    expect((await c.get('nosuchset')).status).toBe(404);
    expect(reply.json['error']).toEqual(expect.objectContaining({ code: expect.any(String), message: expect.any(String) }));
  });

  it('POST returns 204 + OData-EntityId, or 201 with body and no OData-EntityId under return=representation', async () => {
    // dataverse-behaviour.md §2.2, §7.7
    const plain = await c.post('contacts', { firstname: 'Monte', lastname: 'Orton', emailaddress1: 'monte@contoso.test' });
    expect(plain.status).toBe(204);
    const id = idFromEntityId(plain);
    expect(plain.headers.get('odata-entityid')).toBe(`${c.sim.apiUrl}contacts(${id})`);

    const rep = await c.post('contacts?$select=firstname,fullname', { firstname: 'Nancy', lastname: 'Anderson' }, { Prefer: 'return=representation' });
    expect(rep.status).toBe(201);
    expect(rep.headers.get('odata-entityid')).toBeNull();
    expect(rep.json).toEqual({
      '@odata.context': `${c.sim.apiUrl}$metadata#contacts(firstname,fullname)/$entity`,
      '@odata.etag': expect.stringMatching(/^W\/"\d+"$/),
      firstname: 'Nancy',
      fullname: 'Nancy Anderson',
      contactid: expect.any(String),
    });
    expect(c.sim.requestLog.count({ kind: 'create', entitySet: 'contacts' })).toBe(2);
  });

  it('@odata.etag is W/"versionnumber", bumped from a global counter on every write', async () => {
    // dataverse-behaviour.md §2.4, §7.6
    const a = idFromEntityId(await c.post('contacts', { lastname: 'A' }));
    const b = idFromEntityId(await c.post('accounts', { name: 'B' }));
    const ra = await c.get(`contacts(${a})?$select=versionnumber`);
    const rb = await c.get(`accounts(${b})?$select=versionnumber`);
    expect(ra.json['@odata.etag']).toBe(`W/"${ra.json['versionnumber']}"`);
    expect(rb.json['versionnumber'] as number).toBeGreaterThan(ra.json['versionnumber'] as number);
    await c.patch(`contacts(${a})`, { firstname: 'x' }, { 'If-Match': '*' });
    const ra2 = await c.get(`contacts(${a})?$select=versionnumber,modifiedon,createdon`);
    expect(ra2.json['versionnumber'] as number).toBeGreaterThan(rb.json['versionnumber'] as number);
    expect(typeof ra2.json['modifiedon']).toBe('string');
  });

  it('PATCH is an upsert; If-Match: * never resurrects (404); stale etag → 412; If-None-Match: * → 412', async () => {
    // dataverse-behaviour.md §2.3, §2.4, §7.7
    const id = '22222222-2222-4222-8222-222222222222';
    const created = await c.patch(`contacts(${id})`, { lastname: 'Upserted' }, { Prefer: 'return=representation' });
    expect(created.status).toBe(201);
    const updated = await c.patch(`contacts(${id})`, { firstname: 'U' }, { Prefer: 'return=representation' });
    expect(updated.status).toBe(200);
    expect(updated.json['fullname']).toBe('U Upserted');
    const etag = updated.json['@odata.etag'] as string;

    const exists = await c.patch(`contacts(${id})`, { firstname: 'V' }, { 'If-None-Match': '*' });
    expect(exists.status).toBe(412);

    const ok = await c.patch(`contacts(${id})`, { telephone1: '555-0100' }, { 'If-Match': etag });
    expect(ok.status).toBe(204);
    const stale = await c.patch(`contacts(${id})`, { telephone1: '555-0101' }, { 'If-Match': etag });
    expect(stale.status).toBe(412);
    expect(stale.json['error']).toEqual({ code: '0x80060882', message: "The version of the existing record doesn't match the RowVersion property provided." });

    expect((await c.del(`contacts(${id})`)).status).toBe(204);
    expect((await c.del(`contacts(${id})`)).status).toBe(404);
    const resurrect = await c.patch(`contacts(${id})`, { firstname: 'W' }, { 'If-Match': '*' });
    expect(resurrect.status).toBe(404);
    expect(c.sim.control.get('contacts', id)).toBeNull();
  });

  it('a second POST with the same client-supplied id fails with the duplicate-key error and creates nothing', async () => {
    // dataverse-behaviour.md §2.2 (client-supplied key) and §2.4 (412 listed for DuplicateRecord); code is a knob.
    const id = '33333333-3333-4333-8333-333333333333';
    expect((await c.post('contacts', { contactid: id, lastname: 'Once' })).status).toBe(204);
    const again = await c.post('contacts', { contactid: id, lastname: 'Twice' });
    expect(again.status).toBe(412);
    expect(again.json['error']).toEqual({ code: '0x80040237', message: 'A record with matching key values already exists.' });
    expect(c.sim.control.get('contacts', id)?.['lastname']).toBe('Once');
  });

  it('unknown columns and undeclared navigation properties are rejected with an OData error body', async () => {
    // dataverse-behaviour.md §2.5 (error shape), §4.1 (regardingobjectid_contact is wrong on an appointment)
    const unknown = await c.post('contacts', { lastname: 'x', nosuchcolumn: 1 });
    expect(unknown.status).toBe(400);
    expect((unknown.json['error'] as { message: string }).message).toContain("The property 'nosuchcolumn' does not exist");
    const contact = idFromEntityId(await c.post('contacts', { lastname: 'Target' }));
    const wrongNav = await c.post('appointments', { subject: 's', 'regardingobjectid_contact@odata.bind': `/contacts(${contact})` });
    expect(wrongNav.status).toBe(400);
    expect((wrongNav.json['error'] as { message: string }).message).toContain("undeclared property 'regardingobjectid_contact'");
    const lookupValue = await c.post('contacts', { lastname: 'x', _ownerid_value: alice });
    expect(lookupValue.status).toBe(400);
    expect(c.sim.requestLog.count({ status: 400 })).toBe(3);
  });

  it('lookups: @odata.bind on write, _x_value on read, FormattedValue and lookup annotations only when preferred', async () => {
    // dataverse-behaviour.md §2.2, §4.1, §2.1 (odata.include-annotations)
    const account = idFromEntityId(await c.post('accounts', { name: 'Contoso' }));
    const contact = idFromEntityId(
      await c.post('contacts', {
        lastname: 'Child',
        'parentcustomerid_account@odata.bind': `/accounts(${account})`,
        'ownerid@odata.bind': `/systemusers(${alice})`,
      }),
    );
    const plain = await c.get(`contacts(${contact})?$select=_parentcustomerid_value,_ownerid_value`);
    expect(plain.json['_parentcustomerid_value']).toBe(account);
    expect(plain.json['_ownerid_value']).toBe(alice);
    expect(Object.keys(plain.json).some((k) => k.includes('@OData.Community'))).toBe(false);

    const annotated = await c.get(`contacts(${contact})?$select=_parentcustomerid_value,statecode`, {
      Prefer: 'odata.include-annotations="*"',
    });
    expect(annotated.json).toEqual(
      expect.objectContaining({
        '_parentcustomerid_value@OData.Community.Display.V1.FormattedValue': 'Contoso',
        '_parentcustomerid_value@Microsoft.Dynamics.CRM.associatednavigationproperty': 'parentcustomerid_account',
        '_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname': 'account',
        'statecode@OData.Community.Display.V1.FormattedValue': 'Active',
      }),
    );
    const onlyFormatted = await c.get(`contacts(${contact})?$select=_ownerid_value`, {
      Prefer: 'odata.include-annotations="OData.Community.Display.V1.FormattedValue"',
    });
    expect(onlyFormatted.json['_ownerid_value@OData.Community.Display.V1.FormattedValue']).toBe('Alice Adams');
    expect(onlyFormatted.json['_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname']).toBeUndefined();

    const missing = await c.post('contacts', { lastname: 'x', 'parentcustomerid_account@odata.bind': '/accounts(44444444-4444-4444-8444-444444444444)' });
    expect(missing.status).toBe(404);
  });

  it('CallerObjectId impersonation: createdby/ownerid default to the caller, createdonbehalfby is the app user', async () => {
    // dataverse-behaviour.md §5 (IMP)
    const reply = await c.post('contacts?$select=_ownerid_value,_createdby_value,_createdonbehalfby_value', { lastname: 'Mine' }, {
      CallerObjectId: aliceOid,
      Prefer: 'return=representation',
    });
    expect(reply.json['_ownerid_value']).toBe(alice);
    expect(reply.json['_createdby_value']).toBe(alice);
    expect(reply.json['_createdonbehalfby_value']).toBe(c.sim.control.applicationUserId);
    expect(c.sim.requestLog.entries.at(-1)?.callerId).toBe(alice);
    const plain = await c.post('contacts?$select=_ownerid_value,_createdonbehalfby_value', { lastname: 'App' }, { Prefer: 'return=representation' });
    expect(plain.json['_ownerid_value']).toBe(c.sim.control.applicationUserId);
    expect(plain.json['_createdonbehalfby_value']).toBeNull();
    const prefixed = await c.post('contacts?$select=_ownerid_value', { lastname: 'Prefixed' }, { 'MSCRM.CallerObjectId': aliceOid, Prefer: 'return=representation' });
    expect(prefixed.json['_ownerid_value']).toBe(alice);
    const legacyHeader = await c.post('contacts?$select=_ownerid_value', { lastname: 'Legacy' }, { MSCRMCallerID: alice, Prefer: 'return=representation' });
    expect(legacyHeader.json['_ownerid_value']).toBe(alice);
    const unknown = await c.post('contacts', { lastname: 'x' }, { CallerObjectId: '99999999-9999-4999-8999-999999999999' });
    expect(unknown.status).toBe(403);
  });

  it('single-column PUT {value} and DELETE clear/set one column and bump the version', async () => {
    // dataverse-behaviour.md §2.3 (UPD: DELETE …/contacts(id)/description; PUT …/name {"value":…})
    const id = idFromEntityId(await c.post('contacts', { lastname: 'Col', description: 'notes' }));
    const before = c.sim.control.raw('contacts', id)?.version as number;
    expect((await c.request('PUT', `contacts(${id})/jobtitle`, { body: { value: 'CEO' } })).status).toBe(204);
    expect((await c.del(`contacts(${id})/description`)).status).toBe(204);
    const after = c.sim.control.raw('contacts', id);
    expect([after?.values['jobtitle'], after?.values['description']]).toEqual(['CEO', null]);
    expect(after?.version).toBeGreaterThan(before);
    expect((await c.get(`contacts(${id})/jobtitle`)).json['value']).toBe('CEO');
  });

  it('errors carry the CDS error-detail annotations only when annotations are preferred', async () => {
    // dataverse-behaviour.md §2.5
    const missing = 'cccccccc-0000-4000-8000-000000000000';
    const plain = await c.get(`contacts(${missing})`);
    expect(Object.keys(plain.json['error'] as object).sort()).toEqual(['code', 'message']);
    const annotated = await c.get(`contacts(${missing})`, { Prefer: 'odata.include-annotations="*"' });
    expect(annotated.status).toBe(404);
    expect(annotated.json['error']).toEqual(
      expect.objectContaining({
        code: '0x80040217',
        '@Microsoft.PowerApps.CDS.HelpLink': expect.stringContaining('80040217'),
        '@Microsoft.PowerApps.CDS.InnerError.Message': (plain.json['error'] as { message: string }).message,
      }),
    );
  });

  it('GET with If-None-Match of the current etag → 304', async () => {
    // dataverse-behaviour.md §2.4
    const id = idFromEntityId(await c.post('contacts', { lastname: 'Cached' }));
    const first = await c.get(`contacts(${id})?$select=lastname`);
    const again = await c.get(`contacts(${id})?$select=lastname`, { 'If-None-Match': first.json['@odata.etag'] as string });
    expect(again.status).toBe(304);
    expect((await c.get(`contacts(${id})`, { 'If-None-Match': 'null' })).status).toBe(200);
    expect((await c.get(`contacts(55555555-5555-4555-8555-555555555555)`)).status).toBe(404);
  });

  it('$filter over e-mail columns (case-insensitive), owner, user lookups; $select validation', async () => {
    // dataverse-behaviour.md §4.3 (emailaddress1..3); DESIGN.md §4 (match contacts by e-mail address)
    const bob = c.sim.control.createUser({ fullname: 'Bob Brown', internalemailaddress: 'Bob@Contoso.test', azureactivedirectoryobjectid: '66666666-6666-4666-8666-666666666666' });
    c.sim.control.seed('contacts', { lastname: 'E1', emailaddress1: 'one@x.test' }, { as: bob });
    c.sim.control.seed('contacts', { lastname: 'E2', emailaddress2: 'TWO@x.test' }, { as: bob });
    c.sim.control.seed('contacts', { lastname: 'E3', emailaddress3: 'three@x.test' });
    const filter = encodeURIComponent(
      "(emailaddress1 eq 'two@x.test' or emailaddress2 eq 'two@x.test' or emailaddress3 eq 'two@x.test') or emailaddress1 eq 'ONE@x.test'",
    );
    const byMail = await c.get(`contacts?$select=lastname&$filter=${filter}`);
    expect(values(byMail).map((r) => r['lastname']).sort()).toEqual(['E1', 'E2']);
    const byOwner = await c.get(`contacts?$select=lastname&$filter=${encodeURIComponent(`_ownerid_value eq ${bob}`)}`);
    expect(values(byOwner)).toHaveLength(2);
    const byIn = await c.get(
      `contacts?$select=lastname&$filter=${encodeURIComponent("Microsoft.Dynamics.CRM.In(PropertyName='lastname',PropertyValues=['E1','E3'])")}`,
    );
    expect(values(byIn).map((r) => r['lastname']).sort()).toEqual(['E1', 'E3']);
    const user = await c.get(`systemusers?$select=systemuserid,fullname&$filter=${encodeURIComponent("internalemailaddress eq 'bob@contoso.test'")}`);
    expect(values(user)).toEqual([expect.objectContaining({ systemuserid: bob, fullname: 'Bob Brown' })]);
    const byOid = await c.get(`systemusers?$select=fullname&$filter=azureactivedirectoryobjectid eq 66666666-6666-4666-8666-666666666666`);
    expect(values(byOid)).toHaveLength(1);
    const badSelect = await c.get('contacts?$select=ownerid');
    expect(badSelect.status).toBe(400);
    expect((badSelect.json['error'] as { message: string }).message).toBe("Could not find a property named 'ownerid' on type 'Microsoft.Dynamics.CRM.contact'.");
  });

  it('without maxpagesize, pages of 5,000 still carry a nextLink; $top without it caps the read; $skip is rejected', async () => {
    // dataverse-behaviour.md §1.4 (default up to 5,000; $skip not supported; $top ignored with maxpagesize)
    const owner = c.sim.control.createUser({ fullname: 'Many Rows', internalemailaddress: 'many@x.test', azureactivedirectoryobjectid: null });
    for (let i = 0; i < 5003; i++) c.sim.control.seed('accounts', { name: `A${i}` }, { as: owner });
    const filter = `$filter=_ownerid_value eq ${owner}`;
    const first = await c.get(`accounts?$select=name&${filter}`);
    expect(values(first)).toHaveLength(5000);
    const second = await c.getUrl(first.json['@odata.nextLink'] as string);
    expect(values(second).map((r) => r['name'])).toEqual(['A5000', 'A5001', 'A5002']);
    expect(second.json['@odata.nextLink']).toBeUndefined();
    const top = await c.get(`accounts?$select=name&${filter}&$top=2`);
    expect([values(top).length, top.json['@odata.nextLink']]).toEqual([2, undefined]);
    const topIgnored = await c.get(`accounts?$select=name&${filter}&$top=2`, { Prefer: 'odata.maxpagesize=3' });
    expect(values(topIgnored)).toHaveLength(3);
    expect((await c.get(`accounts?$select=name&$skip=1`)).status).toBe(400);
  });

  it('raw rows for tests: lookups keep their target table; control writes are not logged as requests', async () => {
    const account = c.sim.control.seed('accounts', { name: 'Raw Co' });
    const id = c.sim.control.seed('contacts', { lastname: 'Raw', 'parentcustomerid_account@odata.bind': `/accounts(${account})` }, { as: alice });
    const raw = c.sim.control.raw('contacts', id);
    expect(raw?.lookups['parentcustomerid']).toEqual({ id: account, table: 'account' });
    expect(raw?.lookups['ownerid']).toEqual({ id: alice, table: 'systemuser' });
    expect(raw?.values['versionnumber']).toBe(raw?.version);
    c.sim.control.reassign('contacts', id, c.sim.control.applicationUserId);
    expect(c.sim.control.raw('contacts', id)?.version).toBeGreaterThan(raw?.version as number);
    expect(c.sim.requestLog.entries).toHaveLength(0);
  });

  it('collections page with odata.maxpagesize and an opaque $skiptoken nextLink', async () => {
    // dataverse-behaviour.md §1.4 (PAGE)
    const owner = c.sim.control.createUser({ fullname: 'Pager Pat', internalemailaddress: 'pat@x.test', azureactivedirectoryobjectid: null });
    for (let i = 0; i < 7; i++) c.sim.control.seed('contacts', { lastname: `P${i}` }, { as: owner });
    const seen: string[] = [];
    let reply = await c.get(`contacts?$select=lastname&$filter=_ownerid_value eq ${owner}`, { Prefer: 'odata.maxpagesize=3' });
    expect(reply.headers.get('preference-applied')).toBe('odata.maxpagesize=3');
    let pages = 1;
    for (;;) {
      seen.push(...values(reply).map((r) => r['lastname'] as string));
      const next = reply.json['@odata.nextLink'] as string | undefined;
      if (!next) break;
      expect(next).toContain('$skiptoken=');
      reply = await c.getUrl(next, { Prefer: 'odata.maxpagesize=3' });
      pages++;
    }
    expect(pages).toBe(3);
    expect(seen).toEqual(['P0', 'P1', 'P2', 'P3', 'P4', 'P5', 'P6']);
    const counted = await c.get(`contacts?$select=lastname&$count=true&$filter=_ownerid_value eq ${owner}`, { Prefer: 'odata.maxpagesize=3' });
    const secondPage = await c.getUrl(counted.json['@odata.nextLink'] as string, { Prefer: 'odata.maxpagesize=3' });
    expect([counted.json['@odata.count'], secondPage.json['@odata.count']]).toEqual([7, 7]);
  });
});
