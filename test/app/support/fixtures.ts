// Items as a user would make them, in each side's wire vocabulary (Graph JSON, Dataverse attributes).
import type { JsonObject } from '../../../src/core/model';
import { CATEGORY, MAILBOX, type World } from './world';

export function taggedContact(given: string, surname: string, email: string, extra: JsonObject = {}): JsonObject {
  return {
    givenName: given,
    surname,
    emailAddresses: [{ address: email, name: `${given} ${surname}` }],
    categories: [CATEGORY],
    ...extra,
  };
}

export function taggedEvent(subject: string, startIso: string, extra: JsonObject = {}): JsonObject {
  const end = new Date(Date.parse(startIso) + 60 * 60_000).toISOString();
  return {
    subject,
    start: { dateTime: startIso.replace('Z', '').replace(/\.\d{3}$/, '.0000000'), timeZone: 'UTC' },
    end: { dateTime: end.replace('Z', '').replace(/\.\d{3}$/, '.0000000'), timeZone: 'UTC' },
    isAllDay: false,
    showAs: 'busy',
    isCancelled: false,
    importance: 'normal',
    organizer: { emailAddress: { address: MAILBOX, name: 'Alice' } },
    attendees: [],
    categories: [CATEGORY],
    ...extra,
  };
}

export function taggedTask(title: string, extra: JsonObject = {}): JsonObject {
  return { title, status: 'notStarted', importance: 'normal', categories: [CATEGORY], ...extra };
}

export function taggedMessage(subject: string, extra: JsonObject = {}): JsonObject {
  return {
    subject,
    body: { contentType: 'text', content: 'Hello' },
    internetMessageId: `<${subject.replace(/\W/g, '')}@example.org>`,
    from: { emailAddress: { address: 'bob@example.org', name: 'Bob' } },
    toRecipients: [{ emailAddress: { address: MAILBOX, name: 'Alice' } }],
    ccRecipients: [],
    sentDateTime: '2026-03-01T08:00:00Z',
    receivedDateTime: '2026-03-01T08:00:05Z',
    isDraft: false,
    categories: [CATEGORY],
    ...extra,
  };
}

/** A contact the mailbox owner owns in the CRM (in scope, DESIGN.md §2). */
export function crmContact(world: World, first: string, last: string, email: string): string {
  return world.crm.userCreate('contact', {
    attributes: { firstname: first, lastname: last, emailaddress1: email },
    ownerId: world.user.id,
  });
}

export function crmTask(world: World, subject: string): string {
  return world.crm.userCreate('task', { attributes: { subject, statecode: 0, statuscode: 2 }, ownerId: world.user.id });
}

export function crmAppointment(world: World, subject: string, startIso: string): string {
  const end = new Date(Date.parse(startIso) + 30 * 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return world.crm.userCreate('appointment', {
    attributes: {
      subject,
      scheduledstart: startIso.replace(/\.\d{3}Z$/, 'Z'),
      scheduledend: end,
      scheduleddurationminutes: 30,
      isalldayevent: false,
      statecode: 3,
      statuscode: 5,
    },
    ownerId: world.user.id,
  });
}
