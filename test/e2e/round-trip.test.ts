// Rich items round-trip through the real adapters without ping-pong (DESIGN.md §5: "Normalization makes values
// round-trip: text bodies, trimmed strings, UTC instants, all-day dates as dates, ordered address lines"; "A cycle
// that follows a cycle with no user edits makes zero writes"), with every mapped field of DESIGN.md §7 set on the side
// the item starts on. Also re-tracking (DESIGN.md §2), drafts and Sent Items, and the Graph and Dataverse fault knobs.
import type { JsonObject } from '../../src/core/model';
import { CATEGORY, crmIdsWhere, crmInstant, daysFromNow, eventProps, graphDateTime, messageProps, startWorld, syncThenEcho, taskProps, type World } from './harness';

jest.setTimeout(60_000);

describe('e2e: rich items round-trip and settle', () => {
  let world: World;

  beforeAll(async () => {
    world = await startWorld();
  });

  afterAll(async () => {
    await world?.stop();
  });

  it('a contact with every mapped field, tagged in Outlook', async () => {
    const props: JsonObject = {
      givenName: 'Patti',
      middleName: 'Q',
      surname: 'Fernandez',
      title: 'Dr.',
      nickName: 'Pat',
      jobTitle: '  Director  ',
      department: 'Sales',
      manager: 'Lidia Holloway',
      assistantName: 'Isaiah Langer',
      spouseName: 'Sam',
      children: ['Ann', 'Bob'],
      birthday: '1984-05-17T00:00:00Z',
      emailAddresses: [
        { address: 'patti@fabrikam.test', name: 'Patti Fernandez' },
        { address: 'patti.f@home.test', name: 'Patti' },
      ],
      businessPhones: ['+1 425 555 0101'],
      homePhones: ['+1 425 555 0102'],
      mobilePhone: '+1 425 555 0103',
      businessHomePage: 'https://fabrikam.test',
      yomiGivenName: 'パティ',
      yomiSurname: 'フェルナンデス',
      personalNotes: 'Met at the fair.\nLikes tea.',
      businessAddress: { street: '1 Main St\nSuite 200', city: 'Redmond', state: 'WA', postalCode: '98052', countryOrRegion: 'USA' },
      categories: [CATEGORY],
    };
    const id = await world.outlook.create('contact', props);

    await syncThenEcho(world);

    const crmId = (await world.mappingByOutlookId('contact', id))?.crmId ?? '';
    expect(world.crm.read('contact', crmId)).toMatchObject({
      firstname: 'Patti',
      middlename: 'Q',
      lastname: 'Fernandez',
      salutation: 'Dr.',
      nickname: 'Pat',
      jobtitle: 'Director',
      department: 'Sales',
      managername: 'Lidia Holloway',
      assistantname: 'Isaiah Langer',
      spousesname: 'Sam',
      emailaddress1: 'patti@fabrikam.test',
      emailaddress2: 'patti.f@home.test',
      telephone1: '+1 425 555 0101',
      telephone2: '+1 425 555 0102',
      mobilephone: '+1 425 555 0103',
      websiteurl: 'https://fabrikam.test',
      yomifirstname: 'パティ',
      yomilastname: 'フェルナンデス',
      address1_line1: '1 Main St',
      address1_line2: 'Suite 200',
      address1_city: 'Redmond',
      address1_stateorprovince: 'WA',
      address1_postalcode: '98052',
      address1_country: 'USA',
    });
    expect(String(world.crm.read('contact', crmId)?.['birthdate'])).toMatch(/^1984-05-17/);
  });

  it('a contact with every mapped column, created in the CRM', async () => {
    const crmId = world.crm.create('contact', {
      firstname: 'Lee',
      lastname: 'Gu',
      salutation: 'Mr.',
      jobtitle: 'Engineer',
      department: 'R&D',
      emailaddress1: 'lee.gu@contoso.test',
      emailaddress3: 'lee@home.test',
      telephone1: '+1 206 555 0100',
      telephone3: '+1 206 555 0199',
      mobilephone: '+1 206 555 0101',
      fax: '+1 206 555 0102',
      pager: '+1 206 555 0103',
      assistantphone: '+1 206 555 0104',
      governmentid: 'X-123',
      ftpsiteurl: 'ftp://contoso.test',
      childrensnames: 'Ann, Bob',
      birthdate: '1990-01-31',
      anniversary: '2015-06-20',
      description: 'Key account.\nCall on Mondays.',
      address1_line1: '2 Side St',
      address1_line3: 'Floor 3',
      address1_city: 'Seattle',
      address1_postalcode: '98101',
    });

    await syncThenEcho(world);

    const id = (await world.mappingByCrmId('contact', crmId))?.outlookId ?? '';
    const item = world.outlook.read(id);
    expect(item?.props).toMatchObject({ givenName: 'Lee', surname: 'Gu', jobTitle: 'Engineer', mobilePhone: '+1 206 555 0101', businessPhones: ['+1 206 555 0100'] });
    expect(Object.values(item?.extendedProperties ?? {})).toEqual(expect.arrayContaining(['+1 206 555 0102', '+1 206 555 0103', 'X-123']));
  });

  it('tasks with dates, importance, body and status, from both sides', async () => {
    const due = daysFromNow(6, 0);
    const id = await world.outlook.create('task', taskProps('Rich Outlook task', {
      importance: 'high',
      status: 'inProgress',
      body: { content: 'Bring the contract.', contentType: 'text' },
      dueDateTime: { dateTime: graphDateTime(due), timeZone: 'UTC' },
      startDateTime: { dateTime: graphDateTime(daysFromNow(1, 0)), timeZone: 'UTC' },
    }));
    const crmId = world.crm.create('task', {
      subject: 'Rich CRM task',
      description: 'Call back about the quote.',
      prioritycode: 0,
      scheduledend: crmInstant(daysFromNow(3, 16)),
      scheduledstart: crmInstant(daysFromNow(2, 9)),
    });

    await syncThenEcho(world);

    const fromOutlook = (await world.mappingByOutlookId('task', id))?.crmId ?? '';
    expect(world.crm.read('task', fromOutlook)).toMatchObject({ subject: 'Rich Outlook task', prioritycode: 2, statecode: 0, statuscode: 3, description: 'Bring the contract.' });
    const outlookId = (await world.mappingByCrmId('task', crmId))?.outlookId ?? '';
    expect(world.outlook.read(outlookId)?.props).toMatchObject({ title: 'Rich CRM task', importance: 'low' });
  });

  it('events with attendees and an all-day event, tagged in Outlook', async () => {
    const start = daysFromNow(12, 0);
    const allDay = await world.outlook.create('appointment', eventProps('Offsite', start, {
      isAllDay: true,
      start: { dateTime: graphDateTime(start), timeZone: 'UTC' },
      end: { dateTime: graphDateTime(new Date(start.getTime() + 86_400_000)), timeZone: 'UTC' },
    }));
    const meeting = await world.outlook.create('appointment', eventProps('Review with attendees', daysFromNow(13), {
      attendees: [
        { type: 'required', emailAddress: { address: 'alex@fabrikam.test', name: 'Alex' } },
        { type: 'optional', emailAddress: { address: 'diego@fabrikam.test', name: 'Diego' } },
      ],
      importance: 'high',
      showAs: 'tentative',
    }));

    await syncThenEcho(world);

    const allDayCrm = world.crm.read('appointment', (await world.mappingByOutlookId('appointment', allDay))?.crmId ?? '');
    expect(allDayCrm).toMatchObject({ subject: 'Offsite', isalldayevent: true });
    const meetingCrm = world.crm.read('appointment', (await world.mappingByOutlookId('appointment', meeting))?.crmId ?? '');
    expect(meetingCrm).toMatchObject({ subject: 'Review with attendees', prioritycode: 2 });
  });

  it('re-tracking an untracked contact re-links it instead of creating a duplicate (DESIGN.md §2)', async () => {
    const id = await world.outlook.create('contact', { givenName: 'Re', surname: 'Tracked', emailAddresses: [{ address: 're.tracked@fabrikam.test', name: 'Re' }], categories: [CATEGORY] });
    await world.cycle();
    const crmId = (await world.mappingByOutlookId('contact', id))?.crmId ?? '';
    await world.outlook.setCategory('contact', id, false);
    await world.cycle();
    expect((await world.mappingByCrmId('contact', crmId))?.state).toBe('unlinked');
    await world.outlook.patch('contact', id, { jobTitle: 'Back again' });
    await world.outlook.setCategory('contact', id, true);

    const { summary } = await world.cycle();

    expect(summary.failures).toEqual([]);
    expect(crmIdsWhere(world, 'contact', 'lastname', 'Tracked')).toEqual([crmId]);
    expect((await world.mappingByCrmId('contact', crmId))).toMatchObject({ state: 'linked', outlookId: id });
    expect(world.crm.read('contact', crmId)?.['jobtitle']).toBe('Back again');
    expect(world.outlook.read(id)).toMatchObject({ tracked: true, crmId });
  });

  it('tracks a sent message, and never a draft (DESIGN.md §2)', async () => {
    const sent = world.graph.control.seedMessage(world.mailbox, {
      folder: 'sentitems',
      props: messageProps('Our offer', world.mailbox, { toRecipients: [{ emailAddress: { address: 'gina@fabrikam.test', name: 'Gina' } }], categories: [CATEGORY] }),
    }).immutableId;
    world.graph.control.seedMessage(world.mailbox, { folder: 'drafts', isDraft: true, props: messageProps('Draft offer', world.mailbox, { categories: [CATEGORY] }) });

    const { summary } = await world.cycle();

    expect(summary.failures).toEqual([]);
    const emails = world.crm.rows('email').filter((row) => row['subject'] === 'Our offer');
    expect(emails).toHaveLength(1);
    expect((await world.mappingByOutlookId('email', sent))?.crmId).toBe(emails[0]?.['activityid']);
    expect(world.crm.rows('email').filter((row) => row['subject'] === 'Draft offer')).toEqual([]);
  });

  /** What a client's "move to list" amounts to on Graph: a copy in the other list carrying the linkedResource, and a
   * delete of the original (DESIGN.md §3 / graph-behaviour.md §1.4: tasks moved between lists change id). */
  async function moveTask(id: string, title: string, listName: string): Promise<{ list: string; moved: string }> {
    const list = await world.outlook.createTaskList(listName);
    const links = world.outlook.linkedResources(id).map(({ applicationName, externalId, displayName, webUrl }) => ({ applicationName, externalId, displayName, webUrl }) as JsonObject);
    expect(links).toHaveLength(1);
    const moved = await world.outlook.createTaskIn(list, taskProps(title, { linkedResources: links }));
    await world.outlook.remove('task', id);
    return { list, moved };
  }

  it('a To Do task moved to another list is not deleted or duplicated in the CRM, and its edits still sync', async () => {
    const id = await world.outlook.create('task', taskProps('Moving task'));
    await world.cycle();
    const crmId = (await world.mappingByOutlookId('task', id))?.crmId ?? '';
    const { list, moved } = await moveTask(id, 'Moving task', 'Work');

    const { summary } = await world.cycle();

    expect(summary.failures).toEqual([]);
    expect(world.crm.read('task', crmId)).toMatchObject({ subject: 'Moving task' });
    expect(crmIdsWhere(world, 'task', 'subject', 'Moving task')).toEqual([crmId]);
    await world.outlook.patchTaskIn(list, moved, { title: 'Moved task, renamed' });
    await world.cycle();
    expect(world.crm.read('task', crmId)).toMatchObject({ subject: 'Moved task, renamed' });
    expect(world.outlook.list('task').filter((t) => String(t.props['title']).startsWith('Mov'))).toHaveLength(1);
  });

  // KNOWN PRODUCT BUG (see the report): the pair is found again through the CrmId link (matched.move), but when its
  // fields did not change the planner keeps the mapping row as it was (planner.ts syncPair: KEEP when the baseline is
  // unchanged), so the row keeps the deleted task's id. Every later cycle reconciles it as removed, re-reads it and
  // scans the To Do lists for the link again: extra requests and state writes forever, in cycles with no edits.
  it('a To Do task moved to another list: the mapping follows the new id, and the next cycle is quiet', async () => {
    const id = await world.outlook.create('task', taskProps('Second mover'));
    await world.cycle();
    const crmId = (await world.mappingByOutlookId('task', id))?.crmId ?? '';
    const { moved } = await moveTask(id, 'Second mover', 'Errands');

    await world.cycle();

    expect((await world.mappingByCrmId('task', crmId))).toMatchObject({ state: 'linked', outlookId: moved });
    const quiet = await world.cycle();
    expect(quiet.summary.counts['matched.move']).toBeUndefined();
    expect(quiet.summary.counts['reconcile.changes']).toBeUndefined();
  });
});
