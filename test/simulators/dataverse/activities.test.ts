import { idFromEntityId, startClient, values, type TestClient } from './client';

const PARTY_SELECT = '$expand=appointment_activity_parties($select=participationtypemask,_partyid_value,addressused)';

describe('Dataverse simulator: activities, parties, state/status', () => {
  let c: TestClient;
  let organizer: string;
  let contact: string;
  let account: string;

  beforeAll(async () => {
    c = await startClient();
    organizer = c.sim.control.createUser({ fullname: 'Olga Organizer', internalemailaddress: 'olga@contoso.test', azureactivedirectoryobjectid: 'aaaaaaaa-0000-4000-8000-000000000001' });
    contact = c.sim.control.seed('contacts', { firstname: 'Carl', lastname: 'Contact', emailaddress1: 'carl@fabrikam.test' });
    account = c.sim.control.seed('accounts', { name: 'Contoso' });
  });
  afterAll(() => c.sim.stop());

  it('appointments deep-insert parties via appointment_activity_parties and read them back with $expand', async () => {
    // dataverse-behaviour.md §4.2 (example body and read-back query), §4.1 (regardingobjectid_account_appointment)
    const created = await c.post('appointments', {
      subject: 'QBR with Contoso',
      scheduledstart: '2025-03-04T14:00:00Z',
      scheduledend: '2025-03-04T15:00:00Z',
      location: 'Teams',
      'regardingobjectid_account_appointment@odata.bind': `/accounts(${account})`,
      appointment_activity_parties: [
        { 'partyid_systemuser@odata.bind': `/systemusers(${organizer})`, participationtypemask: 7 },
        { 'partyid_contact@odata.bind': `/contacts(${contact})`, participationtypemask: 5 },
        { addressused: 'someone@external.example', participationtypemask: 6 },
      ],
    });
    expect(created.status).toBe(204);
    const id = idFromEntityId(created);
    const read = await c.get(`appointments(${id})?$select=subject,scheduleddurationminutes,statecode,statuscode,_regardingobjectid_value&${PARTY_SELECT}`);
    expect(read.json).toEqual(
      expect.objectContaining({
        subject: 'QBR with Contoso',
        scheduleddurationminutes: 60,
        statecode: 0,
        statuscode: 1,
        _regardingobjectid_value: account,
        activityid: id,
      }),
    );
    const parties = read.json['appointment_activity_parties'] as Record<string, unknown>[];
    // The platform also lists the owner (participationtypemask 9); knob ownerPartyRows.
    expect(parties.map((p) => [p['participationtypemask'], p['_partyid_value'], p['addressused']])).toEqual([
      [7, organizer, null],
      [5, contact, null],
      [6, null, 'someone@external.example'],
      [9, c.sim.control.applicationUserId, null],
    ]);
  });

  it('return=representation can expand the parties; a bad $select fails before anything is written', async () => {
    // dataverse-behaviour.md §2.2 (201 with body), §4.2 (read-back $expand)
    const before = c.sim.control.count('appointments');
    const bad = await c.post('appointments?$select=nosuch', { subject: 'x' }, { Prefer: 'return=representation' });
    expect(bad.status).toBe(400);
    expect(c.sim.control.count('appointments')).toBe(before);
    const created = await c.post(`appointments?$select=subject&${PARTY_SELECT}`, {
      subject: 'With parties',
      appointment_activity_parties: [{ addressused: 'x@x.test', participationtypemask: 5 }],
    }, { Prefer: 'return=representation' });
    expect(created.status).toBe(201);
    const parties = created.json['appointment_activity_parties'] as Record<string, unknown>[];
    expect(parties.map((p) => p['participationtypemask'])).toEqual([5, 9]);
  });

  it('PATCH with a party list replaces the list (knob: append)', async () => {
    // dataverse-behaviour.md §4.2 ("PATCH replaces the whole party list": UNCONFIRMED → knob)
    const id = idFromEntityId(
      await c.post('appointments', {
        subject: 'Sync',
        appointment_activity_parties: [{ 'partyid_contact@odata.bind': `/contacts(${contact})`, participationtypemask: 5 }],
      }),
    );
    await c.patch(`appointments(${id})`, { appointment_activity_parties: [{ addressused: 'new@x.test', participationtypemask: 6 }] }, { 'If-Match': '*' });
    let parties = (await c.get(`appointments(${id})?$select=subject&${PARTY_SELECT}`)).json['appointment_activity_parties'] as Record<string, unknown>[];
    expect(parties.filter((p) => p['participationtypemask'] !== 9).map((p) => p['addressused'])).toEqual(['new@x.test']);
    c.sim.knobs.partyListUpdate = 'append';
    try {
      await c.patch(`appointments(${id})`, { appointment_activity_parties: [{ addressused: 'more@x.test', participationtypemask: 6 }] }, { 'If-Match': '*' });
    } finally {
      c.sim.knobs.partyListUpdate = 'replace';
    }
    parties = (await c.get(`appointments(${id})/appointment_activity_parties`)).json['value'] as Record<string, unknown>[];
    expect(parties.filter((p) => p['participationtypemask'] !== 9).map((p) => p['addressused'])).toEqual(['new@x.test', 'more@x.test']);
  });

  it('party rules: organizer must be a systemuser, masks per table, tasks have no party list', async () => {
    // dataverse-behaviour.md §4.2
    const contactOrganizer = await c.post('appointments', {
      subject: 'x',
      appointment_activity_parties: [{ 'partyid_contact@odata.bind': `/contacts(${contact})`, participationtypemask: 7 }],
    });
    expect(contactOrganizer.status).toBe(400);
    const senderOnAppointment = await c.post('appointments', { subject: 'x', appointment_activity_parties: [{ addressused: 'a@x.test', participationtypemask: 1 }] });
    expect(senderOnAppointment.status).toBe(400);
    const twoOrganizers = await c.post('appointments', {
      subject: 'x',
      appointment_activity_parties: [
        { 'partyid_systemuser@odata.bind': `/systemusers(${organizer})`, participationtypemask: 7 },
        { 'partyid_systemuser@odata.bind': `/systemusers(${c.sim.control.applicationUserId})`, participationtypemask: 7 },
      ],
    });
    expect(twoOrganizers.status).toBe(400);
    const taskParties = await c.post('tasks', { subject: 'x', task_activity_parties: [{ addressused: 'a@x.test', participationtypemask: 5 }] });
    expect(taskParties.status).toBe(400);
    expect(c.sim.control.count('tasks')).toBe(0);
  });

  it('statecode is not valid on create; activities start Open with the default status', async () => {
    // dataverse-behaviour.md §4 (IsValidForCreate = False), §7.11; reject/ignore is a knob
    const rejected = await c.post('tasks', { subject: 'Done already', statecode: 1, statuscode: 5 });
    expect(rejected.status).toBe(400);
    c.sim.knobs.invalidColumnWrite = 'ignore';
    try {
      const ignored = await c.post('tasks?$select=statecode,statuscode', { subject: 'Done already', statecode: 1 }, { Prefer: 'return=representation' });
      expect([ignored.status, ignored.json['statecode'], ignored.json['statuscode']]).toEqual([201, 0, 2]);
    } finally {
      c.sim.knobs.invalidColumnWrite = 'reject';
    }
    const tentative = await c.post('appointments?$select=statecode,statuscode', { subject: 'Maybe', statuscode: 2 }, { Prefer: 'return=representation' });
    expect([tentative.json['statecode'], tentative.json['statuscode']]).toEqual([0, 2]);
    const busyOnCreate = await c.post('appointments', { subject: 'Busy', statuscode: 5 });
    expect(busyOnCreate.status).toBe(400);
    // §4.4: whether a new appointment is Open or Scheduled is UNCONFIRMED: knob.
    c.sim.knobs.appointmentInitialState = 'scheduled';
    try {
      const scheduled = await c.post('appointments?$select=statecode,statuscode', { subject: 'Booked' }, { Prefer: 'return=representation' });
      expect([scheduled.json['statecode'], scheduled.json['statuscode']]).toEqual([3, 5]);
    } finally {
      c.sim.knobs.appointmentInitialState = 'open';
    }
  });

  it('seeding a closed activity applies the state as a second write; reassigning re-points the owner party', async () => {
    // dataverse-behaviour.md §4 (statecode IsValidForCreate = False → create, then set state), §4.2 (Owner party 9)
    const done = c.sim.control.seed('tasks', { subject: 'Done', statecode: 1, statuscode: 5 }, { as: organizer });
    const raw = c.sim.control.raw('tasks', done);
    expect([raw?.values['statecode'], raw?.values['statuscode']]).toEqual([1, 5]);
    const appointment = c.sim.control.seed('appointments', { subject: 'Owned' }, { as: organizer });
    c.sim.control.reassign('appointments', appointment, c.sim.control.applicationUserId);
    const parties = c.sim.control.raw('appointments', appointment)?.parties ?? [];
    expect(parties.map((p) => [p.values['participationtypemask'], p.lookups['partyid']?.id])).toEqual([[9, c.sim.control.applicationUserId]]);
  });

  it('updates must use valid state/status pairs; statecode alone takes the default status', async () => {
    // dataverse-behaviour.md §4.4–4.6 (state/status tables), §2.3 (set statuscode with statecode)
    const task = idFromEntityId(await c.post('tasks', { subject: 'Write report', percentcomplete: 10 }));
    const invalid = await c.patch(`tasks(${task})`, { statecode: 1, statuscode: 3 }, { 'If-Match': '*' });
    expect(invalid.status).toBe(400);
    expect((invalid.json['error'] as { message: string }).message).toContain('3 is not a valid status code for state code TaskState.Completed');
    const done = await c.patch(`tasks(${task})?$select=statecode,statuscode`, { statecode: 1 }, { 'If-Match': '*', Prefer: 'return=representation' });
    expect([done.json['statecode'], done.json['statuscode']]).toEqual([1, 5]);

    // §4.6: a tracked received mail is created Open, then completed as Received.
    const email = idFromEntityId(
      await c.post('emails', {
        subject: 'Hello',
        messageid: '<abc@mail.test>',
        directioncode: false,
        'regardingobjectid_contact_email@odata.bind': `/contacts(${contact})`,
        email_activity_parties: [
          { 'partyid_contact@odata.bind': `/contacts(${contact})`, participationtypemask: 1 },
          { 'partyid_systemuser@odata.bind': `/systemusers(${organizer})`, participationtypemask: 2 },
        ],
      }),
    );
    const received = await c.patch(`emails(${email})?$select=statecode,statuscode,_regardingobjectid_value`, { statecode: 1, statuscode: 4 }, {
      'If-Match': '*',
      Prefer: 'return=representation,odata.include-annotations="*"',
    });
    expect(received.json).toEqual(
      expect.objectContaining({
        statecode: 1,
        statuscode: 4,
        'statuscode@OData.Community.Display.V1.FormattedValue': 'Received',
        _regardingobjectid_value: contact,
        '_regardingobjectid_value@Microsoft.Dynamics.CRM.associatednavigationproperty': 'regardingobjectid_contact_email',
      }),
    );
    const byMessageId = await c.get(`emails?$select=subject&$filter=${encodeURIComponent("messageid eq '<abc@mail.test>'")}`);
    expect(values(byMessageId)).toHaveLength(1);
  });

  it('column limits: task description max 2,000, subject max 200, percentcomplete 0–100, DateOnly birthdate', async () => {
    // dataverse-behaviour.md §4.5 (description max 2,000), §4.4 (subject 200), §4.3 (DateOnly)
    expect((await c.post('tasks', { subject: 'x', description: 'd'.repeat(2001) })).status).toBe(400);
    expect((await c.post('tasks', { subject: 'x', description: 'd'.repeat(2000) })).status).toBe(204);
    expect((await c.post('appointments', { subject: 's'.repeat(201) })).status).toBe(400);
    expect((await c.post('tasks', { subject: 'x', percentcomplete: 101 })).status).toBe(400);
    const born = await c.post('contacts?$select=birthdate', { lastname: 'B', birthdate: '1980-02-29' }, { Prefer: 'return=representation' });
    expect(born.json['birthdate']).toBe('1980-02-29');
  });

  it('deleting an activity deletes its parties; activities are found by _ownerid_value and activityid', async () => {
    // dataverse-behaviour.md §2.3 (DELETE), §4 (activityid key)
    const owner = c.sim.control.createUser({ fullname: 'Owen Owner', internalemailaddress: 'owen@x.test', azureactivedirectoryobjectid: 'aaaaaaaa-0000-4000-8000-000000000002' });
    const id = c.sim.control.seed('appointments', { subject: 'Owned', appointment_activity_parties: [{ addressused: 'p@x.test', participationtypemask: 5 }] }, { as: owner });
    const owned = await c.get(`appointments?$select=subject&$filter=${encodeURIComponent(`_ownerid_value eq ${owner} and activityid eq ${id}`)}`);
    expect(values(owned).map((r) => r['activityid'])).toEqual([id]);
    const partiesBefore = await c.get(`activityparties?$select=participationtypemask&$filter=${encodeURIComponent(`_activityid_value eq ${id}`)}`);
    expect(values(partiesBefore)).toHaveLength(2);
    const withActivity = await c.get(
      `activityparties?$select=participationtypemask&$filter=${encodeURIComponent(`_activityid_value eq ${id} and participationtypemask eq 5`)}&$expand=activityid_appointment($select=subject)`,
    );
    expect(values(withActivity).map((p) => (p['activityid_appointment'] as Record<string, unknown>)['subject'])).toEqual(['Owned']);
    expect((await c.del(`appointments(${id})`)).status).toBe(204);
    const partiesAfter = await c.get(`activityparties?$select=participationtypemask&$filter=${encodeURIComponent(`_activityid_value eq ${id}`)}`);
    expect(values(partiesAfter)).toHaveLength(0);
  });
});
