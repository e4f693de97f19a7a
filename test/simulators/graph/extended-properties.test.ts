// Single-value extended properties: id formats, $expand, $filter with any() (graph-behaviour.md §3).
import { values, type JsonRecord, useSimulatorMailbox } from './harness';

const TRACKED = 'String {8ECCC264-6880-4EBE-992F-8888D2EEAA1D} Name Tracked';
const CRM_ID = 'String {8ECCC264-6880-4EBE-992F-8888D2EEAA1D} Name CrmId';
const enc = encodeURIComponent;

describe('Graph simulator: extended properties', () => {
  const mailbox = useSimulatorMailbox('ext');

  it('sets them on POST and PATCH; the response omits them; $expand with an id filter returns them (§3.2, §3.3)', async () => {
    const created = await mailbox.t.call('POST', `users/${mailbox.upn}/contacts`, { body: { givenName: 'Ext', singleValueExtendedProperties: [{ id: TRACKED, value: 'true' }] } });
    expect(created.status).toBe(201);
    expect(created.body['singleValueExtendedProperties']).toBeUndefined();
    const id = enc(String(created.body['id']));
    await mailbox.t.call('PATCH', `users/${mailbox.upn}/contacts/${id}`, { body: { singleValueExtendedProperties: [{ id: CRM_ID, value: 'crm-1' }] } });
    const expanded = await mailbox.t.call('GET', `users/${mailbox.upn}/contacts/${id}?$expand=${enc(`singleValueExtendedProperties($filter=id eq '${TRACKED}' or id eq '${CRM_ID}')`)}`);
    expect(expanded.body['singleValueExtendedProperties']).toEqual([{ id: TRACKED, value: 'true' }, { id: CRM_ID, value: 'crm-1' }]);
    // the GUID compares case-insensitively, the Name case-sensitively (§3.3)
    const lowerGuid = await mailbox.t.call('GET', `users/${mailbox.upn}/contacts/${id}?$expand=${enc(`singleValueExtendedProperties($filter=id eq '${TRACKED.toLowerCase().replace('name tracked', 'Name Tracked')}')`)}`);
    expect(lowerGuid.body['singleValueExtendedProperties']).toEqual([{ id: TRACKED, value: 'true' }]);
    const otherName = await mailbox.t.call('GET', `users/${mailbox.upn}/contacts/${id}?$expand=${enc(`singleValueExtendedProperties($filter=id eq '${TRACKED.replace('Tracked', 'tracked')}')`)}`);
    expect(otherName.body['singleValueExtendedProperties']).toBeUndefined();
  });

  it('rejects ids outside the documented formats and non-string values (§3.1, §3.2)', async () => {
    for (const bad of ['Tracked', 'String {not-a-guid} Name X', 'StringArray {8ECCC264-6880-4EBE-992F-8888D2EEAA1D} Name X', 'String 0xZZ']) {
      const res = await mailbox.t.call('POST', `users/${mailbox.upn}/contacts`, { body: { givenName: 'x', singleValueExtendedProperties: [{ id: bad, value: 'v' }] } });
      expect([bad, res.status, (res.body['error'] as JsonRecord)['code']]).toEqual([bad, 400, 'ErrorInvalidProperty']);
    }
    const ok = await mailbox.t.call('POST', `users/${mailbox.upn}/contacts`, { body: { givenName: 'x', singleValueExtendedProperties: [{ id: 'Integer {8ECCC264-6880-4EBE-992F-8888D2EEAA1D} Id 0x8012', value: '5' }, { id: 'String 0x4001001E', value: 'tag' }] } });
    expect(ok.status).toBe(201);
    // a full proptag and its property-id form address the same MAPI property
    const tagged = await mailbox.t.call('GET', `users/${mailbox.upn}/contacts/${enc(String(ok.body['id']))}?$expand=${enc("singleValueExtendedProperties($filter=id eq 'String 0x4001')")}`);
    expect(tagged.body['singleValueExtendedProperties']).toEqual([{ id: 'String 0x4001001E', value: 'tag' }]);
    const notString = await mailbox.t.call('POST', `users/${mailbox.upn}/contacts`, { body: { givenName: 'x', singleValueExtendedProperties: [{ id: TRACKED, value: true }] } });
    expect(notString.status).toBe(400);
  });

  it('filters list endpoints with singleValueExtendedProperties/Any(...), value case-insensitively (§3.3)', async () => {
    for (const [name, value] of [['a', 'TRUE'], ['b', 'false'], ['c', null]] as const) {
      const body: JsonRecord = { subject: name, start: { dateTime: '2026-03-01T10:00:00', timeZone: 'UTC' }, end: { dateTime: '2026-03-01T11:00:00', timeZone: 'UTC' } };
      if (value) body['singleValueExtendedProperties'] = [{ id: TRACKED, value }];
      await mailbox.t.call('POST', `users/${mailbox.upn}/events`, { body });
    }
    const eq = await mailbox.t.call('GET', `users/${mailbox.upn}/events?$filter=${enc(`singleValueExtendedProperties/Any(ep: ep/id eq '${TRACKED}' and ep/value eq 'true')`)}&$expand=${enc(`singleValueExtendedProperties($filter=id eq '${TRACKED}')`)}`);
    expect(values(eq.body).map((e) => [e['subject'], e['singleValueExtendedProperties']])).toEqual([['a', [{ id: TRACKED, value: 'TRUE' }]]]);
    const any = await mailbox.t.call('GET', `users/${mailbox.upn}/events?$filter=${enc(`singleValueExtendedProperties/any(ep: ep/id eq '${TRACKED}' and ep/value ne null)`)}`);
    expect(values(any.body).map((e) => e['subject'])).toEqual(['a', 'b']);
    const bad = await mailbox.t.call('GET', `users/${mailbox.upn}/events?$filter=${enc(`singleValueExtendedProperties/any(ep: ep/id eq 'Tracked' and ep/value eq 'x')`)}`);
    expect(bad.status).toBe(400);
  });

  it('filters by category and by e-mail address on lists (§4; match before create, DESIGN §4)', async () => {
    await mailbox.t.call('POST', `users/${mailbox.upn}/contacts`, { body: { givenName: 'A', categories: ['Tracked to CRM'], emailAddresses: [{ address: 'A@x.test' }] } });
    await mailbox.t.call('POST', `users/${mailbox.upn}/contacts`, { body: { givenName: 'B', categories: ['Other'] } });
    const cat = await mailbox.t.call('GET', `users/${mailbox.upn}/contacts?$filter=${enc("categories/any(a:a eq 'tracked to crm')")}`);
    expect(values(cat.body).map((c) => c['givenName'])).toEqual(['A']);
    const mail = await mailbox.t.call('GET', `users/${mailbox.upn}/contacts?$filter=${enc("emailAddresses/any(e:e/address eq 'a@x.test')")}`);
    expect(values(mail.body).map((c) => c['givenName'])).toEqual(['A']);
  });

  it('To Do tasks have no extended properties: setting or expanding them is rejected (§3.5)', async () => {
    const list = mailbox.t.sim.control.folders(mailbox.upn).tasks;
    const res = await mailbox.t.call('POST', `users/${mailbox.upn}/todo/lists/${enc(list)}/tasks`, { body: { title: 'x', singleValueExtendedProperties: [{ id: TRACKED, value: 'true' }] } });
    expect(res.status).toBe(400);
    expect(String((res.body['error'] as JsonRecord)['message'])).toContain("does not exist on type 'microsoft.graph.todoTask'");
    const ok = await mailbox.t.call('POST', `users/${mailbox.upn}/todo/lists/${enc(list)}/tasks`, { body: { title: 'x' } });
    const expand = await mailbox.t.call('GET', `users/${mailbox.upn}/todo/lists/${enc(list)}/tasks/${enc(String(ok.body['id']))}?$expand=${enc(`singleValueExtendedProperties($filter=id eq '${TRACKED}')`)}`);
    expect(expand.status).toBe(400);
  });
});
