// The planner: one pair (Outlook side × CRM side × mapping row × settings) → what to do on each side, the new mapping
// row and a reason code. Pure: the app hydrates both sides, calls plan(), executes the actions through the ports.
import { canonicalJson } from './hash';
import {
  buildCrmWrite,
  buildOutlookWrite,
  fieldsOfCrm,
  fieldsOfOutlook,
  hashFields,
  mergeFieldsOf,
  readCrmValues,
  readingsSince,
  readOutlookValues,
} from './fields';
import { activeFields, DEFAULT_PRODUCT_GUID, directionOf, type FieldDescriptor, type KindMapping } from './mappings';
import { PARTY_ORGANIZER } from './mappings/appointment';
import { merge } from './merge';
import type { CrmRecord, CrmWrite, FieldValues, JsonValue, MappingRow, OutlookItem, TrackedVia } from './model';
import { normalizeValue, sameValue } from './normalize';
import { LINKED_CRM_UNKNOWN, LINKED_OUTLOOK_UNKNOWN, OUT_OF_VIEW_DEFERRED } from './outcomes';
import { mappingOfContext, type CrmAction, type MappingAction, type OutlookAction, type Plan, type PlanContext, type PlanInput, type TrackingUpkeep } from './plan';
import { skewToleranceOf, type PlanWithNotes } from './plan-options';
import { CRM_OWNER_KEY, decideDeletion, isStillTracked, isTracked, sameCrmId, supportsMarkerProperty, trackingInStep, type DeletionTrigger } from './rules';
import { UnreadableValue, type UnreadableField } from './unreadable';

export { fieldsOfCrm, fieldsOfOutlook, hashFields, isTracked };

/**
 * Stands in for the id of a CRM record the same plan creates: a plan with `crm.type === 'create'` asks the app to
 * stamp the new record's id on the Outlook item, and the app substitutes the id it got back for this placeholder.
 */
export const PENDING_CRM_ID = '$created';

/** The appointment mapping's one-way organizer field (src/core/mappings/appointment.ts). */
const ORGANIZER_FIELD = 'organizer';

interface Prepared {
  input: PlanInput;
  context: PlanContext;
  mapping: KindMapping;
  fields: FieldDescriptor[];
  productGuid: string;
}

const NONE_OUTLOOK: OutlookAction = { type: 'none' };
const NONE_CRM: CrmAction = { type: 'none' };
const KEEP: MappingAction = { type: 'keep' };

function plain(reason: string, outlook: OutlookAction = NONE_OUTLOOK, crm: CrmAction = NONE_CRM, mapping: MappingAction = KEEP): Plan {
  return { reason, outlook, crm, mapping, conflicts: [] };
}

/** Plans one pair. The result is a Plan, plus `unreadable` (PlanNotes) when fields had to be left out of it. */
export function plan(input: PlanInput): PlanWithNotes {
  const { context } = input;
  if (!context.settings.enabled) return plain('kind-disabled');
  const mapping = mappingOfContext(context);
  const p: Prepared = {
    input,
    context,
    mapping,
    fields: activeFields(mapping, context.settings),
    productGuid: context.productGuid ?? DEFAULT_PRODUCT_GUID,
  };
  const row = input.mapping;
  if (!row) return planUnmapped(p);
  if (row.state === 'linked') return planLinked(p, row);
  if (row.state === 'pendingCreate') return planPendingCreate(p, row);
  return planDetached(p, row);
}

// ---- No mapping row ------------------------------------------------------------------------------------------------

function planUnmapped(p: Prepared): Plan {
  const { outlook, crm, context } = p.input;
  if (outlook.state === 'present') {
    const item = outlook.item;
    if (crm.state === 'present' && createdForRecord(item, crm.record) && !isStillTracked(item, crm.record.id)) {
      return halfLinkedUntracked(p, item, crm.record);
    }
    if (!isTracked(item, context.categoryName)) return plain(item.isDraft ? 'draft-never-tracked' : 'outlook-untracked');
    if (crm.state === 'present') {
      // Match before create: the item's CrmId stamp (or the e-mail messageid) found this record.
      if (!crm.inScope) return plain('crm-out-of-scope-unmapped');
      return syncPair(p, item, crm.record, null, 'both', 'link-existing');
    }
    // A stamp whose record is gone: the pair was linked (a crash lost the mapping commit after the create, or an
    // add-in stamped it) and its CRM side was deleted. Creating it in the CRM again would resurrect the deleted record.
    if (crm.state === 'gone' && item.crmId !== null) return stampedCrmDeleted(p, item, item.crmId);
    return createInCrm(p, item, createKeyOf(context.kind, item.id), 'outlook-tracked-create-in-crm');
  }
  if (outlook.state === 'absent' && crm.state === 'present') {
    if (!crm.inScope) return plain('crm-out-of-scope-unmapped');
    if (context.kind === 'email') return plain('email-never-created-in-outlook');
    if (!context.settings.syncFromCrm) return plain('sync-from-crm-off');
    return createInOutlook(p, crm.record);
  }
  return plain(outlook.state === 'absent' ? 'nothing-to-sync' : 'outlook-gone-unmapped');
}

/** Whether the worker created this item for this record (its create writes LinkId = the record's id). */
function createdForRecord(item: OutlookItem, record: CrmRecord): boolean {
  return supportsMarkerProperty(item.kind) && sameCrmId(item.crmId, record.id) && sameCrmId(item.linkId, record.id);
}

/**
 * The linked row an unmapped pair would have, had its link commit not been lost: the deletion table judges such a pair
 * by it (stampedCrmDeleted, halfLinkedUntracked). Never stored as it is.
 */
function unstoredLinkedRow(p: Prepared, item: OutlookItem, crmId: string, trackedVia: TrackedVia, baseline: FieldValues): MappingRow {
  return {
    mapId: '',
    kind: p.context.kind,
    outlookId: item.id,
    outlookContainer: item.container,
    crmId,
    state: 'linked',
    trackedVia,
    baseline,
    baselineHash: '',
    outlookVersion: item.changeKey,
    crmVersion: null,
    visitedEpoch: 0,
    verifiedAt: null,
  };
}

/**
 * An item the worker created for this record (createdForRecord), still with the marker and no longer with the
 * category, and no mapping: a crash lost the link commit after the create, and the user then removed the category.
 * That is an untrack of the pair, as for a linked one (isStillTracked): without this, the marker read as tracked and
 * the category came back. The rules run on the row the rerun's link would have stored.
 */
function halfLinkedUntracked(p: Prepared, item: OutlookItem, record: CrmRecord): Plan {
  // What the link commit after createInOutlook stores: the pair came from the CRM.
  const row = unstoredLinkedRow(p, item, record.id, 'crm', { ...fieldsOfOutlookIn(p, item), [CRM_OWNER_KEY]: record.ownerId });
  const planned = outlookUntracked(p, row, item);
  // No row is stored to remove: with the record the rules delete, the pair is forgotten.
  return planned.mapping.type === 'remove' ? { ...planned, mapping: KEEP } : planned;
}

/** The idempotency key of the CRM create for a tracked Outlook item without a mapping (and of its pendingCreate row). */
export function createKeyOf(kind: string, outlookId: string): string {
  return `${kind}:${outlookId}`;
}

/**
 * Baseline key under which a pendingCreate row keeps the idempotency key of its create (execute.ts
 * commitPendingCreate): the plan's key with the row's mapId, so that each row has an id of its own. A key used before
 * (the same Outlook item tracked again after its first record was deleted) would name that deleted record, which the
 * CRM's deleted records would then take for proof of this create (hydrate.ts settleByDeletedRecords). The create run
 * again after a crash reads it here and makes no second record. Rows written before it existed use `createKeyOf`.
 */
export const PENDING_CREATE_KEY = '@createKey';

export function pendingCreateKeyOf(row: MappingRow): string | null {
  const kept = row.baseline[PENDING_CREATE_KEY];
  return typeof kept === 'string' ? kept : null;
}

// ---- Pending create ------------------------------------------------------------------------------------------------

/**
 * A row committed just before the CRM create of a tracked Outlook item (MappingState `pendingCreate`). The create may
 * or may not have happened: a CRM side not found is "not created yet", never a CRM delete, and the create runs again
 * with the same idempotency key (it returns the first attempt's record if there was one). A CRM side present is a
 * linked pair; the Outlook item deleted or untracked meanwhile follows the rules of a linked pair.
 */
function planPendingCreate(p: Prepared, row: MappingRow): Plan {
  const { outlook, crm, context } = p.input;
  if (crm.state === 'present') return planLinked(p, row);
  switch (outlook.state) {
    case 'present': {
      const item = outlook.item;
      if (!isStillTracked(item, row.crmId)) return outlookUntracked(p, row, item);
      return createInCrm(p, item, pendingCreateKeyOf(row) ?? createKeyOf(context.kind, row.outlookId ?? item.id), 'pending-create-in-crm');
    }
    case 'gone':
      // Deleted in Outlook and the record is not there (never created, or deleted too): nothing to keep. A CRM side
      // that could not be read keeps the row: its record, if created, must still find the pair.
      if (crm.state === 'gone') return plain('both-deleted', NONE_OUTLOOK, NONE_CRM, { type: 'remove' });
      return plain(LINKED_CRM_UNKNOWN);
    case 'outOfView':
      return plain(OUT_OF_VIEW_DEFERRED);
    case 'absent':
      return plain(LINKED_OUTLOOK_UNKNOWN);
  }
}

// ---- Linked pair ---------------------------------------------------------------------------------------------------

function planLinked(p: Prepared, row: MappingRow): Plan {
  const { outlook, crm } = p.input;
  switch (outlook.state) {
    case 'present': {
      const item = outlook.item;
      if (!isStillTracked(item, row.crmId)) return outlookUntracked(p, row, item);
      if (crm.state === 'present') {
        if (!crm.inScope) return crmOutOfScope(p, row, item, crm.record);
        return syncPair(p, item, crm.record, row, row.trackedVia, null);
      }
      if (crm.state === 'gone') return crmDeleted(p, row, item);
      // Deferred (isDeferredPlan): the record could not be read, so the pending change is kept for a later cycle.
      return plain(LINKED_CRM_UNKNOWN);
    }
    case 'gone': {
      if (crm.state !== 'present') return plain('both-deleted', NONE_OUTLOOK, NONE_CRM, { type: 'remove' });
      return outlookDeleted(p, row, crm.record, crm.inScope);
    }
    case 'outOfView': {
      // The item, when the app read it directly, lets an unlink clear its marker and category.
      if (crm.state === 'gone') return crmDeleted(p, row, outlook.item ?? null);
      // Read directly and no longer tracked: the user untracked it, wherever it is now (a sweep after a round from no
      // cursor reports a mapped item the round did not list as removed, though it is in its place, untracked).
      if (outlook.item && !isStillTracked(outlook.item, row.crmId)) return outlookUntracked(p, row, outlook.item);
      // Out of view is no evidence of a delete (DESIGN.md §6), and nothing is merged (even with the item at hand):
      // the plan writes nothing and its reason is deferred (isDeferredPlan), so the app decides whether to keep the
      // change row for a later cycle instead of dropping whatever change brought the row here.
      const decision = deletion(p, 'outlook-out-of-view', row, crm.state === 'present' ? crm.record : null, row.baseline);
      return plain(decision.effect === 'nothing' ? OUT_OF_VIEW_DEFERRED : decision.reason);
    }
    case 'absent':
      // Deferred (isDeferredPlan): no evidence of a delete, and nothing to merge; the change row is kept.
      return plain(LINKED_OUTLOOK_UNKNOWN);
  }
}

function deletion(p: Prepared, trigger: DeletionTrigger, row: MappingRow, record: CrmRecord | null, outlookFields: FieldValues) {
  const { context } = p;
  return decideDeletion(trigger, {
    kind: context.kind,
    settings: context.settings,
    now: context.now,
    ownerCrmUserId: context.ownerCrmUserId,
    mapping: row,
    crm: record,
    outlookFields,
  });
}

/**
 * Clears what is left of the marker/category and the re-link's LinkId; the CrmId stamp stays unless `clearStamp` (it
 * helps re-linking). A LinkId left behind would make a later re-track of the same row read as our own re-stamp.
 */
function clearTracking(item: OutlookItem, clearStamp: boolean): OutlookAction {
  const crmId = clearStamp ? null : item.crmId;
  const linked = item.linkId !== null;
  if (!item.tracking.marker && !item.tracking.category && item.crmId === crmId && !linked) return NONE_OUTLOOK;
  const tracking: TrackingUpkeep = { marker: false, category: false, crmId };
  if (linked) tracking.linkId = null;
  return { type: 'update', write: null, tracking };
}

function outlookUntracked(p: Prepared, row: MappingRow, item: OutlookItem): Plan {
  const { crm } = p.input;
  if (crm.state !== 'present') return plain('untracked-crm-gone', clearTracking(item, true), NONE_CRM, { type: 'remove' });
  const decision = deletion(p, 'outlook-untracked', row, crm.record, fieldsOfOutlookIn(p, item));
  if (decision.effect === 'delete-other' && crm.inScope) {
    return plain(decision.reason, clearTracking(item, true), { type: 'delete' }, { type: 'remove' });
  }
  return plain(decision.effect === 'delete-other' ? 'untracked-crm-out-of-scope-unlink' : decision.reason, clearTracking(item, false), NONE_CRM, {
    type: 'put',
    state: 'unlinked',
    trackedVia: row.trackedVia,
    baseline: row.baseline,
  });
}

function outlookDeleted(p: Prepared, row: MappingRow, record: CrmRecord, inScope: boolean): Plan {
  const decision = deletion(p, 'outlook-deleted', row, record, row.baseline);
  // Never write outside the user's scope (sync-lessons.md §5.4 invariant 2): an out-of-scope record is only unlinked.
  if (decision.effect === 'delete-other' && inScope) return plain(decision.reason, NONE_OUTLOOK, { type: 'delete' }, { type: 'remove' });
  // deletedLocally keeps the row so the CRM record is not created in Outlook again (the seed's DeletedLocally).
  return plain(decision.effect === 'delete-other' ? 'outlook-deleted-crm-out-of-scope' : decision.reason, NONE_OUTLOOK, NONE_CRM, {
    type: 'put',
    state: 'deletedLocally',
    trackedVia: row.trackedVia,
    baseline: row.baseline,
  });
}

function crmDeleted(p: Prepared, row: MappingRow, item: OutlookItem | null): Plan {
  const outlookFields = item ? fieldsOfOutlookIn(p, item) : row.baseline;
  const decision = deletion(p, 'crm-deleted', row, null, outlookFields);
  if (decision.effect === 'delete-other') return plain(decision.reason, { type: 'delete' }, NONE_CRM, { type: 'remove' });
  // The record is gone: nothing to re-link to, so the row goes; the Outlook item stays, visibly no longer tracked.
  return plain(decision.reason, item ? clearTracking(item, true) : NONE_OUTLOOK, NONE_CRM, { type: 'remove' });
}

function crmOutOfScope(p: Prepared, row: MappingRow, item: OutlookItem, record: CrmRecord): Plan {
  const decision = deletion(p, 'crm-out-of-scope', row, null, row.baseline);
  switch (decision.effect) {
    case 'delete-other':
      return plain(decision.reason, { type: 'delete' }, NONE_CRM, { type: 'remove' });
    case 'unlink':
      return plain(decision.reason, clearTracking(item, false), NONE_CRM, {
        type: 'put',
        state: 'unlinked',
        trackedVia: row.trackedVia,
        baseline: row.baseline,
      });
    default: {
      // The pair stays (tracked from Outlook), but the row must learn the record's new owner: a later CRM delete is
      // judged by the owner remembered here (the `crm-deleted` contact row), and the app stores the record's version,
      // so reconciliation stops re-recording a pair whose record did not change since.
      const baseline: FieldValues = { ...row.baseline, [CRM_OWNER_KEY]: record.ownerId };
      // A To Do task moved to another list has a new id (graph-behaviour.md §1.4): the row must follow it too.
      // A pendingCreate row is always rewritten: it becomes the linked row of the pair.
      const current = row.state === 'linked' && row.baseline[CRM_OWNER_KEY] === record.ownerId && row.crmVersion === record.version && rowAtItemsPlace(row, item);
      if (current) return plain(decision.reason);
      return plain(decision.reason, NONE_OUTLOOK, NONE_CRM, { type: 'put', state: 'linked', trackedVia: row.trackedVia, baseline });
    }
  }
}

/** Whether the row names the item where it is now; a row that does not know its folder is not judged by it. */
function rowAtItemsPlace(row: MappingRow, item: OutlookItem): boolean {
  return row.outlookId === item.id && (row.outlookContainer === undefined || row.outlookContainer === null || row.outlookContainer === item.container);
}

/**
 * An unmapped tracked item stamped with the id of a CRM record that is gone: the `crm-deleted` row of the deletion
 * table for its kind, as for a linked pair. No row exists, so none is stored or removed. The contact row needs the CRM
 * owner, which no baseline remembers here: without evidence that someone else owned it, the item is only unlinked.
 */
function stampedCrmDeleted(p: Prepared, item: OutlookItem, crmId: string): Plan {
  if (p.context.kind === 'contact') return plain('crm-deleted-stamped-contact-unlink', clearTracking(item, true));
  const outlookFields = fieldsOfOutlookIn(p, item);
  const row = unstoredLinkedRow(p, item, crmId, 'both', outlookFields);
  const decision = deletion(p, 'crm-deleted', row, null, outlookFields);
  if (decision.effect === 'delete-other') return plain(decision.reason, { type: 'delete' });
  return plain(decision.reason, clearTracking(item, true));
}

// ---- Unlinked / deletedLocally rows --------------------------------------------------------------------------------

function planDetached(p: Prepared, row: MappingRow): Plan {
  const { outlook, crm, context } = p.input;
  const remove: MappingAction = { type: 'remove' };
  if (outlook.state === 'present' && relinkLanded(outlook.item, row) && !isStillTracked(outlook.item, row.crmId)) {
    // Our re-stamp of a re-track landed without its link commit (a crash), and the user has removed the category
    // since: the marker is ours, not an add-in's, so the re-track is withdrawn. The row stays detached; the CrmId stamp
    // stays as the unlink left it, unless the record is gone (then the row goes too, as for any untracked item).
    if (crm.state === 'gone') return plain('retrack-withdrawn-crm-gone', clearTracking(outlook.item, true), NONE_CRM, remove);
    return plain('retrack-withdrawn', clearTracking(outlook.item, false));
  }
  if (outlook.state === 'present' && isTracked(outlook.item, context.categoryName)) {
    const item = outlook.item;
    // Re-tracking re-links the pair kept by the unlink instead of creating a duplicate (DESIGN.md §2).
    if (crm.state === 'present') {
      if (!crm.inScope) return plain('retracked-crm-out-of-scope');
      return withLinkId(syncPair(p, item, crm.record, row, row.trackedVia, 'retracked-relink'), item, row.mapId);
    }
    const key = `${context.kind}:${item.id}:after:${row.crmId ?? 'none'}`;
    return createInCrm(p, item, key, 'retracked-crm-gone-create-in-crm');
  }
  if (crm.state === 'gone') return plain(`${row.state}-crm-gone`, NONE_OUTLOOK, NONE_CRM, remove);
  if (outlook.state === 'gone' && row.state === 'unlinked') {
    // The row outlives the Outlook item while the CRM record may still exist: without it, the next change of that
    // record finds no mapping and creates the contact in Outlook again (the seed's DeletedLocally). It goes with the
    // record (`deletedLocally-crm-gone`), or now when the row never knew a record.
    if (crm.state === 'absent' && row.crmId === null) return plain('unlinked-outlook-gone', NONE_OUTLOOK, NONE_CRM, remove);
    return plain('unlinked-outlook-gone', NONE_OUTLOOK, NONE_CRM, { type: 'put', state: 'deletedLocally', trackedVia: row.trackedVia, baseline: row.baseline });
  }
  if (row.state === 'deletedLocally') return plain('deleted-locally-not-recreated');
  return plain('unlinked');
}

/**
 * Whether the item carries this row's re-link stamp (LinkId = mapId): the worker re-stamped it for a re-track of this
 * very row, and only the link commit may be missing. Its marker is then ours, and the item is judged as a linked pair's
 * (isStillTracked): a marker without the category is the user's untrack. Without it, the CrmId stamp the unlink kept
 * cannot tell our re-stamp from an add-in's marker, and any marker or category reads as a re-track (isTracked).
 */
function relinkLanded(item: OutlookItem, row: MappingRow): boolean {
  const linkId = item.linkId;
  return supportsMarkerProperty(item.kind) && linkId !== null && linkId === row.mapId;
}

/** A re-link's tracking upkeep, when it writes one, also writes LinkId = the row's mapId (see relinkLanded). */
function withLinkId(planned: PlanWithNotes, item: OutlookItem, mapId: string): PlanWithNotes {
  const outlook = planned.outlook;
  if (outlook.type !== 'update' || outlook.tracking === null || !supportsMarkerProperty(item.kind)) return planned;
  return { ...planned, outlook: { ...outlook, tracking: { ...outlook.tracking, linkId: mapId } } };
}

// ---- Creates ---------------------------------------------------------------------------------------------------------

function nonNullFields(values: FieldValues, fields: readonly FieldDescriptor[]): string[] {
  return fields.filter((f) => values[f.field] !== null && values[f.field] !== undefined).map((f) => f.field);
}

function withNotes(planned: Plan, unreadable: readonly UnreadableField[]): PlanWithNotes {
  return unreadable.length > 0 ? { ...planned, unreadable: [...unreadable] } : planned;
}

function createInCrm(p: Prepared, item: OutlookItem, idempotencyKey: string, reason: string): PlanWithNotes {
  // An unreadable value (and its write group) is left out of the create, never written as null.
  const unreadable: UnreadableField[] = [];
  const values = readOutlookValues(p.mapping, p.fields, item, p.productGuid, unreadable);
  const held = heldBack(p.fields, unreadable);
  const writable = p.fields.filter((f) => directionOf(f) !== 'crm-to-outlook' && !held.has(f.field));
  const write = buildCrmWrite(writable, nonNullFields(values, writable), values) ?? { attributes: {} };
  // The record is created acting as the mailbox owner, who therefore owns it.
  const baseline: Record<string, JsonValue> = { ...values, [CRM_OWNER_KEY]: p.context.ownerCrmUserId };
  crmOneWayAfterWrite(p.fields, { kind: p.context.kind, id: '', version: '', modifiedOn: '', ownerId: null, data: {}, parties: [] }, write, baseline);
  const tracking: TrackingUpkeep = { marker: supportsMarkerProperty(item.kind), category: true, crmId: PENDING_CRM_ID };
  const planned = plain(reason, { type: 'update', write: null, tracking }, { type: 'create', write, idempotencyKey }, {
    type: 'put',
    state: 'linked',
    trackedVia: 'outlook',
    baseline,
  });
  return withNotes(planned, unreadable);
}

function createInOutlook(p: Prepared, record: CrmRecord): Plan {
  // An event created in this mailbox is organized by it and Graph invites its attendees: a meeting someone else
  // organizes reaches this calendar through that organizer's invitation, not through this mailbox's sync.
  const organizer = record.parties.find((party) => party.participationTypeMask === PARTY_ORGANIZER)?.party;
  if (p.context.kind === 'appointment' && organizer && !(organizer.entity === 'systemuser' && organizer.id === p.context.ownerCrmUserId)) {
    return plain('crm-appointment-organized-by-other');
  }
  const values = readCrmValues(p.mapping, p.fields, record);
  const writable = p.fields.filter((f) => directionOf(f) !== 'outlook-to-crm');
  const write = buildOutlookWrite(writable, nonNullFields(values, writable), values, p.productGuid) ?? { data: {} };
  const baseline: Record<string, JsonValue> = { ...values, [CRM_OWNER_KEY]: record.ownerId };
  // Graph makes the mailbox owner the organizer of the event it creates (graph-behaviour.md §2): the baseline says so,
  // and syncPair does not write that organizer back to the CRM record (ownerOrganizerImplied), so the plan that
  // follows the create neither writes nor rewrites the mapping (DESIGN.md §5).
  const ownerAddress = p.context.ownerAddress;
  if (p.context.kind === 'appointment' && ownerAddress && baseline[ORGANIZER_FIELD] == null && p.fields.some((f) => f.field === ORGANIZER_FIELD)) {
    baseline[ORGANIZER_FIELD] = ownerAddress;
  }
  return plain('crm-in-scope-create-in-outlook', { type: 'create', write, crmId: record.id }, NONE_CRM, {
    type: 'put',
    state: 'linked',
    trackedVia: 'crm',
    baseline,
  });
}

// ---- Field sync --------------------------------------------------------------------------------------------------------

function fieldsOfOutlookIn(p: Prepared, item: OutlookItem): FieldValues {
  return readOutlookValues(p.mapping, p.fields, item, p.productGuid);
}

/** The unreadable fields plus every field written in the same unit (a group is written whole, from merged values). */
function heldBack(fields: readonly FieldDescriptor[], unreadable: readonly UnreadableField[]): Set<string> {
  const names = new Set(unreadable.map((u) => u.field));
  const groups = new Set(fields.filter((f) => names.has(f.field) && f.group !== undefined).map((f) => f.group));
  for (const f of fields) if (f.group !== undefined && groups.has(f.group)) names.add(f.field);
  return names;
}

/**
 * Merges a pair that exists on both sides. `row` null: first link (no baseline). `reason` null: derive it from what
 * changed. E-mail fields marked createOnly do not sync after creation: they follow Outlook and are never written.
 * A field one side holds unreadably (an unknown time zone) is held back with its group: it keeps its baseline value
 * (null on a first link) and neither side is written for it, so nothing is ever cleared on a value we could not read.
 */
function syncPair(prepared: Prepared, item: OutlookItem, record: CrmRecord, row: MappingRow | null, trackedVia: TrackedVia, reason: string | null): PlanWithNotes {
  const p = prepared.mapping.forItem ? { ...prepared, fields: prepared.mapping.forItem(prepared.fields, item.data) } : prepared;
  const { context } = p;
  const unreadable: UnreadableField[] = [];
  const sinceBaseline = readingsSince(p.fields, row?.baseline ?? null, record);
  const o = readOutlookValues(p.mapping, p.fields, item, p.productGuid, unreadable);
  const c = readCrmValues(p.mapping, p.fields, record, unreadable, sinceBaseline.crm);
  const held = heldBack(p.fields, unreadable);
  const synced = p.fields.filter((f) => !f.createOnly && !held.has(f.field));
  const skewToleranceMs = skewToleranceOf(context);
  const result = merge({
    fields: mergeFieldsOf(synced),
    base: sinceBaseline.base,
    outlook: o,
    crm: c,
    outlookModified: item.lastModified,
    crmModified: record.modifiedOn,
    policy: context.settings.conflictPolicy,
    tieBreak: context.settings.tieBreak,
    ...(skewToleranceMs !== undefined ? { skewToleranceMs } : {}),
  });
  const merged: Record<string, JsonValue> = { ...result.merged };
  for (const f of p.fields) if (f.createOnly) merged[f.field] = o[f.field] ?? null;
  for (const name of held) merged[name] = row?.baseline[name] ?? null;
  p.mapping.derive?.(merged);

  // Writes are decided after derivation, so a derived value never disagrees with what a side holds.
  const differs = (side: FieldValues) => (f: FieldDescriptor) => !sameValue(f.spec.type, side[f.field], merged[f.field]);
  const outlookNames = synced.filter((f) => directionOf(f) !== 'outlook-to-crm').filter(differs(o)).map((f) => f.field);
  const crmNames = synced
    .filter((f) => directionOf(f) !== 'crm-to-outlook')
    .filter(differs(c))
    .filter((f) => !ownerOrganizerImplied(p, f, c, merged))
    .map((f) => f.field);
  const outlookWrite = outlookNames.length ? buildOutlookWrite(p.fields, outlookNames, merged, p.productGuid, item) : null;
  const crmWrite = crmNames.length ? buildCrmWrite(p.fields, crmNames, merged) : null;

  const tracking: TrackingUpkeep | null = trackingInStep(item, record.id)
    ? null
    : { marker: supportsMarkerProperty(item.kind), category: true, crmId: record.id };
  const outlookAction: OutlookAction = outlookWrite || tracking ? { type: 'update', write: outlookWrite, tracking } : NONE_OUTLOOK;
  const crmAction: CrmAction = crmWrite ? { type: 'update', write: crmWrite, ifMatch: record.version } : NONE_CRM;

  const baseline: Record<string, JsonValue> = { ...merged, [CRM_OWNER_KEY]: record.ownerId };
  // A reading against the baseline holds while the baseline keeps what it was judged by (FieldDescriptor.sinceBaseline).
  for (const f of p.fields) {
    if (row && sinceBaseline.crm.has(f.field) && sameValue(f.spec.type, merged[f.field], c[f.field])) baseline[f.field] = row.baseline[f.field] ?? null;
  }
  crmOneWayAfterWrite(p.fields, record, crmWrite, baseline);
  // The row is rewritten when the item's id or folder changed with nothing else: a To Do task moved to another list
  // gets a new id (graph-behaviour.md §1.4), a message moved between folders keeps its id but direct reads need the
  // folder. A row that does not know its folder (written before the column existed) is not rewritten for that alone.
  const sameOutlookPlace = row !== null && rowAtItemsPlace(row, item);
  const unchangedRow =
    row !== null && row.state === 'linked' && sameOutlookPlace && sameBaseline(p.fields, row.baseline, baseline);
  const mappingAction: MappingAction = unchangedRow && row.trackedVia === trackedVia ? KEEP : { type: 'put', state: 'linked', trackedVia, baseline };

  const planned: Plan = {
    reason: reason ?? syncReason(result.conflicts.length > 0, outlookWrite !== null, crmWrite !== null, tracking !== null),
    outlook: outlookAction,
    crm: crmAction,
    mapping: mappingAction,
    conflicts: result.conflicts,
  };
  return withNotes(planned, unreadable);
}

/**
 * One-way CRM fields (crm-to-outlook) whose columns a CRM write sets, as the record holds them after it (`data`: the
 * record's columns with the write applied): a task date's CRM instant changes with the date's write, and a baseline
 * holding the value before it would differ from the CRM in the cycle after, which then rewrites the row.
 */
function crmOneWayAfterWrite(fields: readonly FieldDescriptor[], record: CrmRecord, write: CrmWrite | null, baseline: Record<string, JsonValue>): void {
  const attributes = write?.attributes ?? {};
  const after: CrmRecord = { ...record, data: { ...record.data, ...attributes } };
  for (const f of fields) {
    if (directionOf(f) !== 'crm-to-outlook' || !f.crmTargets.some((target) => target in attributes)) continue;
    const raw = f.crm.read(after);
    baseline[f.field] = raw instanceof UnreadableValue ? (baseline[f.field] ?? null) : normalizeValue(f.spec, raw);
  }
}

/**
 * Baselines equal as the merge compares them (per field type: an address differing only in case is the same), so a
 * spelling-only difference (the owner's address as configured vs as Graph returns it) does not rewrite the row.
 */
function sameBaseline(fields: readonly FieldDescriptor[], a: FieldValues, b: FieldValues): boolean {
  const types = new Map(fields.map((f) => [f.field, f.spec.type]));
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const key of keys) {
    const type = types.get(key);
    const same = type ? sameValue(type, a[key] ?? null, b[key] ?? null) : canonicalJson(a[key] ?? null) === canonicalJson(b[key] ?? null);
    if (!same) return false;
  }
  return true;
}

/**
 * A CRM appointment without an organizer party, whose Outlook event the mailbox owner organizes, is no difference:
 * Graph makes the mailbox owner the organizer of the event this worker created (graph-behaviour.md §2), and server-side
 * sync does not fill the organizer of a CRM-created appointment either (dataverse-behaviour.md §6, "Organizer"). Writing
 * the party would only echo our own create (DESIGN.md §5). Needs `ownerAddress`; without it the organizer is written
 * once, as any one-way value the CRM lacks. Any other organizer, or a CRM organizer that differs, is still written.
 */
function ownerOrganizerImplied(p: Prepared, field: FieldDescriptor, crm: FieldValues, merged: FieldValues): boolean {
  const ownerAddress = p.context.ownerAddress;
  if (p.context.kind !== 'appointment' || field.field !== ORGANIZER_FIELD || !ownerAddress) return false;
  const crmValue = crm[ORGANIZER_FIELD];
  return (crmValue === null || crmValue === undefined) && sameValue(field.spec.type, merged[ORGANIZER_FIELD] ?? null, ownerAddress);
}

function syncReason(conflict: boolean, outlookWritten: boolean, crmWritten: boolean, tracking: boolean): string {
  if (conflict) return 'conflict-resolved';
  if (outlookWritten && crmWritten) return 'both-changed';
  if (outlookWritten) return 'crm-changed';
  if (crmWritten) return 'outlook-changed';
  if (tracking) return 'tracking-upkeep';
  return 'in-sync';
}
