// Tasks: To Do `todoTask` ↔ Dataverse `task` (DESIGN.md §7; graph-behaviour.md §2.5, §7; dataverse-behaviour.md §4.5).
import type { JsonValue } from '../model';
import { readDateTimeTimeZone } from '../normalize';
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

/** A To Do dateTimeTimeZone property ↔ a UTC datetime column. */
function zonedDate(field: string, graphProperty: string, crmAttribute: string, extraWrite?: (value: JsonValue) => Record<string, JsonValue>): FieldDescriptor {
  return {
    field,
    spec: { type: 'instant' },
    outlookTargets: [graphProperty],
    crmTargets: [crmAttribute],
    outlook: {
      read: (data) => readDateTimeTimeZone(data[graphProperty]),
      write: (value) => ({ [graphProperty]: toDateTimeTimeZone(value), ...(extraWrite ? extraWrite(value) : {}) }),
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
    // A due time set in the CRM becomes the Outlook reminder; Outlook reminders do not travel (DESIGN.md §7). Outlook
    // is only written when the merged due differs from Outlook's, i.e. when it came from the CRM.
    zonedDate('dueDateTime', 'dueDateTime', 'scheduledend', (value): Record<string, JsonValue> =>
      typeof value === 'string' ? { reminderDateTime: toDateTimeTimeZone(value), isReminderOn: true } : {},
    ),
    zonedDate('startDateTime', 'startDateTime', 'scheduledstart'),
    importance,
    status,
    zonedDate('completedDateTime', 'completedDateTime', 'actualend'),
  ],
});
