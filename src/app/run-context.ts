// The state of one running cycle, passed to every phase instead of module-level globals.
import { mappingFor } from '../core/mappings';
import { withCrmTimeZone } from '../core/mappings/user-local';
import type { ItemKind, MailboxSettings } from '../core/model';
import { resolveZone } from '../core/timezone';
import type { Logger } from '../ports/logger';
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

/** The kinds whose CRM dates are DateTime UserLocal (dataverse-behaviour.md §4.4, §4.5). */
const USER_LOCAL_KINDS: readonly ItemKind[] = ['appointment', 'task'];

/**
 * The CRM user's time zone for the mappings: the id when it resolves, null when the CRM gave none or one that cannot
 * be resolved (unknown), undefined when the connector knows no time zones (UTC midnight, as before).
 */
export function crmTimeZoneOf(user: CrmUser): string | null | undefined {
  const zone = user.timeZone;
  if (zone === undefined) return undefined;
  return typeof zone === 'string' && zone.trim() !== '' && resolveZone(zone) !== null ? zone : null;
}

/**
 * The cycle's options with the appointment and task mappings (built-in or overridden) bound to the CRM user's time
 * zone, resolved once per cycle with the user: the planner (through PlanContext.fieldMapping), the baseline after a
 * create and reconciliation all read CRM dates the same way. An unknown zone is logged; dates it alone could place are
 * left out of the merge and new dates are written at UTC midnight (withCrmTimeZone): a day is never guessed.
 */
export function withUserTimeZone(options: ResolvedCycleOptions, user: CrmUser, logger: Logger, mailbox: string): ResolvedCycleOptions {
  const zone = crmTimeZoneOf(user);
  if (zone === undefined) return options;
  if (zone === null) {
    logger.warn('CRM user time zone unknown: dates are written at UTC midnight; task dates and all-day dates other than UTC midnight are not read', {
      mailbox,
      timeZone: user.timeZone ?? null,
    });
  }
  const fieldMappings = { ...options.fieldMappings };
  for (const kind of USER_LOCAL_KINDS) fieldMappings[kind] = withCrmTimeZone(fieldMappings[kind] ?? mappingFor(kind), zone);
  return { ...options, fieldMappings };
}
