// The cycle on the ports with the in-memory adapters: tracking in Outlook, scope in the CRM, the seed's merge example
// and the quiet cycle (DESIGN.md §2, §4, §5).
import { crmContact, crmAppointment, crmTask, taggedContact, taggedEvent, taggedMessage, taggedTask } from './support/fixtures';
import { CATEGORY, MAILBOX, World } from './support/world';

async function hydrated(world: World, kind: 'contact' | 'appointment' | 'task' | 'email', id: string) {
  // A To Do task is read inside its own list (graph-behaviour.md §2.5).
  const container = world.outlook.snapshot(MAILBOX, kind).find((candidate) => candidate.id === id)?.container ?? '';
  const items = await world.outlook.getItems(MAILBOX, [{ kind, id, container }]);
  const item = items.get(id);
  if (!item) throw new Error(`no item ${id}`);
  return item;
}

describe('runMailboxCycle: items tracked in Outlook', () => {
  it('creates a CRM contact for a tagged Outlook contact and stamps the link back', async () => {
    const world = new World();
    const id = world.outlook.userCreate(MAILBOX, 'contact', 'contacts', taggedContact('Ada', 'Lovelace', 'ada@example.org'));
    world.outlook.userCreate(MAILBOX, 'contact', 'contacts', { givenName: 'Not', surname: 'Tracked' });

    const summary = await world.cycle();

    expect(summary.outcome).toBe('ok');
    const contacts = world.crm.all('contact');
    expect(contacts).toHaveLength(1);
    expect(contacts[0]?.data).toMatchObject({ firstname: 'Ada', lastname: 'Lovelace', emailaddress1: 'ada@example.org' });
    const item = await hydrated(world, 'contact', id);
    // DESIGN.md §2: the worker keeps marker and category in step and stamps the CRM id.
    expect(item.crmId).toBe(contacts[0]?.id);
    expect(item.tracking).toEqual({ marker: true, category: true });
    const mappings = await world.mappings('contact');
    expect(mappings).toEqual([expect.objectContaining({ outlookId: id, crmId: contacts[0]?.id, state: 'linked' })]);
    expect(await world.store.countChanges(MAILBOX)).toBe(0);
    expect(summary.counts['crm.create']).toBe(1);
  });

  it('creates CRM records for a tagged event, To Do task and received e-mail in one cycle', async () => {
    const world = new World();
    const eventId = world.outlook.userCreate(MAILBOX, 'appointment', 'calendar', taggedEvent('Kick-off', '2026-03-10T10:00:00.000Z'));
    const taskId = world.outlook.userCreate(MAILBOX, 'task', world.outlook.defaultTodoListId(MAILBOX), taggedTask('Send offer'));
    const mailId = world.outlook.userCreate(MAILBOX, 'email', 'inbox', taggedMessage('Quote request'));
    world.outlook.userCreate(MAILBOX, 'email', 'inbox', taggedMessage('Draft reply', { isDraft: true }));

    const summary = await world.cycle();

    expect(summary.failures).toEqual([]);
    expect(world.crm.all('appointment').map((r) => r.data.subject)).toEqual(['Kick-off']);
    expect(world.crm.all('task').map((r) => r.data.subject)).toEqual(['Send offer']);
    // DESIGN.md §2: drafts are never tracked.
    expect(world.crm.all('email').map((r) => r.data.subject)).toEqual(['Quote request']);
    for (const [kind, id] of [['appointment', eventId], ['task', taskId], ['email', mailId]] as const) {
      const item = await hydrated(world, kind, id);
      expect(item.crmId).not.toBeNull();
    }
    expect((await world.mappings()).map((m) => m.kind).sort()).toEqual(['appointment', 'email', 'task']);
  });
});

describe('runMailboxCycle: records in the CRM scope', () => {
  it('creates in-scope CRM records in Outlook with marker, category and CrmId, per syncFromCrm', async () => {
    const world = new World();
    world.settings = { ...world.settings, kinds: { ...world.settings.kinds, task: { ...world.settings.kinds.task, syncFromCrm: false } } };
    const contactId = crmContact(world, 'Grace', 'Hopper', 'grace@example.org');
    const appointmentId = crmAppointment(world, 'Review', '2026-03-12T14:00:00.000Z');
    crmTask(world, 'Not wanted in Outlook');
    world.crm.userCreate('contact', { attributes: { firstname: 'Someone', lastname: 'Else' }, ownerId: 'another-user' });

    const summary = await world.cycle();

    expect(summary.failures).toEqual([]);
    const contacts = world.outlook.snapshot(MAILBOX, 'contact');
    expect(contacts).toHaveLength(1);
    expect(contacts[0]?.data).toMatchObject({ givenName: 'Grace', surname: 'Hopper', categories: [CATEGORY] });
    const contact = await hydrated(world, 'contact', contacts[0]?.id ?? '');
    expect(contact.crmId).toBe(contactId);
    expect(contact.tracking).toEqual({ marker: true, category: true });
    const events = world.outlook.snapshot(MAILBOX, 'appointment');
    expect(events.map((e) => e.data.subject)).toEqual(['Review']);
    expect((await hydrated(world, 'appointment', events[0]?.id ?? '')).crmId).toBe(appointmentId);
    expect(world.outlook.snapshot(MAILBOX, 'task')).toEqual([]);
    expect(world.outlook.masterCategories(MAILBOX)).toEqual([CATEGORY]);
  });
});

describe('runMailboxCycle: merging and quiet cycles', () => {
  it('holds the seed example: Outlook A1 B1 C1, later CRM A2 B2 → both sides and the baseline hold A2 B2 C1', async () => {
    const world = new World();
    const id = world.outlook.userCreate(MAILBOX, 'contact', 'contacts', taggedContact('A', 'B', 'c@example.org', { jobTitle: 'C' }));
    await world.cycle();
    await world.cycle();
    const crmId = world.crm.all('contact')[0]?.id ?? '';

    world.outlook.userEdit(MAILBOX, id, { givenName: 'A1', surname: 'B1', jobTitle: 'C1' });
    world.clock.advance(5 * 60_000);
    world.crm.userEdit('contact', crmId, { firstname: 'A2', lastname: 'B2' });
    world.clock.advance(60_000);
    const summary = await world.cycle();

    expect(summary.failures).toEqual([]);
    expect(world.outlookItem(id)).toMatchObject({ givenName: 'A2', surname: 'B2', jobTitle: 'C1' });
    expect(world.crm.peek('contact', crmId)?.data).toMatchObject({ firstname: 'A2', lastname: 'B2', jobtitle: 'C1' });
    const [mapping] = await world.mappings('contact');
    expect(mapping?.baseline).toMatchObject({ givenName: 'A2', surname: 'B2', jobTitle: 'C1' });
    // Two fields changed on both sides: two true conflicts, won by the later CRM change (DESIGN.md §5).
    expect(summary.counts.conflicts).toBe(2);
  });

  it('makes zero writes on either side in a cycle that follows a cycle with no user edits', async () => {
    const world = new World();
    world.outlook.userCreate(MAILBOX, 'contact', 'contacts', taggedContact('Ada', 'Lovelace', 'ada@example.org'));
    world.outlook.userCreate(MAILBOX, 'appointment', 'calendar', taggedEvent('Kick-off', '2026-03-10T10:00:00.000Z'));
    world.outlook.userCreate(MAILBOX, 'task', world.outlook.defaultTodoListId(MAILBOX), taggedTask('Send offer'));
    world.outlook.userCreate(MAILBOX, 'email', 'inbox', taggedMessage('Quote request'));
    crmContact(world, 'Grace', 'Hopper', 'grace@example.org');
    crmAppointment(world, 'Review', '2026-03-12T14:00:00.000Z');
    crmTask(world, 'Call back');

    await world.cycle();
    const first = world.writes.serviceWrites();
    expect(first).toEqual({ 'crm.create': 4, 'outlook.create': 3, 'outlook.update': 4 });

    const second = await world.cycle();
    // Our own writes come back through both change feeds as changes; the hashes show there is nothing to do.
    expect(second.counts['changes.due']).toBeGreaterThan(0);
    expect(world.writes.serviceWrites()).toEqual({});
    const third = await world.cycle();
    expect(world.writes.serviceWrites()).toEqual({});
    expect(third.counts['changes.due'] ?? 0).toBe(0);
    expect(third.outcome).toBe('ok');
    expect(world.crm.all('contact')).toHaveLength(2);
    expect(world.outlook.snapshot(MAILBOX, 'contact')).toHaveLength(2);
    // DESIGN.md §10, the floor of a quiet cycle: one category check, one delta round trip per stream (contacts,
    // calendar, one To Do list, Inbox, Sent Items), one batched read for reconciliation; one feed page per CRM kind
    // and one read per kind reconciled.
    expect(third.requests).toEqual({ graph: 1 + 5 + 1, crm: 4 + 4 });
  });
});

describe('runMailboxCycle: untrack and re-track', () => {
  it('unlinks on untrack without deleting the CRM record, and re-links on re-track without a duplicate', async () => {
    const world = new World();
    const id = world.outlook.userCreate(MAILBOX, 'contact', 'contacts', taggedContact('Ada', 'Lovelace', 'ada@example.org'));
    await world.cycle();
    await world.cycle();

    world.outlook.userEdit(MAILBOX, id, { categories: [] });
    await world.cycle();
    expect(world.crm.all('contact')).toHaveLength(1);
    expect(await world.mappings('contact')).toEqual([expect.objectContaining({ state: 'unlinked' })]);
    expect((await hydrated(world, 'contact', id)).tracking).toEqual({ marker: false, category: false });

    world.outlook.userEdit(MAILBOX, id, { categories: [CATEGORY], jobTitle: 'Countess' });
    await world.cycle();
    expect(world.crm.all('contact')).toHaveLength(1);
    expect(world.crm.all('contact')[0]?.data.jobtitle).toBe('Countess');
    expect(await world.mappings('contact')).toEqual([expect.objectContaining({ state: 'linked' })]);
  });
});
