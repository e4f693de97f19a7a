// The Dataverse vocabulary the connector needs per kind: entity sets, keys, the columns the field mappings use, the
// party relationships and the state/status pairs. Data, not code scattered through the connector.
import type { ItemKind } from '../../core/model';

export interface DataverseEntity {
  logicalName: string;
  entitySet: string;
  primaryKey: string;
  /** Collection navigation property holding the activity parties (dataverse-behaviour.md §4.2); null: none. */
  partiesProperty: string | null;
}

export const DATAVERSE_ENTITIES: Record<ItemKind, DataverseEntity> = {
  contact: { logicalName: 'contact', entitySet: 'contacts', primaryKey: 'contactid', partiesProperty: null },
  appointment: {
    logicalName: 'appointment',
    entitySet: 'appointments',
    primaryKey: 'activityid',
    partiesProperty: 'appointment_activity_parties',
  },
  // dataverse-behaviour.md §4.2: "Task has no party lists".
  task: { logicalName: 'task', entitySet: 'tasks', primaryKey: 'activityid', partiesProperty: null },
  email: { logicalName: 'email', entitySet: 'emails', primaryKey: 'activityid', partiesProperty: 'email_activity_parties' },
};

/**
 * `$select` per kind: only the columns the field mappings (DESIGN.md §7) use, checked against dataverse-behaviour.md
 * §4.3–§4.6 and §6, plus what the connector itself needs (`_ownerid_value` for scope, `modifiedon` for the merge).
 * The primary key is returned without being selected (§1.8 examples); the row version travels as `@odata.etag`
 * (§2.4), so `versionnumber` is not selected.
 */
export const DATAVERSE_COLUMNS: Record<ItemKind, readonly string[]> = {
  contact: [
    'firstname', 'middlename', 'lastname', 'salutation', 'nickname', 'jobtitle', 'department', 'managername',
    'assistantname', 'spousesname', 'childrensnames', 'birthdate', 'emailaddress1', 'emailaddress2', 'emailaddress3',
    'telephone1', 'business2', 'telephone2', 'home2', 'telephone3', 'mobilephone', 'fax', 'pager', 'assistantphone', 'governmentid',
    'ftpsiteurl', 'anniversary', 'websiteurl', 'yomifirstname', 'yomilastname', 'description', 'address1_line1',
    'address1_line2', 'address1_line3', 'address1_city', 'address1_stateorprovince', 'address1_postalcode',
    'address1_country', '_parentcustomerid_value', '_ownerid_value', 'modifiedon',
  ],
  appointment: [
    'subject', 'description', 'scheduledstart', 'scheduledend', 'isalldayevent', 'scheduleddurationminutes', 'location',
    'prioritycode', 'statecode', 'statuscode', 'globalobjectid', '_regardingobjectid_value', '_ownerid_value',
    'modifiedon',
  ],
  task: [
    'subject', 'description', 'scheduledstart', 'scheduledend', 'prioritycode', 'statecode', 'statuscode', 'actualend',
    'percentcomplete', '_regardingobjectid_value', '_ownerid_value', 'modifiedon',
  ],
  email: [
    'subject', 'description', 'messageid', 'directioncode', 'senton', 'actualend', 'statecode', 'statuscode',
    '_regardingobjectid_value', '_ownerid_value', 'modifiedon',
  ],
};

/** Columns of an activity party read back (dataverse-behaviour.md §4.2). */
export const PARTY_COLUMNS = ['participationtypemask', '_partyid_value', 'addressused'] as const;

/**
 * statuscode → statecode per activity kind (dataverse-behaviour.md §4.4–§4.6), and the default status of each state,
 * so a write that sets one of the pair always sends the matching other ([UPD]: "When setting statecode also set
 * statuscode").
 */
export const STATUS_STATE: Partial<Record<ItemKind, { stateOf: Record<number, number>; defaultStatus: Record<number, number> }>> = {
  appointment: {
    stateOf: { 1: 0, 2: 0, 3: 1, 4: 2, 5: 3, 6: 3 },
    defaultStatus: { 0: 1, 1: 3, 2: 4, 3: 5 },
  },
  task: {
    stateOf: { 2: 0, 3: 0, 4: 0, 7: 0, 5: 1, 6: 2 },
    defaultStatus: { 0: 2, 1: 5, 2: 6 },
  },
  email: {
    stateOf: { 1: 0, 8: 0, 2: 1, 3: 1, 4: 1, 6: 1, 7: 1, 5: 2 },
    defaultStatus: { 0: 1, 1: 2, 2: 5 },
  },
  contact: {
    stateOf: { 1: 0, 2: 1 },
    defaultStatus: { 0: 1, 1: 2 },
  },
};

/** Entity sets of the tables a lookup (regarding, party, parent customer) may point at. */
const KNOWN_ENTITY_SETS: Record<string, string> = {
  account: 'accounts',
  contact: 'contacts',
  systemuser: 'systemusers',
  team: 'teams',
  lead: 'leads',
  opportunity: 'opportunities',
  incident: 'incidents',
  queue: 'queues',
  knowledgearticle: 'knowledgearticles',
};

export function entitySetOf(logicalName: string): string {
  return KNOWN_ENTITY_SETS[logicalName] ?? `${logicalName}s`;
}
