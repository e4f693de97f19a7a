// One pair per kind whose two sides are in sync with their baseline, with the facts the deletion table looks at spelled
// out: the appointment is open/scheduled, starts in the future (after NOW) and the mailbox owner is its organizer (not
// its owner); the task is not completed; the contact's CRM owner is someone else than the mailbox owner.
import { fieldsOfOutlook } from '../../src/core/fields';
import type { CrmRecord, FieldValues, ItemKind, MappingRow, OutlookItem } from '../../src/core/model';
import type { CrmSide, OutlookSide, PlanInput } from '../../src/core/plan';
import { context, item, ME, mappingRow, record, settings } from './support';

export function pairFixture(kind: ItemKind): { outlook: OutlookItem; crm: CrmRecord; baseline: FieldValues } {
  let outlook: OutlookItem;
  let crm: CrmRecord;
  switch (kind) {
    case 'contact':
      outlook = item('contact', { givenName: 'Ann', surname: 'Berg', emailAddresses: [{ name: 'Ann Berg', address: 'ann@contoso.com' }] });
      crm = record('contact', { firstname: 'Ann', lastname: 'Berg', emailaddress1: 'ann@contoso.com' });
      break;
    case 'appointment':
      outlook = item('appointment', {
        subject: 'QBR',
        start: { dateTime: '2026-07-01T14:00:00.0000000', timeZone: 'UTC' },
        end: { dateTime: '2026-07-01T15:00:00.0000000', timeZone: 'UTC' },
        isAllDay: false,
        showAs: 'busy',
        isCancelled: false,
        importance: 'normal',
        organizer: { emailAddress: { address: 'me@contoso.com' } },
        attendees: [{ type: 'required', emailAddress: { address: 'ann@contoso.com' } }],
      });
      crm = record(
        'appointment',
        { subject: 'QBR', scheduledstart: '2026-07-01T14:00:00Z', scheduledend: '2026-07-01T15:00:00Z', isalldayevent: false, scheduleddurationminutes: 60, statecode: 3, statuscode: 5, prioritycode: 1 },
        {
          parties: [
            { participationTypeMask: 5, address: 'ann@contoso.com', party: { entity: 'contact', id: 'c-ann' } },
            { participationTypeMask: 7, address: 'me@contoso.com', party: { entity: 'systemuser', id: ME } },
          ],
        },
      );
      break;
    case 'task':
      outlook = item('task', { title: 'Call Ann', status: 'notStarted', importance: 'normal', body: { contentType: 'text', content: '' } });
      crm = record('task', { subject: 'Call Ann', statecode: 0, statuscode: 2, prioritycode: 1 });
      break;
    case 'email':
      outlook = item('email', {
        subject: 'Hello',
        body: { contentType: 'text', content: 'Hi Ann' },
        from: { emailAddress: { address: 'ann@contoso.com' } },
        toRecipients: [{ emailAddress: { address: 'me@contoso.com' } }],
        internetMessageId: '<m1@contoso.com>',
        receivedDateTime: '2026-06-01T08:00:00Z',
      });
      crm = record('email', { subject: 'Hello', description: 'Hi Ann', messageid: '<m1@contoso.com>', directioncode: false, statecode: 1, statuscode: 4 });
      break;
  }
  const baseline: FieldValues = { ...fieldsOfOutlook(outlook, settings()), '@crmOwnerId': crm.ownerId };
  return { outlook, crm, baseline };
}

export type OutlookDim = 'tracked' | 'untracked' | 'draft' | 'gone' | 'outOfView' | 'absent';
export type CrmDim = 'inScope' | 'outOfScope' | 'gone' | 'absent';
export type MappingDim = 'none' | 'linked' | 'pendingCreate' | 'unlinked' | 'deletedLocally';

export function planInput(kind: ItemKind, o: OutlookDim, c: CrmDim, m: MappingDim, overrides: { settings?: Parameters<typeof settings>[0] } = {}): PlanInput {
  const fx = pairFixture(kind);
  let outlook: OutlookSide;
  switch (o) {
    case 'tracked':
      outlook = { state: 'present', item: fx.outlook };
      break;
    case 'untracked':
      outlook = { state: 'present', item: { ...fx.outlook, tracking: { marker: false, category: false } } };
      break;
    case 'draft':
      outlook = { state: 'present', item: { ...fx.outlook, isDraft: true } };
      break;
    default:
      outlook = { state: o };
  }
  const crm: CrmSide = c === 'inScope' || c === 'outOfScope' ? { state: 'present', record: fx.crm, inScope: c === 'inScope' } : { state: c };
  // A pendingCreate row is only ever written for an Outlook-originated create (src/app/execute.ts), so tracked from Outlook.
  const mapping: MappingRow | null =
    m === 'none' ? null : mappingRow(kind, fx.baseline, m === 'pendingCreate' ? { state: m, trackedVia: 'outlook' } : { state: m });
  return { outlook, crm, mapping, context: context(kind, { settings: settings(overrides.settings) }) };
}
