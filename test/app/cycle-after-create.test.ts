// A pair just created converges in the cycle that created it. Graph makes the mailbox owner the organizer of a new
// event (a client cannot set it); `organizer` is one way, Outlook to CRM (DESIGN.md §7, dataverse-behaviour.md §4.2:
// the CRM organizer party). The plan that created the event could not know it, so the next cycle used to write it to
// the CRM: a write in a cycle after a cycle without user edits (DESIGN.md §5) — the second `crm.update` seen in
// test/functions/end-to-end.test.ts. Now the created side's values go into the baseline (core baselineAfterCreate plus
// the one-way fields read on the created side), the planner knows the mailbox owner (PlanContext.ownerAddress), and
// whatever update the created side still calls for runs right after the create (apply.ts followUpCreate).
import type { OutlookItem, OutlookWrite, ItemKind } from '../../src/core/model';
import type { MailboxSource } from '../../src/ports/mailbox-source';
import { crmAppointment } from './support/fixtures';
import { MAILBOX, World } from './support/world';

/** Graph's create: the new event's organizer is the mailbox owner, whatever the request said. */
function organizerSetOnCreate(inner: MailboxSource): MailboxSource {
  return Object.assign(Object.create(inner) as MailboxSource, {
    createItem: (mailbox: string, kind: ItemKind, container: string, write: OutlookWrite, stamp: { crmId: string; categoryName: string }): Promise<OutlookItem> =>
      inner.createItem(
        mailbox,
        kind,
        container,
        kind === 'appointment' ? { data: { ...write.data, organizer: { emailAddress: { address: mailbox, name: 'Alice' } } } } : write,
        stamp,
      ),
  });
}

describe('a CRM appointment created in Outlook', () => {
  it('converges in the cycle that created it: the organizer Graph set is in the baseline, the next cycles write nothing', async () => {
    const world = new World();
    crmAppointment(world, 'Review', '2026-03-12T14:00:00.000Z');
    const withOrganizer = (): ReturnType<World['deps']> => {
      const deps = world.deps();
      return { ...deps, mailboxSource: organizerSetOnCreate(deps.mailboxSource) };
    };

    const created = await world.cycle({ deps: withOrganizer() });
    // Whether the organizer the event got is written to the CRM organizer party is the planner's call (dataverse-
    // behaviour.md §6: SSS leaves it until it is changed in Outlook); if it is, it is written in this cycle, once.
    expect(world.writes.serviceWrites()['outlook.create']).toBe(1);
    expect(world.writes.serviceWrites()['crm.update'] ?? 0).toBeLessThanOrEqual(1);
    expect(world.outlook.snapshot(MAILBOX, 'appointment')[0]?.data.organizer).toEqual({ emailAddress: { address: MAILBOX, name: 'Alice' } });
    expect((await world.mappings('appointment'))[0]?.baseline.organizer).toBe(MAILBOX);
    // Reconciliation in the same cycle finds nothing to do either.
    expect(created.counts['reconcile.changes'] ?? 0).toBe(0);

    await world.cycle({ deps: withOrganizer() });
    expect(world.writes.serviceWrites()).toEqual({});
    await world.cycle({ deps: withOrganizer() });
    expect(world.writes.serviceWrites()).toEqual({});
  });
});

describe('reconciliation', () => {
  it('compares as the merge does: a case-only change of an e-mail address is no finding (core compare.ts)', async () => {
    const world = new World();
    world.outlook.userCreate(MAILBOX, 'contact', 'contacts', {
      givenName: 'Ada',
      surname: 'Lovelace',
      emailAddresses: [{ address: 'ada@example.org', name: 'Ada Lovelace' }],
      categories: ['Tracked to CRM'],
    });
    await world.cycle();
    await world.cycle();
    const [item] = world.outlook.snapshot(MAILBOX, 'contact');
    world.outlook.userEdit(MAILBOX, item?.id ?? '', { emailAddresses: [{ address: 'ADA@Example.org', name: 'Ada Lovelace' }] });

    const edited = await world.cycle({ reconcileLimit: 10 });
    const next = await world.cycle({ reconcileLimit: 10 });

    expect(world.writes.serviceWrites()).toEqual({});
    expect([edited.counts['reconcile.changes'] ?? 0, next.counts['reconcile.changes'] ?? 0]).toEqual([0, 0]);
    expect(next.counts['changes.due'] ?? 0).toBe(0);
  });
});

describe('a field whose value cannot be read', () => {
  it('is logged with its reason when the plan leaves it out (core unreadable.ts)', async () => {
    const world = new World();
    world.outlook.userCreate(MAILBOX, 'appointment', 'calendar', {
      subject: 'Kick-off',
      start: { dateTime: '2026-03-10T10:00:00.0000000', timeZone: 'Nowhere Standard Time' },
      end: { dateTime: '2026-03-10T11:00:00.0000000', timeZone: 'Nowhere Standard Time' },
      isAllDay: false,
      categories: ['Tracked to CRM'],
    });
    await world.cycle();
    const [item] = world.outlook.snapshot(MAILBOX, 'appointment');
    world.outlook.userEdit(MAILBOX, item?.id ?? '', { subject: 'Kick-off (moved)' });

    const summary = await world.cycle();

    const unreadable = Object.entries(summary.counts).filter(([name]) => name.startsWith('fields.unreadable.'));
    expect(unreadable.length).toBeGreaterThan(0);
    expect(world.logger.lines.filter((line) => line.message === 'field left out: its value could not be read').length).toBeGreaterThan(0);
  });
});
