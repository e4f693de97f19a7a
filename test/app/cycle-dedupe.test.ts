// Issue 6, match before create for e-mail (DESIGN.md §4; dataverse-behaviour.md §4.6: `messageid` de-duplicates
// tracked mail; sync-lessons.md §4 item 1, duplicates): the same message tracked in two enrolled mailboxes is one CRM
// e-mail, linked from both, and nothing the link does writes outside a user's scope or deletes anything.
import { crmIdPropertyId, DEFAULT_PRODUCT_GUID } from '../../src/core/mappings/extended-properties';
import type { JsonObject, MappingRow } from '../../src/core/model';
import { TransientError } from '../../src/ports/errors';
import type { RunSummary } from '../../src/ports/state-store';
import { taggedMessage } from './support/fixtures';
import { MAILBOX, World } from './support/world';

const BOB = 'bob@contoso.example';
const CAROL = 'carol@contoso.example';
const MESSAGE_ID = '<q3-pricing.4711@contoso.example>';

function message(subject: string, from: string, to: string[], extra: JsonObject = {}): JsonObject {
  return taggedMessage(subject, {
    body: { contentType: 'text', content: `${subject}. Regards` },
    internetMessageId: MESSAGE_ID,
    from: { emailAddress: { address: from, name: from } },
    toRecipients: to.map((address) => ({ emailAddress: { address, name: address } })),
    ...extra,
  });
}

async function mappingsOf(world: World, mailbox: string): Promise<MappingRow[]> {
  const rows: MappingRow[] = [];
  for await (const row of world.store.listMappings(mailbox, 'email')) rows.push(row);
  return rows;
}

/** The CrmId stamp on a message (DESIGN.md §2), or null. */
function stampOf(world: World, mailbox: string, id: string): string | null {
  const item = world.outlook.snapshot(mailbox, 'email').find((candidate) => candidate.id === id);
  if (!item) throw new Error(`no message ${id} in ${mailbox}`);
  const properties = item.data['singleValueExtendedProperties'];
  const stamp = Array.isArray(properties)
    ? properties.find((p) => typeof p === 'object' && p !== null && !Array.isArray(p) && p['id'] === crmIdPropertyId(DEFAULT_PRODUCT_GUID))
    : undefined;
  const value = stamp && typeof stamp === 'object' && !Array.isArray(stamp) ? stamp['value'] : null;
  return typeof value === 'string' && value !== '' ? value : null;
}

describe('cycle: one CRM e-mail for a message tracked in two mailboxes (match by Message-ID)', () => {
  let world: World;

  beforeEach(() => {
    world = new World();
    world.crm.addUser({ address: BOB });
    world.crm.addUser({ address: CAROL });
  });

  async function cycleOf(mailbox: string, kinds: Partial<Record<'email', { deleteInCrmOnUntrack: boolean }>> = {}): Promise<{ summary: RunSummary; writes: Record<string, number> }> {
    const settings = { ...world.settings, mailbox, kinds: { ...world.settings.kinds, email: { ...world.settings.kinds.email, ...kinds.email } } };
    const summary = await world.cycle({ settings });
    expect(summary.failures).toEqual([]);
    return { summary, writes: world.writes.serviceWrites() };
  }

  it('a sender and a recipient: the recipient links to the sender\'s record; the next cycles write nothing', async () => {
    const sent = world.outlook.userCreate(MAILBOX, 'email', 'sentitems', message('Q3 pricing', MAILBOX, [BOB]));
    const received = world.outlook.userCreate(BOB, 'email', 'inbox', message('Q3 pricing', MAILBOX, [BOB]));

    expect((await cycleOf(MAILBOX)).writes).toEqual({ 'crm.create': 1, 'outlook.update': 1 });
    const [record] = world.crm.all('email');
    if (!record) throw new Error('no CRM e-mail');

    const bob = await cycleOf(BOB);
    // Only the tracking upkeep on Bob's copy (marker + stamp): no CRM write, no second record.
    expect(bob.writes).toEqual({ 'outlook.update': 1 });
    expect(bob.summary.counts['matched.messageId']).toBe(1);
    expect(bob.summary.counts['plans.link-existing']).toBe(1);
    expect(world.countingCrm.messageIdQueries).toEqual([[MESSAGE_ID]]);
    expect(world.crm.all('email').map((r) => r.id)).toEqual([record.id]);
    expect(world.crm.peek('email', record.id)?.version).toBe(record.version);

    // Both mailboxes are linked to the one record, and their copies carry its id.
    expect((await mappingsOf(world, MAILBOX)).map((m) => [m.outlookId, m.crmId, m.state])).toEqual([[sent, record.id, 'linked']]);
    expect((await mappingsOf(world, BOB)).map((m) => [m.outlookId, m.crmId, m.state, m.trackedVia])).toEqual([[received, record.id, 'linked', 'both']]);
    expect(stampOf(world, MAILBOX, sent)).toBe(record.id);
    expect(stampOf(world, BOB, received)).toBe(record.id);

    // DESIGN.md §5: a cycle after a cycle without edits writes nothing, in either mailbox, twice over.
    for (let round = 0; round < 2; round += 1) {
      expect((await cycleOf(MAILBOX)).writes).toEqual({});
      expect((await cycleOf(BOB)).writes).toEqual({});
    }
    expect(world.crm.all('email')).toHaveLength(1);
  });

  it('two recipients of an outside sender: one record, owned by whoever tracked it first', async () => {
    const atCarol = world.outlook.userCreate(CAROL, 'email', 'inbox', message('Offer', 'ann@fabrikam.example', [MAILBOX, CAROL]));
    const atAlice = world.outlook.userCreate(MAILBOX, 'email', 'inbox', message('Offer', 'ann@fabrikam.example', [MAILBOX, CAROL]));

    expect((await cycleOf(CAROL)).writes).toEqual({ 'crm.create': 1, 'outlook.update': 1 });
    expect((await cycleOf(MAILBOX)).writes).toEqual({ 'outlook.update': 1 });

    const [record] = world.crm.all('email');
    expect(world.crm.all('email')).toHaveLength(1);
    expect((await world.crm.resolveUser(CAROL))?.id).toBe(record?.ownerId);
    expect(stampOf(world, CAROL, atCarol)).toBe(record?.id);
    expect(stampOf(world, MAILBOX, atAlice)).toBe(record?.id);
    expect((await cycleOf(CAROL)).writes).toEqual({});
    expect((await cycleOf(MAILBOX)).writes).toEqual({});
  });

  it('a message without an Internet Message-ID creates its own record in each mailbox, as before, without a lookup', async () => {
    const bare = (extra: JsonObject = {}) => {
      const data = message('No id', 'ann@fabrikam.example', [MAILBOX, BOB], extra);
      delete data['internetMessageId'];
      return data;
    };
    world.outlook.userCreate(MAILBOX, 'email', 'inbox', bare());
    world.outlook.userCreate(BOB, 'email', 'inbox', bare());

    expect((await cycleOf(MAILBOX)).writes).toEqual({ 'crm.create': 1, 'outlook.update': 1 });
    expect((await cycleOf(BOB)).writes).toEqual({ 'crm.create': 1, 'outlook.update': 1 });
    expect(world.crm.all('email')).toHaveLength(2);
    expect(world.countingCrm.messageIdQueries).toEqual([]);
    expect((await cycleOf(MAILBOX)).writes).toEqual({});
    expect((await cycleOf(BOB)).writes).toEqual({});
  });

  it('a record outside the user\'s scope (Bcc) is neither linked nor duplicated; nothing is written, now or later', async () => {
    world.outlook.userCreate(MAILBOX, 'email', 'sentitems', message('Q3 pricing', MAILBOX, [BOB]));
    await cycleOf(MAILBOX);
    const [record] = world.crm.all('email');
    // Carol got the message as Bcc: she is no party of the record Alice's tracking made (dataverse-behaviour.md §4.2).
    const atCarol = world.outlook.userCreate(CAROL, 'email', 'inbox', message('Q3 pricing', MAILBOX, [BOB]));

    const carol = await cycleOf(CAROL);
    expect(carol.writes).toEqual({});
    expect(carol.summary.counts['plans.crm-out-of-scope-unmapped']).toBe(1);
    expect(world.crm.all('email').map((r) => [r.id, r.version])).toEqual([[record?.id, record?.version]]);
    expect(await mappingsOf(world, CAROL)).toEqual([]);
    expect(stampOf(world, CAROL, atCarol)).toBeNull();
    // Her later edit of the item looks again and still writes nothing.
    world.outlook.userEdit(CAROL, atCarol, { flag: { flagStatus: 'flagged' } });
    expect((await cycleOf(CAROL)).writes).toEqual({});
    expect((await cycleOf(MAILBOX)).writes).toEqual({});
  });

  it('a recipient\'s untrack with deleteInCrmOnUntrack unlinks only their copy: the sender\'s record and pair stay', async () => {
    const sent = world.outlook.userCreate(MAILBOX, 'email', 'sentitems', message('Q3 pricing', MAILBOX, [BOB]));
    const received = world.outlook.userCreate(BOB, 'email', 'inbox', message('Q3 pricing', MAILBOX, [BOB]));
    await cycleOf(MAILBOX);
    await cycleOf(BOB);
    const [record] = world.crm.all('email');

    world.outlook.userEdit(BOB, received, { categories: [] });
    const bob = await cycleOf(BOB, { email: { deleteInCrmOnUntrack: true } });
    expect(bob.summary.counts['plans.untracked-shared-email-unlink']).toBe(1);
    expect(bob.writes['crm.delete']).toBeUndefined();
    expect(world.crm.peek('email', record?.id ?? '')).not.toBeNull();
    expect((await mappingsOf(world, BOB)).map((m) => m.state)).toEqual(['unlinked']);
    expect((await cycleOf(MAILBOX)).writes).toEqual({});
    expect((await mappingsOf(world, MAILBOX)).map((m) => [m.outlookId, m.state])).toEqual([[sent, 'linked']]);
    expect((await cycleOf(BOB, { email: { deleteInCrmOnUntrack: true } })).writes).toEqual({});
  });

  it('the shared record leaving the recipient\'s scope keeps the pair, without writes and without a loop', async () => {
    world.outlook.userCreate(MAILBOX, 'email', 'sentitems', message('Q3 pricing', MAILBOX, [BOB]));
    const received = world.outlook.userCreate(BOB, 'email', 'inbox', message('Q3 pricing', MAILBOX, [BOB]));
    await cycleOf(MAILBOX);
    await cycleOf(BOB);
    const [record] = world.crm.all('email');
    if (!record) throw new Error('no CRM e-mail');

    // Someone drops Bob from the record's parties: its next feed entry for Bob is `outOfScope`.
    world.crm.userSetParties('email', record.id, record.parties.filter((party) => party.address?.toLowerCase() !== BOB));
    const bob = await cycleOf(BOB);
    expect(bob.writes).toEqual({});
    expect(bob.summary.counts['plans.crm-out-of-scope-tracked-in-outlook']).toBe(1);
    expect((await mappingsOf(world, BOB)).map((m) => [m.crmId, m.state])).toEqual([[record.id, 'linked']]);
    expect(stampOf(world, BOB, received)).toBe(record.id);
    for (let round = 0; round < 2; round += 1) {
      const again = await cycleOf(BOB);
      expect(again.writes).toEqual({});
      expect(again.summary.counts['changes.resolved'] ?? 0).toBe(0);
    }
    expect(world.crm.peek('email', record.id)).not.toBeNull();
  });

  it('a failed Message-ID lookup fails the item with its reason and creates nothing; its retry links', async () => {
    world.outlook.userCreate(MAILBOX, 'email', 'sentitems', message('Q3 pricing', MAILBOX, [BOB]));
    await cycleOf(MAILBOX);
    const received = world.outlook.userCreate(BOB, 'email', 'inbox', message('Q3 pricing', MAILBOX, [BOB]));

    world.crm.failNextMessageIdQuery(new TransientError('503 Service Unavailable'));
    const failed = await world.cycle({ settings: { ...world.settings, mailbox: BOB } });
    // Without the answer a create could be a duplicate: the row waits with its reason, nothing is written.
    expect(failed.failures.map((f) => f.reason)).toEqual(['transient']);
    expect(world.writes.serviceWrites()).toEqual({});
    expect(world.crm.all('email')).toHaveLength(1);

    world.clock.advance(24 * 60 * 60_000);
    expect((await cycleOf(BOB)).writes).toEqual({ 'outlook.update': 1 });
    expect((await mappingsOf(world, BOB)).map((m) => [m.outlookId, m.crmId])).toEqual([[received, world.crm.all('email')[0]?.id]]);
  });

  it('a message sent to oneself: the Inbox copy is not paired with the record the Sent Items copy holds (bijection)', async () => {
    const sent = world.outlook.userCreate(MAILBOX, 'email', 'sentitems', message('Note to self', MAILBOX, [MAILBOX]));
    await cycleOf(MAILBOX);
    const inbox = world.outlook.userCreate(MAILBOX, 'email', 'inbox', message('Note to self', MAILBOX, [MAILBOX]));
    expect((await cycleOf(MAILBOX)).writes).toEqual({ 'crm.create': 1, 'outlook.update': 1 });

    const rows = await mappingsOf(world, MAILBOX);
    expect(rows.map((m) => m.outlookId).sort()).toEqual([sent, inbox].sort());
    expect(new Set(rows.map((m) => m.crmId)).size).toBe(2);
    expect((await cycleOf(MAILBOX)).writes).toEqual({});
  });
});
