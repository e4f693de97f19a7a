// Bulk seeding through the simulators' control APIs (not Graph or Web API requests: never counted). Items look like
// what a user makes in Outlook; `tracked` ones carry the tracking category, the marker users can set in any client
// (DESIGN.md §2). Generated from the index alone, so runs are comparable.
import type { JsonObject } from '../src/core/model';
import type { BenchWorld } from './env';
import { CATEGORY } from './env';

export interface MailboxShape {
  contacts: number;
  events: number;
  tasks: number;
  /** Inbox messages; `trackedMessages` of them (spread evenly) carry the category. */
  messages: number;
  trackedMessages: number;
  /** Share of contacts, events and tasks that are tracked (1: all). */
  trackedShare: number;
}

export interface SeededMailbox {
  contactIds: string[];
  eventIds: string[];
  taskIds: string[];
  messageIds: string[];
  /** How many items of each kind carry the category. */
  tracked: { contacts: number; events: number; tasks: number; messages: number };
}

const SEED_CHUNK = 1000;

function graphDateTime(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '').replace(/\.\d{3}$/, '.0000000');
}

function isTracked(i: number, share: number): boolean {
  // Evenly spread: item i is tracked when the running count of tracked items steps up at i.
  return Math.floor((i + 1) * share) > Math.floor(i * share);
}

export function contactProps(i: number, tracked: boolean, tag = ''): JsonObject {
  return {
    givenName: `Given${i}`,
    surname: `Surname${i}${tag}`,
    jobTitle: i % 3 === 0 ? 'Buyer' : 'Engineer',
    companyName: 'Fabrikam',
    emailAddresses: [{ address: `person${i}${tag}@fabrikam.test`, name: `Given${i} Surname${i}` }],
    businessPhones: [`+1 425 555 ${String(i % 10000).padStart(4, '0')}`],
    categories: tracked ? [CATEGORY] : [],
  };
}

export function eventProps(i: number, tracked: boolean, mailbox: string, nowMs: number): JsonObject {
  // Inside the default calendar window (30 days back, 365 ahead): from tomorrow on, half-hour slots.
  const start = nowMs + 86_400_000 + (i % 300) * 86_400_000 + (i % 16) * 1_800_000;
  return {
    subject: `Meeting ${i}`,
    start: { dateTime: graphDateTime(start), timeZone: 'UTC' },
    end: { dateTime: graphDateTime(start + 1_800_000), timeZone: 'UTC' },
    body: { contentType: 'text', content: `Agenda for meeting ${i}.` },
    location: { displayName: `Room ${i % 40}` },
    isAllDay: false,
    showAs: 'busy',
    importance: 'normal',
    organizer: { emailAddress: { address: mailbox, name: 'Owner' } },
    attendees: [],
    categories: tracked ? [CATEGORY] : [],
  };
}

export function taskProps(i: number, tracked: boolean): JsonObject {
  return { title: `Task ${i}`, status: 'notStarted', importance: 'normal', categories: tracked ? [CATEGORY] : [] };
}

export function messageProps(i: number, tracked: boolean, mailbox: string): JsonObject {
  return {
    subject: `Message ${i}`,
    body: { contentType: 'text', content: `Hello, this is message ${i}.` },
    internetMessageId: `<bench-${i}-${mailbox.replace(/\W/g, '')}@fabrikam.test>`,
    from: { emailAddress: { address: `sender${i % 500}@fabrikam.test`, name: `Sender ${i % 500}` } },
    toRecipients: [{ emailAddress: { address: mailbox, name: 'Owner' } }],
    ccRecipients: [],
    sentDateTime: '2026-03-01T08:00:00Z',
    receivedDateTime: '2026-03-01T08:00:05Z',
    categories: tracked ? [CATEGORY] : [],
  };
}

function seedChunked(world: BenchWorld, mailbox: string, kind: 'contact' | 'event' | 'todoTask' | 'message', count: number, make: (i: number) => JsonObject): string[] {
  const ids: string[] = [];
  for (let start = 0; start < count; start += SEED_CHUNK) {
    const items: JsonObject[] = [];
    for (let i = start; i < Math.min(count, start + SEED_CHUNK); i++) items.push(make(i));
    ids.push(...world.graph.control.seed(mailbox, kind, items));
  }
  return ids;
}

export function seedMailbox(world: BenchWorld, mailbox: string, shape: MailboxShape): SeededMailbox {
  const now = world.graph.control.now().getTime();
  const tracked = { contacts: 0, events: 0, tasks: 0, messages: 0 };
  const count = (key: keyof typeof tracked, yes: boolean) => {
    if (yes) tracked[key] += 1;
    return yes;
  };
  const messageShare = shape.messages === 0 ? 0 : shape.trackedMessages / shape.messages;
  return {
    contactIds: seedChunked(world, mailbox, 'contact', shape.contacts, (i) => contactProps(i, count('contacts', isTracked(i, shape.trackedShare)))),
    eventIds: seedChunked(world, mailbox, 'event', shape.events, (i) => eventProps(i, count('events', isTracked(i, shape.trackedShare)), mailbox, now)),
    taskIds: seedChunked(world, mailbox, 'todoTask', shape.tasks, (i) => taskProps(i, count('tasks', isTracked(i, shape.trackedShare)))),
    messageIds: seedChunked(world, mailbox, 'message', shape.messages, (i) => messageProps(i, count('messages', isTracked(i, messageShare)), mailbox)),
    tracked,
  };
}
