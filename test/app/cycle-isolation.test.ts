// One bad CRM record fails alone (DESIGN.md §4.3 "a failing item … never blocks the others"; sync-lessons.md §4.14).
// The Dataverse connector rejects a whole `read` (ItemRejectedError) when one record of it does not validate; the app
// then reads those ids one by one, on that failure path only, so only the bad record fails — in hydration and in
// reconciliation, which verifies the others and leaves only the bad one unverified.
import { mappedChangeKey } from '../../src/app/collect';
import { crmContact, taggedTask } from './support/fixtures';
import { MAILBOX, World } from './support/world';

async function threeLinkedContacts(world: World): Promise<string[]> {
  const ids = [
    crmContact(world, 'Ada', 'Lovelace', 'ada@example.org'),
    crmContact(world, 'Alan', 'Turing', 'alan@example.org'),
    crmContact(world, 'Grace', 'Hopper', 'grace@example.org'),
  ];
  await world.cycle();
  await world.cycle();
  expect(world.outlook.snapshot(MAILBOX, 'contact')).toHaveLength(3);
  return ids;
}

describe('a malformed CRM record', () => {
  it('fails only its own row when hydrated in a batch with others', async () => {
    const world = new World();
    const [ada, alan, grace] = await threeLinkedContacts(world);
    for (const item of world.outlook.snapshot(MAILBOX, 'contact')) world.outlook.userEdit(MAILBOX, item.id, { jobTitle: 'Engineer' });
    world.malformedCrm.onRead.add(alan ?? '');
    const bad = (await world.mappings('contact')).find((m) => m.crmId === alan);

    const summary = await world.cycle({ reconcileLimit: 0 });

    expect(summary.failures).toEqual([{ key: mappedChangeKey(bad?.mapId ?? ''), reason: 'crm-invalid-record', detail: expect.any(String) }]);
    expect(world.writes.serviceWrites()).toEqual({ 'crm.update': 2 });
    expect([ada, grace].map((id) => world.crm.peek('contact', id ?? '')?.data.jobtitle)).toEqual(['Engineer', 'Engineer']);
    // One batch read, then one read per id of that batch (only on this failure path).
    expect(world.countingCrm.readCalls.map((ids) => ids.length)).toEqual([3, 1, 1, 1]);
    expect(await world.store.getChange(MAILBOX, mappedChangeKey(bad?.mapId ?? ''))).toMatchObject({ attempts: 1, reason: 'crm-invalid-record' });
  });

  it('does not stop reconciliation: the others are verified, the bad one is skipped', async () => {
    const world = new World();
    const [, alan] = await threeLinkedContacts(world);
    const before = new Map((await world.mappings('contact')).map((m) => [m.mapId, m.verifiedAt]));
    world.malformedCrm.onRead.add(alan ?? '');
    const checkedAt = world.clock.iso();

    const summary = await world.cycle({ reconcileLimit: 10 });

    const after = await world.mappings('contact');
    const bad = after.find((m) => m.crmId === alan);
    expect(summary.failures).toEqual([{ key: `reconcile:${mappedChangeKey(bad?.mapId ?? '')}`, reason: 'crm-invalid-record', detail: expect.any(String) }]);
    expect(summary.counts['reconcile.verified']).toBe(2);
    expect(after.filter((m) => m.crmId !== alan).map((m) => m.verifiedAt)).toEqual([checkedAt, checkedAt]);
    expect(bad?.verifiedAt).toBe(before.get(bad?.mapId ?? ''));
  });
});

describe('a kind that is disabled', () => {
  it('keeps its pending change rows (the cursors are past them) and applies them once enabled again', async () => {
    const world = new World();
    world.outlook.userCreate(MAILBOX, 'task', world.outlook.defaultTodoListId(MAILBOX), taggedTask('Send offer'));
    // Collected while enabled, then the cycle dies before applying: the row is durable, the cursor past it.
    await world.cycle({ maxChangesPerRun: 0 });
    expect(await world.store.countChanges(MAILBOX)).toBe(1);
    const enabled = world.settings.kinds;

    world.settings = { ...world.settings, kinds: { ...enabled, task: { ...enabled.task, enabled: false } } };
    const disabled = await world.cycle();
    expect(disabled.counts['changes.skippedKindDisabled']).toBe(1);
    expect(await world.store.countChanges(MAILBOX)).toBe(1);
    expect(world.crm.all('task')).toHaveLength(0);

    world.settings = { ...world.settings, kinds: enabled };
    await world.cycle();
    expect(world.crm.all('task').map((t) => t.data.subject)).toEqual(['Send offer']);
    expect(await world.store.countChanges(MAILBOX)).toBe(0);
  });
});
