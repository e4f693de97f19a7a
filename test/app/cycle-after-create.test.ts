// A pair just created converges in the cycle that created it. Graph makes the mailbox owner the organizer of a new
// event (a client cannot set it); `organizer` is one way, Outlook to CRM (DESIGN.md §7, dataverse-behaviour.md §4.2:
// the CRM organizer party). The plan that created the event could not know it, so the next cycle used to write it to
// the CRM: a write in a cycle after a cycle without user edits (DESIGN.md §5) — the second `crm.update` seen in
// test/functions/end-to-end.test.ts. Now the created side's values go into the baseline and the follow-up update runs
// right after the create.
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
  it('writes the organizer Graph gave the event to the CRM in the same cycle: the next cycles write nothing', async () => {
    const world = new World();
    crmAppointment(world, 'Review', '2026-03-12T14:00:00.000Z');
    const withOrganizer = (): ReturnType<World['deps']> => {
      const deps = world.deps();
      return { ...deps, mailboxSource: organizerSetOnCreate(deps.mailboxSource) };
    };

    const created = await world.cycle({ deps: withOrganizer() });
    // The create, then at once the organizer Graph set, one way to the CRM (its organizer party).
    expect(world.writes.serviceWrites()).toEqual({ 'outlook.create': 1, 'crm.update': 1 });
    expect(world.crm.all('appointment')[0]?.parties).toEqual([expect.objectContaining({ participationTypeMask: 7, address: MAILBOX })]);
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
