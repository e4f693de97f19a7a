// The recycle bin ("Restore deleted records", https://learn.microsoft.com/power-apps/developer/data-platform/restore-deleted-records):
// deleted rows kept per table, read with FetchXml `datasource='bin'` over the Web API (`<entityset>?fetchXml=`), and
// the `recyclebinconfig` rows that say which tables keep them.
import { startHarness } from '../../adapters/dataverse/harness';
import { idFromEntityId, startClient, values, type TestClient } from './client';

function binQuery(entity: string, key: string, ids: readonly string[], quote = "'"): string {
  const q = (value: string) => `${quote}${value}${quote}`;
  const fetch =
    `<fetch datasource=${q('bin')}><entity name=${q(entity)}><attribute name=${q(key)} /><attribute name=${q('lastname')} />` +
    `<filter type=${q('and')}><condition attribute=${q(key)} operator=${q('in')}>${ids.map((id) => `<value>${id}</value>`).join('')}</condition></filter>` +
    `</entity></fetch>`;
  return `contacts?fetchXml=${encodeURIComponent(fetch)}`;
}

describe('Dataverse simulator: recycle bin (FetchXml datasource="bin", recyclebinconfig)', () => {
  let c: TestClient;

  afterEach(() => c.sim.stop());

  it('keeps a deleted contact in the bin; the bin query returns it by id, in any case and quote style, and nothing live', async () => {
    c = await startClient({ knobs: { recycleBin: { contacts: true } } });
    const gone = idFromEntityId(await c.post('contacts', { firstname: 'Ann', lastname: 'Gone' }));
    const live = idFromEntityId(await c.post('contacts', { firstname: 'Bob', lastname: 'Live' }));
    expect((await c.del(`contacts(${gone})`)).status).toBe(204);

    const reply = await c.get(binQuery('contact', 'contactid', [gone.toUpperCase(), live, '00000000-0000-4000-8000-000000000001']));
    expect(reply.status).toBe(200);
    expect(values(reply)).toEqual([expect.objectContaining({ contactid: gone, lastname: 'Gone' })]);
    expect((await c.get(binQuery('contact', 'contactid', [gone], '"'))).json.value).toHaveLength(1);
    // The same fetch without datasource reads the live table.
    const liveFetch = `<fetch><entity name='contact'><attribute name='contactid' /><filter><condition attribute='contactid' operator='in'><value>${gone}</value><value>${live}</value></condition></filter></entity></fetch>`;
    expect(values(await c.get(`contacts?fetchXml=${encodeURIComponent(liveFetch)}`)).map((row) => row.contactid)).toEqual([live]);
    expect(c.sim.requestLog.count({ entitySet: 'contacts', kind: 'retrieveMultiple', status: 200 })).toBe(3);
  });

  it('serves one recyclebinconfig row per configured table plus the organization row, and none with the feature off', async () => {
    c = await startClient({ knobs: { recycleBin: { contacts: true, appointments: false } } });
    const byTable = async (logicalName: string) =>
      values(await c.get(
        `recyclebinconfigs?$select=name,statecode,statuscode,isreadyforrecyclebin,cleanupintervalindays,_extensionofrecordid_value&$filter=${encodeURIComponent(`extensionofrecordid/name eq '${logicalName}'`)}`,
      ));
    const rows = values(await c.get('recyclebinconfigs?$select=name,_extensionofrecordid_value'));
    expect(rows).toHaveLength(3);
    // "The RecycleBinConfig table doesn't contain the name of the table, but refers to a row in the Entity table".
    const entities = values(await c.get('entities?$select=name,logicalname'));
    const logicalNameOf = new Map(entities.map((row) => [row.entityid, row.logicalname]));
    expect(rows.map((row) => logicalNameOf.get(row._extensionofrecordid_value)).sort()).toEqual(['appointment', 'contact', 'organization']);
    expect(rows.map((row) => row.name).sort()).toEqual([null, null, 'organization']);

    const contact = await byTable('contact');
    expect(contact).toEqual([expect.objectContaining({ statecode: 0, statuscode: 1, isreadyforrecyclebin: true, cleanupintervalindays: -1 })]);
    expect(entities.find((row) => row.entityid === contact[0]?._extensionofrecordid_value)).toEqual(expect.objectContaining({ name: 'Contact', logicalname: 'contact' }));
    expect(await byTable('appointment')).toEqual([expect.objectContaining({ statecode: 1, statuscode: 2, isreadyforrecyclebin: false })]);
    expect(await byTable('organization')).toEqual([expect.objectContaining({ name: 'organization', statecode: 0, cleanupintervalindays: 30 })]);
    expect(await byTable('task')).toEqual([]);
    // The query the connector used to send (the row's own `name`) finds nothing: the table is named only through the lookup.
    const oldQuery = await c.get(`recyclebinconfigs?$select=name,statecode,isreadyforrecyclebin&$filter=${encodeURIComponent("name eq 'contact'")}`);
    expect(oldQuery.status).toBe(200);
    expect(values(oldQuery)).toEqual([]);
    // A path through something that is not a lookup, or to a column the target lacks, is refused.
    expect((await c.get(`recyclebinconfigs?$filter=${encodeURIComponent("statecode/name eq 'contact'")}`)).status).toBe(400);
    expect((await c.get(`recyclebinconfigs?$filter=${encodeURIComponent("extensionofrecordid/nosuch eq 'contact'")}`)).status).toBe(400);

    c.sim.knobs.recycleBin = {};
    expect(values(await c.get('recyclebinconfigs'))).toEqual([]);
  });

  it('a bin query on a table whose bin is off finds no rows (documented), and deletes there are not kept', async () => {
    c = await startClient({ knobs: { recycleBin: { tasks: true } } });
    const gone = idFromEntityId(await c.post('contacts', { lastname: 'Gone' }));
    await c.del(`contacts(${gone})`);
    const reply = await c.get(binQuery('contact', 'contactid', [gone]));
    expect(reply.status).toBe(200);
    expect(values(reply)).toEqual([]);
    // Switching the bin on later does not bring back what was deleted before.
    c.sim.knobs.recycleBin.contacts = true;
    expect(values(await c.get(binQuery('contact', 'contactid', [gone])))).toEqual([]);
  });

  it('UNCONFIRMED alternative (knob binQueryOnDisabledTable: error): the bin query on a table whose bin is off is a 400', async () => {
    c = await startClient({ knobs: { binQueryOnDisabledTable: 'error' } });
    const reply = await c.get(binQuery('contact', 'contactid', ['00000000-0000-4000-8000-000000000001']));
    expect(reply.status).toBe(400);
    expect(reply.json.error).toEqual(expect.objectContaining({ code: expect.any(String), message: expect.stringMatching(/recycle bin/i) }));
  });

  it('keeps a deleted row for the cleanup interval only; a row re-created with the same key leaves its deleted copy', async () => {
    c = await startClient({ knobs: { recycleBin: { contacts: true }, recycleBinCleanupIntervalDays: 2 } });
    const id = '6f1e2d3c-0000-4000-8000-00000000abcd';
    await c.post('contacts', { contactid: id, lastname: 'First' });
    await c.del(`contacts(${id})`);
    expect((await c.post('contacts', { contactid: id, lastname: 'Second' })).status).toBe(204);
    expect(values(await c.get(binQuery('contact', 'contactid', [id])))).toEqual([expect.objectContaining({ lastname: 'First' })]);
    c.sim.control.advanceClock(3 * 86_400_000);
    expect(values(await c.get(binQuery('contact', 'contactid', [id])))).toEqual([]);
  });

  it('refuses FetchXml it cannot serve with 400: another entity, other query options, unknown attributes', async () => {
    c = await startClient({ knobs: { recycleBin: { contacts: true } } });
    const fetch = "<fetch datasource='bin'><entity name='contact'><attribute name='contactid' /></entity></fetch>";
    expect((await c.get(`contacts?fetchXml=${encodeURIComponent(fetch.replace("'contact'", "'task'"))}`)).status).toBe(400);
    expect((await c.get(`contacts?fetchXml=${encodeURIComponent(fetch)}&$select=lastname`)).status).toBe(400);
    expect((await c.get(`contacts?fetchXml=${encodeURIComponent(fetch.replace("'contactid'", "'nosuchcolumn'"))}`)).status).toBe(400);
    expect((await c.get(`contacts?fetchXml=${encodeURIComponent('<fetch><entity name="contact">')}`)).status).toBe(400);
    expect((await c.get(`contacts?fetchXml=${encodeURIComponent(fetch)}`)).status).toBe(200);
  });
});

describe('Dataverse connector findDeleted on the simulator: the requests it makes', () => {
  it('reads the table configuration once, then asks the bin ten ids at a time: 25 ids are 1 + 3 requests, then 3', async () => {
    const h = await startHarness({ knobs: { recycleBin: { contacts: true } } });
    try {
      const me = await h.connector.resolveUser(h.me.address);
      if (!me) throw new Error('no user');
      const ids = Array.from({ length: 25 }, (_, i) => h.connector.idForCreate('contact', `many-${i}`));
      const gone = await h.connector.create('contact', { attributes: { lastname: 'Gone' } }, { actAs: me, idempotencyKey: 'many-7' });
      await h.world.deleteRecord('contact', gone.id);
      h.simulator.requestLog.reset();
      h.requests.length = 0;

      expect(await h.connector.findDeleted('contact', ids, me)).toEqual(new Set([gone.id.toLowerCase()]));
      expect(h.simulator.requestLog.entries.map((entry) => `${entry.method} ${entry.entitySet}`)).toEqual([
        'GET recyclebinconfigs',
        'GET contacts',
        'GET contacts',
        'GET contacts',
      ]);
      const configQuery = new URL(h.requests[0]?.url ?? '').searchParams;
      expect(configQuery.get('$filter')).toBe("extensionofrecordid/name eq 'contact'");
      expect(configQuery.get('$select')).toBe('statecode,isreadyforrecyclebin');
      const fetches = h.requests.slice(1).map((request) => new URL(request.url).searchParams.get('fetchXml') ?? '');
      expect(fetches.map((fetch) => (fetch.match(/<value>/g) ?? []).length)).toEqual([10, 10, 5]);
      for (const fetch of fetches) {
        expect(fetch).toMatch(/^<fetch datasource="bin"><entity name="contact"><attribute name="contactid"\/><filter><condition attribute="contactid" operator="in">/);
      }

      h.simulator.requestLog.reset();
      expect(await h.connector.findDeleted('contact', ids, me)).toEqual(new Set([gone.id.toLowerCase()]));
      expect(h.simulator.requestLog.count({ method: 'GET', entitySet: 'contacts' })).toBe(3);
      expect(h.simulator.requestLog.entries).toHaveLength(3);
    } finally {
      await h.close();
    }
  });

  it('answers null without asking the bin when the table has no active configuration, and when reading it is forbidden', async () => {
    const h = await startHarness({ knobs: { recycleBin: { contacts: false } } });
    try {
      const me = await h.connector.resolveUser(h.me.address);
      if (!me) throw new Error('no user');
      h.simulator.requestLog.reset();
      expect(await h.connector.findDeleted('contact', [h.connector.idForCreate('contact', 'x')], me)).toBeNull();
      expect(h.simulator.requestLog.entries.map((entry) => entry.entitySet)).toEqual(['recyclebinconfigs']);

      h.simulator.knobs.recycleBin = { tasks: true };
      h.simulator.knobs.faults.push({ status: 403, code: '0x80040220', message: 'Principal user is missing prvReadRecycleBinConfig privilege.', times: 1, match: { entitySet: 'recyclebinconfigs' } });
      expect(await h.connector.findDeleted('task', [h.connector.idForCreate('task', 'x')], me)).toBeNull();
    } finally {
      await h.close();
    }
  });
});
