// To Do lists, tasks, linkedResources and the master category list (graph-behaviour.md §2.4, §2.5, §3.5, §4).
import { deltaRound, values, type JsonRecord, useSimulatorMailbox } from './harness';

const enc = encodeURIComponent;

describe('Graph simulator: To Do and categories', () => {
  const mailbox = useSimulatorMailbox('todo');

  it('lists the default and flaggedEmails lists; list delta reports a new and a deleted list (§2.4)', async () => {
    const lists = values((await mailbox.t.call('GET', `users/${mailbox.upn}/todo/lists`)).body);
    expect(lists.map((l) => l['wellknownListName'])).toEqual(['defaultList', 'flaggedEmails']);
    const initial = await deltaRound(mailbox.t, `users/${mailbox.upn}/todo/lists/delta`);
    expect(initial.items).toHaveLength(2);
    const created = await mailbox.t.call('POST', `users/${mailbox.upn}/todo/lists`, { body: { displayName: 'CRM' } });
    expect(created.body).toMatchObject({ displayName: 'CRM', wellknownListName: 'none', isOwner: true });
    await mailbox.t.call('DELETE', `users/${mailbox.upn}/todo/lists/${enc(String(created.body['id']))}`);
    const next = await deltaRound(mailbox.t, initial.deltaLink);
    // the To Do samples carry no @odata.type
    expect(next.items).toEqual([{ id: created.body['id'], '@removed': { reason: 'deleted' } }]);
  });

  it('tasks: CRUD and delta with an etag but no changeKey; linkedResources CRUD and $expand (§2.5, §3.5)', async () => {
    const list = enc(mailbox.t.sim.control.folders(mailbox.upn).tasks);
    const task = await mailbox.t.call('POST', `users/${mailbox.upn}/todo/lists/${list}/tasks`, { body: { title: 'Call back', categories: ['Tracked to CRM'], dueDateTime: { dateTime: '2026-03-05T00:00:00', timeZone: 'UTC' }, linkedResources: [{ applicationName: 'CRM', externalId: 'crm-1', displayName: 'Case' }] } });
    expect(task.status).toBe(201);
    expect(task.body['changeKey']).toBeUndefined();
    expect(String(task.body['@odata.etag'])).toMatch(/^W\/"/);
    const taskId = enc(String(task.body['id']));
    const links = values((await mailbox.t.call('GET', `users/${mailbox.upn}/todo/lists/${list}/tasks/${taskId}/linkedResources`)).body);
    expect(links).toEqual([expect.objectContaining({ applicationName: 'CRM', externalId: 'crm-1' })]);
    const added = await mailbox.t.call('POST', `users/${mailbox.upn}/todo/lists/${list}/tasks/${taskId}/linkedResources`, { body: { applicationName: 'CRM', externalId: 'crm-2', webUrl: 'https://crm.test/2' } });
    expect(added.status).toBe(201);
    expect((await mailbox.t.call('DELETE', `users/${mailbox.upn}/todo/lists/${list}/tasks/${taskId}/linkedResources/${enc(String(links[0]?.['id']))}`)).status).toBe(204);
    const expanded = await mailbox.t.call('GET', `users/${mailbox.upn}/todo/lists/${list}/tasks/${taskId}?$expand=linkedResources`);
    expect((expanded.body['linkedResources'] as JsonRecord[]).map((r) => r['externalId'])).toEqual(['crm-2']);
    expect((await mailbox.t.call('GET', `users/${mailbox.upn}/todo/lists/${list}/tasks/${taskId}`)).body['linkedResources']).toBeUndefined();
    const initial = await deltaRound(mailbox.t, `users/${mailbox.upn}/todo/lists/${list}/tasks/delta`);
    expect(initial.items.map((i) => i['title'])).toEqual(['Call back']);
    await mailbox.t.call('PATCH', `users/${mailbox.upn}/todo/lists/${list}/tasks/${taskId}`, { body: { status: 'completed' } });
    const next = await deltaRound(mailbox.t, initial.deltaLink);
    expect(next.items).toEqual([expect.objectContaining({ id: task.body['id'], status: 'completed' })]);
    expect((await mailbox.t.call('DELETE', `users/${mailbox.upn}/todo/lists/${list}/tasks/${taskId}`)).status).toBe(204);
    expect((await deltaRound(mailbox.t, next.deltaLink)).items).toEqual([{ id: task.body['id'], '@removed': { reason: 'deleted' } }]);
  });

  it('$filter=linkedResources/any(...) on tasks is a knob (UNCONFIRMED, §3.5); off it is an invalid filter', async () => {
    const list = enc(mailbox.t.sim.control.folders(mailbox.upn).tasks);
    await mailbox.t.call('POST', `users/${mailbox.upn}/todo/lists/${list}/tasks`, { body: { title: 'linked', linkedResources: [{ applicationName: 'CRM', externalId: 'crm-9' }] } });
    await mailbox.t.call('POST', `users/${mailbox.upn}/todo/lists/${list}/tasks`, { body: { title: 'plain' } });
    const url = `users/${mailbox.upn}/todo/lists/${list}/tasks?$filter=${enc("linkedResources/any(r: r/externalId eq 'crm-9')")}`;
    expect((await mailbox.t.call('GET', url)).status).toBe(400);
    mailbox.t.sim.knobs.linkedResourcesFilter = true;
    expect(values((await mailbox.t.call('GET', url)).body).map((x) => x['title'])).toEqual(['linked']);
  });

  it('masterCategories: GUID ids, unique and immutable displayName, colors preset0..24/none (§4)', async () => {
    const created = await mailbox.t.call('POST', `users/${mailbox.upn}/outlook/masterCategories`, { body: { displayName: 'Tracked to CRM', color: 'preset9' } });
    expect(created.status).toBe(201);
    expect(String(created.body['id'])).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const id = String(created.body['id']);
    expect((await mailbox.t.call('POST', `users/${mailbox.upn}/outlook/masterCategories`, { body: { displayName: 'tracked to crm', color: 'preset1' } })).status).toBe(409);
    expect((await mailbox.t.call('POST', `users/${mailbox.upn}/outlook/masterCategories`, { body: { displayName: 'Bad', color: 'preset25' } })).status).toBe(400);
    expect((await mailbox.t.call('PATCH', `users/${mailbox.upn}/outlook/masterCategories/${id}`, { body: { displayName: 'Renamed' } })).status).toBe(400);
    const recolored = await mailbox.t.call('PATCH', `users/${mailbox.upn}/outlook/masterCategories/${id}`, { body: { color: 'None' } });
    expect(recolored.body).toMatchObject({ id, displayName: 'Tracked to CRM', color: 'none' });
    expect(values((await mailbox.t.call('GET', `users/${mailbox.upn}/outlook/masterCategories`)).body)).toHaveLength(1);
    expect((await mailbox.t.call('DELETE', `users/${mailbox.upn}/outlook/masterCategories/${id}`)).status).toBe(204);
    expect(values((await mailbox.t.call('GET', `users/${mailbox.upn}/outlook/masterCategories`)).body)).toEqual([]);
    // items may carry categories that are not in the master list (§4, UNCONFIRMED but allowed)
    expect((await mailbox.t.call('POST', `users/${mailbox.upn}/contacts`, { body: { givenName: 'x', categories: ['Not in master list'] } })).status).toBe(201);
  });
});
