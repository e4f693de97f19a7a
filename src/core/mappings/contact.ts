// Contacts: Graph `contact` ↔ Dataverse `contact` (DESIGN.md §7; names checked against graph-behaviour.md §2.1, the
// Graph OpenAPI subset, and dataverse-behaviour.md §4.3/§6).
import type { FieldValues, JsonValue } from '../model';
import { MAX_STREET_LINES } from '../normalize';
import { CONTACT_MAPI } from './extended-properties';
import { crmColumn, mapiString, scalar, valueOf } from './fields';
import { defineKind, type FieldDescriptor } from './types';
import { asString, asStrings, at, attr, dateToMidnightUtc, FORMATTED, LOOKUP_LOGICAL_NAME, readExtended, writeExtended } from './wire';

/**
 * Graph `emailAddress` entries for these addresses. An address the item already has (compared without case) keeps its
 * entry's display name: the CRM has no column for it, and replacing it with the address would erase what the user
 * typed. A new address is named by itself, as Outlook shows an address without a name.
 */
function emailEntries(addresses: readonly string[], current: JsonValue | undefined): JsonValue[] {
  const names = new Map<string, JsonValue>();
  for (const entry of Array.isArray(current) ? current : []) {
    const address = at(entry, 'address');
    const name = at(entry, 'name');
    if (typeof address === 'string' && typeof name === 'string' && name.trim() !== '') {
      const key = address.trim().toLowerCase();
      if (!names.has(key)) names.set(key, name);
    }
  }
  return addresses.map((address) => ({ address, name: names.get(address.toLowerCase()) ?? address }));
}

/** Graph list property ↔ up to N Dataverse columns, in order (emailAddresses ↔ emailaddress1..3, phones). */
function listToColumns(
  field: string,
  graphProperty: string,
  columns: readonly string[],
  type: 'emailList' | 'phoneList',
): FieldDescriptor {
  const isEmail = type === 'emailList';
  return {
    field,
    spec: { type, maxItems: columns.length },
    outlookTargets: [graphProperty],
    crmTargets: columns,
    outlook: {
      read: (data) => {
        const items = data[graphProperty];
        if (!Array.isArray(items)) return undefined;
        return isEmail ? items.map((e) => at(e, 'address')) : items;
      },
      // Graph lists have no holes: the canonical list is compacted, so index i here is column i on the CRM side.
      write: (value: JsonValue, _values, ctx) => ({
        [graphProperty]: isEmail ? emailEntries(asStrings(value), ctx.item?.data[graphProperty]) : asStrings(value),
      }),
    },
    crm: {
      read: (record) => columns.map((c) => attr(record, c)),
      write: (value: JsonValue) => {
        const items = asStrings(value);
        return { attributes: Object.fromEntries(columns.map((c, i) => [c, items[i] ?? null])) };
      },
    },
  };
}

const ADDRESS_PARTS = [
  { field: 'businessStreet', graph: 'street', type: 'street' as const },
  { field: 'businessCity', graph: 'city', crm: 'address1_city' },
  { field: 'businessState', graph: 'state', crm: 'address1_stateorprovince' },
  { field: 'businessPostalCode', graph: 'postalCode', crm: 'address1_postalcode' },
  { field: 'businessCountry', graph: 'countryOrRegion', crm: 'address1_country' },
];
const STREET_COLUMNS = ['address1_line1', 'address1_line2', 'address1_line3'].slice(0, MAX_STREET_LINES);

/** Graph replaces a complex property as a whole on PATCH, so every part is written from the merged values. */
function businessAddress(values: FieldValues): JsonValue {
  return Object.fromEntries(ADDRESS_PARTS.map((p) => [p.graph, valueOf(values, p.field) ?? ''])) as JsonValue;
}

const addressFields: FieldDescriptor[] = ADDRESS_PARTS.map((part) => ({
  field: part.field,
  spec: { type: part.type ?? 'text' },
  group: 'businessAddress',
  outlookTargets: [`businessAddress.${part.graph}`],
  crmTargets: part.crm ? [part.crm] : STREET_COLUMNS,
  outlook: {
    read: (data) => at(data, 'businessAddress', part.graph),
    write: (_value: JsonValue, values: FieldValues) => ({ businessAddress: businessAddress(values) }),
  },
  crm: part.crm
    ? crmColumn(part.crm)
    : {
        // Street lines ↔ line1..3 joined by newlines (DESIGN.md §7); normalization caps the street at three lines.
        read: (record) =>
          STREET_COLUMNS.map((c) => attr(record, c))
            .filter((line): line is string => typeof line === 'string')
            .join('\n'),
        write: (value: JsonValue) => {
          const lines = (asString(value) ?? '').split('\n').filter((l) => l !== '');
          return { attributes: Object.fromEntries(STREET_COLUMNS.map((c, i) => [c, lines[i] ?? null])) };
        },
      },
}));

const children: FieldDescriptor = {
  field: 'children',
  // childrensnames is one string: names are joined with ", " and split on commas/semicolons/newlines, so a name
  // containing a comma normalizes to two names on both sides alike.
  spec: { type: 'textList', splitOn: /[,;\n]/ },
  outlookTargets: ['children'],
  crmTargets: ['childrensnames'],
  outlook: {
    read: (data) => data.children,
    write: (value) => ({ children: asStrings(value) }),
  },
  crm: {
    read: (record) => attr(record, 'childrensnames'),
    write: (value) => ({ attributes: { childrensnames: asStrings(value).length ? asStrings(value).join(', ') : null } }),
  },
};

const birthday: FieldDescriptor = {
  field: 'birthday',
  spec: { type: 'date' },
  outlookTargets: ['birthday'],
  crmTargets: ['birthdate'],
  outlook: {
    read: (data) => data.birthday,
    write: (value) => ({ birthday: dateToMidnightUtc(value) }),
  },
  // birthdate is DateOnly: `YYYY-MM-DD` (dataverse-behaviour.md §4.3).
  crm: crmColumn('birthdate'),
};

const anniversary: FieldDescriptor = {
  field: 'anniversary',
  spec: { type: 'date' },
  outlookTargets: [CONTACT_MAPI.anniversary],
  crmTargets: ['anniversary'],
  outlook: {
    read: (data) => readExtended(data, CONTACT_MAPI.anniversary),
    write: (value) => writeExtended(CONTACT_MAPI.anniversary, dateToMidnightUtc(value)),
  },
  crm: crmColumn('anniversary'),
};

/** companyName ← the parent account's name, one way, when the mailbox wants it ("Update the company field"). */
const companyName: FieldDescriptor = {
  field: 'companyName',
  spec: { type: 'text' },
  direction: 'crm-to-outlook',
  when: (settings) => settings.updateCompanyField,
  outlookTargets: ['companyName'],
  crmTargets: ['parentcustomerid'],
  outlook: {
    read: (data) => data.companyName,
    write: (value) => ({ companyName: value ?? '' }),
  },
  crm: {
    read: (record) => {
      const entity = attr(record, `_parentcustomerid_value${LOOKUP_LOGICAL_NAME}`);
      if (typeof entity === 'string' && entity !== 'account') return null;
      return attr(record, `_parentcustomerid_value${FORMATTED}`);
    },
    write: () => ({}),
  },
};

export const contactMapping = defineKind({
  kind: 'contact',
  fields: [
    scalar('givenName', 'givenName', 'firstname'),
    scalar('middleName', 'middleName', 'middlename'),
    scalar('surname', 'surname', 'lastname'),
    scalar('title', 'title', 'salutation'),
    scalar('nickName', 'nickName', 'nickname'),
    scalar('jobTitle', 'jobTitle', 'jobtitle'),
    scalar('department', 'department', 'department'),
    scalar('manager', 'manager', 'managername'),
    scalar('assistantName', 'assistantName', 'assistantname'),
    scalar('spouseName', 'spouseName', 'spousesname'),
    children,
    birthday,
    listToColumns('emailAddresses', 'emailAddresses', ['emailaddress1', 'emailaddress2', 'emailaddress3'], 'emailList'),
    listToColumns('businessPhones', 'businessPhones', ['telephone1', 'business2'], 'phoneList'),
    listToColumns('homePhones', 'homePhones', ['telephone2', 'home2'], 'phoneList'),
    scalar('mobilePhone', 'mobilePhone', 'mobilephone', { type: 'phone' }),
    scalar('businessHomePage', 'businessHomePage', 'websiteurl'),
    scalar('yomiGivenName', 'yomiGivenName', 'yomifirstname'),
    scalar('yomiSurname', 'yomiSurname', 'yomilastname'),
    scalar('personalNotes', 'personalNotes', 'description', { type: 'body' }),
    ...addressFields,
    mapiString('businessFax', CONTACT_MAPI.businessFax, 'fax', { type: 'phone' }),
    mapiString('otherPhone', CONTACT_MAPI.otherPhone, 'telephone3', { type: 'phone' }),
    mapiString('pager', CONTACT_MAPI.pager, 'pager', { type: 'phone' }),
    mapiString('assistantPhone', CONTACT_MAPI.assistantPhone, 'assistantphone', { type: 'phone' }),
    mapiString('governmentId', CONTACT_MAPI.governmentId, 'governmentid'),
    mapiString('ftpSite', CONTACT_MAPI.ftpSite, 'ftpsiteurl'),
    anniversary,
    companyName,
  ],
});
