// A CRM change-feed entry that fails validation fails alone, and is not lost: the feed's cursor moves past it, so it
// becomes a change row that hydration reads by id (DESIGN.md §4.2: "a cursor advances only after the change rows it
// produced are durable"; sync-lessons.md §4.14: a failing item backs off on its own row).
import { crmChangeKey, mappedChangeKey } from '../../src/app/collect';
import { crmContact } from './support/fixtures';
import { MAILBOX, World } from './support/world';

describe('a CRM feed entry that fails validation', () => {
  it('of an unmapped record is recorded as a CRM change and created in Outlook from a direct read', async () => {
    const world = new World();
    const crmId = crmContact(world, 'Grace', 'Hopper', 'grace@example.org');
    world.malformedCrm.inFeed.add(crmId);

    const summary = await world.cycle();

    expect(summary.failures).toEqual([{ key: `stream:crm:contact:${crmId}`, reason: 'crm-invalid-record', detail: expect.any(String) }]);
    // The read by id validates: the record is created in Outlook in the same cycle.
    expect(world.writes.serviceWrites()).toEqual({ 'outlook.create': 1 });
    expect(world.outlook.snapshot(MAILBOX, 'contact').map((c) => c.data.surname)).toEqual(['Hopper']);
    expect(await world.store.getChange(MAILBOX, crmChangeKey('contact', crmId))).toBeNull();
  });

  it('of a mapped record is recorded on the pair\'s row, fails there while the record stays invalid, and lands later', async () => {
    const world = new World();
    const crmId = crmContact(world, 'Grace', 'Hopper', 'grace@example.org');
    await world.cycle();
    await world.cycle();
    const [mapping] = await world.mappings('contact');
    world.crm.userEdit('contact', crmId, { jobtitle: 'Rear Admiral' });
    world.malformedCrm.inFeed.add(crmId);
    world.malformedCrm.onRead.add(crmId);

    const failing = await world.cycle({ backoff: { baseMs: 10 * 60_000 } });

    const key = mappedChangeKey(mapping?.mapId ?? '');
    expect(failing.failures.map((f) => [f.key, f.reason])).toEqual([
      [`stream:crm:contact:${crmId}`, 'crm-invalid-record'],
      [key, 'crm-invalid-record'],
      // Reconciliation skips the pair it cannot read (and leaves it unverified).
      [`reconcile:${key}`, 'crm-invalid-record'],
    ]);
    expect(await world.store.getChange(MAILBOX, key)).toMatchObject({ crmChange: 'upsert', attempts: 1, reason: 'crm-invalid-record' });

    // The record is repaired; the feed has nothing new to say about it, the row alone carries the change.
    world.malformedCrm.inFeed.clear();
    world.malformedCrm.onRead.clear();
    world.clock.advance(10 * 60_000);
    const healed = await world.cycle();
    expect(healed.failures).toEqual([]);
    expect(world.writes.serviceWrites()).toEqual({ 'outlook.update': 1 });
    expect(world.outlook.snapshot(MAILBOX, 'contact')[0]?.data.jobTitle).toBe('Rear Admiral');
    expect(await world.store.countChanges(MAILBOX)).toBe(0);
  });
});
