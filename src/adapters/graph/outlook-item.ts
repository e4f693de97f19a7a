// Builds the port's OutlookItem and DeltaEntry from Graph JSON. Shared by the Graph adapter and the in-memory fake so
// that both read tracking (marker, category, CrmId, RegardingId, LinkId) by the same rules (DESIGN.md §2).
import type { ItemKind, JsonObject } from '../../core/model';
import type { DeltaEntry, ItemFailure, StreamRef } from '../../ports/mailbox-source';
import type { OutlookItem } from '../../core/model';
import { samePropertyId, type TrackingPropertyIds } from './extended-properties';
import {
  changeKeyFromEtag,
  deltaEntrySchema,
  describeIssues,
  graphResourceSchema,
  jsonObjectSchema,
  removedEntrySchema,
  type GraphResource,
  type LinkedResource,
} from './schemas';

export interface TrackingVocabulary {
  ids: TrackingPropertyIds;
  /** The tracking category's display name; matched case-insensitively. */
  categoryName: string;
  /** linkedResource.applicationName that marks the CRM link on To Do tasks. */
  productName: string;
}

/**
 * The delta streams of a mailbox with these To Do lists: the fixed folders plus one per list, except flaggedEmails,
 * which mirrors flagged mail (graph-behaviour.md §2.4: tracking it would import mail flags as tasks).
 */
export function mailboxStreams(todoLists: readonly { id: string; wellknownListName?: string | null }[]): StreamRef[] {
  return [
    { id: 'contacts', kind: 'contact', container: 'contacts' },
    { id: 'calendar', kind: 'appointment', container: 'calendar' },
    ...todoLists
      .filter((list) => (list.wellknownListName ?? '').toLowerCase() !== 'flaggedemails')
      .map((list): StreamRef => ({ id: `todo:${list.id}`, kind: 'task', container: list.id })),
    { id: 'inbox', kind: 'email', container: 'inbox' },
    { id: 'sentitems', kind: 'email', container: 'sentitems' },
  ];
}

export function hasCategory(categories: readonly string[] | null | undefined, name: string): boolean {
  const wanted = name.toLowerCase();
  return (categories ?? []).some((c) => c.toLowerCase() === wanted);
}

/** Adds or removes one category, keeping the user's others and their order (graph-behaviour.md §4: PATCH replaces the array). */
export function withCategory(categories: readonly string[] | null | undefined, name: string, present: boolean): string[] {
  const wanted = name.toLowerCase();
  const others = (categories ?? []).filter((c) => c.toLowerCase() !== wanted);
  if (!present) return others;
  const existing = (categories ?? []).find((c) => c.toLowerCase() === wanted);
  return [...others, existing ?? name];
}

export function propertyValue(resource: { singleValueExtendedProperties?: { id: string; value: string | null }[] }, id: string): string | null {
  const found = resource.singleValueExtendedProperties?.find((p) => samePropertyId(p.id, id));
  return found?.value ?? null;
}

export function productLink(resources: readonly LinkedResource[] | undefined, productName: string): LinkedResource | null {
  const wanted = productName.toLowerCase();
  return resources?.find((r) => (r.applicationName ?? '').toLowerCase() === wanted) ?? null;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; failure: ItemFailure };

/** A hydrated resource → OutlookItem, or an ItemFailure with a reason code when the payload does not validate. */
export function toOutlookItem(kind: ItemKind, container: string, payload: unknown, vocabulary: TrackingVocabulary): ParseResult<OutlookItem> {
  const parsed = graphResourceSchema.safeParse(payload);
  const data = jsonObjectSchema.safeParse(payload);
  if (!parsed.success || !data.success) {
    return {
      ok: false,
      failure: {
        id: idOf(payload),
        reason: 'graph-invalid-item',
        detail: parsed.success ? 'not JSON' : describeIssues(parsed.error),
      },
    };
  }
  return { ok: true, value: buildItem(kind, container, parsed.data, data.data, vocabulary) };
}

function buildItem(kind: ItemKind, container: string, resource: GraphResource, data: JsonObject, v: TrackingVocabulary): OutlookItem {
  const category = hasCategory(resource.categories, v.categoryName);
  const nonEmpty = (value: string | null) => (value && value.trim() !== '' ? value : null);
  if (kind === 'task') {
    const link = productLink(resource.linkedResources, v.productName);
    return {
      kind,
      id: resource.id,
      container,
      changeKey: changeKeyFromEtag(resource['@odata.etag']),
      lastModified: resource.lastModifiedDateTime,
      // To Do has no extended properties (§3.5): the category is the marker (DESIGN.md §2), so both report it and the
      // planner never tries to bring a marker "in step" that cannot exist.
      tracking: { marker: category, category },
      crmId: nonEmpty(link?.externalId ?? null),
      regardingId: null,
      // No extended properties on To Do: the category is the only marker, so a re-stamp cannot outlive an untrack.
      linkId: null,
      isDraft: false,
      data,
    };
  }
  return {
    kind,
    id: resource.id,
    container,
    changeKey: resource.changeKey ?? changeKeyFromEtag(resource['@odata.etag']),
    lastModified: resource.lastModifiedDateTime,
    tracking: { marker: (propertyValue(resource, v.ids.tracked) ?? '').trim().toLowerCase() === 'true', category },
    crmId: nonEmpty(propertyValue(resource, v.ids.crmId)),
    regardingId: kind === 'email' ? nonEmpty(propertyValue(resource, v.ids.regardingId)) : null,
    linkId: nonEmpty(propertyValue(resource, v.ids.linkId)),
    isDraft: kind === 'email' && resource.isDraft === true,
    data,
  };
}

/** One raw delta entry → DeltaEntry, or an ItemFailure (reason `graph-invalid-delta-entry`) that fails alone. */
export function toDeltaEntry(raw: unknown): ParseResult<DeltaEntry> {
  const removed = removedEntrySchema.safeParse(raw);
  if (removed.success) {
    return { ok: true, value: { id: removed.data.id, removed: true, categories: null, changeKey: null, lastModified: null, isDraft: null, data: null } };
  }
  const parsed = deltaEntrySchema.safeParse(raw);
  const data = jsonObjectSchema.safeParse(raw);
  if (!parsed.success || !data.success) {
    return {
      ok: false,
      failure: { id: idOf(raw), reason: 'graph-invalid-delta-entry', detail: parsed.success ? 'not JSON' : describeIssues(parsed.error) },
    };
  }
  const e = parsed.data;
  return {
    ok: true,
    value: {
      id: e.id,
      removed: false,
      categories: e.categories ?? null,
      changeKey: e.changeKey ?? changeKeyFromEtag(e['@odata.etag']),
      lastModified: e.lastModifiedDateTime ?? null,
      isDraft: e.isDraft ?? null,
      data: data.data,
    },
  };
}

function idOf(raw: unknown): string | null {
  if (typeof raw === 'object' && raw !== null && 'id' in raw) {
    const id = (raw as { id: unknown }).id;
    if (typeof id === 'string' && id !== '') return id;
  }
  return null;
}
