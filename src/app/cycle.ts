// One sync cycle of one mailbox (DESIGN.md §4): lease → provision → collect → apply (with the delete guard) →
// reconcile → summarize. Each phase is its own module; this file only sequences them and guarantees the summary and
// the lease release, whatever happens.
import type { MailboxSettings } from '../core/model';
import { AuthError, InvariantError } from '../ports/errors';
import type { RunSummary } from '../ports/state-store';
import { applyDueChanges } from './apply';
import { collectCrm, collectOutlook } from './collect';
import { resolveCycleOptions, type CycleDeps, type CycleOptions } from './deps';
import { classifyError } from './failures';
import { LeaseKeeper, LeaseLostError } from './lease';
import { provisionCategory } from './provision';
import { reconcile } from './reconcile';
import { RunTally, withUserTimeZone, type RunContext } from './run-context';

export async function runMailboxCycle(
  deps: CycleDeps,
  settings: MailboxSettings,
  options: CycleOptions = {},
): Promise<RunSummary> {
  const resolved = resolveCycleOptions(options);
  const startedAt = deps.clock.now();
  const runId = deps.ids();
  const tally = new RunTally();
  const requestsBefore = { ...(deps.requestCounts?.() ?? {}) };
  const mailbox = settings.mailbox;

  resolved.onProgress({ phase: 'lease' });
  const lease = await LeaseKeeper.acquire(deps.store, deps.clock, mailbox, deps.owner, resolved.leaseTtlMs);
  if (!lease) {
    deps.logger.info('mailbox leased by another instance; skipped', { mailbox });
    const skipped = summarize(deps, settings, runId, startedAt, tally, requestsBefore, 'skipped');
    await deps.store.appendRun(skipped);
    return skipped;
  }

  let rethrow: unknown = null;
  try {
    const user = await deps.crm.resolveUser(mailbox);
    if (!user) {
      tally.fatal = true;
      tally.alert('no CRM user for this mailbox: it cannot sync');
      tally.fail('cycle', 'no-crm-user', 'the mailbox address does not resolve to a CRM user');
    } else {
      const ctx: RunContext = {
        deps,
        settings,
        options: withUserTimeZone(resolved, user, deps.logger, mailbox),
        mailbox,
        dryRun: settings.dryRun,
        user,
        startedAt,
        streams: await deps.mailboxSource.listStreams(mailbox),
        lease,
        tally,
      };
      await runPhases(ctx);
    }
  } catch (error) {
    const classified = classifyError(error);
    tally.fatal = true;
    tally.fail('cycle', error instanceof LeaseLostError ? 'lease-lost' : classified.reason, classified.detail);
    tally.alert(error instanceof AuthError ? `credentials refused: ${classified.detail}` : `cycle failed: ${classified.reason}`);
    deps.logger.error('cycle failed', { mailbox, reason: classified.reason });
    // A broken invariant is a bug: it is recorded, then surfaces to the host (DESIGN.md §8 "Errors").
    if (error instanceof InvariantError) rethrow = error;
  }

  resolved.onProgress({ phase: 'summarize' });
  const summary = summarize(deps, settings, runId, startedAt, tally, requestsBefore);
  try {
    await deps.store.appendRun(summary);
  } catch (error) {
    deps.logger.error('could not store the run summary', { mailbox, reason: classifyError(error).reason });
  }
  try {
    await lease.release();
  } catch (error) {
    // The lease expires by itself; another instance takes over after its time to live.
    deps.logger.warn('could not release the lease', { mailbox, reason: classifyError(error).reason });
  }
  deps.logger.info('cycle finished', {
    mailbox,
    runId,
    outcome: summary.outcome,
    dryRun: summary.dryRun,
    failures: summary.failures.length,
    heldDeletes: summary.heldDeletes,
  });
  if (rethrow) throw rethrow;
  return summary;
}

async function runPhases(ctx: RunContext): Promise<void> {
  ctx.options.onProgress({ phase: 'provision' });
  await provisionCategory(ctx);
  await ctx.lease.keepAlive();

  ctx.options.onProgress({ phase: 'collect' });
  await collectOutlook(ctx);
  await collectCrm(ctx);
  await ctx.lease.keepAlive();

  ctx.options.onProgress({ phase: 'apply' });
  await applyDueChanges(ctx);
  if (ctx.tally.fatal) return;
  await ctx.lease.keepAlive();

  ctx.options.onProgress({ phase: 'reconcile' });
  await reconcile(ctx);
}

function summarize(
  deps: CycleDeps,
  settings: MailboxSettings,
  runId: string,
  startedAt: Date,
  tally: RunTally,
  requestsBefore: Readonly<Record<string, number>>,
  forced?: RunSummary['outcome'],
): RunSummary {
  const finishedAt = deps.clock.now();
  const requests: Record<string, number> = {};
  for (const [service, count] of Object.entries(deps.requestCounts?.() ?? {})) {
    const made = count - (requestsBefore[service] ?? 0);
    if (made > 0) requests[service] = made;
  }
  const outcome =
    forced ?? (tally.fatal ? 'failed' : tally.failures.length > 0 || tally.heldDeletes > 0 ? 'partial' : 'ok');
  return {
    mailbox: settings.mailbox,
    runId,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    outcome,
    dryRun: settings.dryRun,
    counts: { ...tally.counts, durationMs: finishedAt.getTime() - startedAt.getTime() },
    requests,
    failures: tally.failures.map((failure) => ({ ...failure })),
    heldDeletes: tally.heldDeletes,
    alerts: [...tally.alerts],
  };
}
