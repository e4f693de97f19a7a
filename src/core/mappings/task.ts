// Tasks: To Do `todoTask` ↔ Dataverse `task` (DESIGN.md §7; graph-behaviour.md §2.5, §7; dataverse-behaviour.md §4.5).
import type { JsonValue } from '../model';
import { formatInstant, isDateOnly, parseInstant, readDateTimeTimeZone } from '../normalize';
import { localMidnightEpochMs, readLocalDate, readUserLocalDate } from '../timezone';
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

/** A UserLocal date column (dataverse-behaviour.md §4.5) → its date in the user's zone (readUserLocalDate). */
function readCrmDate(value: unknown, zone: string | null): unknown {
  if (isDateOnly(value)) return value;
  const epoch = parseInstant(value);
  return epoch === null ? null : readUserLocalDate(epoch, zone);
}

function writeCrmDate(value: JsonValue, zone: string | null): JsonValue {
  const epoch = isDateOnly(value) ? localMidnightEpochMs(value, zone ?? 'UTC') : null;
  return epoch === null ? null : formatInstant(epoch);
}

interface TaskDate {
  field: string;
  graphProperty: string;
  crmAttribute: string;
  /** The reminder goes with the due date: a due date set in the CRM becomes the Outlook reminder (DESIGN.md §7). */
  reminder: boolean;
}

/** The task dates: To Do dates ↔ Dataverse UserLocal columns, both read as dates in the CRM user's zone. */
export const TASK_DATES: readonly TaskDate[] = [
  { field: 'dueDateTime', graphProperty: 'dueDateTime', crmAttribute: 'scheduledend', reminder: true },
  { field: 'startDateTime', graphProperty: 'startDateTime', crmAttribute: 'scheduledstart', reminder: false },
];

/**
 * Both sides of a task date in a zone (`zoneName`: the CRM user's zone as the connector gave it, resolvable; null:
 * unknown, written at UTC midnight). `column` is the Dataverse attribute, which an admin override may have renamed.
 */
export function taskDateSides(date: TaskDate, zoneName: string | null, column = date.crmAttribute): Pick<FieldDescriptor, 'outlook' | 'crm'> {
  return {
    outlook: {
      read: (data) => readToDoDate(data[date.graphProperty], zoneName),
      write: (value): Record<string, JsonValue> => {
        const written = toDoDate(value, zoneName ?? 'UTC');
        // Outlook is only written when the merged date differs from Outlook's, i.e. when it came from the CRM.
        return date.reminder && written !== null ? { [date.graphProperty]: written, reminderDateTime: written, isReminderOn: true } : { [date.graphProperty]: written };
      },
    },
    crm: {
      read: (record) => readCrmDate(record.data[column], zoneName),
      write: (value) => ({ attributes: { [column]: writeCrmDate(value, zoneName) } }),
    },
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
    importance,
    status,
    zonedInstant('completedDateTime', 'completedDateTime', 'actualend'),
  ],
});
