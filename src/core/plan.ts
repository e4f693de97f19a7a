// The planner's contract: what the pure core is told about one pair, and what it decides. The implementation lives in
// src/core/planner.ts; the app executes plans through the ports.
import type {
  CrmRecord,
  CrmWrite,
  FieldConflict,
  FieldValues,
  ItemKind,
  KindSettings,
  MappingRow,
  MappingState,
  OutlookItem,
  OutlookWrite,
  ReasonCode,
  TrackedVia,
} from './model';
import { mappingFor } from './mappings';
import type { KindMapping } from './mappings/types';
import { withCrmTimeZone } from './mappings/user-local';
import type { UnreadableField } from './unreadable';

export type OutlookSide =
  | { state: 'present'; item: OutlookItem }
  /** Confirmed deleted: a delta removal that a direct read confirmed (404), or a direct read 404. */
  | { state: 'gone' }
  /**
   * Left the stream but still exists: an event outside the calendar window, a message moved to an untracked folder.
   * `item` when the app read it directly: the planner still defers any merge, but uses it to clear the marker and
   * category when the pair is unlinked (CRM side deleted).
   */
  | { state: 'outOfView'; item?: OutlookItem }
  /** No Outlook item known for this pair. */
  | { state: 'absent' };

export type CrmSide =
  /** `inScope` is false for a record that left the mailbox owner's scope (reassigned). */
  | { state: 'present'; record: CrmRecord; inScope: boolean }
  | { state: 'gone' }
  | { state: 'absent' };

export interface PlanContext {
  kind: ItemKind;
  settings: KindSettings;
  /** The mailbox owner's CRM user id (owner checks of the deletion table). */
  ownerCrmUserId: string;
  /** The cycle's time, ISO-8601 UTC (future-start checks of the deletion table). The core reads no clock. */
  now: string;
  categoryName: string;
  /** The product GUID of the named extended properties; defaults to DEFAULT_PRODUCT_GUID (src/core/mappings). */
  productGuid?: string;
  /** The kind's mapping after admin overrides (`applyMappingOverrides`); defaults to the built-in mapping. */
  fieldMapping?: KindMapping;
  /**
   * `latest` conflicts: Graph and CRM timestamps closer than this count as equal and go to the tie-break
   * (sync-lessons.md §1.3). Default DEFAULT_SKEW_TOLERANCE_MS (src/core/merge.ts), two minutes.
   */
  skewToleranceMs?: number;
  /**
   * The mailbox owner's SMTP address. Graph makes the mailbox owner the organizer of every event created in it
   * (graph-behaviour.md §2). The planner records it as the organizer in the baseline of an appointment it creates in
   * Outlook, and does not write an organizer equal to it to a CRM appointment that has none (dataverse-behaviour.md
   * §6), so the cycle after the create writes nothing (DESIGN.md §5). Without it, that organizer is written once.
   */
  ownerAddress?: string;
  /**
   * The CRM user's time zone (IANA or Windows id, from CrmUser.timeZone). Dataverse appointment and task dates are
   * UserLocal (dataverse-behaviour.md §4.4, §4.5): an all-day date D is "D 00:00 in this zone". Absent: UTC midnight.
   * Null (or a zone that cannot be resolved): unknown, see withCrmTimeZone (src/core/mappings/user-local.ts). Applied
   * by `mappingOfContext`; the app also passes the bound mapping as `fieldMapping`, and binding twice converts once.
   */
  crmTimeZone?: string | null;
}

/** The mapping a plan uses: the override mapping or the built-in one, bound to the CRM user's time zone. */
export function mappingOfContext(context: PlanContext): KindMapping {
  return withCrmTimeZone(context.fieldMapping ?? mappingFor(context.kind), context.crmTimeZone);
}

export interface PlanInput {
  outlook: OutlookSide;
  crm: CrmSide;
  mapping: MappingRow | null;
  context: PlanContext;
}

/** The tracking state the Outlook item must end up with (marker property, category, CrmId stamp). */
export interface TrackingUpkeep {
  marker: boolean;
  category: boolean;
  crmId: string | null;
  /**
   * The `LinkId` property (OutlookItem.linkId): a re-link of a detached row writes the row's mapId, an untrack clears
   * it (null; written as '', graph-behaviour.md §3.2). Absent leaves the property as it is. Ignored on To Do tasks.
   */
  linkId?: string | null;
}

export type OutlookAction =
  | { type: 'none' }
  /** Create with the marker, the category and the CrmId stamp; idempotent on `crmId`. */
  | { type: 'create'; write: OutlookWrite; crmId: string }
  /** Update mapped fields (`write`) and/or tracking upkeep; either may be null, never both. */
  | { type: 'update'; write: OutlookWrite | null; tracking: TrackingUpkeep | null }
  | { type: 'delete' };

export type CrmAction =
  | { type: 'none' }
  /** Create acting as the mailbox owner; `idempotencyKey` makes a retried create return the first record. */
  | { type: 'create'; write: CrmWrite; idempotencyKey: string }
  /** `ifMatch` is the record version read this cycle; a mismatch is a concurrency error and the item is retried. */
  | { type: 'update'; write: CrmWrite; ifMatch: string }
  | { type: 'delete' };

export type MappingAction =
  | { type: 'keep' }
  /** Store the pair with this state and baseline; the app fills in ids, versions and the hash from the results. */
  | { type: 'put'; state: MappingState; trackedVia: TrackedVia; baseline: FieldValues }
  | { type: 'remove' };

export interface Plan {
  /** Why: a stable code such as `outlook-changed`, `crm-deleted-future-appointment`, `untracked-unlink`. */
  reason: ReasonCode;
  outlook: OutlookAction;
  crm: CrmAction;
  mapping: MappingAction;
  conflicts: FieldConflict[];
  /**
   * Fields left out of this plan because one side's value could not be read (e.g. `unknown-time-zone`): neither side
   * was written for them and the baseline keeps its value. Present only when non-empty; the app should log it.
   */
  unreadable?: UnreadableField[];
}
