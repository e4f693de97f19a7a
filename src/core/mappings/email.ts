// E-mail: Graph `message` ↔ Dataverse `email` (DESIGN.md §2, §7; graph-behaviour.md §2.3; dataverse-behaviour.md §4.2,
// §4.6). A message is promoted once: everything but `regarding` is written to the CRM on creation only; afterwards only
// regarding (and the marker) sync both ways.
import type { FieldValues, JsonValue } from '../model';
import { regardingIdPropertyId } from './extended-properties';
import { itemBody, scalar, valueOf } from './fields';
import { defineKind, type FieldDescriptor } from './types';
import { asStrings, at, attr, LOOKUP_LOGICAL_NAME, partiesFor, partyAddresses, readExtended, writeExtended } from './wire';

export const PARTY_SENDER = 1;
export const PARTY_TO = 2;
export const PARTY_CC = 3;

const oneWay = { direction: 'outlook-to-crm' as const, createOnly: true };

function recipients(data: Record<string, JsonValue>, property: string): string[] {
  const list = data[property];
  if (!Array.isArray(list)) return [];
  return list.map((r) => at(r, 'emailAddress', 'address')).filter((a): a is string => typeof a === 'string');
}

function crmParties(values: FieldValues) {
  const from = valueOf(values, 'from');
  return {
    parties: [
      ...(typeof from === 'string' ? partiesFor(PARTY_SENDER, [from]) : []),
      ...partiesFor(PARTY_TO, asStrings(valueOf(values, 'to'))),
      ...partiesFor(PARTY_CC, asStrings(valueOf(values, 'cc'))),
    ],
  };
}

function partyField(field: string, spec: FieldDescriptor['spec'], read: (data: Record<string, JsonValue>) => unknown, mask: number, graphProperty: string): FieldDescriptor {
  return {
    field,
    spec,
    ...oneWay,
    group: 'parties',
    outlookTargets: [graphProperty],
    crmTargets: [`party:${mask}`],
    outlook: { read, write: () => ({}) },
    crm: {
      read: (record) => (spec.type === 'email' ? partyAddresses(record, mask)[0] : partyAddresses(record, mask)),
      write: (_v, values) => crmParties(values),
    },
  };
}

/** Sent Items holds outgoing mail; the adapter reports the well-known folder name as the container. */
function isOutgoingFolder(container: string | undefined): boolean {
  return typeof container === 'string' && container.toLowerCase() === 'sentitems';
}

/** `<entity logical name>:<id>` on both sides; a bare id (entity unknown) is kept but never written to the CRM. */
export function parseRegarding(value: JsonValue): { entity: string; id: string } | null {
  if (typeof value !== 'string') return null;
  const match = /^([a-z_][a-z0-9_]*):(.+)$/i.exec(value);
  return match && match[1] && match[2] ? { entity: match[1].toLowerCase(), id: match[2] } : null;
}

export const emailMapping = defineKind({
  kind: 'email',
  fields: [
    scalar('subject', 'subject', 'subject', oneWay),
    itemBody('body', 'body', 'description', oneWay),
    partyField('from', { type: 'email' }, (data) => at(data, 'from', 'emailAddress', 'address'), PARTY_SENDER, 'from'),
    partyField('to', { type: 'addressSet' }, (data) => recipients(data, 'toRecipients'), PARTY_TO, 'toRecipients'),
    partyField('cc', { type: 'addressSet' }, (data) => recipients(data, 'ccRecipients'), PARTY_CC, 'ccRecipients'),
    scalar('internetMessageId', 'internetMessageId', 'messageid', oneWay),
    scalar('sentDateTime', 'sentDateTime', 'senton', { type: 'instant', ...oneWay }),
    // Guessed column: Dataverse email has no "received on"; actualend is the activity's actual end (UNCONFIRMED).
    scalar('receivedDateTime', 'receivedDateTime', 'actualend', { type: 'instant', ...oneWay }),
    {
      field: 'direction',
      spec: { type: 'choice', choices: ['incoming', 'outgoing'] },
      ...oneWay,
      outlookTargets: [],
      crmTargets: ['directioncode', 'statecode', 'statuscode'],
      outlook: {
        read: (_data, ctx) => (ctx.item ? (isOutgoingFolder(ctx.item.container) ? 'outgoing' : 'incoming') : undefined),
        write: () => ({}),
      },
      crm: {
        read: (record) => {
          const code = attr(record, 'directioncode');
          return code === true ? 'outgoing' : code === false ? 'incoming' : undefined;
        },
        // Tracked mail is Completed/Sent or Completed/Received; the connector PATCHes the state after the create
        // because statecode is not valid on create (dataverse-behaviour.md §4.6).
        write: (value) => ({
          attributes: {
            directioncode: value === 'outgoing',
            statecode: 1,
            statuscode: value === 'outgoing' ? 3 : 4,
          },
        }),
      },
    },
    {
      field: 'regarding',
      spec: { type: 'text' },
      outlookTargets: ['RegardingId'],
      crmTargets: ['regardingobjectid'],
      outlook: {
        read: (data, ctx) => readExtended(data, regardingIdPropertyId(ctx.productGuid)) ?? ctx.item?.regardingId ?? undefined,
        write: (value, _values, ctx) => writeExtended(regardingIdPropertyId(ctx.productGuid), typeof value === 'string' ? value : null),
      },
      crm: {
        read: (record) => {
          const id = attr(record, '_regardingobjectid_value');
          if (typeof id !== 'string' || id === '') return null;
          const entity = attr(record, `_regardingobjectid_value${LOOKUP_LOGICAL_NAME}`);
          return typeof entity === 'string' ? `${entity}:${id}` : id;
        },
        write: (value) => {
          if (value === null) return { regarding: null };
          const parsed = parseRegarding(value);
          return parsed ? { regarding: parsed } : {};
        },
      },
    },
  ],
  // directioncode is a required two-option column: a message is incoming unless it was read from Sent Items.
  derive: (values) => {
    if (values.direction !== 'outgoing') values.direction = 'incoming';
  },
});

