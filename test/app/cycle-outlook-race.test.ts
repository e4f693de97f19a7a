// A user's Outlook edit that lands between our hydration and our write (DESIGN.md §4.3, §5). Field writes carry the
// hydrated changeKey as If-Match (graph-behaviour.md §8), so the write is refused (ConcurrencyError), the row is re-read
// and re-planned, and the user's edit survives on both sides. Outlook's honouring of If-Match is UNCONFIRMED: without
// it the window stays open, and the cycle must still converge.
import { crmContact } from './support/fixtures';
import { CATEGORY, MAILBOX, World } from './support/world';

/** A contact created in the CRM and synced to Outlook (linked, baseline jobTitle 'Analyst'). */
async function linkedContact(world: World): Promise<{ outlookId: string; crmId: string }> {
  const crmId = crmContact(world, 'Ada', 'Lovelace', 'ada@example.org');
  world.crm.userEdit('contact', crmId, { jobtitle: 'Analyst' });
  await world.cycle();
  await world.cycle();
  const [item] = world.outlook.snapshot(MAILBOX, 'contact');
  expect(item?.data).toMatchObject({ jobTitle: 'Analyst', categories: [CATEGORY] });
  return { outlookId: item?.id ?? '', crmId };
}

describe('a user edit racing our Outlook write', () => {
  it('is never overwritten: the conditional write is refused, re-planned, and the edit lands on both sides', async () => {
    const world = new World();
    const { outlookId, crmId } = await linkedContact(world);
    world.crm.userEdit('contact', crmId, { jobtitle: 'Engineer' });
    // Beyond the merge's clock-skew tolerance (two minutes, sync-lessons.md §1): the user's edit is clearly the later.
    world.clock.advance(5 * 60_000);
    const deps = world.deps();
    const hydratedVersion = String(world.outlookItem(outlookId).changeKey);
    // The user's edit lands after our read, right before our write reaches the mailbox.
    world.mailboxSource.beforeNextUpdate = (ref) => world.outlook.userEdit(MAILBOX, ref.id, { jobTitle: 'Architect' });

    const summary = await world.cycle({ deps });

    const [refused, ...rest] = world.mailboxSource.updateCalls;
    expect(refused).toMatchObject({ fields: true, ifMatch: hydratedVersion });
    expect(summary.counts['retries.concurrency']).toBe(1);
    expect(summary.failures).toEqual([]);
    // Re-planned on fresh reads: both sides changed jobTitle, the user's edit is the more recent (DESIGN.md §5).
    expect(summary.counts['conflicts']).toBe(1);
    expect(rest).toEqual([]);
    expect(world.outlookItem(outlookId).jobTitle).toBe('Architect');
    expect(world.crm.all('contact').map((c) => c.data.jobtitle)).toEqual(['Architect']);
    expect((await world.mappings('contact'))[0]?.baseline.jobTitle).toBe('Architect');

    await world.cycle();
    await world.cycle();
    expect(world.writes.serviceWrites()).toEqual({});
  });

  it('tracking-only writes (the CrmId stamp) are not conditional; field writes always are', async () => {
    const world = new World();
    const { outlookId, crmId } = await linkedContact(world);
    world.crm.userEdit('contact', crmId, { jobtitle: 'Engineer' });
    const version = String(world.outlookItem(outlookId).changeKey);
    await world.cycle();
    expect(world.mailboxSource.updateCalls).toEqual([{ ref: { kind: 'contact', id: outlookId, container: 'contacts' }, fields: true, ifMatch: version }]);
    expect(world.outlookItem(outlookId).jobTitle).toBe('Engineer');

    const tagged = world.outlook.userCreate(MAILBOX, 'contact', 'contacts', { givenName: 'Grace', surname: 'Hopper', categories: [CATEGORY] });
    await world.cycle();
    // The CRM record was created, then its id stamped on the item: tracking upkeep only, which the adapter guards itself.
    expect(world.mailboxSource.updateCalls).toEqual([{ ref: { kind: 'contact', id: tagged, container: 'contacts' }, fields: false, ifMatch: null }]);
  });

  it('without If-Match honoured (UNCONFIRMED, §8) the race is lost to our write, but both sides still converge', async () => {
    const world = new World();
    world.outlook.honourIfMatch = false;
    const { outlookId, crmId } = await linkedContact(world);
    world.crm.userEdit('contact', crmId, { jobtitle: 'Engineer' });
    world.clock.advance(1_000);
    const deps = world.deps();
    world.mailboxSource.beforeNextUpdate = (ref) => world.outlook.userEdit(MAILBOX, ref.id, { jobTitle: 'Architect', department: 'R&D' });

    const summary = await world.cycle({ deps });

    expect(summary.counts['retries.concurrency'] ?? 0).toBe(0);
    // Our write of jobTitle replaced the user's; the user's other field, untouched by our write, survives and travels.
    await world.cycle();
    expect(world.outlookItem(outlookId)).toMatchObject({ jobTitle: 'Engineer', department: 'R&D' });
    expect(world.crm.all('contact').map((c) => [c.data.jobtitle, c.data.department])).toEqual([['Engineer', 'R&D']]);
    await world.cycle();
    expect(world.writes.serviceWrites()).toEqual({});
  });
});
