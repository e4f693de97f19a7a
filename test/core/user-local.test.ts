// All-day appointments and task dates in the CRM user's time zone. Dataverse `scheduledstart`/`scheduledend` are
// DateTime UserLocal (dataverse-behaviour.md §4.4, §4.5): date D entered in the CRM is stored as "D 00:00 in the user's
// zone". Outlook all-day boundaries and To Do dates are floating dates (graph-behaviour.md §7, §2.5).
import { baselineForComparing, buildCrmWrite, buildOutlookWrite, fieldsOfCrm, readCrmValues, readOutlookValues } from '../../src/core/fields';
import { activeFields, DEFAULT_MAPPINGS, type KindMapping } from '../../src/core/mappings';
import { crmTimeZoneOf, withCrmTimeZone } from '../../src/core/mappings/user-local';
import type { CrmRecord, JsonObject } from '../../src/core/model';
import { mappingOfContext, type PlanInput } from '../../src/core/plan';
import { plan } from '../../src/core/planner';
import { localMidnightEpochMs, readAllDayDate, readLocalDate } from '../../src/core/timezone';
import { UnreadableValue } from '../../src/core/unreadable';
import type { UnreadableField } from '../../src/core/unreadable';
import { context, GUID, item, mappingRow, record, settings } from './support';

const appointments = DEFAULT_MAPPINGS.appointment;
const tasks = DEFAULT_MAPPINGS.task;

function allDayEvent(start: string, end: string): JsonObject {
  return {
    subject: 'Offsite',
    isAllDay: true,
    start: { dateTime: `${start}T00:00:00.0000000`, timeZone: 'Pacific Standard Time' },
    end: { dateTime: `${end}T00:00:00.0000000`, timeZone: 'Pacific Standard Time' },
    showAs: 'free',
    isCancelled: false,
    importance: 'normal',
  };
}

function crmWriteOf(mapping: KindMapping, data: JsonObject) {
  const fields = activeFields(mapping, settings());
  const values = readOutlookValues(mapping, fields, item(mapping.kind, data), GUID);
  return buildCrmWrite(fields, fields.map((f) => f.field), values)?.attributes ?? {};
}

function crmValues(mapping: KindMapping, data: JsonObject) {
  return readCrmValues(mapping, activeFields(mapping, settings()), record(mapping.kind, data));
}

describe('UserLocal dates (src/core/timezone.ts)', () => {
  test.each([
    ['2026-01-10', 'America/New_York', '2026-01-10T05:00:00.000Z'], // UTC−5
    ['2026-03-10', 'Eastern Standard Time', '2026-03-10T04:00:00.000Z'], // daylight time, Windows id
    ['2026-03-08', 'America/New_York', '2026-03-08T05:00:00.000Z'], // the DST change day: midnight is still EST
    ['2026-07-10', 'AUS Eastern Standard Time', '2026-07-09T14:00:00.000Z'], // UTC+10
    ['2026-03-10', 'Pacific/Kiritimati', '2026-03-09T10:00:00.000Z'], // UTC+14, west of the date line
    ['2026-03-10', 'Dateline Standard Time', '2026-03-10T12:00:00.000Z'], // UTC−12, east of it
    ['2026-09-06', 'America/Santiago', '2026-09-06T04:00:00.000Z'], // clocks jump 00:00 → 01:00: the first instant of the day
  ])('date %s in %s starts at %s, and reads back as that date', (date, zone, instant) => {
    const epoch = localMidnightEpochMs(date, zone);
    expect(epoch === null ? null : new Date(epoch).toISOString()).toBe(instant);
    expect(readAllDayDate(Date.parse(instant), zone)).toBe(date);
    expect(readLocalDate(Date.parse(instant), zone)).toBe(date);
  });

  const unreadable = new UnreadableValue('unknown-time-zone');

  test('an all-day boundary is a local midnight or UTC midnight (earlier versions); any other instant is unreadable', () => {
    expect(readAllDayDate(Date.parse('2026-03-10T04:00:00Z'), 'America/New_York')).toBe('2026-03-10');
    expect(readAllDayDate(Date.parse('2026-03-10T00:00:00Z'), 'America/New_York')).toBe('2026-03-10');
    expect(readAllDayDate(Date.parse('2026-03-10T00:00:00Z'), 'Australia/Sydney')).toBe('2026-03-10');
    // Local midnight of another zone (the user moved, or an integration wrote it): never a shifted day.
    expect(readAllDayDate(Date.parse('2026-03-10T05:00:00Z'), 'America/New_York')).toEqual(unreadable);
    expect(readAllDayDate(Date.parse('2026-03-10T15:00:00Z'), 'America/New_York')).toEqual(unreadable);
    expect(readAllDayDate(Date.parse('2026-03-10T04:00:00Z'), 'America/Los_Angeles')).toEqual(unreadable);
    expect(readAllDayDate(Date.parse('2026-03-10T04:00:00Z'), 'Mars Standard Time')).toEqual(unreadable);
    expect(readAllDayDate(Date.parse('2026-03-10T04:00:00Z'), null)).toEqual(unreadable);
    expect(readAllDayDate(Date.parse('2026-03-10T00:00:00Z'), null)).toBe('2026-03-10');
  });

  test('a task date is the local date whatever the time, UTC midnight included; unreadable only without a zone', () => {
    expect(readLocalDate(Date.parse('2026-03-10T15:00:00Z'), 'America/New_York')).toBe('2026-03-10');
    expect(readLocalDate(Date.parse('2026-03-10T02:00:00Z'), 'America/New_York')).toBe('2026-03-09');
    // 17:00 PDT on 10 July is stored 2026-07-11T00:00Z: due on the 10th in the CRM.
    expect(readLocalDate(Date.parse('2026-07-11T00:00:00Z'), 'Pacific Standard Time')).toBe('2026-07-10');
    expect(readLocalDate(Date.parse('2026-03-10T00:00:00Z'), 'Australia/Sydney')).toBe('2026-03-10');
    expect(readLocalDate(Date.parse('2026-03-10T00:00:00Z'), null)).toEqual(unreadable);
  });
});

describe('all-day appointments in the CRM user zone', () => {
  const eastern = withCrmTimeZone(appointments, 'Eastern Standard Time');

  test('an Outlook all-day event on D is written as D 00:00 in the user zone (UTC−5, DST-correct; the duration stays whole days)', () => {
    expect(crmWriteOf(eastern, allDayEvent('2026-01-10', '2026-01-11'))).toMatchObject({
      scheduledstart: '2026-01-10T05:00:00Z',
      scheduledend: '2026-01-11T05:00:00Z',
      isalldayevent: true,
      scheduleddurationminutes: 1440,
    });
    expect(crmWriteOf(eastern, allDayEvent('2026-03-08', '2026-03-09'))).toMatchObject({
      scheduledstart: '2026-03-08T05:00:00Z',
      scheduledend: '2026-03-09T04:00:00Z',
      isalldayevent: true,
      scheduleddurationminutes: 1440,
    });
    // The floating date is what counts: the event's own zone (Pacific here) is ignored (graph-behaviour.md §7).
    expect(crmWriteOf(withCrmTimeZone(appointments, 'AUS Eastern Standard Time'), allDayEvent('2026-07-10', '2026-07-11'))).toMatchObject({
      scheduledstart: '2026-07-09T14:00:00Z',
      scheduledend: '2026-07-10T14:00:00Z',
    });
  });

  test('a CRM all-day appointment reads as its local dates; a timed one is an instant whatever the zone', () => {
    const allDay = { subject: 'Offsite', isalldayevent: true, scheduledstart: '2026-03-10T04:00:00Z', scheduledend: '2026-03-11T04:00:00Z', statuscode: 1 };
    expect(crmValues(eastern, allDay)).toMatchObject({ start: '2026-03-10', end: '2026-03-11', isAllDay: true });
    // Read in UTC, a Sydney midnight would start the day before (the bug this fixes): it is no midnight there, so unreadable.
    const sydney = { ...allDay, scheduledstart: '2026-07-09T14:00:00Z', scheduledend: '2026-07-10T14:00:00Z' };
    expect(crmValues(appointments, sydney)).toMatchObject({ start: null, end: null });
    expect(crmValues(withCrmTimeZone(appointments, 'Australia/Sydney'), sydney)).toMatchObject({ start: '2026-07-10', end: '2026-07-11' });
    const timed = { subject: 'Call', isalldayevent: false, scheduledstart: '2026-03-10T15:00:00Z', scheduledend: '2026-03-10T16:00:00Z' };
    expect(crmValues(eastern, timed)).toMatchObject({ start: '2026-03-10T15:00:00Z', end: '2026-03-10T16:00:00Z', duration: 60 });
    expect(crmWriteOf(eastern, { ...allDayEvent('2026-03-10', '2026-03-11'), isAllDay: false, start: { dateTime: '2026-03-10T15:00:00', timeZone: 'UTC' }, end: { dateTime: '2026-03-10T16:00:00', timeZone: 'UTC' } })).toMatchObject({
      scheduledstart: '2026-03-10T15:00:00Z',
      isalldayevent: false,
    });
  });

  test('a record written at UTC midnight by an earlier version keeps its date (no day moves after the upgrade)', () => {
    expect(crmValues(eastern, { isalldayevent: true, scheduledstart: '2026-03-10T00:00:00Z', scheduledend: '2026-03-11T00:00:00Z' })).toMatchObject({ start: '2026-03-10', end: '2026-03-11' });
  });

  test('a CRM all-day appointment becomes an Outlook all-day event on the same dates', () => {
    const fields = activeFields(eastern, settings());
    const values = crmValues(eastern, { subject: 'Offsite', isalldayevent: true, scheduledstart: '2026-01-10T05:00:00Z', scheduledend: '2026-01-12T05:00:00Z' });
    expect(buildOutlookWrite(fields, ['start'], values, GUID)?.data).toEqual({
      start: { dateTime: '2026-01-10T00:00:00.0000000', timeZone: 'UTC' },
      end: { dateTime: '2026-01-12T00:00:00.0000000', timeZone: 'UTC' },
      isAllDay: true,
    });
  });
});

describe('task dates in the CRM user zone', () => {
  const eastern = withCrmTimeZone(tasks, 'Eastern Standard Time');
  const sydney = withCrmTimeZone(tasks, 'Australia/Sydney');
  const task = (due: JsonObject | null): JsonObject => ({ title: 'Call Ann', status: 'notStarted', importance: 'normal', dueDateTime: due });

  test('a To Do due date D becomes D 00:00 in the user zone; a CRM due instant reads as its local date', () => {
    expect(crmWriteOf(eastern, task({ dateTime: '2026-03-10T00:00:00.0000000', timeZone: 'UTC' }))).toMatchObject({ scheduledend: '2026-03-10T04:00:00Z' });
    expect(crmWriteOf(sydney, task({ dateTime: '2026-03-10T00:00:00.0000000', timeZone: 'UTC' }))).toMatchObject({ scheduledend: '2026-03-09T13:00:00Z' });
    expect(crmValues(eastern, { subject: 'Call Ann', scheduledend: '2026-03-10T19:30:00Z' }).dueDateTime).toBe('2026-03-10');
    expect(crmValues(sydney, { subject: 'Call Ann', scheduledend: '2026-03-09T13:00:00Z' }).dueDateTime).toBe('2026-03-10');
  });

  test('To Do is written midnight in the user zone; a value Graph converted to UTC reads as the same date', () => {
    const fields = activeFields(sydney, settings());
    expect(buildOutlookWrite(fields, ['dueDateTime'], { dueDateTime: '2026-03-10' }, GUID)?.data).toEqual({
      dueDateTime: { dateTime: '2026-03-10T00:00:00.0000000', timeZone: 'Australia/Sydney' },
      reminderDateTime: { dateTime: '2026-03-10T00:00:00.0000000', timeZone: 'Australia/Sydney' },
      isReminderOn: true,
    });
    const converted = item('task', task({ dateTime: '2026-03-09T13:00:00.0000000', timeZone: 'UTC' }));
    expect(readOutlookValues(sydney, fields, converted, GUID).dueDateTime).toBe('2026-03-10');
  });

  test('a To Do time in a zone this runtime cannot resolve stays unreadable, never a guessed day', () => {
    const fields = activeFields(eastern, settings());
    const unreadable: UnreadableField[] = [];
    const values = readOutlookValues(eastern, fields, item('task', task({ dateTime: '2026-03-10T11:00:00', timeZone: 'Mars Standard Time' })), GUID, unreadable);
    expect(values.dueDateTime).toBeNull();
    expect(unreadable.map((u) => u.field)).toEqual(['dueDateTime']);
  });
});

describe('withCrmTimeZone', () => {
  test('binding is idempotent, re-binding converts once, and no zone or UTC leaves the built-in mapping', () => {
    const eastern = withCrmTimeZone(appointments, 'Eastern Standard Time');
    expect(withCrmTimeZone(eastern, 'Eastern Standard Time')).toBe(eastern);
    expect(crmTimeZoneOf(eastern)).toBe('Eastern Standard Time');
    const rebound = withCrmTimeZone(eastern, 'Australia/Sydney');
    expect(crmWriteOf(rebound, allDayEvent('2026-07-10', '2026-07-11'))).toMatchObject({ scheduledstart: '2026-07-09T14:00:00Z' });
    for (const zone of [undefined, 'UTC', 'Etc/UTC']) expect(withCrmTimeZone(eastern, zone)).toBe(appointments);
    expect(crmTimeZoneOf(withCrmTimeZone(eastern, 'Mars Standard Time'))).toBeNull();
    expect(withCrmTimeZone(eastern, null)).toBe(withCrmTimeZone(appointments, 'Mars Standard Time'));
    expect(withCrmTimeZone(DEFAULT_MAPPINGS.contact, 'Eastern Standard Time')).toBe(DEFAULT_MAPPINGS.contact);
  });

  test('an unknown zone never guesses a day: only UTC-midnight CRM dates read, the others are unreadable, writes at UTC midnight', () => {
    const unknownAppointments = withCrmTimeZone(appointments, null);
    const unreadable: UnreadableField[] = [];
    const sydneyAllDay = record('appointment', { isalldayevent: true, scheduledstart: '2026-07-09T14:00:00Z', scheduledend: '2026-07-10T14:00:00Z' });
    const values = readCrmValues(unknownAppointments, activeFields(unknownAppointments, settings()), sydneyAllDay, unreadable);
    expect(unreadable.map((u) => `${u.field}:${u.reason}`)).toEqual(['start:unknown-time-zone', 'end:unknown-time-zone']);
    expect(values.start).toBeNull();
    expect(crmValues(unknownAppointments, { isalldayevent: true, scheduledstart: '2026-07-10T00:00:00Z', scheduledend: '2026-07-11T00:00:00Z' })).toMatchObject({ start: '2026-07-10', end: '2026-07-11' });
    expect(crmWriteOf(unknownAppointments, allDayEvent('2026-07-10', '2026-07-11'))).toMatchObject({ scheduledstart: '2026-07-10T00:00:00Z' });
    // Timed appointments are instants: no zone needed.
    expect(crmValues(unknownAppointments, { isalldayevent: false, scheduledstart: '2026-07-10T15:00:00Z', scheduledend: '2026-07-10T16:00:00Z' }).start).toBe('2026-07-10T15:00:00Z');
    const unknownTasks = withCrmTimeZone(tasks, 'Mars Standard Time');
    const taskUnreadable: UnreadableField[] = [];
    readCrmValues(unknownTasks, activeFields(unknownTasks, settings()), record('task', { scheduledend: '2026-07-09T14:00:00Z' }), taskUnreadable);
    expect(taskUnreadable.map((u) => u.field)).toEqual(['dueDateTime']);
    expect(buildOutlookWrite(activeFields(unknownTasks, settings()), ['dueDateTime'], { dueDateTime: '2026-07-10' }, GUID)?.data).toMatchObject({
      dueDateTime: { dateTime: '2026-07-10T00:00:00.0000000', timeZone: 'UTC' },
    });
  });

  test('a linked all-day pair whose zone became unknown keeps its dates: no write either way', () => {
    const sydney = withCrmTimeZone(appointments, 'Australia/Sydney');
    const outlook = item('appointment', allDayEvent('2026-07-10', '2026-07-11'));
    const baseline = { ...readOutlookValues(sydney, activeFields(sydney, settings()), outlook, GUID), '@crmOwnerId': 'user-other' };
    const crm = record('appointment', { subject: 'Offsite', isalldayevent: true, scheduledstart: '2026-07-09T14:00:00Z', scheduledend: '2026-07-10T14:00:00Z', scheduleddurationminutes: 1440, statecode: 0, statuscode: 1, prioritycode: 1 });
    const p = plan({ outlook: { state: 'present', item: outlook }, crm: { state: 'present', record: crm, inScope: true }, mapping: mappingRow('appointment', baseline), context: context('appointment', { fieldMapping: withCrmTimeZone(appointments, null), crmTimeZone: null }) });
    expect(p.crm.type).toBe('none');
    expect(p.outlook.type).toBe('none');
    expect(p.unreadable?.map((u) => u.field)).toEqual(['start', 'end']);
  });

  test('mappingOfContext binds the override mapping or the built-in one to PlanContext.crmTimeZone', () => {
    expect(mappingOfContext(context('appointment'))).toBe(appointments);
    expect(crmTimeZoneOf(mappingOfContext(context('task', { crmTimeZone: 'America/New_York' })))).toBe('America/New_York');
    const bound = withCrmTimeZone(tasks, 'America/New_York');
    expect(mappingOfContext(context('task', { fieldMapping: bound, crmTimeZone: 'America/New_York' }))).toBe(bound);
  });
});

describe('plans with the user zone', () => {
  const eastern = withCrmTimeZone(appointments, 'Eastern Standard Time');
  const ctx = context('appointment', { fieldMapping: eastern, crmTimeZone: 'Eastern Standard Time' });
  const crmAllDay = (start: string, end: string): CrmRecord =>
    record('appointment', { subject: 'Offsite', isalldayevent: true, scheduledstart: start, scheduledend: end, scheduleddurationminutes: 1440, statecode: 0, statuscode: 1, prioritycode: 1 });

  test('a tracked all-day event is created in the CRM at local midnight', () => {
    const p = plan({ outlook: { state: 'present', item: item('appointment', allDayEvent('2026-01-10', '2026-01-11'), { crmId: null }) }, crm: { state: 'absent' }, mapping: null, context: ctx });
    expect(p.crm.type === 'create' && p.crm.write.attributes).toMatchObject({ scheduledstart: '2026-01-10T05:00:00Z', scheduledend: '2026-01-11T05:00:00Z' });
  });

  test.each([
    ['written at local midnight', '2026-01-10T05:00:00Z', '2026-01-11T05:00:00Z'],
    ['written at UTC midnight by an earlier version', '2026-01-10T00:00:00Z', '2026-01-11T00:00:00Z'],
  ])('a linked pair whose CRM side was %s writes nothing', (_name, start, end) => {
    const outlook = item('appointment', allDayEvent('2026-01-10', '2026-01-11'));
    const baseline = { ...readOutlookValues(eastern, activeFields(eastern, settings()), outlook, GUID), '@crmOwnerId': 'user-other' };
    const input: PlanInput = { outlook: { state: 'present', item: outlook }, crm: { state: 'present', record: crmAllDay(start, end), inScope: true }, mapping: mappingRow('appointment', baseline), context: ctx };
    const p = plan(input);
    expect(p.crm.type).toBe('none');
    expect(p.outlook.type).toBe('none');
  });

  test('a task linked by an earlier version (due stored as an instant in the baseline) writes nothing after the upgrade', () => {
    const eastern = withCrmTimeZone(tasks, 'Eastern Standard Time');
    const outlook = item('task', { title: 'Call Ann', status: 'notStarted', importance: 'normal', dueDateTime: { dateTime: '2026-07-01T09:00:00.0000000', timeZone: 'UTC' } });
    const crm = record('task', { subject: 'Call Ann', statecode: 0, statuscode: 2, prioritycode: 1, scheduledend: '2026-07-01T09:00:00Z' });
    const baseline = { title: 'Call Ann', body: null, dueDateTime: '2026-07-01T09:00:00Z', startDateTime: null, importance: 'normal', status: 'notStarted', completedDateTime: null, '@crmOwnerId': 'user-other' };
    const p = plan({ outlook: { state: 'present', item: outlook }, crm: { state: 'present', record: crm, inScope: true }, mapping: mappingRow('task', baseline), context: context('task', { fieldMapping: eastern, crmTimeZone: 'Eastern Standard Time' }) });
    expect(p.crm.type).toBe('none');
    expect(p.outlook.type).toBe('none');
    expect(p.conflicts).toEqual([]);
  });
});

describe('task due times (review: UTC midnight is a time of day for a task)', () => {
  const pacific = withCrmTimeZone(tasks, 'Pacific Standard Time');
  const due = (at: string) => crmValues(pacific, { subject: 'Send quote', scheduledend: at }).dueDateTime;

  test('a task due 17:00 PDT on 10 July (stored 2026-07-11T00:00Z) is due on the 10th for a Pacific user', () => {
    expect(due('2026-07-11T00:00:00Z')).toBe('2026-07-10');
    expect(due('2026-07-10T23:59:00Z')).toBe('2026-07-10');
    expect(due('2026-07-11T00:01:00Z')).toBe('2026-07-10');
  });

  test('DESIGN.md §7: a due time set in the CRM becomes the Outlook reminder, in the user zone', () => {
    const eastern = withCrmTimeZone(tasks, 'Eastern Standard Time');
    const fields = activeFields(eastern, settings());
    const values = readCrmValues(eastern, fields, record('task', { subject: 'Call Ann', scheduledend: '2026-03-10T19:30:00Z' })); // 15:30 EDT
    expect(values.dueDateTime).toBe('2026-03-10');
    expect(buildOutlookWrite(fields, ['dueDateTime'], values, GUID)?.data).toEqual({
      dueDateTime: { dateTime: '2026-03-10T00:00:00.0000000', timeZone: 'Eastern Standard Time' },
      reminderDateTime: { dateTime: '2026-03-10T15:30:00.0000000', timeZone: 'Eastern Standard Time' },
      isReminderOn: true,
    });
    // The due time alone is no Outlook write: it only rides with a due date from the CRM.
    expect(buildOutlookWrite(fields, ['dueTime'], values, GUID)).toBeNull();
  });

  test('a task created in Outlook from the CRM carries the due time as its reminder; the cycle after writes nothing', () => {
    const eastern = withCrmTimeZone(tasks, 'Eastern Standard Time');
    const ctx = context('task', { fieldMapping: eastern, crmTimeZone: 'Eastern Standard Time', settings: settings({ syncFromCrm: true }) });
    const crm = record('task', { subject: 'Call Ann', statecode: 0, statuscode: 2, prioritycode: 1, scheduledend: '2026-03-10T19:30:00Z' });
    const created = plan({ outlook: { state: 'absent' }, crm: { state: 'present', record: crm, inScope: true }, mapping: null, context: ctx });
    expect(created.outlook.type === 'create' && created.outlook.write.data).toMatchObject({ reminderDateTime: { dateTime: '2026-03-10T15:30:00.0000000' } });
    if (created.mapping.type !== 'put' || created.outlook.type !== 'create') throw new Error('expected a create');
    const outlook = item('task', { title: 'Call Ann', status: 'notStarted', importance: 'normal', ...created.outlook.write.data });
    const next = plan({ outlook: { state: 'present', item: outlook }, crm: { state: 'present', record: crm, inScope: true }, mapping: mappingRow('task', created.mapping.baseline), context: ctx });
    expect({ outlook: next.outlook.type, crm: next.crm.type, mapping: next.mapping.type }).toEqual({ outlook: 'none', crm: 'none', mapping: 'keep' });
  });

  test('PlanContext.crmTimeZone alone binds the plan to the zone', () => {
    const allDay = allDayEvent('2026-01-10', '2026-01-11');
    const p = plan({ outlook: { state: 'present', item: item('appointment', allDay, { crmId: null }) }, crm: { state: 'absent' }, mapping: null, context: context('appointment', { crmTimeZone: 'Eastern Standard Time' }) });
    expect(p.crm.type === 'create' && p.crm.write.attributes).toMatchObject({ scheduledstart: '2026-01-10T05:00:00Z' });
  });
});

describe('tasks linked by an earlier version (due stored as an instant in the baseline)', () => {
  const taskItem = (dateTime: string, title = 'Call Ann') => item('task', { title, status: 'notStarted', importance: 'normal', dueDateTime: { dateTime, timeZone: 'UTC' } });
  const taskRecord = (scheduledend: string, subject = 'Call Ann') => record('task', { subject, statecode: 0, statuscode: 2, prioritycode: 1, scheduledend });
  const legacyBaseline = (due: string) => ({ title: 'Call Ann', body: null, dueDateTime: due, startDateTime: null, importance: 'normal', status: 'notStarted', completedDateTime: null, '@crmOwnerId': 'user-other' });
  const planIn = (zone: string, outlook: ReturnType<typeof item>, crm: CrmRecord, baseline: Record<string, unknown>) =>
    plan({ outlook: { state: 'present', item: outlook }, crm: { state: 'present', record: crm, inScope: true }, mapping: mappingRow('task', baseline as never), context: context('task', { crmTimeZone: zone }) });

  test.each([
    ['Eastern Standard Time', '2026-07-01T09:00:00Z'],
    ['AUS Eastern Standard Time', '2026-07-01T20:00:00Z'],
    ['Pacific Standard Time', '2026-07-02T00:00:00Z'],
    ['Pacific Standard Time', '2026-07-01T07:00:00Z'],
  ])('%s, instant %s: nothing is written after the upgrade', (zone, due) => {
    const p = planIn(zone, taskItem(due.replace('Z', '.0000000')), taskRecord(due), legacyBaseline(due));
    expect({ crm: p.crm.type, outlook: p.outlook.type, conflicts: p.conflicts }).toEqual({ crm: 'none', outlook: 'none', conflicts: [] });
  });

  test('west of UTC, the UTC-midnight date holds when the row is rewritten for another field, and in the cycle after', () => {
    const due = '2026-07-02T00:00:00Z';
    const first = planIn('Pacific Standard Time', taskItem('2026-07-02T00:00:00.0000000', 'Call Ann today'), taskRecord(due), legacyBaseline(due));
    expect(first.crm.type === 'update' && first.crm.write.attributes).toEqual({ subject: 'Call Ann today' });
    expect(first.outlook.type).toBe('none');
    if (first.mapping.type !== 'put') throw new Error('expected the row rewritten');
    // The baseline keeps the stored instant while the record holds it: the next cycle reads the same day.
    expect(first.mapping.baseline.dueDateTime).toBe(due);
    const second = planIn('Pacific Standard Time', taskItem('2026-07-02T00:00:00.0000000', 'Call Ann today'), taskRecord(due, 'Call Ann today'), first.mapping.baseline);
    expect({ crm: second.crm.type, outlook: second.outlook.type, mapping: second.mapping.type }).toEqual({ crm: 'none', outlook: 'none', mapping: 'keep' });
  });

  test('a date changed on either side afterwards is synced in the user zone, without a conflict', () => {
    const due = '2026-07-02T00:00:00Z';
    const outlookMoved = planIn('Pacific Standard Time', taskItem('2026-07-05T00:00:00.0000000'), taskRecord(due), legacyBaseline(due));
    expect(outlookMoved.conflicts).toEqual([]);
    expect(outlookMoved.crm.type === 'update' && outlookMoved.crm.write.attributes).toEqual({ scheduledend: '2026-07-05T07:00:00Z' });
    // 09:00 PDT on 3 July, entered in the CRM: a CRM change, written to To Do as the 3rd with a 09:00 reminder.
    const crmMoved = planIn('Pacific Standard Time', taskItem('2026-07-02T00:00:00.0000000'), taskRecord('2026-07-03T16:00:00Z'), legacyBaseline(due));
    expect(crmMoved.conflicts).toEqual([]);
    expect(crmMoved.outlook.type === 'update' && crmMoved.outlook.write?.data).toMatchObject({
      dueDateTime: { dateTime: '2026-07-03T00:00:00.0000000', timeZone: 'Pacific Standard Time' },
      reminderDateTime: { dateTime: '2026-07-03T09:00:00.0000000', timeZone: 'Pacific Standard Time' },
    });
  });

  test('a baseline in the date form gets no UTC-midnight reading: a CRM due moved to 17:00 PDT is the day before', () => {
    // The pair was due on the 11th; a CRM user moved it to 17:00 PDT on the 10th.
    const p = planIn('Pacific Standard Time', taskItem('2026-07-11T00:00:00.0000000'), taskRecord('2026-07-11T00:00:00Z'), legacyBaseline('2026-07-11'));
    expect(p.outlook.type === 'update' && p.outlook.write?.data).toMatchObject({ dueDateTime: { dateTime: '2026-07-10T00:00:00.0000000' } });
  });
});

describe('all-day appointments when the CRM user changes time zone (review)', () => {
  const ny = withCrmTimeZone(appointments, 'Eastern Standard Time');
  const outlookEvent = { ...allDayEvent('2026-01-10', '2026-01-11'), start: { dateTime: '2026-01-10T00:00:00.0000000', timeZone: 'UTC' }, end: { dateTime: '2026-01-11T00:00:00.0000000', timeZone: 'UTC' } };
  // What this version wrote for the New York user: D 00:00 EST.
  const crm = record('appointment', { subject: 'Offsite', isalldayevent: true, scheduledstart: '2026-01-10T05:00:00Z', scheduledend: '2026-01-11T05:00:00Z', scheduleddurationminutes: 1440, statecode: 0, statuscode: 1, prioritycode: 1 });

  test.each(['Pacific Standard Time', 'AUS Eastern Standard Time'])('a pair written in New York writes nothing after the user moves to %s (dates left out, never shifted)', (zone) => {
    const outlook = item('appointment', outlookEvent);
    const baseline = { ...readOutlookValues(ny, activeFields(ny, settings()), outlook, GUID), '@crmOwnerId': 'user-other' };
    const p = plan({ outlook: { state: 'present', item: outlook }, crm: { state: 'present', record: crm, inScope: true }, mapping: mappingRow('appointment', baseline), context: context('appointment', { crmTimeZone: zone }) });
    expect({ outlook: p.outlook.type, crm: p.crm.type }).toEqual({ outlook: 'none', crm: 'none' });
    expect(p.unreadable?.map((u) => `${u.side}:${u.field}:${u.reason}`)).toEqual(['crm:start:unknown-time-zone', 'crm:end:unknown-time-zone']);
  });
});

describe('task dates when the CRM user changes time zone', () => {
  const newYork = withCrmTimeZone(tasks, 'Eastern Standard Time');
  const ctxIn = (zone: string) => context('task', { crmTimeZone: zone });
  const todo = (due: string, title = 'Call Ann') => item('task', { title, status: 'notStarted', importance: 'normal', dueDateTime: { dateTime: `${due}T00:00:00.0000000`, timeZone: 'UTC' } });
  const crmTask = (scheduledend: string, subject = 'Call Ann') => record('task', { subject, statecode: 0, statuscode: 2, prioritycode: 1, scheduledend });

  /** A pair synced in New York: the To Do due date D, the CRM at D 00:00 EST (what this version writes). */
  function syncedInNewYork() {
    const created = plan({ outlook: { state: 'present', item: item('task', { title: 'Call Ann', status: 'notStarted', importance: 'normal', dueDateTime: { dateTime: '2026-01-10T00:00:00.0000000', timeZone: 'UTC' } }, { crmId: null }) }, crm: { state: 'absent' }, mapping: null, context: context('task', { fieldMapping: newYork, crmTimeZone: 'Eastern Standard Time' }) });
    if (created.crm.type !== 'create' || created.mapping.type !== 'put') throw new Error('expected a create');
    expect(created.crm.write.attributes).toMatchObject({ scheduledend: '2026-01-10T05:00:00Z' });
    // The baseline holds the CRM instant the create writes.
    expect(created.mapping.baseline.dueTime).toBe('2026-01-10T05:00:00Z');
    return created.mapping.baseline;
  }

  test('the user moves to Los Angeles: the unchanged CRM due (21:00 PDT the day before) moves no To Do date', () => {
    const baseline = syncedInNewYork();
    const p = plan({ outlook: { state: 'present', item: todo('2026-01-10', 'Call Ann now') }, crm: { state: 'present', record: crmTask('2026-01-10T05:00:00Z'), inScope: true }, mapping: mappingRow('task', baseline), context: ctxIn('Pacific Standard Time') });
    expect(p.outlook.type).toBe('none');
    expect(p.crm.type === 'update' && p.crm.write.attributes).toEqual({ subject: 'Call Ann now' });
    if (p.mapping.type !== 'put') throw new Error('expected the row rewritten');
    expect(p.mapping.baseline).toMatchObject({ dueDateTime: '2026-01-10', dueTime: '2026-01-10T05:00:00Z' });
  });

  test('then a CRM edit of the due is a change, read in the new zone, and the reminder takes its time', () => {
    const baseline = syncedInNewYork();
    // 09:00 PST on 12 January, entered in Los Angeles.
    const p = plan({ outlook: { state: 'present', item: todo('2026-01-10') }, crm: { state: 'present', record: crmTask('2026-01-12T17:00:00Z'), inScope: true }, mapping: mappingRow('task', baseline), context: ctxIn('Pacific Standard Time') });
    expect(p.outlook.type === 'update' && p.outlook.write?.data).toEqual({
      dueDateTime: { dateTime: '2026-01-12T00:00:00.0000000', timeZone: 'Pacific Standard Time' },
      reminderDateTime: { dateTime: '2026-01-12T09:00:00.0000000', timeZone: 'Pacific Standard Time' },
      isReminderOn: true,
    });
  });

  test('a CRM change of the due time alone (same local date) writes nothing to Outlook; the baseline follows the CRM', () => {
    const baseline = syncedInNewYork();
    const p = plan({ outlook: { state: 'present', item: todo('2026-01-10') }, crm: { state: 'present', record: crmTask('2026-01-10T20:00:00Z'), inScope: true }, mapping: mappingRow('task', baseline), context: ctxIn('Eastern Standard Time') });
    expect({ outlook: p.outlook.type, crm: p.crm.type }).toEqual({ outlook: 'none', crm: 'none' });
    expect(p.mapping.type === 'put' && p.mapping.baseline.dueTime).toBe('2026-01-10T20:00:00Z');
  });

  test('an Outlook due change is written to the CRM and the baseline holds the instant written: the cycle after writes nothing', () => {
    const baseline = syncedInNewYork();
    const ctx = ctxIn('Eastern Standard Time');
    const p = plan({ outlook: { state: 'present', item: todo('2026-01-15') }, crm: { state: 'present', record: crmTask('2026-01-10T05:00:00Z'), inScope: true }, mapping: mappingRow('task', baseline), context: ctx });
    expect(p.crm.type === 'update' && p.crm.write.attributes).toEqual({ scheduledend: '2026-01-15T05:00:00Z' });
    if (p.mapping.type !== 'put') throw new Error('expected the row rewritten');
    expect(p.mapping.baseline.dueTime).toBe('2026-01-15T05:00:00Z');
    const next = plan({ outlook: { state: 'present', item: todo('2026-01-15') }, crm: { state: 'present', record: crmTask('2026-01-15T05:00:00Z'), inScope: true }, mapping: mappingRow('task', p.mapping.baseline), context: ctx });
    expect({ outlook: next.outlook.type, crm: next.crm.type, mapping: next.mapping.type }).toEqual({ outlook: 'none', crm: 'none', mapping: 'keep' });
  });
});

describe('reading a record against a stored baseline outside the planner (reconciliation)', () => {
  test('fieldsOfCrm with the baseline and baselineForComparing agree with the planner: no change where it sees none', () => {
    const pacific = withCrmTimeZone(tasks, 'Pacific Standard Time');
    const legacy = { title: 'Call Ann', body: null, dueDateTime: '2026-07-02T00:00:00Z', startDateTime: null, importance: 'normal', status: 'notStarted', completedDateTime: null };
    const crm = record('task', { subject: 'Call Ann', statecode: 0, statuscode: 2, prioritycode: 1, scheduledend: '2026-07-02T00:00:00Z' });
    expect(fieldsOfCrm(crm, settings(), pacific).dueDateTime).toBe('2026-07-01');
    expect(fieldsOfCrm(crm, settings(), pacific, legacy).dueDateTime).toBe('2026-07-02');
    expect(baselineForComparing(legacy, settings(), pacific).dueDateTime).toBe('2026-07-02');
    // A baseline in the current form is returned as it is.
    const current = { ...legacy, dueDateTime: '2026-07-02', dueTime: '2026-07-02T07:00:00Z' };
    expect(baselineForComparing(current, settings(), pacific)).toBe(current);
  });
});
