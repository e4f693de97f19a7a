// To Do lists, tasks, linkedResources and the master category list (graph-behaviour.md §2.4, §2.5, §3.5, §4).
import { deltaRound, startTestSimulator, values, type GraphTestClient, type JsonRecord } from './harness';

const enc = encodeURIComponent;

describe('Graph simulator: To Do and categories', () => {
  let t: GraphTestClient;
  let n = 0;
  let upn = '';
  beforeAll(async () => {
    t = await startTestSimulator();
  });
  afterAll(() => t.stop());
  beforeEach(() => {
    t.sim.control.resetKnobs();
    upn = `todo${++n}@contoso.test`;
    t.sim.control.createUser(upn);
  });

  it('lists the default and flaggedEmails lists; list delta reports a new and a deleted list (§2.4)', async () => {
    const lists = values((await t.call('GET', `users/${upn}/todo/lists`)).body);
    expect(lists.map((l) => l['wellknownListName'])).toEqual(['defaultList', 'flaggedEmails']);
    const initial = await deltaRound(t, `users/${upn}/todo/lists/delta`);
    expect(initial.items).toHaveLength(2);
    const created = await t.call('POST', `users/${upn}/todo/lists`, { body: { displayName: 'CRM' } });
    expect(created.body).toMatchObject({ displayName: 'CRM', wellknownListName: 'none', isOwner: true });
    await t.call('DELETE', `users/${upn}/todo/lists/${enc(String(created.body['id']))}`);
    const next = await deltaRound(t, initial.deltaLink);
    // the To Do samples carry no @odata.type
    expect(next.items).toEqual([{ id: created.body['id'], '@removed': { reason: 'deleted' } }]);
  });

  it('tasks: CRUD and delta with an etag but no changeKey; linkedResources CRUD and $expand (§2.5, §3.5)', async () => {
    const list = enc(t.sim.control.folders(upn).tasks);
    const task = await t.call('POST', `users/${upn}/todo/lists/${list}/tasks`, { body: { title: 'Call back', categories: ['Tracked to CRM'], dueDateTime: { dateTime: '2026-03-05T00:00:00', timeZone: 'UTC' }, linkedResources: [{ applicationName: 'CRM', externalId: 'crm-1', displayName: 'Case' }] } });
    expect(task.status).toBe(201);
    expect(task.body['changeKey']).toBeUndefined();
    expect(String(task.body['@odata.etag'])).toMatch(/^W\/"/);
    const taskId = enc(String(task.body['id']));
    const links = values((await t.call('GET', `users/${upn}/todo/lists/${list}/tasks/${taskId}/linkedResources`)).body);
    expect(links).toEqual([expect.objectContaining({ applicationName: 'CRM', externalId: 'crm-1' })]);
    const added = await t.call('POST', `users/${upn}/todo/lists/${list}/tasks/${taskId}/linkedResources`, { body: { applicationName: 'CRM', externalId: 'crm-2', webUrl: 'https://crm.test/2' } });
    expect(added.status).toBe(201);
    expect((await t.call('DELETE', `users/${upn}/todo/lists/${list}/tasks/${taskId}/linkedResources/${enc(String(links[0]?.['id']))}`)).status).toBe(204);
    const expanded = await t.call('GET', `users/${upn}/todo/lists/${list}/tasks/${taskId}?$expand=linkedResources`);
    expect((expanded.body['linkedResources'] as JsonRecord[]).map((r) => r['externalId'])).toEqual(['crm-2']);
    expect((await t.call('GET', `users/${upn}/todo/lists/${list}/tasks/${taskId}`)).body['linkedResources']).toBeUndefined();
    const initial = await deltaRound(t, `users/${upn}/todo/lists/${list}/tasks/delta`);
    expect(initial.items.map((i) => i['title'])).toEqual(['Call back']);
    await t.call('PATCH', `users/${upn}/todo/lists/${list}/tasks/${taskId}`, { body: { status: 'completed' } });
    const next = await deltaRound(t, initial.deltaLink);
    expect(next.items).toEqual([expect.objectContaining({ id: task.body['id'], status: 'completed' })]);
    expect((await t.call('DELETE', `users/${upn}/todo/lists/${list}/tasks/${taskId}`)).status).toBe(204);
    expect((await deltaRound(t, next.deltaLink)).items).toEqual([{ id: task.body['id'], '@removed': { reason: 'deleted' } }]);
  });

  it('$filter=linkedResources/any(...) on tasks is a knob (UNCONFIRMED, §3.5); off it is an invalid filter', async () => {
    const list = enc(t.sim.control.folders(upn).tasks);
    await t.call('POST', `users/${upn}/todo/lists/${list}/tasks`, { body: { title: 'linked', linkedResources: [{ applicationName: 'CRM', externalId: 'crm-9' }] } });
    await t.call('POST', `users/${upn}/todo/lists/${list}/tasks`, { body: { title: 'plain' } });
    const url = `users/${upn}/todo/lists/${list}/tasks?$filter=${enc("linkedResources/any(r: r/externalId eq 'crm-9')")}`;
    expect((await t.call('GET', url)).status).toBe(400);
    t.sim.knobs.linkedResourcesFilter = true;
    expect(values((await t.call('GET', url)).body).map((x) => x['title'])).toEqual(['linked']);
  });

  it('masterCategories: GUID ids, unique and immutable displayName, colors preset0..24/none (§4)', async () => {
    const created = await t.call('POST', `users/${upn}/outlook/masterCategories`, { body: { displayName: 'Tracked to CRM', color: 'preset9' } });
    expect(created.status).toBe(201);
    expect(String(created.body['id'])).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const id = String(created.body['id']);
    expect((await t.call('POST', `users/${upn}/outlook/masterCategories`, { body: { displayName: 'tracked to crm', color: 'preset1' } })).status).toBe(409);
    expect((await t.call('POST', `users/${upn}/outlook/masterCategories`, { body: { displayName: 'Bad', color: 'preset25' } })).status).toBe(400);
    expect((await t.call('PATCH', `users/${upn}/outlook/masterCategories/${id}`, { body: { displayName: 'Renamed' } })).status).toBe(400);
    const recolored = await t.call('PATCH', `users/${upn}/outlook/masterCategories/${id}`, { body: { color: 'None' } });
    expect(recolored.body).toMatchObject({ id, displayName: 'Tracked to CRM', color: 'none' });
    expect(values((await t.call('GET', `users/${upn}/outlook/masterCategories`)).body)).toHaveLength(1);
    expect((await t.call('DELETE', `users/${upn}/outlook/masterCategories/${id}`)).status).toBe(204);
    expect(values((await t.call('GET', `users/${upn}/outlook/masterCategories`)).body)).toEqual([]);
    // items may carry categories that are not in the master list (§4, UNCONFIRMED but allowed)
    expect((await t.call('POST', `users/${upn}/contacts`, { body: { givenName: 'x', categories: ['Not in master list'] } })).status).toBe(201);
  });
});
