// Phase 6: reconciliation (DESIGN.md §4.4, sync-lessons.md §4.11: change feeds miss deletions). A bounded number of
// mappings, oldest `verifiedAt` first, are read directly on both sides; any whose item is gone or whose content left
// the baseline gets a change row, which the next cycle applies. Every verified mapping gets a new `verifiedAt`.
import type { CrmRecord, ItemKind, MappingRow, OutlookItem } from '../core/model';
import type { ChangeRecord, CommitUnit } from '../ports/state-store';
import { mappedChangeKey } from './collect';
import { crmFields, differsFromBaseline, isStillTracked, outlookFields } from './core-api';
import { AuthError, InvariantError } from '../ports/errors';
import { classifyError, type ClassifiedError } from './failures';
import { learnedContainer, readCrmIsolated, readOutlookItems } from './hydrate';
import { nowIso, type RunContext } from './run-context';

export async function reconcile(ctx: RunContext): Promise<void> {
  const { store } = ctx.deps;
  const mappings = await store.oldestVerified(ctx.mailbox, ctx.options.reconcileLimit);
  if (mappings.length === 0) return;
  await ctx.lease.keepAlive();
  // Not pendingCreate rows: the change row that planned their create stays until the link commit (or holds its
  // failure and backoff), and a finding recorded here would retry the create ahead of that backoff.
  const active = mappings.filter((m) => m.state === 'linked' && ctx.settings.kinds[m.kind].enabled);

  // Each item is read in the container its mapping recorded (a To Do task only exists inside its own list).
  const refs = active
    .filter((m) => m.outlookId !== null)
    .map((m) => ({ kind: m.kind, id: m.outlookId as string, container: m.outlookContainer ?? null }));
  let outlookItems = new Map<string, OutlookItem | null>();
  const crmRecords = new Map<string, CrmRecord | null>();
  /** Mappings whose CRM record could not be read on its own: a malformed record, or its single read failed. */
  const unreadable = new Map<string, ClassifiedError>();
  try {
    outlookItems = await readOutlookItems(ctx, refs);
    for (const kind of new Set(active.map((m) => m.kind))) {
      const ids = active.filter((m) => m.kind === kind && m.crmId !== null).map((m) => m.crmId as string);
      if (ids.length === 0) continue;
      // One malformed record must not fail its batch: it would stay among the oldest and block the others for good.
      const read = await readCrmIsolated(ctx, kind, ids);
      for (const [id, record] of read.found) crmRecords.set(crmKey(kind, id), record);
      for (const [id, failure] of read.rejected) unreadable.set(crmKey(kind, id), failure);
    }
  } catch (error) {
    // Reconciliation is a safety net: a failed read leaves verifiedAt alone, so these mappings are first next time.
    if (error instanceof AuthError || error instanceof InvariantError) throw error;
    const classified = classifyError(error);
    ctx.tally.fail('reconcile', classified.reason, classified.detail);
    return;
  }

  const records: ChangeRecord[] = [];
  const skipped = new Set<string>();
  for (const mapping of active) {
    const failure = mapping.crmId === null ? undefined : unreadable.get(crmKey(mapping.kind, mapping.crmId));
    if (failure) {
      // Skipped and left unverified; the others are verified. No finding: a record that does not validate is not gone.
      skipped.add(mapping.mapId);
      ctx.tally.fail(`reconcile:${mappedChangeKey(mapping.mapId)}`, failure.reason, failure.detail);
      continue;
    }
    const record = mapping.crmId === null ? undefined : crmRecords.get(crmKey(mapping.kind, mapping.crmId));
    // A pair kept out of scope (tracked from Outlook, DESIGN.md §6) syncs nothing to the record, so an Outlook edit
    // stays away from the baseline for good: comparing contents would re-record the pair every cycle.
    const keptOutOfScope = record !== undefined && record !== null && !ctx.deps.crm.isInScope(record, ctx.user);
    records.push(...outlookFindings(ctx, mapping, outlookItems, !keptOutOfScope), ...crmFindings(ctx, mapping, crmRecords));
  }
  if (records.length > 0) {
    await store.recordChanges(ctx.mailbox, records);
    ctx.tally.add('reconcile.changes', records.length);
  }
  const verified = mappings.filter((m) => !skipped.has(m.mapId));
  ctx.tally.add('reconcile.verified', verified.length);
  ctx.options.onProgress({ phase: 'reconcile', items: mappings.length });
  if (ctx.dryRun || verified.length === 0) return;
  const verifiedAt = nowIso(ctx);
  const units: CommitUnit[] = verified.map((m) => ({ mapping: { put: { ...m, verifiedAt, outlookContainer: containerSeen(ctx, m, outlookItems) } } }));
  const results = await store.commit(ctx.mailbox, units);
  // A lost compare-and-swap only means the mapping changed meanwhile; it is verified again in a later cycle.
  ctx.tally.add('reconcile.verifyConflicts', results.filter((result) => !result.ok).length);
}

/** A mapping stored without a container learns it here, when the read proved one. */
function containerSeen(ctx: RunContext, mapping: MappingRow, items: Map<string, OutlookItem | null>): string | null {
  const known = mapping.outlookContainer ?? null;
  const item = mapping.outlookId === null ? null : items.get(mapping.outlookId);
  if (known !== null || !item) return known;
  return learnedContainer(ctx, { kind: mapping.kind, id: item.id, container: null }, item);
}

function crmKey(kind: ItemKind, id: string): string {
  return `${kind}:${id.toLowerCase()}`;
}

function outlookFindings(ctx: RunContext, mapping: MappingRow, items: Map<string, OutlookItem | null>, compareContents: boolean): ChangeRecord[] {
  if (mapping.outlookId === null || !items.has(mapping.outlookId)) return [];
  const item = items.get(mapping.outlookId) ?? null;
  const base = {
    key: mappedChangeKey(mapping.mapId),
    kind: mapping.kind,
    mapId: mapping.mapId,
    outlookId: mapping.outlookId,
    crmId: mapping.crmId,
    side: 'outlook' as const,
    at: nowIso(ctx),
  };
  if (item === null) {
    // Gone where it lived (or, stored without a container, in every list of its kind). A To Do task moved to another
    // list is gone under this id: the apply phase follows it by its CRM id stamp (DESIGN.md §3).
    return [{ ...base, ...(mapping.outlookContainer ? { outlookContainer: mapping.outlookContainer } : {}), change: 'removed' }];
  }
  // The planner's rule: a linked item whose category is gone is untracked although the marker remains (DESIGN.md §2).
  const untracked = !isStillTracked(item, mapping.crmId);
  const changed = untracked || (compareContents && differsFromBaseline(ctx, mapping.kind, 'outlook', outlookFields(ctx, mapping.kind, item), mapping.baseline));
  return changed ? [{ ...base, outlookContainer: item.container, change: 'upsert', at: item.lastModified }] : [];
}

function crmFindings(ctx: RunContext, mapping: MappingRow, records: Map<string, CrmRecord | null>): ChangeRecord[] {
  if (mapping.crmId === null || !records.has(crmKey(mapping.kind, mapping.crmId))) return [];
  const record = records.get(crmKey(mapping.kind, mapping.crmId)) ?? null;
  const base = {
    key: mappedChangeKey(mapping.mapId),
    kind: mapping.kind,
    mapId: mapping.mapId,
    outlookId: mapping.outlookId,
    crmId: mapping.crmId,
    side: 'crm' as const,
    at: nowIso(ctx),
  };
  if (record === null) return [{ ...base, change: 'deleted' }];
  if (!ctx.deps.crm.isInScope(record, ctx.user)) {
    // A pair kept out of scope (tracked from Outlook, DESIGN.md §6) stores the record's version when the planner keeps
    // it; only a record changed since then needs the planner again, else the row would be re-recorded every cycle.
    return record.version === mapping.crmVersion ? [] : [{ ...base, change: 'outOfScope', at: record.modifiedOn }];
  }
  return differsFromBaseline(ctx, mapping.kind, 'crm', crmFields(ctx, mapping.kind, record, mapping.baseline), mapping.baseline)
    ? [{ ...base, change: 'upsert', at: record.modifiedOn }]
    : [];
}
