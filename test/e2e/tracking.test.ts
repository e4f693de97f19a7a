// Tracking end to end (DESIGN.md §2, §7) and the quiet cycle (DESIGN.md §5 "No ping-pong", §10), on Azurite and both
// simulators through the real adapters. This file's world holds exactly the items below, so the request counts of
// its quiet cycle are exact.
import { CATEGORY, contactProps, crmAppointmentBody, crmIdsWhere, daysFromNow, eventProps, messageProps, startWorld, taskProps, type World } from './harness';

jest.setTimeout(60_000);

describe('e2e: tracking in Outlook on the web and in the CRM scope', () => {
  let world: World;
  const ids = { contact: '', event: '', task: '', message: '', crmContact: '', crmAppointment: '' };

  beforeAll(async () => {
    world = await startWorld();
  });

  afterAll(async () => {
    await world?.stop();
  });

  it('creates Outlook-tagged items in the CRM and CRM-scope records in Outlook after one cycle', async () => {
    const { outlook, crm } = world;
    // Created with the category (DESIGN.md §2: a category users can set anywhere).
    ids.contact = await outlook.create('contact', contactProps('Megan', 'Bowen', { jobTitle: 'Buyer', department: 'Retail', mobilePhone: '+1 425 555 0100' }));
    ids.event = await outlook.create('appointment', eventProps('Fabrikam kick-off', daysFromNow(3)));
    // Categorized afterwards, straight through Graph.
    ids.task = await outlook.create('task', taskProps('Prepare the quote', {}, false));
    await outlook.setCategory('task', ids.task, true);
    ids.message = outlook.receive(messageProps('Question about the quote', 'megan.bowen@fabrikam.test'));
    await outlook.setCategory('email', ids.message, true);
    // Records in the user's CRM scope (DESIGN.md §2 "From the CRM side"): a contact and an appointment the user owns.
    ids.crmContact = crm.create('contact', { firstname: 'Nestor', lastname: 'Wilke', emailaddress1: 'nestor.wilke@contoso.test', jobtitle: 'Director' });
    ids.crmAppointment = crm.create('appointment', crmAppointmentBody('Contract review', daysFromNow(4, 13)));
    // Out of scope: owned by someone else, never created in this mailbox.
    crm.create('contact', { firstname: 'Out', lastname: 'Of Scope', emailaddress1: 'oos@contoso.test' }, world.otherUserId);

    const { summary } = await world.cycle();

    expect(summary.failures).toEqual([]);
    expect(summary.outcome).toBe('ok');
    // Outlook → CRM, with the mapped fields (DESIGN.md §7).
    const [contactId] = crmIdsWhere(world, 'contact', 'lastname', 'Bowen');
    expect(crmIdsWhere(world, 'contact', 'lastname', 'Bowen')).toHaveLength(1);
    expect(crm.read('contact', contactId ?? '')).toMatchObject({
      firstname: 'Megan',
      lastname: 'Bowen',
      jobtitle: 'Buyer',
      department: 'Retail',
      mobilephone: '+1 425 555 0100',
      emailaddress1: 'megan.bowen@fabrikam.test',
      _ownerid_value: world.crmUserId,
    });
    const appointments = crm.rows('appointment').filter((row) => row.subject === 'Fabrikam kick-off');
    expect(appointments).toHaveLength(1);
    expect(appointments[0]).toMatchObject({ location: 'Room 12', scheduledstart: daysFromNow(3).toISOString().replace(/\.\d{3}Z$/, 'Z') });
    expect(crm.rows('task').filter((row) => row.subject === 'Prepare the quote')).toHaveLength(1);
    const emails = crm.rows('email').filter((row) => row.subject === 'Question about the quote');
    expect(emails).toHaveLength(1);
    expect(String(emails[0]?.messageid)).toMatch(/^<question-about-the-quote-\d+@fabrikam\.test>$/);

    // Every Outlook item tagged by the user now carries the marker and its CRM id (DESIGN.md §2).
    for (const [kind, id] of [['contact', ids.contact], ['appointment', ids.event], ['email', ids.message]] as const) {
      const item = outlook.read(id);
      expect(item?.tracked).toBe(true);
      expect(item?.categories).toContain(CATEGORY);
      expect(item?.crmId).toBe((await world.mappingByOutlookId(kind, id))?.crmId);
    }
    // To Do tasks: the category is the marker and a linkedResource the link (DESIGN.md §2).
    const task = outlook.read(ids.task);
    expect(task?.categories).toContain(CATEGORY);
    expect(task?.crmId).toBe(crmIdsWhere(world, 'task', 'subject', 'Prepare the quote')[0]);

    // CRM → Outlook: with the marker, the category and the CrmId stamp.
    const nestor = outlook.list('contact').filter((item) => item.props['surname'] === 'Wilke');
    expect(nestor).toHaveLength(1);
    expect(nestor[0]).toMatchObject({ tracked: true, crmId: ids.crmContact });
    expect(nestor[0]?.categories).toContain(CATEGORY);
    expect(nestor[0]?.props).toMatchObject({ givenName: 'Nestor', jobTitle: 'Director' });
    const review = outlook.list('appointment').filter((item) => item.props['subject'] === 'Contract review');
    expect(review).toHaveLength(1);
    expect(review[0]).toMatchObject({ tracked: true, crmId: ids.crmAppointment });
    expect(review[0]?.categories).toContain(CATEGORY);
    expect(outlook.list('contact').filter((item) => item.props['surname'] === 'Of Scope')).toEqual([]);

    // The mapping table is a bijection over the six pairs (DESIGN.md §3).
    const mappings = await world.mappings();
    expect(mappings.filter((m) => m.state === 'linked')).toHaveLength(6);
    expect(new Set(mappings.map((m) => m.crmId)).size).toBe(6);
    expect(new Set(mappings.map((m) => m.outlookId)).size).toBe(6);
  });

  // KNOWN PRODUCT BUG (see the report): an appointment created in Outlook from the CRM gets the mailbox owner as its
  // organizer from Graph (graph-behaviour.md §2: the server sets `organizer`), but the mapping's baseline is the planned
  // value (no organizer), so the next cycle sees an Outlook "change" and writes the organizer party to the CRM.
  it('makes zero writes in the cycle that follows the first one (echoes of its own writes, DESIGN.md §5)', async () => {
    const echo = await world.cycle();
    expect(echo.summary.failures).toEqual([]);
    expect(echo.writes).toEqual({ graph: 0, crm: 0 });
  });

  it('makes zero writes in a quiet cycle, with an exact request count per service (DESIGN.md §5, §10)', async () => {
    // Settle whatever the previous test left (it may have written once), then measure a cycle with no edits at all.
    await world.cycle();
    const quiet = await world.cycle();
    expect(quiet.summary.failures).toEqual([]);
    expect(quiet.summary.outcome).toBe('ok');
    expect(quiet.writes).toEqual({ graph: 0, crm: 0 });
    const { durationMs, ...counts } = quiet.summary.counts;
    expect(durationMs).toBeGreaterThanOrEqual(0);
    // Nothing recorded, planned or written: one page per Graph stream and per CRM feed, and the six pairs verified.
    expect(counts).toEqual({ 'delta.pages': 5, 'crmFeed.pages': 4, 'reconcile.verified': 6 });
    // Graph: 1 listStreams (To Do lists) + 1 master-category check + 5 delta rounds of one page each (contacts,
    // calendarView, the default To Do list, Inbox, Sent Items) + 1 $batch verifying the 6 mappings (reconciliation)
    // CRM: 1 systemuser lookup + 1 user settings read (the time zone, docs/architecture.md) + 4 change-feed reads (one
    // per kind) + 4 reads by id for reconciliation (one $batch per kind with mappings: contacts, appointments, tasks,
    // e-mails). DESIGN.md §10: the floor is one round trip per stream.
    expect(quiet.requests).toEqual({ graph: 8, crm: 10 });
    // The worker's own count in its run summary (SyncRuns, DESIGN.md §3) agrees with the services' logs.
    expect(quiet.summary.requests).toEqual(quiet.requests);
  });
});
