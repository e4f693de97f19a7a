// The sandbox's demo data: one mailbox with a little of every kind, some tracked with the category a user would set
// in any Outlook client (DESIGN.md §2), and its CRM user owning records in scope, plus one record out of scope.
import type { DataverseSimulator } from '../simulators/dataverse';
import type { GraphSimulator } from '../simulators/graph';
import { DEFAULT_CATEGORY_NAME } from '../config/settings';

export interface DemoSeed {
  /** `sampleContactId`: a tracked Outlook contact (Graph default id), for people to edit. */
  outlook: { contacts: number; events: number; tasks: number; messages: number; tracked: number; sampleContactId: string };
  /** `sampleContactId`: a CRM contact the demo user owns, for people to edit. */
  crm: { userId: string; contacts: number; appointments: number; tasks: number; sampleContactId: string };
}

const DEMO_AAD_OBJECT_ID = '0de30000-5a4d-4b0c-8000-000000000001';
const OTHER_AAD_OBJECT_ID = '0de30000-5a4d-4b0c-8000-000000000002';

/** `2026-03-02T09:00:00.0000000`: Graph's dateTimeTimeZone form (UTC). */
function graphDateTime(at: Date): string {
  return at.toISOString().replace('Z', '').replace(/\.\d{3}$/, '.0000000');
}

function dataverseInstant(at: Date): string {
  return at.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function daysFromNow(days: number, hourUtc: number): Date {
  const at = new Date();
  at.setUTCDate(at.getUTCDate() + days);
  at.setUTCHours(hourUtc, 0, 0, 0);
  return at;
}

export function seedDemo(graph: GraphSimulator, dataverse: DataverseSimulator, mailbox: string, categoryName = DEFAULT_CATEGORY_NAME): DemoSeed {
  const tracked = [categoryName];
  graph.control.createUser(mailbox, 'Demo User');

  const contacts = graph.control.seed(mailbox, 'contact', [
    { givenName: 'Adele', surname: 'Vance', jobTitle: 'Retail Manager', emailAddresses: [{ address: 'adele.vance@fabrikam.test', name: 'Adele Vance' }], businessPhones: ['+1 425 555 0109'], categories: tracked },
    { givenName: 'Alex', surname: 'Wilber', companyName: 'Fabrikam', emailAddresses: [{ address: 'alex.wilber@fabrikam.test', name: 'Alex Wilber' }], categories: tracked },
    { givenName: 'Private', surname: 'Friend', emailAddresses: [{ address: 'friend@example.test', name: 'Private Friend' }] },
  ]);
  const event = (subject: string, start: Date, isTracked: boolean) => ({
    subject,
    start: { dateTime: graphDateTime(start), timeZone: 'UTC' },
    end: { dateTime: graphDateTime(new Date(start.getTime() + 3_600_000)), timeZone: 'UTC' },
    body: { contentType: 'text', content: `${subject}: agenda to follow.` },
    location: { displayName: 'Room 12' },
    categories: isTracked ? tracked : [],
  });
  const events = graph.control.seed(mailbox, 'event', [
    event('Fabrikam kick-off', daysFromNow(2, 9), true),
    event('Dentist', daysFromNow(3, 15), false),
  ]);
  const tasks = graph.control.seed(mailbox, 'todoTask', [
    { title: 'Prepare the Fabrikam quote', importance: 'high', dueDateTime: { dateTime: graphDateTime(daysFromNow(5, 0)), timeZone: 'UTC' }, categories: tracked },
    { title: 'Buy milk', categories: [] },
  ]);
  const message = (subject: string, from: string, isTracked: boolean) => ({
    subject,
    body: { contentType: 'text', content: `${subject}. Best regards.` },
    internetMessageId: `<${subject.toLowerCase().replace(/\W+/g, '-')}@fabrikam.test>`,
    from: { emailAddress: { address: from, name: from.split('@')[0] ?? from } },
    toRecipients: [{ emailAddress: { address: mailbox, name: 'Demo User' } }],
    categories: isTracked ? tracked : [],
  });
  const inbox = graph.control.seed(mailbox, 'message', [
    message('Question about the quote', 'adele.vance@fabrikam.test', true),
    message('Lunch on Friday?', 'friend@example.test', false),
  ]);
  const sent = graph.control.seed(mailbox, 'message', [{ ...message('Re: Question about the quote', mailbox, true), toRecipients: [{ emailAddress: { address: 'adele.vance@fabrikam.test', name: 'Adele Vance' } }] }], 'sentitems');

  const control = dataverse.control;
  const userId = control.createUser({ fullname: 'Demo User', internalemailaddress: mailbox, azureactivedirectoryobjectid: DEMO_AAD_OBJECT_ID });
  const otherId = control.createUser({ fullname: 'Other Seller', internalemailaddress: 'other.seller@contoso.test', azureactivedirectoryobjectid: OTHER_AAD_OBJECT_ID });
  const as = { as: userId };
  const nestor = control.seed('contacts', { firstname: 'Nestor', lastname: 'Wilke', emailaddress1: 'nestor.wilke@contoso-partner.test', jobtitle: 'Buyer', telephone1: '+1 206 555 0145' }, as);
  control.seed('contacts', { firstname: 'Megan', lastname: 'Bowen', emailaddress1: 'megan.bowen@contoso-partner.test' }, as);
  // Owned by someone else: outside the demo user's scope, never created in the demo mailbox.
  control.seed('contacts', { firstname: 'Out', lastname: 'Of Scope', emailaddress1: 'out.of.scope@contoso-partner.test' }, { as: otherId });
  const start = daysFromNow(4, 13);
  control.seed('appointments', { subject: 'Contract review with Nestor', scheduledstart: dataverseInstant(start), scheduledend: dataverseInstant(new Date(start.getTime() + 30 * 60_000)), location: 'Teams' }, as);
  control.seed('tasks', { subject: 'Call Megan back', scheduledend: dataverseInstant(daysFromNow(1, 16)) }, as);

  return {
    outlook: { contacts: contacts.length, events: events.length, tasks: tasks.length, messages: inbox.length + sent.length, tracked: 6, sampleContactId: contacts[0] ?? '' },
    crm: { userId, contacts: 2, appointments: 1, tasks: 1, sampleContactId: nestor },
  };
}
