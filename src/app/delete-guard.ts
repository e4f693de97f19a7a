// Phase 5: the mass-delete guard (DESIGN.md §4 "Guards", sync-lessons.md §1.5 and §4.2). A sudden empty listing is a
// fault, not a user's wish: when the cycle's planned deletes exceed a count or a share of the linked items, none of
// them runs; their rows stay with reason `delete-held` until an admin confirms (`confirmHeldDeletes`).
import type { ChangeRow, StateStore } from '../ports/state-store';
import type { PlannedItem } from './apply';
import { claimsOf } from './hydrate';
import type { RunContext } from './run-context';

export const DELETE_HELD = 'delete-held';
export const DELETE_CONFIRMED = 'delete-confirmed';

/** Far enough in the future that every pending row is "due" by it: lists all rows. */
const END_OF_TIME = '9999-12-31T23:59:59.999Z';

export function deleteCount(items: readonly PlannedItem[]): number {
  let count = 0;
  for (const { plan } of items) {
    if (plan.outlook.type === 'delete') count += 1;
    if (plan.crm.type === 'delete') count += 1;
  }
  return count;
}

export async function runDeleteGuard(
  ctx: RunContext,
  items: readonly PlannedItem[],
  /** Runs the items (their CRM deletes in batches); checks the lease before each item's writes. */
  run: (items: readonly PlannedItem[]) => Promise<unknown>,
): Promise<void> {
  if (items.length === 0) return;
  const unique = onePerPair(ctx, items);
  // Deletes an admin confirmed after an earlier cycle held them run now and do not count against this cycle's budget.
  const confirmed = unique.filter((item) => item.slot.row.reason === DELETE_CONFIRMED);
  const guarded = unique.filter((item) => item.slot.row.reason !== DELETE_CONFIRMED);
  const count = deleteCount(guarded);
  const linked = count > 0 ? await countLinked(ctx) : 0;
  const { maxCount, maxShare } = ctx.settings.deleteGuard;
  const tripped = count > maxCount || count > maxShare * linked;
  ctx.tally.add('deletes.planned', count + deleteCount(confirmed));
  // `run` checks the lease before each delete: these runs can outlast it (DESIGN.md §4.1, two writers never run).
  await run(confirmed);
  if (!tripped) {
    await run(guarded);
    return;
  }
  ctx.tally.heldDeletes += count;
  ctx.tally.alert(
    `delete guard: ${count} deletes held (limit ${maxCount} or ${Math.round(maxShare * 100)}% of ${linked} linked items); ` +
      'confirm with confirmHeldDeletes to let the next cycle run them',
  );
  ctx.deps.logger.warn('delete guard tripped', { mailbox: ctx.mailbox, deletes: count, linked });
  if (ctx.dryRun) return;
  await ctx.lease.keepAlive();
  await ctx.deps.store.commit(
    ctx.mailbox,
    guarded.map((item) => ({ putChange: heldRow(item.slot.row) })),
  );
}

/**
 * One plan per pair: two rows of one pair (apply.ts keeps them apart, this is the guard's own check) would count one
 * delete twice against the budget and run it twice. The first row of a pair goes ahead; the others stay for a later
 * cycle, which re-reads the pair.
 */
function onePerPair(ctx: RunContext, items: readonly PlannedItem[]): PlannedItem[] {
  const seen = new Set<string>();
  const kept: PlannedItem[] = [];
  for (const item of items) {
    const claims = claimsOf(item.slot);
    if (claims.some((claim) => seen.has(claim))) {
      ctx.tally.add('deletes.duplicatePair');
      continue;
    }
    for (const claim of claims) seen.add(claim);
    kept.push(item);
  }
  return kept;
}

/** The row stays due, so every cycle re-plans it: a fault that heals (the items come back) releases it by itself. */
function heldRow(row: ChangeRow): ChangeRow {
  return { ...row, reason: DELETE_HELD, lastError: 'held by the delete guard until an admin confirms' };
}

async function countLinked(ctx: RunContext): Promise<number> {
  let linked = 0;
  for await (const mapping of ctx.deps.store.listMappings(ctx.mailbox)) if (mapping.state === 'linked') linked += 1;
  return linked;
}

/**
 * Admin confirmation: the deletes held so far may run in the next cycle (re-planned first: a delete whose item came
 * back is no longer planned). Returns how many rows were confirmed.
 */
export async function confirmHeldDeletes(store: StateStore, mailbox: string): Promise<number> {
  const held = await listHeldDeletes(store, mailbox);
  if (held.length === 0) return 0;
  const results = await store.commit(
    mailbox,
    held.map((row) => ({ putChange: { ...row, reason: DELETE_CONFIRMED, lastError: null } })),
  );
  return results.filter((result) => result.ok).length;
}

export async function listHeldDeletes(store: StateStore, mailbox: string, limit = 10_000): Promise<ChangeRow[]> {
  const rows = await store.listDueChanges(mailbox, END_OF_TIME, limit);
  return rows.filter((row) => row.reason === DELETE_HELD);
}
