// Running the production cycle from the benchmarks: runMailboxCycle with the runtime's ports and options, a fresh
// lease owner per run (as each queue invocation has), and helpers to read a run summary.
import { randomUUID } from 'node:crypto';
import { runMailboxCycle } from '../src/app/cycle';
import type { CycleOptions } from '../src/app/deps';
import type { RunSummary } from '../src/ports/state-store';
import type { BenchWorld } from './env';

export function runCycle(world: BenchWorld, mailbox: string, options: CycleOptions = {}): Promise<RunSummary> {
  const runtime = world.runtime;
  return runMailboxCycle(runtime.depsFor(randomUUID()), runtime.settingsFor(mailbox), { ...runtime.cycleOptions, ...options });
}

export function count(summary: RunSummary, name: string): number {
  return summary.counts[name] ?? 0;
}

/** Writes to Outlook and the CRM the run made, from its counters (`crm.create`, `outlook.update`, …). */
export function writesOf(summary: RunSummary): { outlook: number; crm: number } {
  let outlook = 0;
  let crm = 0;
  for (const [name, n] of Object.entries(summary.counts)) {
    if (/^outlook\.(create|update|delete)$/.test(name)) outlook += n;
    if (/^crm\.(create|update|delete)$/.test(name)) crm += n;
  }
  return { outlook, crm };
}

/** A cycle with nothing to apply: no change rows were due. */
export function isQuiet(summary: RunSummary): boolean {
  return count(summary, 'changes.due') === 0;
}

/** Short text of a run for the details section: outcome, failures, and the counters. */
export function describeRun(summary: RunSummary): Record<string, unknown> {
  return {
    outcome: summary.outcome,
    counts: summary.counts,
    failures: summary.failures.length,
    firstFailures: summary.failures.slice(0, 3).map((f) => `${f.reason}: ${f.detail}`),
    alerts: summary.alerts,
  };
}

/**
 * Runs cycles until one is quiet (the first sync, then the echo of the worker's own writes, which come back through
 * delta and the CRM change feed and are confirmed in sync). Returns every run; throws when it does not settle.
 */
export async function settle(world: BenchWorld, mailbox: string, maxCycles: number, options: CycleOptions = {}): Promise<RunSummary[]> {
  const runs: RunSummary[] = [];
  for (let i = 0; i < maxCycles; i++) {
    const summary = await runCycle(world, mailbox, options);
    runs.push(summary);
    progress(`cycle ${i + 1}: ${count(summary, 'changes.due')} change rows, ${summary.counts['durationMs'] ?? 0} ms`);
    if (summary.outcome === 'failed') throw new Error(`cycle failed while settling: ${JSON.stringify(describeRun(summary))}`);
    if (isQuiet(summary)) return runs;
  }
  throw new Error(`the mailbox did not settle within ${maxCycles} cycles`);
}

/** Progress for people watching; stderr, so the parent's result channel (stdout) stays clean. */
export function progress(line: string): void {
  process.stderr.write(`    ${line}\n`);
}
