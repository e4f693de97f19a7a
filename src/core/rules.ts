// Tracking rules (DESIGN.md §2) and the scope/deletion table (DESIGN.md §6) as data: one row per rule, each with a
// stable reason code. The planner looks up the row for what happened and turns its effect into actions.
import type { CrmRecord, FieldValues, ItemKind, KindSettings, MappingRow, OutlookItem } from './model';
import { parseInstant } from './normalize';
import { PARTY_ORGANIZER } from './mappings/appointment';

// ---- Tracking --------------------------------------------------------------------------------------------------------

/** To Do tasks have no extended properties: the category alone is their marker (graph-behaviour.md §3.5). */
export function supportsMarkerProperty(kind: ItemKind): boolean {
  return kind !== 'task';
}

/**
 * Whether the user wants the item tracked: the marker property or the tracking category (either one, set anywhere).
 * Drafts are never tracked; a draft tracked before sending is tracked on send (DESIGN.md §2).
 */
export function isTracked(item: OutlookItem, categoryName: string): boolean {
  void categoryName; // the adapter resolves the category name into `tracking.category`
  if (item.isDraft) return false;
  if (!supportsMarkerProperty(item.kind)) return item.tracking.category;
  return item.tracking.marker || item.tracking.category;
}

/** CRM ids are GUIDs: Dataverse and the stamps written by add-ins or scripts do not agree on their case. */
export function sameCrmId(a: string | null, b: string | null): boolean {
  return a !== null && b !== null && a.toLowerCase() === b.toLowerCase();
}

/**
 * Whether a linked item is still tracked: it is untracked only when the user removed what was there, never because
 * the worker's own tracking upkeep (marker + category + CrmId stamp, written in one Outlook update after the CRM
 * create) has not landed yet — that write can fail after the mapping was saved as linked (DESIGN.md §2).
 *
 * - The category is the user's signal in every client, and its removal untracks (the Dynamics convention,
 *   sync-lessons.md §1.6). To Do tasks have nothing else.
 * - Category present, marker missing: tracked. Either the upkeep has not landed (the user tagged with the category
 *   only) or something cleared the property; the upkeep puts the marker back. A marker removed without the category
 *   is therefore not an untrack: add-ins untrack by removing both, or the category alone.
 * - Marker present, category missing: the user removed the category — but only if the worker had set it, which the
 *   CrmId stamp proves (the stamp, marker and category are written together). A missing or different stamp means the
 *   upkeep never landed (an add-in set only the marker): tracked, and the upkeep adds the category and the stamp.
 * - Neither: untracked.
 *
 * `linkedCrmId` is the mapping's CRM id; when omitted, any stamp counts as proof that the upkeep landed.
 *
 * A detached (unlinked, deletedLocally) row's item already carries the stamp the unlink kept, so the stamp proves
 * nothing there; the re-link's own LinkId stamp (= the row's mapId) does, and an item carrying it is judged by this rule
 * too (src/core/planner.ts relinkLanded); without it, any marker or category is a re-track (isTracked).
 */
export function isStillTracked(item: OutlookItem, linkedCrmId?: string | null): boolean {
  if (item.isDraft) return false;
  if (item.tracking.category) return true;
  if (!supportsMarkerProperty(item.kind) || !item.tracking.marker) return false;
  const upkeepLanded = linkedCrmId === undefined ? item.crmId !== null : sameCrmId(item.crmId, linkedCrmId);
  return !upkeepLanded;
}

/** Whether the item already carries the tracking state a linked pair needs (marker, category, CrmId stamp). */
export function trackingInStep(item: OutlookItem, crmId: string | null): boolean {
  const markerOk = !supportsMarkerProperty(item.kind) || item.tracking.marker;
  const stampOk = crmId === null ? item.crmId === null : sameCrmId(item.crmId, crmId);
  return markerOk && item.tracking.category && stampOk;
}

// ---- Scope and deletion (DESIGN.md §6) -------------------------------------------------------------------------------

export type DeletionTrigger = 'outlook-deleted' | 'outlook-untracked' | 'outlook-out-of-view' | 'crm-deleted' | 'crm-out-of-scope';

/**
 * `delete-other`: delete the other side's item and forget the pair. `unlink`: stop syncing, keep both items (the planner
 * keeps an unlinked/deletedLocally row so the pair is neither duplicated nor resurrected). `keep`: the pair stays
 * linked and nothing is written. `nothing`: not a deletion at all.
 */
export type DeletionEffect = 'delete-other' | 'unlink' | 'keep' | 'nothing';

export interface DeletionFacts {
  kind: ItemKind;
  settings: KindSettings;
  now: string;
  ownerCrmUserId: string;
  mapping: MappingRow;
  /** The CRM record, for triggers on the Outlook side (null when unknown). */
  crm: CrmRecord | null;
  /** The Outlook item's normalized fields, or the baseline when the item is not at hand (CRM-side triggers). */
  outlookFields: FieldValues;
}

export interface DeletionRule {
  id: string;
  trigger: DeletionTrigger;
  kinds: readonly ItemKind[];
  /** The row of DESIGN.md §6 (or "extension:" for a case the table leaves open). */
  row: string;
  decide(facts: DeletionFacts): { effect: DeletionEffect; reason: string };
}

function startsInFuture(start: unknown, now: string): boolean {
  const startMs = parseInstant(start);
  const nowMs = parseInstant(now);
  return startMs !== null && nowMs !== null && startMs > nowMs;
}

/** Open (0) or Scheduled (3) (dataverse-behaviour.md §4.4). */
function isOpenOrScheduled(record: CrmRecord): boolean {
  const state = record.data.statecode;
  return state === 0 || state === 3;
}

function ownerOrOrganizer(record: CrmRecord, userId: string): boolean {
  if (record.ownerId === userId) return true;
  return record.parties.some((p) => p.participationTypeMask === PARTY_ORGANIZER && p.party?.entity === 'systemuser' && p.party.id === userId);
}

/** The CRM owner the planner remembers in the baseline (the record is gone when the CRM-delete rules run). */
export const CRM_OWNER_KEY = '@crmOwnerId';

const ALL_KINDS: readonly ItemKind[] = ['contact', 'appointment', 'task', 'email'];

export const DELETION_RULES: readonly DeletionRule[] = [
  {
    id: 'outlook-deleted-contact',
    trigger: 'outlook-deleted',
    kinds: ['contact'],
    row: 'Outlook, deleted | contact | not deleted in CRM (unlink)',
    decide: () => ({ effect: 'unlink', reason: 'outlook-deleted-contact-unlink' }),
  },
  {
    id: 'outlook-untracked-contact-email',
    trigger: 'outlook-untracked',
    kinds: ['contact', 'email'],
    row: 'Outlook, untracked | contact, e-mail | unlink; delete in CRM only if deleteInCrmOnUntrack (extension: an e-mail only if the user owns it)',
    decide: ({ settings, kind, crm, ownerCrmUserId }) => {
      if (!settings.deleteInCrmOnUntrack) return { effect: 'unlink', reason: 'untracked-unlink' };
      // One e-mail record stands for the message in every mailbox that tracks it (matched by Message-ID, src/app/
      // hydrate.ts): one user's untrack only unlinks their copy and never deletes a record someone else tracked.
      if (kind === 'email' && crm && !sameCrmId(crm.ownerId, ownerCrmUserId)) return { effect: 'unlink', reason: 'untracked-shared-email-unlink' };
      return { effect: 'delete-other', reason: 'untracked-delete-in-crm' };
    },
  },
  {
    id: 'outlook-gone-appointment',
    trigger: 'outlook-deleted',
    kinds: ['appointment'],
    row: 'Outlook, deleted or untracked | appointment | deleted in CRM only if open/scheduled, future, owner or organizer',
    decide: (facts) => appointmentRemovedInOutlook(facts, 'outlook-deleted'),
  },
  {
    id: 'outlook-untracked-appointment',
    trigger: 'outlook-untracked',
    kinds: ['appointment'],
    row: 'Outlook, deleted or untracked | appointment | deleted in CRM only if open/scheduled, future, owner or organizer',
    decide: (facts) => appointmentRemovedInOutlook(facts, 'untracked'),
  },
  {
    id: 'outlook-deleted-task',
    trigger: 'outlook-deleted',
    kinds: ['task'],
    row: 'Outlook, deleted | task | deleted in CRM if not completed; otherwise unlink',
    decide: ({ crm }) =>
      crm && crm.data.statecode !== 1
        ? { effect: 'delete-other', reason: 'outlook-deleted-open-task' }
        : { effect: 'unlink', reason: 'outlook-deleted-completed-task-unlink' },
  },
  {
    id: 'outlook-untracked-task',
    trigger: 'outlook-untracked',
    kinds: ['task'],
    row: 'extension: Outlook, untracked | task | as contacts: unlink; delete in CRM only if deleteInCrmOnUntrack',
    decide: ({ settings }) =>
      settings.deleteInCrmOnUntrack
        ? { effect: 'delete-other', reason: 'untracked-delete-in-crm' }
        : { effect: 'unlink', reason: 'untracked-unlink' },
  },
  {
    id: 'outlook-deleted-email',
    trigger: 'outlook-deleted',
    kinds: ['email'],
    row: 'Outlook, deleted | e-mail | never deleted in CRM',
    decide: () => ({ effect: 'unlink', reason: 'outlook-deleted-email-unlink' }),
  },
  {
    id: 'crm-deleted-contact',
    trigger: 'crm-deleted',
    kinds: ['contact'],
    row: 'CRM, deleted | contact | deleted in Outlook unless the mailbox owner is the CRM owner (then unlink)',
    decide: ({ mapping, ownerCrmUserId }) =>
      mapping.baseline[CRM_OWNER_KEY] === ownerCrmUserId
        ? { effect: 'unlink', reason: 'crm-deleted-own-contact-unlink' }
        : { effect: 'delete-other', reason: 'crm-deleted-contact' },
  },
  {
    id: 'crm-deleted-appointment',
    trigger: 'crm-deleted',
    kinds: ['appointment'],
    row: 'CRM, deleted | appointment | deleted in Outlook if it starts in the future; otherwise unlink',
    decide: ({ outlookFields, now }) => {
      const start = outlookFields.start;
      const startInstant = typeof start === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(start) ? `${start}T00:00:00Z` : start;
      return startsInFuture(startInstant, now)
        ? { effect: 'delete-other', reason: 'crm-deleted-future-appointment' }
        : { effect: 'unlink', reason: 'crm-deleted-past-appointment-unlink' };
    },
  },
  {
    id: 'crm-deleted-task',
    trigger: 'crm-deleted',
    kinds: ['task'],
    row: 'CRM, deleted | task | deleted in Outlook if not completed; otherwise unlink',
    decide: ({ outlookFields }) =>
      outlookFields.status !== 'completed'
        ? { effect: 'delete-other', reason: 'crm-deleted-open-task' }
        : { effect: 'unlink', reason: 'crm-deleted-completed-task-unlink' },
  },
  {
    id: 'crm-deleted-email',
    trigger: 'crm-deleted',
    kinds: ['email'],
    row: 'CRM, deleted | e-mail | never deleted in Outlook',
    decide: () => ({ effect: 'unlink', reason: 'crm-deleted-email-unlink' }),
  },
  {
    id: 'crm-out-of-scope-contact',
    trigger: 'crm-out-of-scope',
    kinds: ['contact'],
    row: "CRM, left the user's scope | contact | delete in Outlook, except items the user tracked from Outlook (stay)",
    decide: ({ mapping }) =>
      mapping.trackedVia === 'crm'
        ? { effect: 'delete-other', reason: 'crm-out-of-scope-contact' }
        : { effect: 'keep', reason: 'crm-out-of-scope-tracked-in-outlook' },
  },
  {
    id: 'crm-out-of-scope-activity',
    trigger: 'crm-out-of-scope',
    kinds: ['appointment', 'task', 'email'],
    row: 'extension: CRM, left the scope | activities | tracked from Outlook: stays; else unlink (Outlook item kept)',
    decide: ({ mapping }) =>
      mapping.trackedVia === 'crm'
        ? { effect: 'unlink', reason: 'crm-out-of-scope-unlink' }
        : { effect: 'keep', reason: 'crm-out-of-scope-tracked-in-outlook' },
  },
  {
    id: 'outlook-out-of-view',
    trigger: 'outlook-out-of-view',
    kinds: ALL_KINDS,
    row: 'Outlook, event left the calendar window | appointment | nothing: only out of view',
    decide: () => ({ effect: 'nothing', reason: 'outlook-out-of-view' }),
  },
];

function appointmentRemovedInOutlook(facts: DeletionFacts, prefix: 'outlook-deleted' | 'untracked'): { effect: DeletionEffect; reason: string } {
  const { crm, now, ownerCrmUserId } = facts;
  if (crm && isOpenOrScheduled(crm) && startsInFuture(crm.data.scheduledstart, now) && ownerOrOrganizer(crm, ownerCrmUserId)) {
    return { effect: 'delete-other', reason: `${prefix}-future-own-appointment` };
  }
  return { effect: 'unlink', reason: `${prefix}-appointment-unlink` };
}

export function deletionRuleFor(trigger: DeletionTrigger, kind: ItemKind): DeletionRule {
  const rule = DELETION_RULES.find((r) => r.trigger === trigger && r.kinds.includes(kind));
  if (!rule) throw new Error(`no deletion rule for ${trigger} on ${kind}`); // the table covers every pair (tested)
  return rule;
}

export function decideDeletion(trigger: DeletionTrigger, facts: DeletionFacts): { effect: DeletionEffect; reason: string; rule: string } {
  const rule = deletionRuleFor(trigger, facts.kind);
  return { ...rule.decide(facts), rule: rule.id };
}

