// What a person reads in the terminal: one block per cycle, the status of a mailbox, and throttled progress lines.
import type { MailboxStatus, FailingItem } from '../app/status';
import type { ProgressEvent } from '../app/deps';
import type { RunSummary } from '../ports/state-store';

const SIDES = [
  ['Outlook', 'outlook'],
  ['CRM', 'crm'],
] as const;

function count(summary: RunSummary, name: string): number {
  return summary.counts[name] ?? 0;
}

function time(iso: string): string {
  return iso.slice(11, 19);
}

export function formatSummary(summary: RunSummary): string {
  const seconds = ((summary.counts.durationMs ?? 0) / 1000).toFixed(1);
  const lines = [`[${time(summary.finishedAt)}] ${summary.mailbox}: ${summary.outcome}${summary.dryRun ? ' (dry run: nothing was written)' : ''} in ${seconds} s`];
  if (summary.outcome === 'skipped') {
    lines.push('  another instance holds the mailbox lease; nothing done');
    return lines.join('\n');
  }
  const verb = summary.dryRun ? 'would ' : '';
  for (const [label, side] of SIDES) {
    const created = count(summary, `${side}.create`);
    const updated = count(summary, `${side}.update`);
    const deleted = count(summary, `${side}.delete`);
    lines.push(`  ${`${label}:`.padEnd(9)}${verb}create ${created}, ${verb}update ${updated}, ${verb}delete ${deleted}`);
  }
  const recorded = count(summary, 'changes.recorded.outlook') + count(summary, 'changes.recorded.crm');
  lines.push(
    `  changes: ${recorded} recorded (${count(summary, 'changes.recorded.outlook')} from Outlook, ${count(summary, 'changes.recorded.crm')} from the CRM), ` +
      `${count(summary, 'changes.resolved')} resolved, ${count(summary, 'changes.postponed')} postponed`,
  );
  lines.push(`  conflicts: ${count(summary, 'conflicts')}   held deletes: ${summary.heldDeletes}   failures: ${summary.failures.length}`);
  const requests = Object.entries(summary.requests).map(([service, n]) => `${service} ${n}`);
  lines.push(`  requests: ${requests.length > 0 ? requests.join(', ') : 'none'}`);
  for (const failure of summary.failures) lines.push(`    ✗ ${failure.key}: ${failure.reason} — ${failure.detail}`);
  for (const alert of summary.alerts) lines.push(`  ! ${alert}`);
  return lines.join('\n');
}

function item(row: FailingItem): string {
  return `    - ${row.kind} ${row.key}: ${row.reason ?? 'pending'} (attempts ${row.attempts}, next ${row.nextAttemptAt})${row.lastError ? ` — ${row.lastError}` : ''}`;
}

export function formatStatus(status: MailboxStatus): string {
  const lines = [`${status.mailbox}`];
  if (status.lastRuns.length === 0) lines.push('  no runs yet');
  for (const run of status.lastRuns) {
    const writes = ['outlook', 'crm'].map((side) => `${side} ${['create', 'update', 'delete'].map((a) => run.counts[`${side}.${a}`] ?? 0).join('/')}`).join(', ');
    lines.push(`  ${run.startedAt}  ${run.outcome.padEnd(7)}${run.dryRun ? ' dry-run' : ''}  writes c/u/d: ${writes}; failures ${run.failures.length}; held deletes ${run.heldDeletes}`);
  }
  lines.push(`  pending changes: ${status.pendingChanges}`);
  lines.push(`  failing (${status.failing.length}):`, ...status.failing.map(item));
  lines.push(`  held deletes (${status.heldDeletes.length}): ${status.heldDeletes.length > 0 ? 'confirm them to let them through' : ''}`.trimEnd(), ...status.heldDeletes.map(item));
  if (status.confirmedDeletes.length > 0) lines.push(`  confirmed deletes (${status.confirmedDeletes.length}):`, ...status.confirmedDeletes.map(item));
  return lines.join('\n');
}

/**
 * Progress of a long first sync, printed at most every `intervalMs` (and at every phase change), so a terminal shows
 * that pages are flowing without a line per page.
 */
export function throttledProgress(write: (line: string) => void, mailbox: string, intervalMs = 2000, now: () => number = Date.now): (event: ProgressEvent) => void {
  let lastAt = 0;
  let lastPhase: string | null = null;
  return (event) => {
    const phaseChanged = event.phase !== lastPhase;
    if (!phaseChanged && now() - lastAt < intervalMs) return;
    // Lease and summarize are instantaneous bookends: not worth a line.
    if (event.phase === 'lease' || event.phase === 'summarize') {
      lastPhase = event.phase;
      return;
    }
    lastAt = now();
    lastPhase = event.phase;
    const where = event.stream ? ` ${event.stream}` : '';
    const amounts = [event.pages !== undefined ? `${event.pages} pages` : null, event.items !== undefined ? `${event.items} items` : null].filter(Boolean).join(', ');
    write(`  … ${mailbox}: ${event.phase}${where}${amounts ? ` (${amounts})` : ''}`);
  };
}
