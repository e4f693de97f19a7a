// Token eviction on every stream at once (DESIGN.md §4.4: "After a 410 SyncStateNotFound, re-read the stream in full
// under a new epoch and treat mapped items not visited as candidates for deletion, verified by a direct read before
// any delete"; graph-behaviour.md §1.6; dataverse-behaviour.md §1.5 ExpiredVersionStamp, §1.3 a full read carries no
// deletes). Graph: the simulator's control evicts every delta token of the mailbox; Dataverse: every change token
// expires. Items deleted while the tokens were gone are found only by the sweep, and handled per DESIGN.md §6.
import type { ItemKind } from '../../src/core/model';
import { contactProps, crmAppointmentBody, daysFromNow, eventProps, messageProps, startWorld, taskProps, type World } from './harness';

jest.setTimeout(60_000);

const KINDS: readonly ItemKind[] = ['contact', 'appointment', 'task', 'email'];

describe('e2e: token eviction on every stream', () => {
  let world: World;

  beforeAll(async () => {
    // Small delta pages, so a round has several pages and a token can be evicted in the middle of one.
    world = await startWorld({ graphPageSize: 2 });
  });

  afterAll(async () => {
    await world?.stop();
  });

  function census(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const kind of KINDS) {
      counts[`outlook.${kind}`] = world.outlook.list(kind).length;
      counts[`crm.${kind}`] = world.crm.rows(kind).length;
    }
    return counts;
  }

  it('re-reads in full without duplicates, deletes nothing that exists, and handles what was deleted meanwhile', async () => {
    const { outlook, crm } = world;
    const keptContact = await outlook.create('contact', contactProps('Kept', 'Contact', { jobTitle: 'before' }));
    const goneContact = await outlook.create('contact', contactProps('Gone', 'Contact'));
    const event = await outlook.create('appointment', eventProps('Kept meeting', daysFromNow(2)));
    const movedEvent = await outlook.create('appointment', eventProps('Moved far away', daysFromNow(3)));
    const keptTask = await outlook.create('task', taskProps('Kept task'));
    const goneTask = await outlook.create('task', taskProps('Outlook deletes this task'));
    const message = outlook.receive(messageProps('Kept mail', 'frank@fabrikam.test'));
    await outlook.setCategory('email', message, true);
    const crmContact = crm.create('contact', { firstname: 'Crm', lastname: 'Kept', emailaddress1: 'crm.kept@contoso.test' });
    const crmTask = crm.create('task', { subject: 'CRM deletes this task' });
    crm.create('appointment', crmAppointmentBody('CRM meeting', daysFromNow(4, 9)));
    await world.cycle();
    await world.cycle();
    expect((await world.cycle()).writes).toEqual({ graph: 0, crm: 0 });
    const linked = (await world.mappings()).filter((m) => m.state === 'linked');
    expect(linked).toHaveLength(10);
    const before = census();
    // Outlook loses the deleted contact and both deleted tasks; the CRM loses both tasks (the contact stays there).
    const less = (key: string, n: number) => ({ [key]: (before[key] ?? 0) - n });
    const expectedAfterDeletes = { ...before, ...less('outlook.contact', 1), ...less('outlook.task', 2), ...less('crm.task', 2) };
    const crmIdOf = async (kind: ItemKind, id: string) => (await world.mappingByOutlookId(kind, id))?.crmId ?? '';
    const goneTaskCrmId = await crmIdOf('task', goneTask);
    const goneContactCrmId = await crmIdOf('contact', goneContact);
    const movedEventCrmId = await crmIdOf('appointment', movedEvent);
    const crmTaskOutlookId = (await world.mappingByCrmId('task', crmTask))?.outlookId ?? '';

    world.graph.control.evictTokens(world.mailbox);
    world.dataverse.control.expireDeltaTokens();
    // While the tokens are gone: deletes on both sides, an edit, and an event moved out of the calendar window (the
    // full re-read no longer lists it, but it still exists).
    await outlook.remove('task', goneTask);
    await outlook.remove('contact', goneContact);
    crm.remove('task', crmTask);
    await outlook.patch('contact', keptContact, { jobTitle: 'after' });
    const far = daysFromNow(500);
    await outlook.patch('appointment', movedEvent, {
      start: { dateTime: far.toISOString().replace('Z', ''), timeZone: 'UTC' },
      end: { dateTime: new Date(far.getTime() + 3_600_000).toISOString().replace('Z', ''), timeZone: 'UTC' },
    });

    const { summary } = await world.cycle();

    expect(summary.failures).toEqual([]);
    expect(summary.heldDeletes).toBe(0);
    // Every stream was re-read in full: 5 Graph streams (contacts, calendarView, the To Do list, Inbox, Sent Items) and
    // 4 CRM feeds. Sweep candidates: the 3 items deleted meanwhile and the event out of view.
    expect(summary.counts['streams.resync']).toBe(9);
    expect(summary.counts['sweep.candidates']).toBe(4);

    // DESIGN.md §6 after the direct reads: open task deleted in Outlook → deleted in the CRM; open task deleted in the
    // CRM → deleted in Outlook; contact deleted in Outlook → kept in the CRM (deletedLocally).
    expect(crm.read('task', goneTaskCrmId)).toBeNull();
    expect(outlook.read(crmTaskOutlookId)).toBeNull();
    expect(crm.read('contact', goneContactCrmId)).toMatchObject({ lastname: 'Contact', firstname: 'Gone' });
    expect((await world.mappingByCrmId('contact', goneContactCrmId))?.state).toBe('deletedLocally');
    // Nothing that still exists was deleted: the event out of view and its CRM appointment are both there.
    expect(outlook.read(movedEvent)).not.toBeNull();
    expect(crm.read('appointment', movedEventCrmId)).not.toBeNull();
    // No duplicate, nothing else lost: exactly the deletes above, on each side.
    expect(census()).toEqual(expectedAfterDeletes);
    for (const id of [keptContact, event, keptTask, message]) expect(outlook.read(id)).not.toBeNull();
    expect(crm.read('contact', crmContact)).not.toBeNull();
    // The edit made meanwhile arrived.
    expect(crm.read('contact', await crmIdOf('contact', keptContact))?.['jobtitle']).toBe('after');
    // Sweep markers are cleared.
    const cursors = await world.runtime.store.listCursors(world.mailbox);
    expect([...cursors.keys()].filter((key) => key.startsWith('sweep:'))).toEqual([]);
    // The moved event's new time is a user edit the calendarView no longer shows: reconciliation's direct read finds
    // it (DESIGN.md §4.4) and the next cycle carries it to the CRM — an update, never a delete. Then all is quiet.
    const next = await world.cycle();
    expect(next.summary.failures).toEqual([]);
    expect(next.writes).toEqual({ graph: 0, crm: 1 });
    expect(crm.read('appointment', movedEventCrmId)?.['scheduledstart']).toBe(far.toISOString().replace(/\.\d{3}Z$/, 'Z'));
    const quiet = await world.cycle();
    expect(quiet.summary.failures).toEqual([]);
    expect(quiet.writes).toEqual({ graph: 0, crm: 0 });
    expect(census()).toEqual(expectedAfterDeletes);
  });

  it('a token evicted in the middle of a round (410 on a nextLink) restarts the stream in full, with no duplicate', async () => {
    const before = census();
    const names = ['Alpha', 'Bravo', 'Charlie', 'Delta', 'Echo'];
    for (const name of names) await world.outlook.create('contact', contactProps('Midround', name));
    // graph-behaviour.md §1.6: a nextLink can be refused with 410 as well; the next page request after this one fails.
    world.graph.knobs.evictTokensAfterPages = 1;

    const { summary } = await world.cycle();

    expect(summary.failures).toEqual([]);
    expect(world.graph.requestLog.count({ mailbox: world.mailbox, status: 410 })).toBeGreaterThanOrEqual(1);
    expect(summary.counts['streams.resync']).toBeGreaterThanOrEqual(1);
    for (const name of names) {
      expect(world.crm.rows('contact').filter((row) => row['lastname'] === name)).toHaveLength(1);
    }
    // Only the five new pairs: nothing deleted, nothing duplicated.
    expect(census()).toEqual({ ...before, 'outlook.contact': (before['outlook.contact'] ?? 0) + 5, 'crm.contact': (before['crm.contact'] ?? 0) + 5 });
    world.graph.control.resetKnobs();
    await world.cycle();
    expect((await world.cycle()).writes).toEqual({ graph: 0, crm: 0 });
  });
});
