// Tasks: To Do `todoTask` ↔ Dataverse `task` (DESIGN.md §7; graph-behaviour.md §2.5, §7; dataverse-behaviour.md §4.5).
import type { FieldValues, JsonValue } from '../model';
import { formatInstant, isDateOnly, parseInstant, readDateTimeTimeZone } from '../normalize';
import { epochMsToZoned, isUtcMidnight, localMidnightEpochMs, readLocalDate, utcDateOf } from '../timezone';
import { crmColumn, itemBody, scalar } from './fields';
import { defineKind, type FieldDescriptor } from './types';
import { attr, toDateTimeTimeZone } from './wire';

export const IMPORTANCE_TO_PRIORITY: Readonly<Record<string, number>> = { low: 0, normal: 1, high: 2 };
const PRIORITY_TO_IMPORTANCE = ['low', 'normal', 'high'];

export const importance: FieldDescriptor = {
  field: 'importance',
  spec: { type: 'choice', choices: ['low', 'normal', 'high'], default: 'normal' },
  outlookTargets: ['importance'],
  crmTargets: ['prioritycode'],
  outlook: {
    read: (data) => data.importance,
    write: (value) => ({ importance: value ?? 'normal' }),
  },
  crm: {
    read: (record) => {
      const code = attr(record, 'prioritycode');
      return typeof code === 'number' ? PRIORITY_TO_IMPORTANCE[code] : undefined;
    },
    write: (value) => ({ attributes: { prioritycode: typeof value === 'string' ? (IMPORTANCE_TO_PRIORITY[value] ?? 1) : null } }),
  },
};

const MIDNIGHT = /^(\d{4}-\d{2}-\d{2})T00:00(?::00(?:\.0+)?)?$/;

/**
 * A To Do date (graph-behaviour.md §2.5, §7: a dateTimeTimeZone whose time To Do ignores) as a floating date. Midnight
 * in whatever zone it carries is that date, as written. Any other wall clock (a time set by another client, or Graph
 * converting a date written in the user's zone to the UTC the worker asks for) is an instant, read as its date in the
 * CRM user's zone. A zone this runtime cannot resolve, or the user's zone unknown (null), is unreadable, never a
 * guessed day.
 */
function readToDoDate(raw: unknown, zone: string | null): unknown {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return null;
  const { dateTime } = raw as { dateTime?: unknown };
  if (typeof dateTime !== 'string') return null;
  const floating = MIDNIGHT.exec(dateTime.trim())?.[1];
  if (floating !== undefined) return floating;
  const instant = readDateTimeTimeZone(raw);
  if (typeof instant !== 'string') return instant;
  const epoch = parseInstant(instant);
  return epoch === null ? null : readLocalDate(epoch, zone);
}

/** Date D as To Do takes it: midnight in the user's zone (`zoneName` as Graph accepts it, a Windows or IANA id). */
function toDoDate(value: JsonValue, zoneName: string): JsonValue {
  return isDateOnly(value) ? { dateTime: `${value}T00:00:00.0000000`, timeZone: zoneName } : null;
}

/**
 * A UserLocal date column (dataverse-behaviour.md §4.5) → its local date in the user's zone. A task's due and start
 * carry a time of day in the CRM, so any instant is a local date there, UTC midnight included (17:00 PDT on 10 July is
 * stored as 2026-07-11T00:00Z and is due on the 10th); only the zone unknown (null) makes it unreadable.
 */
function readCrmDate(value: unknown, zone: string | null): unknown {
  if (isDateOnly(value)) return value;
  const epoch = parseInstant(value);
  return epoch === null ? null : readLocalDate(epoch, zone);
}

function writeCrmDate(value: JsonValue, zone: string | null): JsonValue {
  const epoch = isDateOnly(value) ? localMidnightEpochMs(value, zone ?? 'UTC') : null;
  return epoch === null ? null : formatInstant(epoch);
}

/**
 * The reminder of date D (DESIGN.md §7: a due time set in the CRM becomes the Outlook reminder): D at the wall-clock
 * time of the CRM due instant in the user's zone, when that instant falls on D there; else D 00:00. Written with the
 * due date only, i.e. when the due date came from the CRM: the reminder never travels back (DESIGN.md §7).
 */
function reminderOn(date: string, dueInstant: JsonValue | undefined, zoneName: string): JsonValue {
  const epoch = parseInstant(dueInstant);
  const wall = epoch === null ? null : epochMsToZoned(epoch, zoneName);
  const time = wall !== null && wall.startsWith(`${date}T`) ? wall.slice(11, 19) : '00:00:00';
  return { dateTime: `${date}T${time}.0000000`, timeZone: zoneName };
}

/** A baseline value stored by earlier versions of this worker, when task dates were instants (else null). */
function legacyEpoch(stored: JsonValue): number | null {
  return typeof stored === 'string' && !isDateOnly(stored) ? parseInstant(stored) : null;
}

/**
 * A task date read against the pair's baseline (FieldDescriptor.sinceBaseline).
 * - A CRM instant unchanged since the last sync (the date's instant field in the baseline) is no CRM change: it reads
 *   as the date it was synced as. So a CRM user who changes time zone (their dates now show at other local times)
 *   moves no To Do date that nobody edited.
 * - Baselines of earlier versions hold the instant itself, written the same to both sides (To Do got its UTC wall
 *   clock, whose date To Do shows). For the merge it is what this version reads of that To Do value: UTC midnight is
 *   its UTC date, another instant its local date. A record still holding a UTC midnight written so keeps that UTC
 *   date: west of UTC its local date is the day before, and reading it so would move the To Do date of a pair no user
 *   edited. Once either side changes the date, the record is written in the user's zone and this no longer applies.
 */
function taskDateSinceBaseline(date: TaskDate, column: string, zone: string | null): NonNullable<FieldDescriptor['sinceBaseline']> {
  return {
    upgrade: (stored) => {
      const epoch = legacyEpoch(stored);
      if (epoch === null) return undefined;
      if (isUtcMidnight(epoch)) return utcDateOf(epoch);
      const local = readLocalDate(epoch, zone);
      return typeof local === 'string' ? local : undefined;
    },
    crm: (record, baseline) => {
      const held = parseInstant(record.data[column]);
      const stored = baseline[date.field] ?? null;
      if (held === null) return undefined;
      const legacy = legacyEpoch(stored);
      if (legacy !== null) return legacy === held && isUtcMidnight(held) ? utcDateOf(held) : undefined;
      return isDateOnly(stored) && parseInstant(baseline[date.instantField]) === held ? stored : undefined;
    },
  };
}

interface TaskDate {
  field: string;
  graphProperty: string;
  crmAttribute: string;
  /** The field holding the CRM instant of this date (see crmInstant below). */
  instantField: string;
  /** The reminder goes with the due date: a due time set in the CRM becomes the Outlook reminder (DESIGN.md §7). */
  reminder: boolean;
}

/** The task dates: To Do dates ↔ Dataverse UserLocal columns, both read as dates in the CRM user's zone. */
export const TASK_DATES: readonly TaskDate[] = [
  { field: 'dueDateTime', graphProperty: 'dueDateTime', crmAttribute: 'scheduledend', instantField: 'dueTime', reminder: true },
  { field: 'startDateTime', graphProperty: 'startDateTime', crmAttribute: 'scheduledstart', instantField: 'startTime', reminder: false },
];

/**
 * Both sides of a task date in a zone (`zoneName`: the CRM user's zone as the connector gave it, resolvable; null:
 * unknown, written at UTC midnight). `column` is the Dataverse attribute, which an admin override may have renamed.
 */
export function taskDateSides(date: TaskDate, zoneName: string | null, column = date.crmAttribute): Pick<FieldDescriptor, 'outlook' | 'crm' | 'sinceBaseline'> {
  return {
    outlook: {
      read: (data) => readToDoDate(data[date.graphProperty], zoneName),
      write: (value, values: FieldValues): Record<string, JsonValue> => {
        const zone = zoneName ?? 'UTC';
        const written = toDoDate(value, zone);
        // Outlook is only written when the merged date differs from Outlook's, i.e. when it came from the CRM.
        if (!date.reminder || written === null || !isDateOnly(value)) return { [date.graphProperty]: written };
        return { [date.graphProperty]: written, reminderDateTime: reminderOn(value, values[date.instantField], zone), isReminderOn: true };
      },
    },
    crm: {
      read: (record) => readCrmDate(record.data[column], zoneName),
      write: (value) => ({ attributes: { [column]: writeCrmDate(value, zoneName) } }),
    },
    sinceBaseline: taskDateSinceBaseline(date, column, zoneName),
  };
}

/**
 * The CRM instant of a task date, one way to Outlook and never read there (Outlook reminders do not travel, DESIGN.md
 * §7). It writes nothing itself and is no date: the baseline keeps what the CRM held when the pair was synced (the
 * planner takes it as the CRM write of the date leaves it), which tells an unchanged CRM date from a changed one
 * whatever the zone, and the due instant gives the reminder written with a due date from the CRM its time of day. So
 * the dates stay dates on both sides and a time alone never rewrites Outlook.
 */
function crmInstant(date: TaskDate): FieldDescriptor {
  return {
    field: date.instantField,
    spec: { type: 'instant' },
    direction: 'crm-to-outlook',
    outlookTargets: [],
    crmTargets: [date.crmAttribute],
    outlook: { read: () => null, write: () => ({}) },
    crm: { read: (record) => record.data[date.crmAttribute] ?? null, write: () => ({}) },
  };
}

function taskDate(date: TaskDate): FieldDescriptor {
  return {
    field: date.field,
    spec: { type: 'date' },
    outlookTargets: [date.graphProperty],
    crmTargets: [date.crmAttribute],
    ...taskDateSides(date, 'UTC'),
  };
}

/** A To Do dateTimeTimeZone property ↔ a UTC datetime column (an instant: the completion time). */
function zonedInstant(field: string, graphProperty: string, crmAttribute: string): FieldDescriptor {
  return {
    field,
    spec: { type: 'instant' },
    outlookTargets: [graphProperty],
    crmTargets: [crmAttribute],
    outlook: {
      read: (data) => readDateTimeTimeZone(data[graphProperty]),
      write: (value) => ({ [graphProperty]: toDateTimeTimeZone(value) }),
    },
    crm: crmColumn(crmAttribute),
  };
}

/** statecode/statuscode pairs (dataverse-behaviour.md §4.5), which mirror the To Do statuses. */
const STATUS_TO_CRM: Readonly<Record<string, { statecode: number; statuscode: number }>> = {
  notStarted: { statecode: 0, statuscode: 2 },
  inProgress: { statecode: 0, statuscode: 3 },
  waitingOnOthers: { statecode: 0, statuscode: 4 },
  deferred: { statecode: 0, statuscode: 7 },
  completed: { statecode: 1, statuscode: 5 },
};

export function taskStatusOf(statecode: unknown, statuscode: unknown): string {
  // A canceled CRM task (state 2) is closed; To Do has no "canceled", so it reads as completed.
  if (statecode === 1 || statecode === 2) return 'completed';
  switch (statuscode) {
    case 3:
      return 'inProgress';
    case 4:
      return 'waitingOnOthers';
    case 7:
      return 'deferred';
    default:
      return 'notStarted';
  }
}

const status: FieldDescriptor = {
  field: 'status',
  spec: { type: 'choice', choices: Object.keys(STATUS_TO_CRM), default: 'notStarted' },
  outlookTargets: ['status'],
  crmTargets: ['statecode', 'statuscode'],
  outlook: {
    read: (data) => data.status,
    write: (value) => ({ status: value ?? 'notStarted' }),
  },
  crm: {
    read: (record) => taskStatusOf(attr(record, 'statecode'), attr(record, 'statuscode')),
    // statecode is not valid on create (dataverse-behaviour.md §4): the connector creates, then PATCHes the pair.
    write: (value) => ({ attributes: { ...(STATUS_TO_CRM[typeof value === 'string' ? value : 'notStarted'] ?? STATUS_TO_CRM.notStarted) } }),
  },
};

export const taskMapping = defineKind({
  kind: 'task',
  fields: [
    scalar('title', 'title', 'subject', { maxLength: 200 }),
    // description holds at most 2,000 characters (dataverse-behaviour.md §4.5): both sides compare the cut value, so a
    // longer Outlook body neither ping-pongs nor loses its tail unless the CRM side changes the body.
    itemBody('body', 'body', 'description', { maxLength: 2000 }),
    // Due and start are dates on both sides (To Do has no time of day); Outlook reminders do not travel (DESIGN.md §7).
    ...TASK_DATES.map(taskDate),
    ...TASK_DATES.map(crmInstant),
    importance,
    status,
    zonedInstant('completedDateTime', 'completedDateTime', 'actualend'),
  ],
});
