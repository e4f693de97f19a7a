// Issue 6, match before create for e-mail, end to end on Azurite and both simulators (DESIGN.md §4: match by e-mail
// `messageid`; dataverse-behaviour.md §4.6: the Internet Message-ID de-duplicates tracked mail; sync-lessons.md §4
// item 1). A second enrolled mailbox (Bob) is added to the harness's world: the sender (Adele) and the recipient both
// track one message, and the CRM holds one e-mail, linked from both. This file's world holds exactly these items, so
// its request counts are exact.
import { trustedFetch } from '../../src/adapters/http/trusted-fetch';
import { runMailboxCycle } from '../../src/app/cycle';
import type { JsonObject, MailboxSettings } from '../../src/core/model';
import type { RunSummary } from '../../src/ports/state-store';
import { CATEGORY, MAILBOX, OutlookWeb, startWorld, type World } from './harness';

jest.setTimeout(60_000);

const BOB = 'bob@contoso.test';
const BOB_AAD_OBJECT_ID = 'a1b2c3d4-0000-4000-8000-0000000000e3';
const MESSAGE_ID = '<q3-pricing.4711@contoso.test>';
const WRITE_METHODS = new Set(['POST', 'PATCH', 'PUT', 'DELETE']);

interface Measured {
  summary: RunSummary;
  writes: { graph: number; crm: number };
  requests: { graph: number; crm: number };
  /** Graph writes as `METHOD kind` (e.g. `PATCH messages.update`), in order. */
  graphWriteKinds: string[];
  /** CRM queries by Message-ID (`emails?$filter=messageid eq …`). */
  messageIdQueries: number;
}

function pricingMessage(extra: JsonObject = {}): JsonObject {
  return {
    subject: 'Q3 pricing',
    body: { contentType: 'text', content: 'The Q3 price list is attached.' },
    internetMessageId: MESSAGE_ID,
    from: { emailAddress: { address: MAILBOX, name: 'Adele Vance' } },
    toRecipients: [{ emailAddress: { address: BOB, name: 'Bob Franklin' } }],
    categories: [CATEGORY],
    ...extra,
  };
}

describe('e2e: one CRM e-mail for a message tracked by its sender and its recipient', () => {
  let world: World;
  let bob: OutlookWeb;
  let bobSettings: MailboxSettings;
  const ids = { sent: '', received: '', record: '' };

  beforeAll(async () => {
    world = await startWorld();
    world.graph.control.createUser(BOB, 'Bob Franklin');
    world.dataverse.control.createUser({ fullname: 'Bob Franklin', internalemailaddress: BOB, azureactivedirectoryobjectid: BOB_AAD_OBJECT_ID });
    bob = new OutlookWeb(world.graph, trustedFetch(world.graph.caCert), BOB);
    bobSettings = { ...world.settings, mailbox: BOB };
  });

  afterAll(async () => {
    await world?.stop();
  });

  /** One cycle of a mailbox on the runtime's real ports, measured on the simulators' own request logs. */
  async function cycleOf(mailbox: string): Promise<Measured> {
    const graphLog = () => world.graph.requestLog.list({ viaBatch: false }).filter((e) => e.mailbox === mailbox.toLowerCase() || e.kind === '$batch');
    const graphWrites = () => world.graph.requestLog.list().filter((e) => e.mailbox === mailbox.toLowerCase() && WRITE_METHODS.has(e.method) && e.kind !== '$batch');
    const crmLog = () => world.dataverse.requestLog.entries.filter((e) => e.kind !== 'identity');
    const before = { gr: graphLog().length, gw: graphWrites().length, cr: crmLog().filter((e) => !e.viaBatch).length, cl: crmLog().length };
    const settings = mailbox === BOB ? bobSettings : world.settings;
    const summary = await runMailboxCycle(world.runtime.deps, settings, world.runtime.cycleOptions);
    const crmSince = crmLog().slice(before.cl);
    return {
      summary,
      graphWriteKinds: graphWrites().slice(before.gw).map((e) => `${e.method} ${e.kind}`),
      writes: { graph: graphWrites().length - before.gw, crm: crmSince.filter((e) => WRITE_METHODS.has(e.method) && e.kind !== 'batch').length },
      requests: { graph: graphLog().length - before.gr, crm: crmSince.filter((e) => !e.viaBatch).length },
      // The only query of the e-mail table that is not its change feed (the simulator logs paths without the query).
      messageIdQueries: crmSince.filter((e) => e.method === 'GET' && e.kind === 'retrieveMultiple' && e.path === 'emails').length,
    };
  }

  function emailsWithMessageId(): Record<string, unknown>[] {
    return world.crm.rows('email').filter((row) => row['messageid'] === MESSAGE_ID);
  }

  it('the sender tracks the message from Sent Items: one CRM e-mail, owned by the sender', async () => {
    ids.sent = world.graph.control.seedMessage(MAILBOX, { folder: 'sentitems', props: pricingMessage() }).immutableId;

    const adele = await cycleOf(MAILBOX);

    expect(adele.summary.failures).toEqual([]);
    // Nothing to match yet: one query, then the create (POST and its state PATCH in one change set) and the stamp.
    expect(adele.messageIdQueries).toBe(1);
    expect(adele.summary.counts['crm.create']).toBe(1);
    const rows = emailsWithMessageId();
    expect(rows).toHaveLength(1);
    ids.record = String(rows[0]?.['activityid']);
    expect(rows[0]?.['_ownerid_value']).toBe(world.crmUserId);
    expect(world.outlook.read(ids.sent)?.crmId).toBe(ids.record);
  });

  it('the recipient tracks their copy: it is linked to that record, with no CRM write and one write to the message', async () => {
    ids.received = bob.receive(pricingMessage());

    const linked = await cycleOf(BOB);

    expect(linked.summary.failures).toEqual([]);
    expect(linked.summary.counts['matched.messageId']).toBe(1);
    expect(linked.summary.counts['plans.link-existing']).toBe(1);
    expect(linked.summary.counts['crm.create']).toBeUndefined();
    // One query found the record. Graph: the tracking category in Bob's master list (his first cycle, DESIGN.md §2) and
    // the tracking upkeep (marker, category, CrmId) on his copy. CRM: nothing.
    expect(linked.messageIdQueries).toBe(1);
    expect(linked.writes).toEqual({ graph: 2, crm: 0 });
    expect(linked.graphWriteKinds).toEqual(['POST masterCategories.create', 'PATCH messages.update']);
    // Exact requests of Bob's first cycle. CRM (9): 1 systemuser lookup + 1 user settings read (the time zone) + 4 change feeds + 1 read of the parties of
    // the feed's e-mail (dataverse-behaviour.md §1.2: no $expand with change tracking) + 1 Message-ID query + 1
    // reconciliation read. Graph (19): 1 To Do lists + 2 master categories (read, create) + 5 delta rounds + 6
    // first-cycle listings (contact folders; marker sweeps, graph-behaviour.md §3.4) + 1 $batch hydrating the message
    // + 3 for its tracking upkeep (read, PATCH, read-back) + 1 $batch reconciliation. Without a match, the query is
    // followed by the create (one change set) and its read-back, as in Adele's cycle.
    expect(linked.requests).toEqual({ graph: 19, crm: 9 });
    expect(linked.summary.requests).toEqual(linked.requests);
    expect(emailsWithMessageId().map((row) => row['activityid'])).toEqual([ids.record]);
    expect(world.crm.rows('email')).toHaveLength(1);

    const bobsCopy = bob.read(ids.received);
    expect(bobsCopy?.crmId).toBe(ids.record);
    expect(bobsCopy?.tracked).toBe(true);
    const mapping = await world.runtime.store.findMappingByOutlookId(BOB, 'email', ids.received);
    expect(mapping).toMatchObject({ crmId: ids.record, state: 'linked', trackedVia: 'both' });
    expect((await world.mappingByOutlookId('email', ids.sent))?.crmId).toBe(ids.record);
  });

  it('the cycles after that write nothing in either mailbox, with exact request counts', async () => {
    // Echo cycles: each mailbox reads back what it wrote (the stamp on Bob's copy, Adele's create in the CRM feed).
    for (const mailbox of [MAILBOX, BOB]) {
      const echo = await cycleOf(mailbox);
      expect(echo.summary.failures).toEqual([]);
      expect(echo.writes).toEqual({ graph: 0, crm: 0 });
    }
    for (const mailbox of [MAILBOX, BOB]) {
      const quiet = await cycleOf(mailbox);
      expect(quiet.summary.failures).toEqual([]);
      expect(quiet.writes).toEqual({ graph: 0, crm: 0 });
      // No pair is new: no Message-ID lookup at all.
      expect(quiet.messageIdQueries).toBe(0);
      // Graph: 1 listStreams + 1 master-category check + 5 delta rounds (contacts, calendarView, To Do, Inbox, Sent
      // Items) + 1 $batch verifying the one mapping. CRM: 1 systemuser lookup + 1 user settings read (the time zone) +
      // 4 change feeds + 1 read by id of the e-mail (reconciliation).
      expect(quiet.requests).toEqual({ graph: 8, crm: 7 });
      expect(quiet.summary.requests).toEqual(quiet.requests);
    }
    expect(world.crm.rows('email')).toHaveLength(1);
  });

  it('a tracked message without an Internet Message-ID creates its own record in each mailbox, without a lookup', async () => {
    // graph-openapi: message.internetMessageId is nullable; such a message has no key to match on, so each mailbox's
    // tracking makes its own record, as before the match existed.
    const bare = pricingMessage({ subject: 'No Message-ID', internetMessageId: null });
    world.graph.control.seedMessage(MAILBOX, { folder: 'inbox', props: bare });
    bob.receive(bare);

    for (const mailbox of [MAILBOX, BOB]) {
      const created = await cycleOf(mailbox);
      expect(created.summary.failures).toEqual([]);
      expect(created.messageIdQueries).toBe(0);
      expect(created.summary.counts['crm.create']).toBe(1);
    }
    const rows = world.crm.rows('email').filter((row) => row['subject'] === 'No Message-ID');
    expect(rows).toHaveLength(2);
    expect(new Set(rows.map((row) => row['_ownerid_value'])).size).toBe(2);
    expect(emailsWithMessageId()).toHaveLength(1);
  });
});
