// The field mappings on concrete Graph and Dataverse payloads (DESIGN.md §7; graph-behaviour.md §2, §3; dataverse-behaviour.md
// §4, §6), the extended-property ids the Graph adapter must expand, and the admin-override validator.
import { buildCrmWrite, buildOutlookWrite, fieldsOfCrm, fieldsOfOutlook } from '../../src/core/fields';
import {
  activeFields,
  applyMappingOverrides,
  crmIdPropertyId,
  DEFAULT_MAPPINGS,
  extendedPropertyIds,
  regardingIdPropertyId,
  trackedPropertyId,
} from '../../src/core/mappings';
import { GUID, item, record, settings } from './support';

describe('extended property ids (graph-behaviour.md §3.1 formats)', () => {
  test('named markers in the `String {guid} Name X` form', () => {
    expect(trackedPropertyId(GUID)).toBe(`String {${GUID}} Name Tracked`);
    expect(crmIdPropertyId(`{${GUID}}`)).toBe(`String {${GUID}} Name CrmId`);
    expect(regardingIdPropertyId(GUID)).toBe(`String {${GUID}} Name RegardingId`);
  });

  test('per kind: contacts add the MAPI proptags, e-mail the RegardingId, To Do tasks have none (§3.5)', () => {
    expect(extendedPropertyIds('contact', GUID)).toEqual([
      trackedPropertyId(GUID),
      crmIdPropertyId(GUID),
      'String 0x3A24',
      'String 0x3A1F',
      'String 0x3A21',
      'String 0x3A2E',
      'String 0x3A07',
      'String 0x3A4C',
      'SystemTime 0x3A41',
    ]);
    expect(extendedPropertyIds('appointment', GUID)).toEqual([trackedPropertyId(GUID), crmIdPropertyId(GUID)]);
    expect(extendedPropertyIds('email', GUID)).toEqual([trackedPropertyId(GUID), crmIdPropertyId(GUID), regardingIdPropertyId(GUID)]);
    expect(extendedPropertyIds('task', GUID)).toEqual([]);
  });
});

describe('contact', () => {
  const graphContact = {
    givenName: ' Max ',
    surname: 'Mustermann',
    emailAddresses: [
      { name: 'Max', address: 'Max@Contoso.com' },
      { name: 'Max', address: 'max@home.example' },
    ],
    businessPhones: ['+49 30 1234'],
    homePhones: [],
    birthday: '1974-07-22T00:00:00Z',
    children: ['Anna', 'Ben'],
    businessAddress: { street: '1 Main St\r\nSuite 5', city: 'Berlin', state: '', postalCode: '10115', countryOrRegion: 'Germany' },
    companyName: 'Old Co',
    personalNotes: 'Met at the fair.\r\n',
    // Graph echoes proptag ids in its own casing; matching ignores it.
    singleValueExtendedProperties: [
      { id: 'String 0x3a24', value: '+49 30 9999' },
      { id: 'SystemTime 0x3A41', value: '2001-05-04T00:00:00Z' },
    ],
  };
  const crmContact = {
    firstname: 'Max',
    lastname: 'Mustermann',
    emailaddress1: 'max@contoso.com',
    emailaddress2: 'max@home.example',
    telephone1: '+49 30 1234',
    birthdate: '1974-07-22',
    childrensnames: 'Anna, Ben',
    address1_line1: '1 Main St',
    address1_line2: 'Suite 5',
    address1_city: 'Berlin',
    address1_postalcode: '10115',
    address1_country: 'Germany',
    description: 'Met at the fair.',
    fax: '+49 30 9999',
    anniversary: '2001-05-04',
    '_parentcustomerid_value@OData.Community.Display.V1.FormattedValue': 'Contoso Ltd',
    '_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname': 'account',
  };

  test('reads the same normalized values from both sides', () => {
    const o = fieldsOfOutlook(item('contact', graphContact), settings());
    const c = fieldsOfCrm(record('contact', crmContact), settings());
    for (const values of [o, c]) {
      expect(values).toMatchObject({
        givenName: 'Max',
        surname: 'Mustermann',
        businessPhones: ['+49 30 1234'],
        homePhones: null,
        birthday: '1974-07-22',
        children: ['Anna', 'Ben'],
        businessStreet: '1 Main St\nSuite 5',
        businessCity: 'Berlin',
        businessState: null,
        personalNotes: 'Met at the fair.',
        businessFax: '+49 30 9999',
        anniversary: '2001-05-04',
      });
    }
    expect(o.emailAddresses).toEqual(['Max@Contoso.com', 'max@home.example']);
    expect(c.emailAddresses).toEqual(['max@contoso.com', 'max@home.example']);
    expect(o).not.toHaveProperty('companyName'); // updateCompanyField off
  });

  test('companyName ← parent account name, one way, only with updateCompanyField; a parent contact is no company', () => {
    const on = settings({ updateCompanyField: true });
    expect(fieldsOfCrm(record('contact', crmContact), on).companyName).toBe('Contoso Ltd');
    expect(fieldsOfCrm(record('contact', { ...crmContact, '_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname': 'contact' }), on).companyName).toBeNull();
    const fields = activeFields(DEFAULT_MAPPINGS.contact, on);
    expect(buildCrmWrite(fields, ['companyName'], { companyName: 'X' })).toBeNull();
  });

  test('writes: street lines ↔ address1_line1..3, the whole businessAddress on Graph, MAPI properties as extended properties', () => {
    const fields = activeFields(DEFAULT_MAPPINGS.contact, settings());
    const values = fieldsOfOutlook(item('contact', graphContact), settings());
    expect(buildCrmWrite(fields, ['businessStreet'], values)?.attributes).toEqual({
      address1_line1: '1 Main St',
      address1_line2: 'Suite 5',
      address1_line3: null,
      address1_city: 'Berlin',
      address1_stateorprovince: null,
      address1_postalcode: '10115',
      address1_country: 'Germany',
    });
    expect(buildOutlookWrite(fields, ['businessCity'], values, GUID)?.data).toEqual({
      businessAddress: { street: '1 Main St\nSuite 5', city: 'Berlin', state: '', postalCode: '10115', countryOrRegion: 'Germany' },
    });
    expect(buildOutlookWrite(fields, ['businessFax', 'anniversary'], { ...values, businessFax: null }, GUID)?.data).toEqual({
      singleValueExtendedProperties: [
        { id: 'String 0x3A24', value: '' },
        { id: 'SystemTime 0x3A41', value: '2001-05-04T00:00:00Z' },
      ],
    });
    expect(buildCrmWrite(fields, ['emailAddresses', 'children', 'birthday'], values)?.attributes).toEqual({
      emailaddress1: 'Max@Contoso.com',
      emailaddress2: 'max@home.example',
      emailaddress3: null,
      childrensnames: 'Anna, Ben',
      birthdate: '1974-07-22',
    });
  });
});

describe('task (To Do)', () => {
  test('status ↔ statecode+statuscode, importance ↔ prioritycode, due date as a date, completion as an instant', () => {
    const todo = {
      title: 'Call Max',
      status: 'completed',
      importance: 'high',
      dueDateTime: { dateTime: '2026-07-01T00:00:00.0000000', timeZone: 'W. Europe Standard Time' },
      completedDateTime: { dateTime: '2026-06-30T10:00:00.0000000', timeZone: 'UTC' },
      body: { contentType: 'text', content: 'Ask about the QBR' },
    };
    const o = fieldsOfOutlook(item('task', todo), settings());
    expect(o).toMatchObject({ title: 'Call Max', status: 'completed', importance: 'high', dueDateTime: '2026-07-01', completedDateTime: '2026-06-30T10:00:00Z' });
    const fields = activeFields(DEFAULT_MAPPINGS.task, settings());
    expect(buildCrmWrite(fields, ['status', 'importance', 'dueDateTime'], o)?.attributes).toEqual({ statecode: 1, statuscode: 5, prioritycode: 2, scheduledend: '2026-07-01T00:00:00Z' });
    expect(fieldsOfCrm(record('task', { statecode: 0, statuscode: 4 }), settings()).status).toBe('waitingOnOthers');
    expect(fieldsOfCrm(record('task', { statecode: 2, statuscode: 6 }), settings()).status).toBe('completed');
  });

  test('a due date set in the CRM becomes the Outlook reminder (DESIGN.md §7), at the start of that date', () => {
    const fields = activeFields(DEFAULT_MAPPINGS.task, settings());
    expect(buildOutlookWrite(fields, ['dueDateTime'], { dueDateTime: '2026-07-01' }, GUID)?.data).toEqual({
      dueDateTime: { dateTime: '2026-07-01T00:00:00.0000000', timeZone: 'UTC' },
      reminderDateTime: { dateTime: '2026-07-01T00:00:00.0000000', timeZone: 'UTC' },
      isReminderOn: true,
    });
  });
});

describe('appointment', () => {
  test('attendees ↔ parties 5/6, organizer → 7, show-as ↔ state/status, duration derived, all-day as dates', () => {
    const event = {
      subject: 'Offsite',
      isAllDay: true,
      start: { dateTime: '2026-07-01T00:00:00.0000000', timeZone: 'Pacific Standard Time' },
      end: { dateTime: '2026-07-03T00:00:00.0000000', timeZone: 'Pacific Standard Time' },
      showAs: 'oof',
      location: { displayName: 'Lake house' },
      organizer: { emailAddress: { address: 'Me@Contoso.com' } },
      attendees: [
        { type: 'required', emailAddress: { address: 'Ann@Contoso.com' } },
        { type: 'optional', emailAddress: { address: 'bob@contoso.com' } },
        { type: 'resource', emailAddress: { address: 'room@contoso.com' } },
      ],
    };
    const o = fieldsOfOutlook(item('appointment', event), settings());
    expect(o).toMatchObject({
      start: '2026-07-01',
      end: '2026-07-03',
      isAllDay: true,
      duration: 2880,
      requiredAttendees: ['ann@contoso.com'],
      optionalAttendees: ['bob@contoso.com'],
      organizer: 'Me@Contoso.com',
      showAs: 'oof',
      isCancelled: false,
      location: 'Lake house',
      importance: 'normal',
    });
    const fields = activeFields(DEFAULT_MAPPINGS.appointment, settings());
    const write = buildCrmWrite(fields, ['start', 'requiredAttendees', 'showAs'], o)!;
    expect(write.attributes).toEqual({
      scheduledstart: '2026-07-01T00:00:00Z',
      scheduledend: '2026-07-03T00:00:00Z',
      isalldayevent: true,
      scheduleddurationminutes: 2880,
      statecode: 3,
      statuscode: 6,
    });
    expect(write.parties).toEqual([
      { participationTypeMask: 5, address: 'ann@contoso.com', party: null },
      { participationTypeMask: 6, address: 'bob@contoso.com', party: null },
      { participationTypeMask: 7, address: 'Me@Contoso.com', party: null },
    ]);
    // Outlook never gets organizer or isCancelled written (read-only in Graph).
    expect(Object.keys(buildOutlookWrite(fields, ['organizer', 'isCancelled', 'subject'], o, GUID)!.data)).toEqual(['subject']);
  });

  test('a cancellation on either side is sticky and cancels in the CRM', () => {
    const fields = activeFields(DEFAULT_MAPPINGS.appointment, settings());
    const o = fieldsOfOutlook(item('appointment', { isCancelled: true, showAs: 'busy' }), settings());
    expect(o.showAs).toBe('free');
    expect(buildCrmWrite(fields, ['isCancelled'], o)?.attributes).toEqual({ statecode: 2, statuscode: 4 });
  });
});

describe('email', () => {
  test('parties 1/2/3, messageid, direction from the folder, regarding as <entity>:<id> both ways', () => {
    const message = {
      subject: 'Offer',
      from: { emailAddress: { address: 'ann@contoso.com' } },
      toRecipients: [{ emailAddress: { address: 'me@fabrikam.com' } }],
      ccRecipients: [],
      internetMessageId: '<abc@contoso.com>',
      sentDateTime: '2026-06-01T08:00:00Z',
      singleValueExtendedProperties: [{ id: regardingIdPropertyId(GUID), value: 'account:0000-1' }],
    };
    const o = fieldsOfOutlook(item('email', message, { container: 'sentitems' }), settings(), GUID);
    expect(o).toMatchObject({ from: 'ann@contoso.com', to: ['me@fabrikam.com'], cc: null, internetMessageId: '<abc@contoso.com>', direction: 'outgoing', regarding: 'account:0000-1' });
    const fields = activeFields(DEFAULT_MAPPINGS.email, settings());
    const write = buildCrmWrite(fields, ['from', 'direction', 'regarding', 'internetMessageId'], o)!;
    expect(write.attributes).toEqual({ directioncode: true, statecode: 1, statuscode: 3, messageid: '<abc@contoso.com>' });
    expect(write.regarding).toEqual({ entity: 'account', id: '0000-1' });
    expect(write.parties).toEqual([
      { participationTypeMask: 1, address: 'ann@contoso.com', party: null },
      { participationTypeMask: 2, address: 'me@fabrikam.com', party: null },
    ]);
    expect(buildCrmWrite(fields, ['regarding'], { regarding: null })?.regarding).toBeNull();
    // A bare id (no entity) cannot be bound: it is not written.
    expect(buildCrmWrite(fields, ['regarding'], { regarding: '0000-1' })).toBeNull();
    const crm = fieldsOfCrm(record('email', { _regardingobjectid_value: '0000-2', '_regardingobjectid_value@Microsoft.Dynamics.CRM.lookuplogicalname': 'contact' }), settings());
    expect(crm.regarding).toBe('contact:0000-2');
    expect(buildOutlookWrite(fields, ['regarding', 'subject'], crm, GUID)?.data).toEqual({
      singleValueExtendedProperties: [{ id: regardingIdPropertyId(GUID), value: 'contact:0000-2' }],
    });
  });
});

describe('admin overrides (validated, plain TypeScript)', () => {
  test('the built-in mappings themselves pass', () => {
    for (const kind of ['contact', 'appointment', 'task', 'email'] as const) expect(applyMappingOverrides(kind, []).ok).toBe(true);
  });

  test('turn a field off, make it one-way, remap it to a custom column', () => {
    const result = applyMappingOverrides('contact', [
      { field: 'nickName', direction: 'none' },
      { field: 'jobTitle', direction: 'crm-to-outlook' },
      { field: 'businessFax', crmAttribute: 'new_fax' },
    ]);
    if (!result.ok) throw new Error(result.errors.join('\n'));
    const names = result.mapping.fields.map((f) => f.field);
    expect(names).not.toContain('nickName');
    expect(result.mapping.fields.find((f) => f.field === 'jobTitle')?.direction).toBe('crm-to-outlook');
    const fax = result.mapping.fields.filter((f) => f.field === 'businessFax');
    expect(buildCrmWrite(fax, ['businessFax'], { businessFax: '+1 555' })?.attributes).toEqual({ new_fax: '+1 555' });
    expect(fieldsOfCrm(record('contact', { new_fax: ' +1 555 ', fax: 'old' }), settings(), result.mapping).businessFax).toBe('+1 555');
  });

  test('rejects unknown fields, duplicates, bad directions, remaps of compound fields and two sources on one target', () => {
    const result = applyMappingOverrides('contact', [
      { field: 'shoeSize' },
      { field: 'pager', crmAttribute: 'telephone1' },
      { field: 'pager', direction: 'sideways' },
      { field: 'companyName', direction: 'both' },
      { field: 'businessStreet', crmAttribute: 'new_street' },
      { field: 'surname', colour: 'blue' },
      'not an object',
    ]);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const text = result.errors.join('\n');
    expect(text).toMatch(/unknown field "shoeSize"/);
    expect(text).toMatch(/"pager" is overridden twice/);
    expect(applyMappingOverrides('contact', [{ field: 'pager', direction: 'sideways' }])).toMatchObject({ ok: false, errors: [expect.stringMatching(/direction must be one of/)] });
    expect(text).toMatch(/"companyName" is one-way/);
    expect(text).toMatch(/"businessStreet" is not a single plain column/);
    expect(text).toMatch(/unknown setting\(s\) colour/);
    expect(text).toMatch(/needs a "field" name/);
    expect(text).toMatch(/"businessPhones" and "pager" both map to crm target "telephone1"/);
    expect(applyMappingOverrides('task', 'nope')).toEqual({ ok: false, errors: ['task: overrides must be a list'] });
  });
});
