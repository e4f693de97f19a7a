// Every row of the scope and deletion table (DESIGN.md §6, src/core/rules.ts DELETION_RULES) end to end: the user acts in
// Outlook on the web or in the CRM, one cycle runs on Azurite and both simulators, and direct reads of both sides show
// the effect. One world for the file; every test works on items of its own.
import type { ItemKind, JsonObject } from '../../src/core/model';
import {
  CATEGORY,
  contactProps,
  crmAppointmentBody,
  daysFromNow,
  eventProps,
  messageProps,
  startWorld,
  taskProps,
  type World,
} from './harness';

jest.setTimeout(60_000);

describe('e2e: the deletion table (DESIGN.md §6)', () => {
  let world: World;

  beforeAll(async () => {
    world = await startWorld();
  });

  afterAll(async () => {
    await world?.stop();
  });

  /** An item tagged in Outlook on the web and synced: its Outlook id and the CRM record it is linked to. */
  async function trackedInOutlook(kind: ItemKind, props: JsonObject): Promise<{ id: string; crmId: string }> {
    let id: string;
    if (kind === 'email') {
      id = world.outlook.receive(props);
      await world.outlook.setCategory('email', id, true);
    } else {
      id = await world.outlook.create(kind, props);
    }
    const { summary } = await world.cycle();
    expect(summary.failures).toEqual([]);
    const mapping = await world.mappingByOutlookId(kind, id);
    expect(mapping?.state).toBe('linked');
    const crmId = mapping?.crmId ?? '';
    expect(world.crm.read(kind, crmId)).not.toBeNull();
    return { id, crmId };
  }

  /** A record created in the user's CRM scope and synced into Outlook. */
  async function trackedFromCrm(kind: ItemKind, body: Record<string, unknown>): Promise<{ id: string; crmId: string }> {
    const crmId = world.crm.create(kind, body);
    const { summary } = await world.cycle();
    expect(summary.failures).toEqual([]);
    const mapping = await world.mappingByCrmId(kind, crmId);
    expect(mapping?.state).toBe('linked');
    const id = mapping?.outlookId ?? '';
    expect(world.outlook.read(id)).not.toBeNull();
    return { id, crmId };
  }

  async function cycleOk(options: Parameters<World['cycle']>[0] = {}): Promise<Awaited<ReturnType<World['cycle']>>> {
    const result = await world.cycle(options);
    expect(result.summary.failures).toEqual([]);
    expect(result.summary.heldDeletes).toBe(0);
    return result;
  }

  describe('deleted or untracked in Outlook', () => {
    it('contact deleted in Outlook: not deleted in the CRM, unlinked, and not re-created in Outlook', async () => {
      const { id, crmId } = await trackedInOutlook('contact', contactProps('Ada', 'Lovelace'));
      await world.outlook.remove('contact', id);

      const { writes } = await cycleOk();

      expect(writes.crm).toBe(0);
      expect(world.crm.read('contact', crmId)).toMatchObject({ lastname: 'Lovelace' });
      expect((await world.mappingByCrmId('contact', crmId))?.state).toBe('deletedLocally');
      // The seed's DeletedLocally: the CRM record in the user's scope is not brought back into Outlook, not even when
      // someone edits it in the CRM afterwards (no resurrection).
      world.crm.update('contact', crmId, { jobtitle: 'Countess' });
      await cycleOk();
      await cycleOk();
      expect(world.outlook.list('contact').filter((item) => item.props['surname'] === 'Lovelace')).toEqual([]);
      expect(world.crm.read('contact', crmId)).toMatchObject({ jobtitle: 'Countess' });
    });

    it('contact untracked (category removed): unlinked, the CRM record stays', async () => {
      const { id, crmId } = await trackedInOutlook('contact', contactProps('Alan', 'Turing'));
      await world.outlook.setCategory('contact', id, false);

      const { writes } = await cycleOk();

      expect(writes.crm).toBe(0);
      expect(world.crm.read('contact', crmId)).toMatchObject({ lastname: 'Turing' });
      expect((await world.mappingByCrmId('contact', crmId))?.state).toBe('unlinked');
      const item = world.outlook.read(id);
      expect(item?.categories).not.toContain(CATEGORY);
      expect(item?.tracked).toBe(false);
    });

    it('contact untracked with deleteInCrmOnUntrack: the CRM record is deleted, the Outlook contact stays', async () => {
      const { id, crmId } = await trackedInOutlook('contact', contactProps('Grace', 'Hopper'));
      await world.outlook.setCategory('contact', id, false);

      await cycleOk({ kinds: { contact: { deleteInCrmOnUntrack: true } } });

      expect(world.crm.read('contact', crmId)).toBeNull();
      expect(world.outlook.read(id)?.props['surname']).toBe('Hopper');
      expect(await world.mappingByCrmId('contact', crmId)).toBeNull();
    });

    it('e-mail untracked: unlinked, the CRM e-mail stays', async () => {
      const { id, crmId } = await trackedInOutlook('email', messageProps('Untrack me', 'bob@fabrikam.test'));
      await world.outlook.setCategory('email', id, false);

      const { writes } = await cycleOk();

      expect(writes.crm).toBe(0);
      expect(world.crm.read('email', crmId)).toMatchObject({ subject: 'Untrack me' });
      expect((await world.mappingByCrmId('email', crmId))?.state).toBe('unlinked');
    });

    it('appointment deleted in Outlook (future, open, owned): deleted in the CRM', async () => {
      const { id, crmId } = await trackedInOutlook('appointment', eventProps('Future review', daysFromNow(5)));
      expect(world.crm.read('appointment', crmId)).toMatchObject({ _ownerid_value: world.crmUserId });
      await world.outlook.remove('appointment', id);

      await cycleOk();

      expect(world.crm.read('appointment', crmId)).toBeNull();
      expect(await world.mappingByCrmId('appointment', crmId)).toBeNull();
    });

    it('appointment untracked in Outlook (future, open, owned): deleted in the CRM, the event stays', async () => {
      const { id, crmId } = await trackedInOutlook('appointment', eventProps('Untracked review', daysFromNow(6)));
      await world.outlook.setCategory('appointment', id, false);

      await cycleOk();

      expect(world.crm.read('appointment', crmId)).toBeNull();
      expect(world.outlook.read(id)?.props['subject']).toBe('Untracked review');
    });

    it('appointment deleted in Outlook that started in the past: unlinked, the CRM record stays', async () => {
      const { id, crmId } = await trackedInOutlook('appointment', eventProps('Last week', daysFromNow(-3)));
      await world.outlook.remove('appointment', id);

      const { writes } = await cycleOk();

      expect(writes.crm).toBe(0);
      expect(world.crm.read('appointment', crmId)).toMatchObject({ subject: 'Last week' });
      expect((await world.mappingByCrmId('appointment', crmId))?.state).toBe('deletedLocally');
      world.crm.update('appointment', crmId, { location: 'Room 7' });
      await cycleOk();
      expect(world.outlook.list('appointment').filter((item) => item.props['subject'] === 'Last week')).toEqual([]);
    });

    it('open task deleted in Outlook: deleted in the CRM', async () => {
      const { id, crmId } = await trackedInOutlook('task', taskProps('Open task'));
      await world.outlook.remove('task', id);

      await cycleOk();

      expect(world.crm.read('task', crmId)).toBeNull();
      expect(await world.mappingByCrmId('task', crmId)).toBeNull();
    });

    it('completed task deleted in Outlook: unlinked, the completed CRM task stays', async () => {
      const { id, crmId } = await trackedInOutlook('task', taskProps('Done task'));
      await world.outlook.patch('task', id, { status: 'completed' });
      await cycleOk();
      expect(world.crm.read('task', crmId)).toMatchObject({ statecode: 1 });
      await world.outlook.remove('task', id);

      const { writes } = await cycleOk();

      expect(writes.crm).toBe(0);
      expect(world.crm.read('task', crmId)).toMatchObject({ subject: 'Done task', statecode: 1 });
      expect((await world.mappingByCrmId('task', crmId))?.state).toBe('deletedLocally');
    });

    it('e-mail deleted in Outlook: never deleted in the CRM', async () => {
      const { id, crmId } = await trackedInOutlook('email', messageProps('Delete me in Outlook', 'carol@fabrikam.test'));
      await world.outlook.remove('email', id);

      const { writes } = await cycleOk();

      expect(writes.crm).toBe(0);
      expect(world.crm.read('email', crmId)).toMatchObject({ subject: 'Delete me in Outlook' });
    });
  });

  describe('deleted or out of scope in the CRM', () => {
    it('contact the mailbox owner owns deleted in the CRM: the Outlook contact is unlinked, not deleted', async () => {
      const { id, crmId } = await trackedFromCrm('contact', { firstname: 'Nestor', lastname: 'Wilke', emailaddress1: 'nestor@contoso.test' });
      world.crm.remove('contact', crmId);

      const { writes } = await cycleOk();

      const item = world.outlook.read(id);
      expect(item?.props['surname']).toBe('Wilke');
      // Unlinked and visibly no longer tracked (marker, category and stamp cleared).
      expect(item).toMatchObject({ tracked: false, crmId: null });
      expect(item?.categories).not.toContain(CATEGORY);
      expect(writes.graph).toBe(1);
      expect(await world.mappingByCrmId('contact', crmId)).toBeNull();
    });

    it('future appointment deleted in the CRM: deleted in Outlook', async () => {
      const { id, crmId } = await trackedFromCrm('appointment', crmAppointmentBody('CRM future meeting', daysFromNow(7, 14)));
      world.crm.remove('appointment', crmId);

      await cycleOk();

      expect(world.outlook.read(id)).toBeNull();
      expect(await world.mappingByCrmId('appointment', crmId)).toBeNull();
    });

    it('past appointment deleted in the CRM: unlinked, the event stays', async () => {
      const { id, crmId } = await trackedFromCrm('appointment', crmAppointmentBody('CRM past meeting', daysFromNow(-2, 14)));
      world.crm.remove('appointment', crmId);

      await cycleOk();

      expect(world.outlook.read(id)?.props['subject']).toBe('CRM past meeting');
      expect(await world.mappingByCrmId('appointment', crmId)).toBeNull();
    });

    it('open task deleted in the CRM: deleted in Outlook', async () => {
      const { id, crmId } = await trackedFromCrm('task', { subject: 'CRM open task' });
      world.crm.remove('task', crmId);

      await cycleOk();

      expect(world.outlook.read(id)).toBeNull();
    });

    it('completed task deleted in the CRM: unlinked, the To Do task stays', async () => {
      const { id, crmId } = await trackedFromCrm('task', { subject: 'CRM completed task' });
      world.crm.update('task', crmId, { statecode: 1, statuscode: 5 });
      await cycleOk();
      expect(world.outlook.read(id)?.props['status']).toBe('completed');
      world.crm.remove('task', crmId);

      await cycleOk();

      expect(world.outlook.read(id)?.props['title']).toBe('CRM completed task');
      expect(await world.mappingByCrmId('task', crmId)).toBeNull();
    });

    it('e-mail deleted in the CRM: never deleted in Outlook', async () => {
      const { id, crmId } = await trackedInOutlook('email', messageProps('Delete me in the CRM', 'dan@fabrikam.test'));
      world.crm.remove('email', crmId);

      await cycleOk();

      expect(world.outlook.read(id)?.props['subject']).toBe('Delete me in the CRM');
      expect(await world.mappingByCrmId('email', crmId)).toBeNull();
    });

    it('contact reassigned in the CRM: deleted in Outlook, except one the user tracked from Outlook', async () => {
      const fromCrm = await trackedFromCrm('contact', { firstname: 'Megan', lastname: 'Bowen', emailaddress1: 'megan@contoso.test' });
      const fromOutlook = await trackedInOutlook('contact', contactProps('Irvin', 'Sayers'));
      world.crm.reassign('contact', fromCrm.crmId, world.otherUserId);
      world.crm.reassign('contact', fromOutlook.crmId, world.otherUserId);

      const { writes } = await cycleOk();

      expect(world.outlook.read(fromCrm.id)).toBeNull();
      expect(world.outlook.read(fromOutlook.id)?.props['surname']).toBe('Sayers');
      // Never written outside the user's scope, and never deleted there.
      expect(writes.crm).toBe(0);
      expect(world.crm.read('contact', fromCrm.crmId)).toMatchObject({ _ownerid_value: world.otherUserId });
      expect(world.crm.read('contact', fromOutlook.crmId)).toMatchObject({ _ownerid_value: world.otherUserId });
    });
  });

  // KNOWN PRODUCT BUG (see the report): the rule reads the CRM owner remembered in the baseline (rules.ts CRM_OWNER_KEY),
  // but the out-of-scope "keep" plan (planner.ts crmOutOfScope) never records the new owner, so the deletion is judged
  // against the stale owner (the mailbox owner) and the Outlook contact is only unlinked.
  it('contact tracked from Outlook, reassigned in the CRM (kept), then deleted there: deleted in Outlook, the owner is not the mailbox owner', async () => {
    const { id, crmId } = await trackedInOutlook('contact', contactProps('Reassigned', 'Thendeleted'));
    world.crm.reassign('contact', crmId, world.otherUserId);
    await cycleOk();
    expect(world.outlook.read(id)).not.toBeNull();
    world.crm.remove('contact', crmId);

    await cycleOk();

    // DESIGN.md §6 "CRM, deleted | contact | deleted in Outlook if the mailbox owner is not the CRM owner".
    expect(world.outlook.read(id)).toBeNull();
  });

  it('event moved out of the calendar window: nothing happens in the CRM (only out of view)', async () => {
    const { id, crmId } = await trackedInOutlook('appointment', eventProps('Moving away', daysFromNow(8)));
    await cycleOk();
    const before = world.crm.read('appointment', crmId);
    // The window is 365 days ahead (OCS_CALENDAR_FUTURE_DAYS default): calendarView delta reports the event removed
    // (graph-behaviour.md §2.2).
    const far = daysFromNow(400);
    await world.outlook.patch('appointment', id, {
      start: { dateTime: far.toISOString().replace('Z', ''), timeZone: 'UTC' },
      end: { dateTime: new Date(far.getTime() + 3_600_000).toISOString().replace('Z', ''), timeZone: 'UTC' },
    });

    const { summary, writes } = await cycleOk();

    expect(summary.counts['delta.entries']).toBeGreaterThanOrEqual(1);
    expect(writes.crm).toBe(0);
    expect(world.crm.read('appointment', crmId)).toEqual(before);
    expect((await world.mappingByCrmId('appointment', crmId))?.state).toBe('linked');
    expect(world.outlook.read(id)).not.toBeNull();
  });
});
