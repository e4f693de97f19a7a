// Messages per folder, moves with default vs immutable ids, drafts, body as text (graph-behaviour.md §2.3, §1.4, §8).
import { deltaRound, values, type JsonRecord, useSimulatorMailbox } from './harness';

const MSG_FLAGS = 'Integer 0x0E07';

describe('Graph simulator: messages', () => {
  const mailbox = useSimulatorMailbox('mail');

  it('POST /messages creates a draft in Drafts; PR_MESSAGE_FLAGS without MSGFLAG_UNSENT creates a non-draft (§2.3)', async () => {
    const draft = await mailbox.t.call('POST', `users/${mailbox.upn}/messages`, { body: { subject: 'Draft', body: { contentType: 'html', content: '<p>Hi</p>' } } });
    expect(draft.status).toBe(201);
    expect(draft.body['isDraft']).toBe(true);
    expect(draft.body['parentFolderId']).toBe(mailbox.t.sim.control.folders(mailbox.upn).drafts);
    const received = await mailbox.t.call('POST', `users/${mailbox.upn}/mailFolders/inbox/messages`, { body: { subject: 'Hello', singleValueExtendedProperties: [{ id: MSG_FLAGS, value: '1' }] } });
    expect(received.body['isDraft']).toBe(false);
    expect(received.body['parentFolderId']).toBe(mailbox.t.sim.control.folders(mailbox.upn).inbox);
  });

  it('tracks each folder separately; mailFolders/{id} and mailfolders(\'{id}\') are the same route and nextLinks use the key syntax (§1.1, §2.3)', async () => {
    for (let i = 0; i < 3; i++) mailbox.t.sim.control.seedMessage(mailbox.upn, { folder: 'inbox', props: { subject: `in${i}` } });
    mailbox.t.sim.control.seedMessage(mailbox.upn, { folder: 'sentitems', props: { subject: 'sent' } });
    const inboxId = mailbox.t.sim.control.folders(mailbox.upn).inbox;
    const first = await mailbox.t.call('GET', `users/${mailbox.upn}/mailFolders/${inboxId}/messages/delta?$select=subject,isDraft`, { headers: { Prefer: 'odata.maxpagesize=2' } });
    expect(String(first.body['@odata.nextLink'])).toContain(`/mailfolders('${inboxId}')/messages/delta?$skiptoken=`);
    const round = await deltaRound(mailbox.t, String(first.body['@odata.nextLink']), { Prefer: 'odata.maxpagesize=2' });
    expect([...values(first.body), ...round.items].map((m) => m['subject'])).toEqual(['in0', 'in1', 'in2']);
    const sent = await deltaRound(mailbox.t, `users/${mailbox.upn}/mailfolders('sentitems')/microsoft.graph.delta()`.replace('/microsoft.graph.delta()', '/messages/microsoft.graph.delta()'));
    expect(sent.items.map((m) => m['subject'])).toEqual(['sent']);
  });

  it('a move with default ids: removed from the old folder, new id in the new folder (§1.4, §8)', async () => {
    const { id } = mailbox.t.sim.control.seedMessage(mailbox.upn, { folder: 'inbox', props: { subject: 'to move' } });
    const inbox0 = await deltaRound(mailbox.t, `users/${mailbox.upn}/mailFolders/inbox/messages/delta`);
    const sent0 = await deltaRound(mailbox.t, `users/${mailbox.upn}/mailFolders/sentitems/messages/delta`);
    const moved = await mailbox.t.call('POST', `users/${mailbox.upn}/messages/${encodeURIComponent(id)}/move`, { body: { destinationId: 'sentitems' } });
    expect(moved.status).toBe(201);
    expect(moved.body['id']).not.toBe(id);
    expect((await mailbox.t.call('GET', `users/${mailbox.upn}/messages/${encodeURIComponent(id)}`)).status).toBe(404);
    const inbox1 = await deltaRound(mailbox.t, inbox0.deltaLink);
    expect(inbox1.items).toEqual([{ '@odata.type': '#microsoft.graph.message', id, '@removed': { reason: 'deleted' } }]);
    const sent1 = await deltaRound(mailbox.t, sent0.deltaLink);
    expect(sent1.items.map((m) => [m['id'], m['subject']])).toEqual([[moved.body['id'], 'to move']]);
  });

  it('with Prefer: IdType="ImmutableId" the id survives the move, also in delta (§8)', async () => {
    const immutable = { Prefer: 'IdType="ImmutableId", odata.maxpagesize=5' };
    const created = await mailbox.t.call('POST', `users/${mailbox.upn}/mailFolders/inbox/messages`, { body: { subject: 'stable', singleValueExtendedProperties: [{ id: MSG_FLAGS, value: '1' }] }, headers: immutable });
    const id = String(created.body['id']);
    const sent0 = await deltaRound(mailbox.t, `users/${mailbox.upn}/mailFolders/sentitems/messages/delta`, immutable);
    const moved = await mailbox.t.call('POST', `users/${mailbox.upn}/mailFolders/inbox/messages/${encodeURIComponent(id)}/microsoft.graph.move`, { body: { destinationId: mailbox.t.sim.control.folders(mailbox.upn).sentitems }, headers: immutable });
    expect(moved.body['id']).toBe(id);
    expect((await mailbox.t.call('GET', `users/${mailbox.upn}/messages/${encodeURIComponent(id)}`, { headers: immutable })).body['subject']).toBe('stable');
    const sent1 = await deltaRound(mailbox.t, sent0.deltaLink, immutable);
    expect(sent1.items.map((m) => m['id'])).toEqual([id]);
  });

  it('translateExchangeIds maps default ids to immutable ids and back (§8)', async () => {
    const { id, immutableId } = mailbox.t.sim.control.seedMessage(mailbox.upn, { folder: 'inbox', props: { subject: 'x' } });
    const res = await mailbox.t.call('POST', `users/${mailbox.upn}/translateExchangeIds`, { body: { inputIds: [id, 'unknown'], sourceIdType: 'restId', targetIdType: 'restImmutableEntryId' } });
    expect(values(res.body)).toEqual([{ sourceId: id, targetId: immutableId }, { sourceId: 'unknown', errorDetails: expect.objectContaining({ code: 'ErrorInvalidIdMalformed' }) }]);
    const back = await mailbox.t.call('POST', `users/${mailbox.upn}/translateExchangeIds`, { body: { inputIds: [immutableId], sourceIdType: 'restImmutableEntryId', targetIdType: 'restId' } });
    expect(values(back.body)).toEqual([{ sourceId: immutableId, targetId: id }]);
  });

  it('sending a draft moves it to Sent Items as a non-draft (DESIGN §2 "tracked on send")', async () => {
    const draft = await mailbox.t.call('POST', `users/${mailbox.upn}/messages`, { body: { subject: 'Offer' }, headers: { Prefer: 'IdType="ImmutableId"' } });
    const id = encodeURIComponent(String(draft.body['id']));
    expect((await mailbox.t.call('POST', `users/${mailbox.upn}/messages/${id}/send`)).status).toBe(202);
    const sent = await deltaRound(mailbox.t, `users/${mailbox.upn}/mailFolders/sentitems/messages/delta?$select=subject,isDraft`, { Prefer: 'IdType="ImmutableId"' });
    expect(sent.items).toEqual([expect.objectContaining({ id: draft.body['id'], subject: 'Offer', isDraft: false })]);
  });

  it('Prefer: outlook.body-content-type="text" returns the body as text (DESIGN §4; combined Prefer header §8)', async () => {
    const { id } = mailbox.t.sim.control.seedMessage(mailbox.upn, { folder: 'inbox', props: { subject: 'html', body: { contentType: 'html', content: '<html><body><p>Hello &amp; <b>welcome</b></p><p>Bye</p></body></html>' } } });
    const html = await mailbox.t.call('GET', `users/${mailbox.upn}/messages/${encodeURIComponent(id)}`);
    expect(html.body['body']).toEqual({ contentType: 'html', content: '<html><body><p>Hello &amp; <b>welcome</b></p><p>Bye</p></body></html>' });
    const text = await mailbox.t.call('GET', `users/${mailbox.upn}/messages/${encodeURIComponent(id)}`, { headers: { Prefer: 'odata.maxpagesize=5, outlook.body-content-type="text", IdType="ImmutableId"' } });
    expect(text.body['body']).toEqual({ contentType: 'text', content: 'Hello & welcome\r\nBye' });
    expect(text.body['id']).not.toBe(id);
    expect(text.headers.get('preference-applied')).toContain('outlook.body-content-type="text"');
  });

  it('a $filter on messages delta returns at most 5,000 messages (§2.3)', async () => {
    mailbox.t.sim.control.seed(mailbox.upn, 'message', Array.from({ length: 5003 }, (_, i) => ({ subject: `m${i}`, receivedDateTime: '2026-02-01T00:00:00Z' })));
    const filtered = await deltaRound(mailbox.t, `users/${mailbox.upn}/mailFolders/inbox/messages/delta?$select=subject&$filter=receivedDateTime gt 2026-01-01T00:00:00Z`, { Prefer: 'odata.maxpagesize=1000' });
    expect(filtered.items).toHaveLength(5000);
    const unfiltered = await deltaRound(mailbox.t, `users/${mailbox.upn}/mailFolders/inbox/messages/delta?$select=subject`, { Prefer: 'odata.maxpagesize=1000' });
    expect(unfiltered.items).toHaveLength(5003);
  });

  it('messages delta accepts only receivedDateTime filters and changeType; $expand fails like Graph (§2.3, §3.4)', async () => {
    mailbox.t.sim.control.seedMessage(mailbox.upn, { folder: 'inbox', props: { subject: 'old', receivedDateTime: '2025-01-01T00:00:00Z' } });
    mailbox.t.sim.control.seedMessage(mailbox.upn, { folder: 'inbox', props: { subject: 'new', receivedDateTime: '2026-01-01T00:00:00Z' } });
    const filtered = await deltaRound(mailbox.t, `users/${mailbox.upn}/mailFolders/inbox/messages/delta?$filter=receivedDateTime ge 2025-06-01T00:00:00Z`);
    expect(filtered.items.map((m) => m['subject'])).toEqual(['new']);
    expect((await mailbox.t.call('GET', `users/${mailbox.upn}/mailFolders/inbox/messages/delta?$filter=categories/any(c:c eq 'x')`)).status).toBe(400);
    expect((await mailbox.t.call('GET', `users/${mailbox.upn}/mailFolders/inbox/messages/delta?$expand=singleValueExtendedProperties($filter=id eq 'String 0x4001')`)).status).toBe(500);
    const deletedOnly = await deltaRound(mailbox.t, `users/${mailbox.upn}/mailFolders/inbox/messages/delta?changeType=deleted`);
    expect(deletedOnly.items).toEqual([]);
    const victim = values((await mailbox.t.call('GET', `users/${mailbox.upn}/mailFolders/inbox/messages`)).body)[0] as JsonRecord;
    await mailbox.t.call('PATCH', `users/${mailbox.upn}/messages/${encodeURIComponent(String(victim['id']))}`, { body: { isRead: true } });
    await mailbox.t.call('DELETE', `users/${mailbox.upn}/messages/${encodeURIComponent(String(victim['id']))}`);
    const next = await deltaRound(mailbox.t, deletedOnly.deltaLink);
    expect(next.items).toEqual([{ '@odata.type': '#microsoft.graph.message', id: victim['id'], '@removed': { reason: 'deleted' } }]);
  });
});
