// Appointments: Graph `event` ↔ Dataverse `appointment` (DESIGN.md §7; graph-behaviour.md §2.2, §7;
// dataverse-behaviour.md §4.2, §4.4, §6 "Appointment Time" is one aggregated, fixed mapping).
import type { FieldValues, JsonObject, JsonValue } from '../model';
import { formatInstant, isDateOnly, normDate, parseInstant, readDateTimeTimeZone } from '../normalize';
import { localMidnightEpochMs, readAllDayDate } from '../timezone';
import { crmColumn, itemBody, scalar, valueOf } from './fields';
import { importance } from './task';
import { defineKind, type FieldDescriptor } from './types';
import { asStrings, at, attr, isObject, partiesFor, partyAddresses, toDateTimeTimeZone } from './wire';

export const PARTY_REQUIRED = 5;
export const PARTY_OPTIONAL = 6;
export const PARTY_ORGANIZER = 7;

function allDayOf(values: FieldValues): boolean {
  return valueOf(values, 'isAllDay') === true;
}

/** All-day boundaries are floating dates (graph-behaviour.md §7: all-day events ignore the time-zone header). */
function readOutlookBoundary(data: Record<string, JsonValue>, property: 'start' | 'end'): unknown {
  const value = data[property];
  if (data.isAllDay === true) return normDate(at(value, 'dateTime'));
  return readDateTimeTimeZone(value);
}

/**
 * `scheduledstart`/`scheduledend` are DateTime UserLocal (dataverse-behaviour.md §4.4): stored as UTC, shown in the CRM
 * user's zone. An all-day appointment on date D is stored at "D 00:00 in the user's zone" and read back as its local
 * date there; UTC midnight reads as its UTC date (earlier versions wrote it) and any other instant, written in another
 * zone, is unreadable, never a shifted day (readAllDayDate). A timed appointment's boundaries are instants and are not
 * converted. `zone` is the CRM user's zone (IANA or Windows id; null: unknown, written at UTC midnight); the built-in
 * mapping uses UTC, withCrmTimeZone binds the user's.
 */
function readCrmBoundary(record: { data: Record<string, JsonValue> }, column: string, zone: string | null): unknown {
  const value = record.data[column];
  if (record.data.isalldayevent !== true) return value;
  if (isDateOnly(value)) return value;
  const epoch = parseInstant(value);
  return epoch === null ? null : readAllDayDate(epoch, zone);
}

function writeCrmBoundary(value: JsonValue, zone: string | null): JsonValue {
  if (!isDateOnly(value)) return value;
  const epoch = localMidnightEpochMs(value, zone ?? 'UTC');
  return epoch === null ? null : formatInstant(epoch);
}

/** The time fields are written together ("Appointment Time"), from the merged values. */
function outlookTime(values: FieldValues): Record<string, JsonValue> {
  return {
    start: toDateTimeTimeZone(valueOf(values, 'start')),
    end: toDateTimeTimeZone(valueOf(values, 'end')),
    isAllDay: allDayOf(values),
  };
}

function crmTime(values: FieldValues, zone: string | null): Record<string, JsonValue> {
  return {
    scheduledstart: writeCrmBoundary(valueOf(values, 'start'), zone),
    scheduledend: writeCrmBoundary(valueOf(values, 'end'), zone),
    isalldayevent: allDayOf(values),
    scheduleddurationminutes: valueOf(values, 'duration'),
  };
}

/** The CRM side of the "Appointment Time" fields in a zone: what withCrmTimeZone swaps in. */
export function appointmentTimeCrm(field: string, zone: string | null): FieldDescriptor['crm'] {
  const write: FieldDescriptor['crm']['write'] = (_v, values) => ({ attributes: crmTime(values, zone) });
  switch (field) {
    case 'start':
      return { read: (r) => readCrmBoundary(r, 'scheduledstart', zone), write };
    case 'end':
      return { read: (r) => readCrmBoundary(r, 'scheduledend', zone), write };
    case 'isAllDay':
      return { read: (r) => attr(r, 'isalldayevent'), write };
    default:
      return { read: (r) => attr(r, 'scheduleddurationminutes'), write };
  }
}

/** The appointment fields whose CRM side depends on the user's zone (all of the time group: written as one unit). */
export const APPOINTMENT_TIME_FIELDS: readonly string[] = ['start', 'end', 'isAllDay', 'duration'];

function timeField(field: string, spec: FieldDescriptor['spec'], outlookRead: FieldDescriptor['outlook']['read']): FieldDescriptor {
  return {
    field,
    spec,
    group: 'time',
    outlookTargets: ['start', 'end', 'isAllDay'],
    crmTargets: ['scheduledstart', 'scheduledend', 'isalldayevent', 'scheduleddurationminutes'],
    outlook: { read: outlookRead, write: (_v, values) => outlookTime(values) },
    crm: appointmentTimeCrm(field, 'UTC'),
  };
}

const SHOW_AS = ['free', 'tentative', 'busy', 'oof'] as const;

/** statecode/statuscode of dataverse-behaviour.md §4.4: free/tentative are Open, busy/OOF Scheduled. */
function crmState(values: FieldValues): { statecode: number; statuscode: number } {
  if (valueOf(values, 'isCancelled') === true) return { statecode: 2, statuscode: 4 };
  switch (valueOf(values, 'showAs')) {
    case 'free':
      return { statecode: 0, statuscode: 1 };
    case 'tentative':
      return { statecode: 0, statuscode: 2 };
    case 'oof':
      return { statecode: 3, statuscode: 6 };
    default:
      return { statecode: 3, statuscode: 5 };
  }
}

function showAsOfCrm(statuscode: unknown): string | null {
  switch (statuscode) {
    case 1:
      return 'free';
    case 2:
      return 'tentative';
    case 6:
      return 'oof';
    case 4:
      return 'free'; // a cancelled meeting frees the time, as Outlook shows it
    default:
      return 'busy'; // 5 Busy, 3 Completed
  }
}

/**
 * Graph's attendee list holds required and optional attendees in one property and a PATCH replaces it whole, so the
 * write edits the current list (when the caller passes the item): resource attendees (rooms, equipment) and every
 * kept attendee's name and response stay as they are, a kept attendee whose type changed gets the new type only,
 * attendees no longer in the merged sets are dropped and new addresses are appended. Addresses compare without case.
 */
function outlookAttendees(values: FieldValues, current: JsonObject | undefined): Record<string, JsonValue> {
  // Wanted (type, address) pairs, in merged order; an address in both sets is one attendee of each type, as read.
  const wanted: { type: 'required' | 'optional'; key: string; used: boolean }[] = [];
  for (const type of ['required', 'optional'] as const) {
    const field = type === 'required' ? 'requiredAttendees' : 'optionalAttendees';
    for (const address of asStrings(valueOf(values, field))) wanted.push({ type, key: address.toLowerCase(), used: false });
  }
  const kept: JsonValue[] = [];
  const existing = Array.isArray(current?.attendees) ? current.attendees : [];
  const keyOf = (attendee: JsonObject): string | null => {
    const address = at(attendee, 'emailAddress', 'address');
    return typeof address === 'string' && address.trim() !== '' ? address.trim().toLowerCase() : null;
  };
  // First pass: entries whose type is still wanted keep everything; second pass: an entry whose address is wanted
  // under the other type only is kept with that type.
  const claim = new Map<JsonObject, (typeof wanted)[number]>();
  for (const sameType of [true, false]) {
    for (const attendee of existing) {
      if (!isObject(attendee) || attendee.type === 'resource' || claim.has(attendee)) continue;
      const key = keyOf(attendee);
      const pair = wanted.find((w) => !w.used && w.key === key && (w.type === attendee.type) === sameType);
      if (pair) {
        pair.used = true;
        claim.set(attendee, pair);
      }
    }
  }
  for (const attendee of existing) {
    if (!isObject(attendee)) continue;
    const pair = claim.get(attendee);
    // Rooms and entries without an address are nothing the CRM holds or removes: they stay as they are.
    if (attendee.type === 'resource' || keyOf(attendee) === null) kept.push(attendee);
    else if (pair) kept.push(attendee.type === pair.type ? attendee : { ...attendee, type: pair.type });
  }
  for (const pair of wanted) if (!pair.used) kept.push({ type: pair.type, emailAddress: { address: pair.key } });
  return { attendees: kept };
}

/** The whole party list is written at once (replace semantics are UNCONFIRMED, dataverse-behaviour.md §4.2). */
function crmParties(values: FieldValues) {
  const organizer = valueOf(values, 'organizer');
  return {
    parties: [
      ...partiesFor(PARTY_REQUIRED, asStrings(valueOf(values, 'requiredAttendees'))),
      ...partiesFor(PARTY_OPTIONAL, asStrings(valueOf(values, 'optionalAttendees'))),
      ...(typeof organizer === 'string' ? partiesFor(PARTY_ORGANIZER, [organizer]) : []),
    ],
  };
}

function attendeesOfType(data: Record<string, JsonValue>, type: string): string[] {
  const attendees = data.attendees;
  if (!Array.isArray(attendees)) return [];
  return attendees
    .filter((a) => isObject(a) && a.type === type)
    .map((a) => at(a, 'emailAddress', 'address'))
    .filter((a): a is string => typeof a === 'string');
}

function attendeeField(field: string, type: string, mask: number): FieldDescriptor {
  return {
    field,
    spec: { type: 'addressSet' },
    group: 'parties',
    outlookTargets: ['attendees'],
    crmTargets: [`party:${mask}`],
    outlook: { read: (data) => attendeesOfType(data, type), write: (_v, values, ctx) => outlookAttendees(values, ctx.item?.data) },
    crm: { read: (record) => partyAddresses(record, mask), write: (_v, values) => crmParties(values) },
  };
}

export const appointmentMapping = defineKind({
  kind: 'appointment',
  fields: [
    scalar('subject', 'subject', 'subject', { maxLength: 200 }),
    itemBody('body', 'body', 'description'),
    timeField('start', { type: 'instantOrDate' }, (data) => readOutlookBoundary(data, 'start')),
    timeField('end', { type: 'instantOrDate' }, (data) => readOutlookBoundary(data, 'end')),
    timeField('isAllDay', { type: 'bool' }, (data) => data.isAllDay),
    // Graph has no duration property: it is derived from start/end on both sides (see derive below).
    timeField('duration', { type: 'int' }, () => null),
    {
      field: 'location',
      spec: { type: 'text', maxLength: 200 },
      outlookTargets: ['location'],
      crmTargets: ['location'],
      outlook: {
        read: (data) => at(data, 'location', 'displayName'),
        write: (value) => ({ location: { displayName: typeof value === 'string' ? value : '' } }),
      },
      crm: crmColumn('location'),
    },
    attendeeField('requiredAttendees', 'required', PARTY_REQUIRED),
    attendeeField('optionalAttendees', 'optional', PARTY_OPTIONAL),
    {
      // Graph `organizer` cannot be set by a client, and the CRM organizer must be a systemuser: one way.
      field: 'organizer',
      spec: { type: 'email' },
      direction: 'outlook-to-crm',
      group: 'parties',
      outlookTargets: ['organizer'],
      crmTargets: [`party:${PARTY_ORGANIZER}`],
      outlook: { read: (data) => at(data, 'organizer', 'emailAddress', 'address'), write: () => ({}) },
      crm: { read: (record) => partyAddresses(record, PARTY_ORGANIZER)[0], write: (_v, values) => crmParties(values) },
    },
    importance,
    {
      field: 'showAs',
      spec: { type: 'choice', choices: SHOW_AS },
      group: 'state',
      outlookTargets: ['showAs'],
      crmTargets: ['statecode', 'statuscode'],
      outlook: {
        // workingElsewhere has no CRM status; it reads as busy. unknown reads as missing (→ busy by derive).
        read: (data) => (data.showAs === 'workingElsewhere' ? 'busy' : data.showAs),
        write: (value) => ({ showAs: value ?? 'busy' }),
      },
      crm: {
        read: (record) => showAsOfCrm(attr(record, 'statuscode')),
        write: (_v, values) => ({ attributes: crmState(values) }),
      },
    },
    {
      // isCancelled is read-only in Graph (a cancel is an action that notifies attendees), so Outlook is never written;
      // a cancellation on either side is sticky: a CRM cancel is not reverted by the uncancelled Outlook copy.
      field: 'isCancelled',
      spec: { type: 'bool' },
      direction: 'outlook-to-crm',
      mergeRule: 'any-true',
      group: 'state',
      outlookTargets: ['isCancelled'],
      crmTargets: ['statecode', 'statuscode'],
      outlook: { read: (data) => data.isCancelled, write: () => ({}) },
      crm: {
        read: (record) => attr(record, 'statecode') === 2,
        write: (_v, values) => ({ attributes: crmState(values) }),
      },
    },
  ],
  // Only the organizer's copy owns the attendee list; writing it on an attendee's copy would be overwritten by the
  // organizer's next update (and on an organizer's copy, Graph sends updates to the attendees).
  forItem: (fields, data) =>
    data.isOrganizer === false
      ? fields.map((f) => (f.group === 'parties' && f.direction === undefined ? { ...f, direction: 'outlook-to-crm' as const } : f))
      : [...fields],
  derive: (values) => {
    const allDay = values.isAllDay === true;
    for (const key of ['start', 'end'] as const) {
      const v = values[key];
      if (typeof v !== 'string') continue;
      if (allDay && !isDateOnly(v)) values[key] = normDate(v);
      if (!allDay && isDateOnly(v)) values[key] = `${v}T00:00:00Z`;
    }
    const start = typeof values.start === 'string' ? parseInstant(values.start) : null;
    const end = typeof values.end === 'string' ? parseInstant(values.end) : null;
    values.duration = start !== null && end !== null ? Math.round((end - start) / 60_000) : null;
    // A cancelled appointment is free time (the CRM keeps no show-as for it); without show-as, busy (Outlook's default).
    if (values.isCancelled === true) values.showAs = 'free';
    else if (values.showAs === null || values.showAs === undefined) values.showAs = 'busy';
  },
});

