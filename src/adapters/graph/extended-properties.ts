// The MAPI named properties that carry tracking (DESIGN.md §2) and the contact fields that have no Graph property
// (DESIGN.md §7), in Graph's single-value extended property id format (graph-behaviour.md §3.1). No SDK here: the
// in-memory fake shares these ids and the item builder so both sides of the contract suite read items the same way.
import type { ItemKind } from '../../core/model';

export interface TrackingPropertyIds {
  tracked: string;
  crmId: string;
  regardingId: string;
  /** Written only by the worker (OutlookItem.linkId): the mapId of the re-link that stamped the item, or the CRM id of the record it created the item for. */
  linkId: string;
}

/** `String {guid} Name Tracked` etc. The Name part is case-sensitive on Graph (§3.3), so it is spelled once, here. */
export function trackingPropertyIds(productGuid: string): TrackingPropertyIds {
  const guid = productGuid.replace(/[{}]/g, '').trim();
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(guid)) {
    throw new Error(`productGuid is not a GUID: ${productGuid}`);
  }
  return {
    tracked: `String {${guid}} Name Tracked`,
    crmId: `String {${guid}} Name CrmId`,
    regardingId: `String {${guid}} Name RegardingId`,
    linkId: `String {${guid}} Name LinkId`,
  };
}

/**
 * The LinkId entry of a tracking upkeep's extended-property write: none when the upkeep leaves LinkId alone
 * (`linkId` absent), '' to clear it (graph-behaviour.md §3.2: an extended property cannot be deleted).
 */
export function linkIdUpdate(ids: TrackingPropertyIds, upkeep: { linkId?: string | null }): { id: string; value: string }[] {
  return upkeep.linkId === undefined ? [] : [{ id: ids.linkId, value: upkeep.linkId ?? '' }];
}

/** Contact fields without a Graph property (DESIGN.md §7): fax, other phone, pager, assistant phone, government id, FTP site, anniversary. */
export const CONTACT_MAPI_PROPERTY_IDS: readonly string[] = [
  'String 0x3A24',
  'String 0x3A1F',
  'String 0x3A21',
  'String 0x3A2E',
  'String 0x3A07',
  'String 0x3A4C',
  'SystemTime 0x3A41',
];

/** The extended properties hydration expands for a kind; To Do tasks have none (§3.5). */
export function expandedPropertyIds(kind: ItemKind, ids: TrackingPropertyIds): string[] {
  switch (kind) {
    case 'contact':
      return [ids.tracked, ids.crmId, ids.linkId, ...CONTACT_MAPI_PROPERTY_IDS];
    case 'appointment':
      return [ids.tracked, ids.crmId, ids.linkId];
    case 'email':
      return [ids.tracked, ids.crmId, ids.linkId, ids.regardingId];
    case 'task':
      return [];
  }
}

/**
 * Compares two property ids the way Graph does: the type keyword and the GUID are case-insensitive, the Name is not
 * (graph-behaviour.md §3.3).
 */
export function samePropertyId(a: string, b: string): boolean {
  return normalizePropertyId(a) === normalizePropertyId(b);
}

function normalizePropertyId(id: string): string {
  const match = /^(\S+)\s+(\{[^}]*\})\s+(Name|Id)\s+(.+)$/i.exec(id.trim());
  if (!match) return id.trim().toLowerCase();
  const [, type = '', guid = '', form = '', name = ''] = match;
  const tail = form.toLowerCase() === 'name' ? name : name.toLowerCase();
  return `${type.toLowerCase()} ${guid.toLowerCase()} ${form.toLowerCase()} ${tail}`;
}

/** OData string literal: single quotes doubled. */
export function odataString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** `singleValueExtendedProperties($filter=id eq '…' or id eq '…')` (graph-behaviour.md §3.3). */
export function expandExtendedProperties(propertyIds: readonly string[]): string {
  return `singleValueExtendedProperties($filter=${propertyIds.map((id) => `id eq ${odataString(id)}`).join(' or ')})`;
}

/** `singleValueExtendedProperties/Any(ep: ep/id eq '<CrmId>' and ep/value eq '<crmId>')` (§3.3; value match is case-insensitive). */
export function crmIdFilter(ids: TrackingPropertyIds, crmId: string): string {
  return `singleValueExtendedProperties/Any(ep: ep/id eq ${odataString(ids.crmId)} and ep/value eq ${odataString(crmId)})`;
}

/** `singleValueExtendedProperties/Any(ep: ep/id eq '<Tracked>' and ep/value eq 'true')` (§3.3): the marker sweep. */
export function markerFilter(ids: TrackingPropertyIds): string {
  return `singleValueExtendedProperties/Any(ep: ep/id eq ${odataString(ids.tracked)} and ep/value eq 'true')`;
}
