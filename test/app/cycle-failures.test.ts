// Failure isolation, the cursor invariant and crash recovery (DESIGN.md §4: "a cursor advances only after the change
// rows it produced are durable", "every create is idempotent"; sync-lessons.md §4.1, §4.14).
import { TransientError } from '../../src/ports/errors';
import { crmContact, crmTask, taggedContact, taggedTask } from './support/fixtures';
import { MAILBOX, World } from './support/world';

describe('runMailboxCycle: a failing item', () => {
  it('keeps its own row with attempts, backoff and reason while the others succeed', async () => {
    const world = new World();
    world.outlook.userCreate(MAILBOX, 'contact', 'contacts', taggedContact('Ada', 'Lovelace', 'ada@example.org'));
    world.outlook.userCreate(MAILBOX, 'contact', 'contacts', taggedContact('Alan', 'Turing', 'alan@example.org'));
    world.outlook.userCreate(MAILBOX, 'contact', 'contacts', taggedContact('Grace', 'Hopper', 'grace@example.org'));
    world.crm.rejectNextWrite('crm-validation-failed');
    const failedAt = world.clock.now().getTime();
    const backoff = { baseMs: 10 * 60_000 };

    const summary = await world.cycle({ backoff });

    expect(summary.outcome).toBe('partial');
    expect(world.crm.all('contact')).toHaveLength(2);
    expect(summary.failures).toEqual([
      { key: expect.stringMatching(/^o:contact:/), reason: 'crm-validation-failed', detail: expect.any(String) },
    ]);
    const failedKey = summary.failures[0]?.key ?? '';
    const row = await world.store.getChange(MAILBOX, failedKey);
    expect(row).toMatchObject({ attempts: 1, reason: 'crm-validation-failed' });
    expect(row?.lastError).toContain('crm-validation-failed');
    // First attempt: half the base delay fixed, half jittered (deterministically).
    const delay = Date.parse(row?.nextAttemptAt ?? '') - failedAt;
    expect(delay).toBeGreaterThanOrEqual(5 * 60_000);
    expect(delay).toBeLessThanOrEqual(10 * 60_000);
    expect(await world.store.countChanges(MAILBOX)).toBe(1);

    // Not due yet: the next cycle leaves it alone.
    await world.cycle({ backoff });
    expect((await world.store.getChange(MAILBOX, failedKey))?.attempts).toBe(1);
    world.clock.advance(10 * 60_000);
    const retry = await world.cycle({ backoff });
    expect(retry.failures).toEqual([]);
    expect(world.crm.all('contact')).toHaveLength(3);
    expect(await world.store.getChange(MAILBOX, failedKey)).toBeNull();
  });

  it('gives a throttled item at least its Retry-After', async () => {
    const world = new World();
    const id = world.outlook.userCreate(MAILBOX, 'task', world.outlook.defaultTodoListId(MAILBOX), taggedTask('Call'));
    world.outlook.injectFault(MAILBOX, 'getItems', new TransientError('throttled', 3 * 60 * 60_000));
    const first = await world.cycle();
    expect(first.failures.map((f) => f.reason)).toEqual(['transient']);
    const row = await world.store.getChange(MAILBOX, `o:task:${id}`);
    const delay = Date.parse(row?.nextAttemptAt ?? '') - (world.clock.now().getTime() - 60_000);
    expect(delay).toBeGreaterThanOrEqual(3 * 60 * 60_000);
  });
});

describe('runMailboxCycle: the cursor invariant', () => {
  it('does not advance a cursor when recording its change rows fails, and picks the item up later', async () => {
    const world = new World();
    await world.cycle();
    const before = await world.store.getCursor(MAILBOX, 'contacts');
    expect(before).not.toBeNull();
    world.outlook.userCreate(MAILBOX, 'contact', 'contacts', taggedContact('Ada', 'Lovelace', 'ada@example.org'));

    const deps = world.deps();
    world.faultyStore.failRecordChanges = 1;
    const failed = await world.cycle({ deps });

    expect(failed.failures).toEqual([expect.objectContaining({ key: 'stream:contacts', reason: 'error' })]);
    expect(await world.store.getCursor(MAILBOX, 'contacts')).toBe(before);
    expect(world.crm.all('contact')).toHaveLength(0);

    const healed = await world.cycle();
    expect(healed.failures).toEqual([]);
    expect(world.crm.all('contact')).toHaveLength(1);
    expect(await world.store.getCursor(MAILBOX, 'contacts')).not.toBe(before);
  });
});

/** Outlook and CRM items of a small mailbox that exercise every create path. */
function seed(world: World): void {
  world.outlook.userCreate(MAILBOX, 'contact', 'contacts', taggedContact('Ada', 'Lovelace', 'ada@example.org'));
  world.outlook.userCreate(MAILBOX, 'task', world.outlook.defaultTodoListId(MAILBOX), taggedTask('Send offer'));
  crmContact(world, 'Grace', 'Hopper', 'grace@example.org');
  crmTask(world, 'Call back');
}

/** Edits on both sides of a synced mailbox: updates, and deletes that propagate (open tasks, DESIGN.md §6). */
function edit(world: World): void {
  const [ada] = world.outlook.snapshot(MAILBOX, 'contact').filter((c) => c.data.givenName === 'Ada');
  const [offer] = world.outlook.snapshot(MAILBOX, 'task').filter((t) => t.data.title === 'Send offer');
  const [grace] = world.crm.all('contact').filter((c) => c.data.firstname === 'Grace');
  const [callBack] = world.crm.all('task').filter((t) => t.data.subject === 'Call back');
  world.outlook.userEdit(MAILBOX, ada?.id ?? '', { jobTitle: 'Mathematician' });
  world.outlook.userDelete(MAILBOX, offer?.id ?? '');
  world.crm.userEdit('contact', grace?.id ?? '', { lastname: 'Hopper-Murray', jobtitle: 'Rear Admiral' });
  world.crm.userDelete('task', callBack?.id ?? '');
}

/** What both sides hold, in a comparable form. */
function picture(world: World): unknown {
  return {
    crmContacts: world.crm.all('contact').map((c) => [c.data.firstname, c.data.lastname, c.data.jobtitle]).sort(),
    crmTasks: world.crm.all('task').map((t) => t.data.subject).sort(),
    outlookContacts: world.outlook.snapshot(MAILBOX, 'contact').map((c) => [c.data.givenName, c.data.surname, c.data.jobTitle ?? null]).sort(),
    outlookTasks: world.outlook.snapshot(MAILBOX, 'task').map((t) => t.data.title).sort(),
  };
}

describe('runMailboxCycle: a crash after any write', () => {
  it('converges on rerun with no duplicate, whichever write the crash followed', async () => {
    const reference = new World();
    seed(reference);
    await reference.cycle();
    const writesOfCleanRun = reference.writes.total;
    expect(writesOfCleanRun).toBeGreaterThan(8);

    for (let crashAfter = 1; crashAfter <= writesOfCleanRun; crashAfter += 1) {
      const world = new World();
      seed(world);
      await world.cycle({ deps: world.deps(crashAfter) });
      expect(world.writes.dead).toBe(true);
      // The dead process never released its lease: the next one waits for it to expire.
      world.clock.advance(11 * 60_000);
      await world.cycle();
      await world.cycle();

      const label = `crash after write ${crashAfter}`;
      expect([label, world.crm.all('contact').length]).toEqual([label, 2]);
      expect([label, world.crm.all('task').length]).toEqual([label, 2]);
      expect([label, world.outlook.snapshot(MAILBOX, 'contact').length]).toEqual([label, 2]);
      expect([label, world.outlook.snapshot(MAILBOX, 'task').length]).toEqual([label, 2]);
      const mappings = await world.mappings();
      expect([label, mappings.filter((m) => m.state === 'linked').length]).toEqual([label, 4]);
      expect([label, await world.store.countChanges(MAILBOX)]).toEqual([label, 0]);
      // Converged: a quiet cycle writes nothing.
      await world.cycle();
      expect([label, world.writes.serviceWrites()]).toEqual([label, {}]);
    }
  });

  it('converges to the clean run\'s result after a crash at any write of a cycle with edits and deletes', async () => {
    const reference = new World();
    seed(reference);
    await reference.cycle();
    await reference.cycle();
    edit(reference);
    await reference.cycle();
    const writesOfEditCycle = reference.writes.total;
    // Service writes (a CRM update, an Outlook update, two deletes) and the state writes around them.
    expect(reference.writes.serviceWrites()).toEqual({ 'crm.update': 1, 'outlook.update': 1, 'crm.delete': 1, 'outlook.delete': 1 });
    await reference.cycle();
    const expected = picture(reference);
    expect(expected).toEqual({
      crmContacts: [['Ada', 'Lovelace', 'Mathematician'], ['Grace', 'Hopper-Murray', 'Rear Admiral']],
      crmTasks: [],
      outlookContacts: [['Ada', 'Lovelace', 'Mathematician'], ['Grace', 'Hopper-Murray', 'Rear Admiral']],
      outlookTasks: [],
    });

    for (let crashAfter = 1; crashAfter <= writesOfEditCycle; crashAfter += 1) {
      const world = new World();
      seed(world);
      await world.cycle();
      await world.cycle();
      edit(world);
      await world.cycle({ deps: world.deps(crashAfter) });
      world.clock.advance(11 * 60_000);
      await world.cycle();
      await world.cycle();
      const label = `crash after write ${crashAfter}`;
      expect([label, picture(world)]).toEqual([label, expected]);
      await world.cycle();
      expect([label, world.writes.serviceWrites()]).toEqual([label, {}]);
    }
  });
});
