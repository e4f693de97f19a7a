import { idFromEntityId, startClient, values, type Reply, type TestClient } from './client';

const SELECT = '$select=firstname,lastname,emailaddress1,_parentcustomerid_value';
const DAY = 86_400_000;

async function initial(c: TestClient, prefer = 'odata.track-changes'): Promise<Reply> {
  return c.get(`contacts?${SELECT}`, { Prefer: prefer });
}

describe('Dataverse simulator: change tracking', () => {
  let c: TestClient;

  beforeEach(async () => {
    c = await startClient();
  });
  afterEach(() => c.sim.stop());

  it('first request returns everything, Preference-Applied and a deltaLink with an opaque version!timestamp token', async () => {
    // dataverse-behaviour.md §1.2, §1.8, §7.1
    c.sim.control.seed('contacts', { firstname: 'Monte', lastname: 'Orton', emailaddress1: 'monte@contoso.test' });
    c.sim.control.seed('contacts', { firstname: 'Nancy', lastname: 'Anderson' });
    const reply = await initial(c);
    expect(reply.status).toBe(200);
    expect(reply.headers.get('preference-applied')).toBe('odata.track-changes');
    expect(reply.json['@odata.context']).toBe(`${c.sim.apiUrl}$metadata#contacts(firstname,lastname,emailaddress1,_parentcustomerid_value)`);
    expect(values(reply).map((r) => r['lastname'])).toEqual(['Orton', 'Anderson']);
    expect(Object.keys(values(reply)[0] as object).sort()).toEqual(
      ['@odata.etag', '_parentcustomerid_value', 'contactid', 'emailaddress1', 'firstname', 'lastname'].sort(),
    );
    const link = reply.json['@odata.deltaLink'] as string;
    expect(link.startsWith(`${c.sim.apiUrl}contacts?${SELECT}&$deltatoken=`)).toBe(true);
    const token = decodeURIComponent(new URL(link).searchParams.get('$deltatoken') ?? '');
    expect(token).toMatch(/^\d+!\d{2}\/\d{2}\/\d{4} \d{2}:\d{2}:\d{2}$/);
    expect(reply.json['@odata.nextLink']).toBeUndefined();
    expect(c.sim.requestLog.count({ kind: 'trackChanges' })).toBe(1);
  });

  it('delta: new and updated rows (all selected columns) in version order, then $deletedEntity entries; idle → empty value', async () => {
    // dataverse-behaviour.md §1.3, §1.8, §7.2
    const monte = c.sim.control.seed('contacts', { firstname: 'Monte', lastname: 'Orton', emailaddress1: 'monte@contoso.test' });
    const gone = c.sim.control.seed('contacts', { lastname: 'Gone' });
    const first = await initial(c);
    let link = first.json['@odata.deltaLink'] as string;

    const nancy = idFromEntityId(await c.post('contacts', { firstname: 'Nancy', lastname: 'Anderson', emailaddress1: 'nancy@fabrikam.test' }));
    expect((await c.del(`contacts(${gone})`)).status).toBe(204);
    await c.patch(`contacts(${monte})`, { emailaddress1: 'monte.orton@contoso.test' }, { 'If-Match': '*' });
    const ephemeral = idFromEntityId(await c.post('contacts', { lastname: 'Ephemeral' }));
    await c.del(`contacts(${ephemeral})`);
    c.sim.control.seed('accounts', { name: 'Not a contact' });

    const delta = await c.getUrl(link);
    expect(delta.status).toBe(200);
    expect(delta.json['@odata.context']).toBe(
      `${c.sim.apiUrl}$metadata#contacts(firstname,lastname,emailaddress1,_parentcustomerid_value)/$delta`,
    );
    const rows = values(delta);
    expect(rows.map((r) => r['contactid'] ?? r['id'])).toEqual([nancy, monte, gone, ephemeral]);
    expect(rows[1]).toEqual({
      '@odata.etag': expect.stringMatching(/^W\/"\d+"$/),
      firstname: 'Monte',
      lastname: 'Orton',
      emailaddress1: 'monte.orton@contoso.test',
      _parentcustomerid_value: null,
      contactid: monte,
    });
    expect(rows[2]).toEqual({ '@odata.context': `${c.sim.apiUrl}$metadata#contacts/$deletedEntity`, id: gone, reason: 'deleted' });
    const etags = rows.slice(0, 2).map((r) => Number(/\d+/.exec(r['@odata.etag'] as string)?.[0]));
    expect(etags[0]).toBeLessThan(etags[1] as number);
    expect(delta.json['@odata.deltaLink']).not.toBe(link);
    link = delta.json['@odata.deltaLink'] as string;

    const idle = await c.getUrl(link);
    expect(idle.json).toEqual({
      '@odata.context': expect.stringMatching(/\/\$delta$/),
      value: [],
      '@odata.deltaLink': expect.stringContaining('$deltatoken='),
    });
    expect(c.sim.requestLog.count({ kind: 'delta' })).toBe(2);
  });

  it.each(['$filter=lastname eq \'x\'', '$orderby=lastname', '$expand=parentcustomerid_account($select=name)', '$top=1'])(
    'rejects %s with track-changes (400, documented message)',
    async (option) => {
      // dataverse-behaviour.md §1.2, §7.3
      const reply = await c.get(`contacts?$select=lastname&${option}`, { Prefer: 'odata.track-changes' });
      expect(reply.status).toBe(400);
      const name = option.split('=')[0] as string;
      expect((reply.json['error'] as { message: string }).message).toBe(
        `The "${name}" query parameter isn't supported when Change Tracking is enabled.`,
      );
    },
  );

  it('pages with odata.maxpagesize: nextLink on every page but the last, deltaLink only on the last', async () => {
    // dataverse-behaviour.md §1.4, §7.4
    for (let i = 0; i < 10; i++) c.sim.control.seed('contacts', { lastname: `C${i}` });
    const prefer = 'odata.track-changes,odata.maxpagesize=4';
    let reply = await initial(c, prefer);
    expect(reply.headers.get('preference-applied')).toBe('odata.track-changes,odata.maxpagesize=4');
    const names: string[] = [];
    let pages = 0;
    let writtenDuringPaging: string | null = null;
    for (;;) {
      pages++;
      names.push(...values(reply).map((r) => r['lastname'] as string));
      const next = reply.json['@odata.nextLink'] as string | undefined;
      if (!next) break;
      expect(reply.json['@odata.deltaLink']).toBeUndefined();
      expect(decodeURIComponent(next)).toContain('istracking="True"');
      // A write between pages belongs to the next delta, not to this snapshot.
      writtenDuringPaging ??= c.sim.control.seed('contacts', { lastname: 'Late' });
      reply = await c.getUrl(next, { Prefer: prefer });
    }
    expect(pages).toBe(3);
    expect(names).toEqual(['C0', 'C1', 'C2', 'C3', 'C4', 'C5', 'C6', 'C7', 'C8', 'C9']);
    const delta = await c.getUrl(reply.json['@odata.deltaLink'] as string, { Prefer: prefer });
    expect(values(delta).map((r) => r['contactid'])).toEqual([writtenDuringPaging]);
  });

  it('tracking faults (knob): empty first pages and entries repeated across page boundaries', async () => {
    // Not documented behaviour: faults for client robustness (brief: faults are knobs, off by default).
    const ids = Array.from({ length: 4 }, (_, i) => c.sim.control.seed('contacts', { lastname: `F${i}` }));
    c.sim.knobs.trackingFaults = { emptyPagesFirst: 2, repeatPageBoundary: true };
    const prefer = 'odata.track-changes,odata.maxpagesize=2';
    let reply = await initial(c, prefer);
    const pages: unknown[][] = [];
    for (;;) {
      pages.push(values(reply).map((r) => r['contactid']));
      if (!reply.json['@odata.nextLink']) break;
      reply = await c.getUrl(reply.json['@odata.nextLink'] as string, { Prefer: prefer });
    }
    expect(pages).toEqual([[], [], [ids[0], ids[1]], [ids[1], ids[2]], [ids[2], ids[3]]]);
  });

  it('deltas page too, upserts then deletes across page boundaries', async () => {
    // dataverse-behaviour.md §1.3, §1.4
    const ids = Array.from({ length: 5 }, (_, i) => c.sim.control.seed('contacts', { lastname: `D${i}` }));
    const link = (await initial(c)).json['@odata.deltaLink'] as string;
    for (const id of ids.slice(0, 3)) c.sim.control.update('contacts', id, { firstname: 'u' });
    for (const id of ids.slice(3)) c.sim.control.remove('contacts', id);
    const prefer = 'odata.track-changes,odata.maxpagesize=2';
    let reply = await c.getUrl(link, { Prefer: prefer });
    const seen: unknown[] = [];
    let pages = 0;
    for (;;) {
      pages++;
      seen.push(...values(reply).map((r) => (r['reason'] ? `-${r['id'] as string}` : r['contactid'])));
      const next = reply.json['@odata.nextLink'] as string | undefined;
      if (!next) break;
      reply = await c.getUrl(next, { Prefer: prefer });
    }
    expect(pages).toBe(3);
    expect(seen).toEqual([ids[0], ids[1], ids[2], `-${ids[3]}`, `-${ids[4]}`]);
    expect(reply.json['@odata.deltaLink']).toEqual(expect.stringContaining('$deltatoken='));
  });

  it.each([
    [7, 8, 'expired'],
    [7, 6, 'valid'],
    [30, 8, 'valid'],
    [30, 31, 'expired'],
  ] as const)('retention %i days: a change %i days old that the token has not seen → %s', async (retention, age, outcome) => {
    // dataverse-behaviour.md §1.5, §7.5 (ExpireChangeTrackingInDays; "unprocessed changes older than the configured value")
    c.sim.knobs.changeTrackingRetentionDays = retention;
    const id = c.sim.control.seed('contacts', { lastname: 'R' });
    const link = (await initial(c)).json['@odata.deltaLink'] as string;
    c.sim.control.update('contacts', id, { firstname: 'changed' });
    c.sim.control.advanceClock(age * DAY);
    const reply = await c.getUrl(link);
    if (outcome === 'expired') {
      expect(reply.status).toBe(400);
      expect(reply.json).toEqual({
        error: { code: '0x80044352', message: 'Version stamp associated with the client has expired. Please perform a full sync.' },
      });
    } else {
      expect(reply.status).toBe(200);
      expect(values(reply)).toHaveLength(1);
    }
  });

  it('an idle table keeps its token valid past the retention; expiry status is a knob; expireDeltaTokens invalidates all', async () => {
    // dataverse-behaviour.md §1.5 (status UNCONFIRMED → knob)
    c.sim.control.seed('contacts', { lastname: 'Idle' });
    const link = (await initial(c)).json['@odata.deltaLink'] as string;
    c.sim.control.advanceClock(40 * DAY);
    expect((await c.getUrl(link)).status).toBe(200);
    c.sim.control.expireDeltaTokens();
    c.sim.knobs.expiredTokenStatus = 410;
    const reply = await c.getUrl(link);
    expect(reply.status).toBe(410);
    expect((reply.json['error'] as { code: string }).code).toBe('0x80044352');
    const org = await c.get('organizations?$select=expirechangetrackingindays');
    expect(values(org)[0]?.['expirechangetrackingindays']).toBe(7);
  });

  it('$count with a $deltatoken counts the pending changes', async () => {
    // dataverse-behaviour.md §1.2 (GET accounts/$count?$deltatoken=…)
    const ids = [1, 2, 3].map((i) => c.sim.control.seed('contacts', { lastname: `N${i}` }));
    const link = (await initial(c)).json['@odata.deltaLink'] as string;
    const token = new URL(link).searchParams.get('$deltatoken') as string;
    c.sim.control.update('contacts', ids[0] as string, { firstname: 'x' });
    c.sim.control.update('contacts', ids[0] as string, { firstname: 'y' });
    c.sim.control.remove('contacts', ids[1] as string);
    const count = await c.get(`contacts/$count?$deltatoken=${encodeURIComponent(token)}`);
    expect([count.status, count.text]).toEqual([200, '2']);
    expect((await c.get('contacts/$count')).text).toBe('2');
  });

  it('a table without change tracking returns a normal read: no deltaLink, no Preference-Applied', async () => {
    // dataverse-behaviour.md §1.1 (UNCONFIRMED behaviour, simulator choice)
    await c.sim.stop();
    c = await startClient({ knobs: { changeTracking: { tasks: false } } });
    c.sim.control.seed('tasks', { subject: 'T' });
    const reply = await c.get('tasks?$select=subject', { Prefer: 'odata.track-changes' });
    expect(reply.status).toBe(200);
    expect(values(reply)).toHaveLength(1);
    expect(reply.json['@odata.deltaLink']).toBeUndefined();
    expect(reply.headers.get('preference-applied')).toBeNull();
    const defs = await c.get(`EntityDefinitions?$select=LogicalName,EntitySetName&$filter=${encodeURIComponent('ChangeTrackingEnabled eq true')}`);
    const names = values(defs).map((d) => d['LogicalName']);
    expect(names).toContain('contact');
    expect(names).not.toContain('task');
  });

  it('tens of thousands of rows: a delta of a few changes reads only the changes', async () => {
    // DESIGN.md §10 (cost grows with changes, not table size); dataverse-behaviour.md §1.4 (5,000 max page)
    const ids: string[] = [];
    for (let i = 0; i < 20_000; i++) ids.push(c.sim.control.seed('contacts', { lastname: `Bulk${i}`, emailaddress1: `b${i}@x.test` }));
    let reply = await c.get('contacts?$select=lastname', { Prefer: 'odata.track-changes,odata.maxpagesize=5000' });
    let pages = 1;
    let rows = values(reply).length;
    while (reply.json['@odata.nextLink']) {
      reply = await c.getUrl(reply.json['@odata.nextLink'] as string, { Prefer: 'odata.track-changes,odata.maxpagesize=5000' });
      pages++;
      rows += values(reply).length;
    }
    expect([pages, rows]).toEqual([4, 20_000]);
    for (const id of ids.slice(100, 103)) c.sim.control.update('contacts', id, { firstname: 'x' });
    const delta = await c.getUrl(reply.json['@odata.deltaLink'] as string);
    expect(values(delta).map((r) => r['contactid'])).toEqual(ids.slice(100, 103));
  });
});
