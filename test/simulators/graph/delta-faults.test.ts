// Delta token lifetime and the delta irregularities clients must survive (graph-behaviour.md §1.1, §1.4–§1.6).
import { deltaRound, values, type JsonRecord, useSimulatorMailbox } from './harness';

describe('Graph simulator: delta tokens and irregular pages', () => {
  const mailbox = useSimulatorMailbox('delta');

  const seed = async (count: number) => {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) ids.push(String((await mailbox.t.call('POST', `users/${mailbox.upn}/contacts`, { body: { givenName: `N${i}` } })).body['id']));
    return ids;
  };
  const expectSyncStateNotFound = (res: { status: number; body: JsonRecord }) => {
    expect(res.status).toBe(410);
    const err = res.body['error'] as JsonRecord;
    expect(err['code']).toBe('SyncStateNotFound');
    expect(String(err['message'])).toMatch(/^The sync state generation is not found; generation=\d+;\[highest=\d+\](\[\d+\])+\.$/);
    expect(Object.keys(err['innerError'] as JsonRecord)).toEqual(expect.arrayContaining(['request-id', 'date']));
  };

  it('a token older than tokenGenerationsKept generations gets 410 SyncStateNotFound (§1.6)', async () => {
    await seed(2);
    const old = await deltaRound(mailbox.t, `users/${mailbox.upn}/contacts/delta`);
    // three more pages of the same collection push the stored deltaLink out of the kept generations
    for (let i = 0; i < 3; i++) await mailbox.t.call('GET', `users/${mailbox.upn}/contacts/delta`);
    expectSyncStateNotFound(await mailbox.t.call('GET', old.deltaLink));
    mailbox.t.sim.knobs.tokenGenerationsKept = 10;
    expect((await mailbox.t.call('GET', old.deltaLink)).status).toBe(200);
  });

  it('evictTokens(mailbox) invalidates the stored deltaLink and a nextLink in the middle of a round (§1.6)', async () => {
    await seed(5);
    const done = await deltaRound(mailbox.t, `users/${mailbox.upn}/contacts/delta`);
    const first = await mailbox.t.call('GET', `users/${mailbox.upn}/contacts/delta`, { headers: { Prefer: 'odata.maxpagesize=2' } });
    mailbox.t.sim.control.evictTokens(mailbox.upn);
    expectSyncStateNotFound(await mailbox.t.call('GET', String(first.body['@odata.nextLink'])));
    expectSyncStateNotFound(await mailbox.t.call('GET', done.deltaLink));
    // a fresh initial round works at once
    expect((await deltaRound(mailbox.t, `users/${mailbox.upn}/contacts/delta`)).items).toHaveLength(5);
  });

  it('evictTokensAfterPages: the next nextLink of a running round gets 410 (§1.6 "former nextLink")', async () => {
    await seed(5);
    mailbox.t.sim.knobs.evictTokensAfterPages = 1;
    const first = await mailbox.t.call('GET', `users/${mailbox.upn}/contacts/delta`, { headers: { Prefer: 'odata.maxpagesize=2' } });
    expect(values(first.body)).toHaveLength(2);
    expectSyncStateNotFound(await mailbox.t.call('GET', String(first.body['@odata.nextLink'])));
    expect(mailbox.t.sim.knobs.evictTokensAfterPages).toBeNull();
  });

  it('emptyPagesBeforeData: each round starts with empty pages that still carry a nextLink (§1.1.2)', async () => {
    await seed(3);
    mailbox.t.sim.knobs.emptyPagesBeforeData = 2;
    const round = await deltaRound(mailbox.t, `users/${mailbox.upn}/contacts/delta`);
    expect(round.pages.map((p) => [values(p).length, typeof p['@odata.nextLink'], typeof p['@odata.deltaLink']])).toEqual([
      [0, 'string', 'undefined'], [0, 'string', 'undefined'], [3, 'undefined', 'string'],
    ]);
  });

  it('repeatEntry: the last entry of a page shows up again on the next one (§1.5)', async () => {
    await seed(5);
    mailbox.t.sim.knobs.repeatEntry = true;
    const round = await deltaRound(mailbox.t, `users/${mailbox.upn}/contacts/delta`, { Prefer: 'odata.maxpagesize=2' });
    const names = round.items.map((i) => i['givenName']);
    expect(names).toEqual(['N0', 'N1', 'N1', 'N2', 'N2', 'N3', 'N3', 'N4']);
  });

  it('dropNextRemoval: one deletion never reaches delta (a lost change for reconciliation to catch)', async () => {
    const ids = await seed(3);
    const initial = await deltaRound(mailbox.t, `users/${mailbox.upn}/contacts/delta`);
    await mailbox.t.call('DELETE', `users/${mailbox.upn}/contacts/${ids[0]}`);
    await mailbox.t.call('DELETE', `users/${mailbox.upn}/contacts/${ids[1]}`);
    mailbox.t.sim.knobs.dropNextRemoval = 1;
    const next = await deltaRound(mailbox.t, initial.deltaLink);
    expect(next.items).toEqual([{ '@odata.type': '#microsoft.graph.contact', id: ids[1], '@removed': { reason: 'deleted' } }]);
  });

  it('pageSizeOvershoot: pages larger than maxpagesize (§1.3)', async () => {
    await seed(7);
    mailbox.t.sim.knobs.pageSizeOvershoot = 1;
    const round = await deltaRound(mailbox.t, `users/${mailbox.upn}/contacts/delta`, { Prefer: 'odata.maxpagesize=2' });
    expect(round.pages.map((p) => values(p).length)).toEqual([3, 3, 1]);
  });

  it('partialUpdates: an updated item carries id, etag and the changed properties only (§1.4 contract); default is full', async () => {
    const ids = await seed(1);
    const initial = await deltaRound(mailbox.t, `users/${mailbox.upn}/contacts/delta`);
    await mailbox.t.call('PATCH', `users/${mailbox.upn}/contacts/${ids[0]}`, { body: { jobTitle: 'CFO' } });
    const full = await deltaRound(mailbox.t, initial.deltaLink);
    expect(full.items[0]).toMatchObject({ givenName: 'N0', jobTitle: 'CFO' });
    mailbox.t.sim.knobs.partialUpdates = true;
    await mailbox.t.call('PATCH', `users/${mailbox.upn}/contacts/${ids[0]}`, { body: { categories: ['Tracked to CRM'] } });
    const partial = await deltaRound(mailbox.t, full.deltaLink);
    expect(Object.keys(partial.items[0] ?? {}).sort()).toEqual(['@odata.etag', '@odata.type', 'categories', 'changeKey', 'id']);
    mailbox.t.sim.knobs.removedReason = 'changed';
    await mailbox.t.call('DELETE', `users/${mailbox.upn}/contacts/${ids[0]}`);
    expect((await deltaRound(mailbox.t, partial.deltaLink)).items[0]?.['@removed']).toEqual({ reason: 'changed' });
  });
});
