// The state of one running cycle, passed to every phase instead of module-level globals.
import type { ItemKind, MailboxSettings } from '../core/model';
import type { CrmUser } from '../ports/crm-connector';
import type { StreamRef } from '../ports/mailbox-source';
import type { ReasonCode } from '../core/model';
import type { CycleDeps, ResolvedCycleOptions } from './deps';
import type { LeaseKeeper } from './lease';

export interface RunFailure {
  key: string;
  reason: ReasonCode;
  detail: string;
}

/** Counters and findings of one run; becomes the RunSummary. */
export class RunTally {
  readonly counts: Record<string, number> = {};
  readonly failures: RunFailure[] = [];
  readonly alerts: string[] = [];
  heldDeletes = 0;
  /** A failure that is not an item's own (auth, lease lost, invariant): the run's outcome is `failed`. */
  fatal = false;

  add(name: string, amount = 1): void {
    if (amount === 0) return;
    this.counts[name] = (this.counts[name] ?? 0) + amount;
  }

  fail(key: string, reason: ReasonCode, detail: string): void {
    this.failures.push({ key, reason, detail });
  }

  alert(message: string): void {
    if (!this.alerts.includes(message)) this.alerts.push(message);
  }
}

export interface RunContext {
  deps: CycleDeps;
  settings: MailboxSettings;
  options: ResolvedCycleOptions;
  mailbox: string;
  dryRun: boolean;
  user: CrmUser;
  /** The cycle's time: every plan and backoff of this run uses it (the core reads no clock). */
  startedAt: Date;
  streams: StreamRef[];
  lease: LeaseKeeper;
  tally: RunTally;
}

export function enabledKinds(settings: MailboxSettings): ItemKind[] {
  return (Object.keys(settings.kinds) as ItemKind[]).filter((kind) => settings.kinds[kind].enabled);
}

export function nowIso(ctx: RunContext): string {
  return ctx.deps.clock.now().toISOString();
}

/**
 * When a change recorded at a remote service's time becomes due: that time, but never later than now. The services'
 * clocks are not ours (sync-lessons.md §1.3); a change stamped ahead of the worker's clock must not wait a cycle.
 */
export function dueNoLaterThanNow(ctx: RunContext, remoteAt: string): string {
  const now = ctx.deps.clock.now();
  const remote = Date.parse(remoteAt);
  return Number.isNaN(remote) || remote > now.getTime() ? now.toISOString() : remoteAt;
}
