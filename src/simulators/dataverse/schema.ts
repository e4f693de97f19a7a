// The tables the simulator serves, as data: columns, lookups with their write-side navigation names, state/status
// pairs and activity-party navigation. Names follow dataverse-behaviour.md §4 (entity shapes) and §4.1 (bind names).

export type ColumnType = 'string' | 'memo' | 'int' | 'bigint' | 'decimal' | 'bool' | 'datetime' | 'dateonly' | 'guid' | 'choice';

export interface ColumnDef {
  type: ColumnType;
  maxLength?: number;
  min?: number;
  max?: number;
  /** Choice labels, for validation and FormattedValue annotations. */
  options?: Readonly<Record<number, string>>;
  /** Computed or system-managed: never accepted in a request body (IsValidForCreate = IsValidForUpdate = False). */
  readOnly?: boolean;
  /** IsValidForCreate = False but updatable (statecode on activities, §4). */
  notValidForCreate?: boolean;
  defaultValue?: string | number | boolean | null;
}

export interface LookupDef {
  /** Write-side navigation property → target table logical name (§4.1). Empty for read-only lookups. */
  bindings: Readonly<Record<string, string>>;
  /** System lookups (createdby, modifiedby …) are read-only. */
  readOnly?: boolean;
}

export interface StateDef {
  label: string;
  defaultStatus: number;
}

export interface StatusDef {
  label: string;
  state: number;
}

export interface TableDef {
  logicalName: string;
  entitySet: string;
  primaryKey: string;
  /** The column shown as the record's name in lookup FormattedValue annotations. */
  primaryName: string;
  columns: Readonly<Record<string, ColumnDef>>;
  lookups: Readonly<Record<string, LookupDef>>;
  states?: Readonly<Record<number, StateDef>>;
  statuses?: Readonly<Record<number, StatusDef>>;
  /** Collection navigation for activity parties (§4.2); absent for tables without party lists (task). */
  partyNavigation?: string;
  /** Participation types a party on this table may have (§4.2). */
  allowedParticipationTypes?: readonly number[];
  isActivity?: boolean;
  /** The API rejects writes (activityparty rows are written through their activity; organizations is read-only here). */
  readOnlyTable?: boolean;
  ownedByUser: boolean;
}

const priority = { 0: 'Low', 1: 'Normal', 2: 'High' } as const;

const systemColumns: Record<string, ColumnDef> = {
  createdon: { type: 'datetime', readOnly: true },
  modifiedon: { type: 'datetime', readOnly: true },
  versionnumber: { type: 'bigint', readOnly: true },
};

const systemLookups: Record<string, LookupDef> = {
  createdby: { bindings: {}, readOnly: true },
  modifiedby: { bindings: {}, readOnly: true },
  createdonbehalfby: { bindings: {}, readOnly: true },
  modifiedonbehalfby: { bindings: {}, readOnly: true },
};

function ownedLookups(): Record<string, LookupDef> {
  return { ...systemLookups, ownerid: { bindings: { ownerid: 'systemuser' } } };
}

const address: Record<string, ColumnDef> = {};
for (const n of [1, 2, 3]) {
  for (const [suffix, maxLength] of [
    ['line1', 250], ['line2', 250], ['line3', 250], ['city', 80], ['stateorprovince', 50], ['postalcode', 20],
    ['country', 80], ['county', 50], ['postofficebox', 20], ['name', 200], ['telephone1', 50], ['fax', 50],
  ] as const) {
    address[`address${n}_${suffix}`] = { type: 'string', maxLength };
  }
  address[`address${n}_composite`] = { type: 'memo', readOnly: true };
}

const str = (maxLength: number): ColumnDef => ({ type: 'string', maxLength });

const systemuser: TableDef = {
  logicalName: 'systemuser',
  entitySet: 'systemusers',
  primaryKey: 'systemuserid',
  primaryName: 'fullname',
  ownedByUser: false,
  columns: {
    ...systemColumns,
    fullname: { type: 'string', maxLength: 200, readOnly: true },
    firstname: str(256),
    lastname: str(256),
    internalemailaddress: str(100),
    domainname: str(1024),
    azureactivedirectoryobjectid: { type: 'guid' },
    applicationid: { type: 'guid' },
    isdisabled: { type: 'bool', defaultValue: false },
    accessmode: { type: 'choice', options: { 0: 'Read-Write', 4: 'Non-interactive' }, defaultValue: 0 },
  },
  lookups: { ...systemLookups },
};

const contact: TableDef = {
  logicalName: 'contact',
  entitySet: 'contacts',
  primaryKey: 'contactid',
  primaryName: 'fullname',
  ownedByUser: true,
  columns: {
    ...systemColumns,
    firstname: str(50), lastname: str(50), middlename: str(50), fullname: { type: 'string', maxLength: 160, readOnly: true },
    salutation: str(100), nickname: str(100), yomifirstname: str(150), yomilastname: str(150), yomifullname: { type: 'string', readOnly: true },
    emailaddress1: str(100), emailaddress2: str(100), emailaddress3: str(100),
    telephone1: str(50), telephone2: str(50), telephone3: str(50), mobilephone: str(50), fax: str(50),
    business2: str(50), home2: str(50), callback: str(50), company: str(50), pager: str(50), assistantphone: str(50),
    jobtitle: str(100), department: str(100), spousesname: str(100), childrensnames: str(255), governmentid: str(50),
    ftpsiteurl: str(200), websiteurl: str(200), managername: str(100), assistantname: str(100),
    birthdate: { type: 'dateonly' }, anniversary: { type: 'dateonly' },
    description: { type: 'memo', maxLength: 2000 },
    ...address,
    statecode: { type: 'choice', options: { 0: 'Active', 1: 'Inactive' } },
    statuscode: { type: 'choice', options: { 1: 'Active', 2: 'Inactive' } },
  },
  lookups: {
    ...ownedLookups(),
    parentcustomerid: { bindings: { parentcustomerid_account: 'account', parentcustomerid_contact: 'contact' } },
  },
  states: { 0: { label: 'Active', defaultStatus: 1 }, 1: { label: 'Inactive', defaultStatus: 2 } },
  statuses: { 1: { label: 'Active', state: 0 }, 2: { label: 'Inactive', state: 1 } },
};

const account: TableDef = {
  logicalName: 'account',
  entitySet: 'accounts',
  primaryKey: 'accountid',
  primaryName: 'name',
  ownedByUser: true,
  columns: {
    ...systemColumns,
    name: str(160), accountnumber: str(20), emailaddress1: str(100), telephone1: str(50), websiteurl: str(200),
    description: { type: 'memo', maxLength: 2000 },
    ...address,
    statecode: { type: 'choice', options: { 0: 'Active', 1: 'Inactive' } },
    statuscode: { type: 'choice', options: { 1: 'Active', 2: 'Inactive' } },
  },
  lookups: { ...ownedLookups(), parentaccountid: { bindings: { parentaccountid: 'account' } } },
  states: { 0: { label: 'Active', defaultStatus: 1 }, 1: { label: 'Inactive', defaultStatus: 2 } },
  statuses: { 1: { label: 'Active', state: 0 }, 2: { label: 'Inactive', state: 1 } },
};

function activityColumns(descriptionMax: number): Record<string, ColumnDef> {
  return {
    ...systemColumns,
    subject: str(200),
    description: { type: 'memo', maxLength: descriptionMax },
    scheduledstart: { type: 'datetime' },
    scheduledend: { type: 'datetime' },
    actualstart: { type: 'datetime' },
    actualend: { type: 'datetime' },
    actualdurationminutes: { type: 'int', min: 0 },
    prioritycode: { type: 'choice', options: priority, defaultValue: 1 },
    activitytypecode: { type: 'string', readOnly: true },
    statecode: { type: 'choice', notValidForCreate: true },
    statuscode: { type: 'choice' },
  };
}

function regarding(suffix: string): LookupDef {
  return {
    bindings: { [`regardingobjectid_account_${suffix}`]: 'account', [`regardingobjectid_contact_${suffix}`]: 'contact' },
  };
}

const appointment: TableDef = {
  logicalName: 'appointment',
  entitySet: 'appointments',
  primaryKey: 'activityid',
  primaryName: 'subject',
  ownedByUser: true,
  isActivity: true,
  columns: {
    ...activityColumns(1_048_576),
    location: str(200),
    isalldayevent: { type: 'bool', defaultValue: false },
    scheduleddurationminutes: { type: 'int', min: 0 },
    globalobjectid: str(300),
    outlookownerapptid: { type: 'int' },
    instancetypecode: {
      type: 'choice', readOnly: true, defaultValue: 0,
      options: { 0: 'Not Recurring', 1: 'Recurring Master', 2: 'Recurring Instance', 3: 'Recurring Exception', 4: 'Recurring Future Exception' },
    },
    category: str(250),
    subcategory: str(250),
  },
  lookups: { ...ownedLookups(), regardingobjectid: regarding('appointment') },
  states: {
    0: { label: 'Open', defaultStatus: 1 }, 1: { label: 'Completed', defaultStatus: 3 },
    2: { label: 'Canceled', defaultStatus: 4 }, 3: { label: 'Scheduled', defaultStatus: 5 },
  },
  statuses: {
    1: { label: 'Free', state: 0 }, 2: { label: 'Tentative', state: 0 }, 3: { label: 'Completed', state: 1 },
    4: { label: 'Canceled', state: 2 }, 5: { label: 'Busy', state: 3 }, 6: { label: 'Out of Office', state: 3 },
  },
  partyNavigation: 'appointment_activity_parties',
  allowedParticipationTypes: [5, 6, 7],
};

const task: TableDef = {
  logicalName: 'task',
  entitySet: 'tasks',
  primaryKey: 'activityid',
  primaryName: 'subject',
  ownedByUser: true,
  isActivity: true,
  columns: {
    ...activityColumns(2000),
    percentcomplete: { type: 'int', min: 0, max: 100 },
    category: str(250),
    subcategory: str(250),
  },
  lookups: { ...ownedLookups(), regardingobjectid: regarding('task') },
  states: {
    0: { label: 'Open', defaultStatus: 2 }, 1: { label: 'Completed', defaultStatus: 5 }, 2: { label: 'Canceled', defaultStatus: 6 },
  },
  statuses: {
    2: { label: 'Not Started', state: 0 }, 3: { label: 'In Progress', state: 0 }, 4: { label: 'Waiting on someone else', state: 0 },
    7: { label: 'Deferred', state: 0 }, 5: { label: 'Completed', state: 1 }, 6: { label: 'Canceled', state: 2 },
  },
};

const email: TableDef = {
  logicalName: 'email',
  entitySet: 'emails',
  primaryKey: 'activityid',
  primaryName: 'subject',
  ownedByUser: true,
  isActivity: true,
  columns: {
    ...activityColumns(1_073_741_823),
    directioncode: { type: 'bool', defaultValue: true },
    messageid: str(320),
    sender: str(250),
    torecipients: str(500),
    senton: { type: 'datetime' },
    conversationindex: str(2048),
    inreplyto: str(320),
  },
  lookups: { ...ownedLookups(), regardingobjectid: regarding('email') },
  states: { 0: { label: 'Open', defaultStatus: 1 }, 1: { label: 'Completed', defaultStatus: 2 }, 2: { label: 'Canceled', defaultStatus: 5 } },
  statuses: {
    1: { label: 'Draft', state: 0 }, 8: { label: 'Failed', state: 0 }, 2: { label: 'Completed', state: 1 },
    3: { label: 'Sent', state: 1 }, 4: { label: 'Received', state: 1 }, 6: { label: 'Pending Send', state: 1 },
    7: { label: 'Sending', state: 1 }, 5: { label: 'Canceled', state: 2 },
  },
  partyNavigation: 'email_activity_parties',
  allowedParticipationTypes: [1, 2, 3, 4],
};

export const PARTICIPATION_TYPES: Readonly<Record<number, string>> = {
  1: 'Sender', 2: 'To Recipient', 3: 'CC Recipient', 4: 'BCC Recipient', 5: 'Required attendee', 6: 'Optional attendee',
  7: 'Organizer', 8: 'Regarding', 9: 'Owner', 10: 'Resource', 11: 'Customer', 12: 'Chat participant',
};

const activityparty: TableDef = {
  logicalName: 'activityparty',
  entitySet: 'activityparties',
  primaryKey: 'activitypartyid',
  primaryName: 'addressused',
  ownedByUser: false,
  readOnlyTable: true,
  columns: {
    versionnumber: { type: 'bigint', readOnly: true },
    participationtypemask: { type: 'choice', options: PARTICIPATION_TYPES },
    addressused: str(320),
    unresolvedpartyname: str(500),
    ispartydeleted: { type: 'bool', readOnly: true, defaultValue: false },
  },
  lookups: {
    partyid: { bindings: { partyid_systemuser: 'systemuser', partyid_contact: 'contact', partyid_account: 'account' } },
    // Read-only here: parties are written through their activity (§4.2); the names serve $expand.
    activityid: { bindings: { activityid_appointment: 'appointment', activityid_task: 'task', activityid_email: 'email' }, readOnly: true },
  },
};

const organization: TableDef = {
  logicalName: 'organization',
  entitySet: 'organizations',
  primaryKey: 'organizationid',
  primaryName: 'name',
  ownedByUser: false,
  readOnlyTable: true,
  columns: {
    versionnumber: { type: 'bigint', readOnly: true },
    name: str(160),
    expirechangetrackingindays: { type: 'int', min: 0, max: 365 },
  },
  lookups: {},
};

/**
 * A user's settings, one row per systemuser under the same key (entity set `usersettingscollection`, primary key
 * `systemuserid`, Microsoft Learn "usersettings EntityType"). Only the time zone is served: `timezonecode`, an integer
 * whose standard name is in TimeZoneDefinition ("Specify time zone settings for a user"). Writes are not simulated.
 */
const usersettings: TableDef = {
  logicalName: 'usersettings',
  entitySet: 'usersettingscollection',
  primaryKey: 'systemuserid',
  primaryName: 'timezonecode',
  ownedByUser: false,
  readOnlyTable: true,
  columns: {
    versionnumber: { type: 'bigint', readOnly: true },
    timezonecode: { type: 'int' },
  },
  lookups: {},
};

/**
 * The time zones the CRM knows (entity set `timezonedefinitions`, Microsoft Learn "timezonedefinition EntityType"):
 * `timezonecode` → `standardname` (the Windows time-zone id) and `userinterfacename`; `retiredorder` 0 is the current
 * entry of a code. Read-only.
 */
const timezonedefinition: TableDef = {
  logicalName: 'timezonedefinition',
  entitySet: 'timezonedefinitions',
  primaryKey: 'timezonedefinitionid',
  primaryName: 'userinterfacename',
  ownedByUser: false,
  readOnlyTable: true,
  columns: {
    versionnumber: { type: 'bigint', readOnly: true },
    timezonecode: { type: 'int' },
    standardname: str(100),
    daylightname: str(100),
    userinterfacename: str(100),
    bias: { type: 'int' },
    retiredorder: { type: 'int' },
  },
  lookups: {},
};

/**
 * The `entity` table: one row of table metadata per table (entity reference Entity). `name` holds the table's
 * SchemaName ("Contact"), `logicalname` its LogicalName ("contact"); restore-deleted-records, "Disable recycle bin for a
 * table": "compare the LogicalName value against the Entity.Name column value, which stores the table SchemaName …
 * String value comparisons are case insensitive". Rows are made by engine.ts; read-only.
 */
const entity: TableDef = {
  logicalName: 'entity',
  entitySet: 'entities',
  primaryKey: 'entityid',
  primaryName: 'name',
  ownedByUser: false,
  readOnlyTable: true,
  columns: {
    versionnumber: { type: 'bigint', readOnly: true },
    name: str(100),
    logicalname: str(100),
  },
  lookups: {},
};

/**
 * "Restore Deleted Records Configuration" (restore-deleted-records, "Detect which tables are enabled for recycle bin";
 * entity reference recyclebinconfig). "The RecycleBinConfig table doesn't contain the name of the table, but refers to
 * a row in the Entity table": the `extensionofrecordid` lookup (Targets: entity). One row named `organization` while the
 * feature is on for the environment (its `cleanupintervalindays` is the default; "Disable recycle bin for the
 * environment" deletes "the row … where the name value is organization"), one per configured table with no table name
 * in `name` (`cleanupintervalindays` -1: the organization's value). A table keeps deleted rows while its row has
 * statecode 0 (Active) and `isreadyforrecyclebin` true; disabling sets statecode 1 / statuscode 2. Rows follow the
 * `recycleBin` knobs; read-only.
 */
const recyclebinconfig: TableDef = {
  logicalName: 'recyclebinconfig',
  entitySet: 'recyclebinconfigs',
  primaryKey: 'recyclebinconfigid',
  primaryName: 'name',
  ownedByUser: false,
  readOnlyTable: true,
  columns: {
    versionnumber: { type: 'bigint', readOnly: true },
    name: str(100),
    statecode: { type: 'choice', options: { 0: 'Active', 1: 'Inactive' } },
    statuscode: { type: 'choice', options: { 1: 'Active', 2: 'Inactive' } },
    isreadyforrecyclebin: { type: 'bool' },
    cleanupintervalindays: { type: 'int' },
  },
  // The single-valued navigation property has the lookup's name (the documented `extensionofrecordid/name` path).
  lookups: { extensionofrecordid: { bindings: { extensionofrecordid: 'entity' }, readOnly: true } },
};

/** SchemaName of each table, for the `entity` rows' `name` column. */
export const SCHEMA_NAMES: Readonly<Record<string, string>> = {
  systemuser: 'SystemUser', contact: 'Contact', account: 'Account', appointment: 'Appointment', task: 'Task', email: 'Email',
  activityparty: 'ActivityParty', organization: 'Organization', usersettings: 'UserSettings',
  timezonedefinition: 'TimeZoneDefinition', entity: 'Entity', recyclebinconfig: 'RecycleBinConfig',
};

export const TABLES: readonly TableDef[] = [
  systemuser, contact, account, appointment, task, email, activityparty, organization, usersettings, timezonedefinition, entity,
  recyclebinconfig,
];

/**
 * The simulator's TimeZoneDefinition rows: a handful of real codes (the Microsoft Time Zone Index values Dataverse
 * uses; 35 "Eastern Standard Time" as a live org returns it, drivardxrm/Dataverse-CustomApis GetUserTimezone). Bias in
 * minutes, UTC = local + bias.
 */
export const TIME_ZONE_DEFINITIONS: readonly { timezonecode: number; standardname: string; userinterfacename: string; bias: number }[] = [
  { timezonecode: 4, standardname: 'Pacific Standard Time', userinterfacename: '(GMT-08:00) Pacific Time (US & Canada)', bias: 480 },
  { timezonecode: 35, standardname: 'Eastern Standard Time', userinterfacename: '(GMT-05:00) Eastern Time (US & Canada)', bias: 300 },
  { timezonecode: 85, standardname: 'GMT Standard Time', userinterfacename: '(GMT+00:00) Dublin, Edinburgh, Lisbon, London', bias: 0 },
  { timezonecode: 92, standardname: 'UTC', userinterfacename: '(GMT) Coordinated Universal Time', bias: 0 },
  { timezonecode: 110, standardname: 'W. Europe Standard Time', userinterfacename: '(GMT+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna', bias: -60 },
  { timezonecode: 190, standardname: 'India Standard Time', userinterfacename: '(GMT+05:30) Chennai, Kolkata, Mumbai, New Delhi', bias: -330 },
  { timezonecode: 255, standardname: 'AUS Eastern Standard Time', userinterfacename: '(GMT+10:00) Canberra, Melbourne, Sydney', bias: -600 },
];

/** Named codes of TIME_ZONE_DEFINITIONS, for tests and the sandbox. */
export const TIME_ZONE_CODES = { pacific: 4, eastern: 35, gmt: 85, utc: 92, westEurope: 110, india: 190, ausEastern: 255 } as const;

export const TABLES_BY_SET: ReadonlyMap<string, TableDef> = new Map(TABLES.map((t) => [t.entitySet, t]));
export const TABLES_BY_NAME: ReadonlyMap<string, TableDef> = new Map(TABLES.map((t) => [t.logicalName, t]));

/** Names of the lookup behind a `_x_value` read property, or null. */
export function lookupOfValueProperty(table: TableDef, property: string): string | null {
  const m = /^_(.+)_value$/.exec(property);
  return m && m[1] !== undefined && table.lookups[m[1]] ? m[1] : null;
}

export function tableBySet(entitySet: string): TableDef | undefined {
  return TABLES_BY_SET.get(entitySet);
}

export function tableByName(logicalName: string): TableDef {
  const t = TABLES_BY_NAME.get(logicalName);
  if (!t) throw new Error(`unknown table ${logicalName}`);
  return t;
}
