// Extended-property ids in Graph's exact id format (graph-behaviour.md §3.1): `{type} {guid} Name {name}` for our named
// properties, `{type} {proptag}` for the MAPI contact properties that have no Graph property (DESIGN.md §7).
import type { ItemKind } from '../model';

/** Used when the deployment configures no product GUID of its own. */
export const DEFAULT_PRODUCT_GUID = '6c1f3a52-8e4b-4c1d-9a0e-5b7d2f3c4e81';

function named(productGuid: string, name: string): string {
  return `String {${productGuid.replace(/[{}]/g, '')}} Name ${name}`;
}

/** The tracked marker (DESIGN.md §2): value `true` tracks; `""` or anything else means untracked (§3.2: no delete). */
export function trackedPropertyId(productGuid: string): string {
  return named(productGuid, 'Tracked');
}

export function crmIdPropertyId(productGuid: string): string {
  return named(productGuid, 'CrmId');
}

/** E-mail only: the regarding record an add-in chose, as `<entity logical name>:<id>`. */
export function regardingIdPropertyId(productGuid: string): string {
  return named(productGuid, 'RegardingId');
}

/** MAPI contact properties without a Graph property (PidTag… in the `String 0x…` proptag form). */
export const CONTACT_MAPI = {
  businessFax: 'String 0x3A24',
  otherPhone: 'String 0x3A1F',
  pager: 'String 0x3A21',
  assistantPhone: 'String 0x3A2E',
  governmentId: 'String 0x3A07',
  ftpSite: 'String 0x3A4C',
  anniversary: 'SystemTime 0x3A41',
} as const;

/**
 * The single-value extended properties the Graph adapter must `$expand` when it hydrates an item of this kind
 * (`$expand=singleValueExtendedProperties($filter=id eq '…' or id eq '…')`). To Do tasks have none (§3.5): their
 * marker is the category and their link a linkedResource.
 */
export function extendedPropertyIds(kind: ItemKind, productGuid: string): string[] {
  const markers = [trackedPropertyId(productGuid), crmIdPropertyId(productGuid)];
  switch (kind) {
    case 'contact':
      return [...markers, ...Object.values(CONTACT_MAPI)];
    case 'appointment':
      return markers;
    case 'email':
      return [...markers, regardingIdPropertyId(productGuid)];
    case 'task':
      return [];
  }
}
