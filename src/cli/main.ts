// `npm start`: the worker on a developer's machine. With configuration (OCS_* settings in the environment) it syncs
// the configured tenant and CRM on the configured schedule; with none it starts the sandbox (src/sandbox) and syncs
// that. Everything it prints is for a person; the worker's own structured log goes to stderr.
import { randomUUID } from 'node:crypto';
import { runMailboxCycle } from '../app/cycle';
import { mailboxStatus } from '../app/status';
import { buildRuntime, jsonLinesLogger, type LogLevel, type Runtime } from '../composition';
import { ConfigError, formatProblems, isSandbox, loadConfig, loadConfigOrThrow, mailboxSchedule, type Env } from '../config';
import type { RunSummary } from '../ports/state-store';
import { startSandbox, type Sandbox } from '../sandbox';
import { formatStatus, formatSummary, throttledProgress } from './format';
import { nextOccurrence, parseSchedule, type Schedule } from '../config/ncrontab';

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /** Stops the scheduled loop (SIGINT). */
  signal?: AbortSignal;
  /** Observes the sandbox once it runs (tests and tooling inspect the simulators through it). */
  onSandbox?: (sandbox: Sandbox) => void;
}

export const USAGE = `Usage: npm start -- [command] [options]

Runs the Outlook ↔ CRM sync worker locally. With OCS_* settings in the environment it syncs the configured tenant
and CRM on the schedule (OCS_SCHEDULE); without any it starts the sandbox: Azurite, the Graph and Dataverse
simulators and a demo mailbox, and syncs that every 30 seconds.

Commands:
  (none)        run cycles on the schedule until Ctrl+C
  status        print each enrolled mailbox's state: last runs, failing changes with reasons, held deletes

Options:
  --once        run one cycle per mailbox and exit (exit code 1 if a cycle failed)
  --dry-run     plan one cycle per mailbox and print what it would write; writes nothing to Outlook or the CRM
  --verbose     show the worker's info log (JSON lines on stderr); default: warnings and errors
  -h, --help    show this help`;

interface Options {
  command: 'run' | 'status' | 'help';
  once: boolean;
  dryRun: boolean;
  logLevel: LogLevel;
}

export function parseArgs(argv: readonly string[]): Options | { error: string } {
  const options: Options = { command: 'run', once: false, dryRun: false, logLevel: 'warn' };
  for (const arg of argv) {
    if (arg === '--once') options.once = true;
    else if (arg === '--dry-run') options.dryRun = true;
    else if (arg === '--verbose') options.logLevel = 'info';
    else if (arg === '--help' || arg === '-h' || arg === 'help') options.command = 'help';
    else if (arg === 'status' && options.command === 'run') options.command = 'status';
    else return { error: `unknown argument: ${arg}` };
  }
  return options;
}

export async function main(argv: readonly string[], env: Env, io: CliIo): Promise<number> {
  const options = parseArgs(argv);
  if ('error' in options) {
    io.err(`${options.error}\n\n${USAGE}`);
    return 2;
  }
  if (options.command === 'help') {
    io.out(USAGE);
    return 0;
  }
  try {
    return isSandbox(env) ? await runSandbox(options, io) : await runConfigured(options, env, io);
  } catch (error) {
    if (error instanceof ConfigError) {
      io.err(`${error.message}\n${CONFIG_HINT}`);
      return 2;
    }
    // A person reads this: the error's name and message, not a stack trace.
    io.err(`error: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
    return 1;
  }
}

const CONFIG_HINT = 'Fix the settings above (environment variables or local.settings.json values) and run again; unset every OCS_* setting to use the sandbox.';

async function runConfigured(options: Options, env: Env, io: CliIo): Promise<number> {
  const loaded = loadConfig(env);
  if (!loaded.ok) {
    io.err(`${formatProblems(loaded.problems)}\n${CONFIG_HINT}`);
    return 2;
  }
  const runtime = buildRuntime(loaded.config, { logger: jsonLinesLogger((line) => io.err(line), options.logLevel) });
  try {
    if (options.command === 'status') return await printStatus(runtime, io);
    io.out(`Syncing ${runtime.config.mailboxes.length} mailbox(es) with ${runtime.config.crm.url}.`);
    return await runWorker(runtime, options, io);
  } finally {
    await runtime.close();
  }
}

async function runSandbox(options: Options, io: CliIo): Promise<number> {
  if (options.command === 'status') {
    io.err('status reads the state of a configured deployment; the sandbox keeps none between runs. Set the OCS_* settings (see local.settings.sample.json) and run status again.');
    return 2;
  }
  io.out('No OCS_* settings found: starting the sandbox (Azurite, Graph and Dataverse simulators, a demo mailbox)…');
  const sandbox: Sandbox = await startSandbox();
  let runtime: Runtime | null = null;
  try {
    for (const line of sandbox.describe()) io.out(`  ${line}`);
    io.onSandbox?.(sandbox);
    const config = loadConfigOrThrow(sandbox.env);
    runtime = buildRuntime(config, { crmAuthorityHost: sandbox.crmAuthorityHost, logger: jsonLinesLogger((line) => io.err(line), options.logLevel) });
    return await runWorker(runtime, options, io);
  } finally {
    await runtime?.close();
    await sandbox.stop();
  }
}

async function printStatus(runtime: Runtime, io: CliIo): Promise<number> {
  for (const mailbox of runtime.config.mailboxes) io.out(formatStatus(await mailboxStatus(runtime.store, mailbox)));
  return 0;
}

async function runOne(runtime: Runtime, mailbox: string, dryRun: boolean, io: CliIo): Promise<RunSummary | null> {
  const settings = runtime.settingsFor(mailbox);
  try {
    const summary = await runMailboxCycle(runtime.depsFor(randomUUID()), dryRun ? { ...settings, dryRun: true } : settings, {
      ...runtime.cycleOptions,
      onProgress: throttledProgress(io.out, mailbox),
    });
    io.out(formatSummary(summary));
    return summary;
  } catch (error) {
    // The cycle records its own failures; what escapes is a broken invariant (a bug), reported and survived.
    io.err(`${mailbox}: cycle aborted: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
    return null;
  }
}

async function runWorker(runtime: Runtime, options: Options, io: CliIo): Promise<number> {
  const mailboxes = runtime.config.mailboxes;
  if (options.once || options.dryRun) {
    let failed = false;
    for (const mailbox of mailboxes) {
      const summary = await runOne(runtime, mailbox, options.dryRun, io);
      if (summary === null || summary.outcome === 'failed') failed = true;
    }
    return failed ? 1 : 0;
  }
  const schedules = new Map<string, Schedule>(mailboxes.map((m) => [m, parseSchedule(mailboxSchedule(runtime.config, m))]));
  // The first cycle runs at once (a person started this to see it work); then each mailbox follows its schedule.
  const due = new Map<string, number>(mailboxes.map((m) => [m, 0]));
  io.out('Running on the schedule; Ctrl+C stops.');
  while (!io.signal?.aborted) {
    const now = runtime.deps.clock.now().getTime();
    for (const [mailbox, at] of due) {
      if (at > now || io.signal?.aborted) continue;
      await runOne(runtime, mailbox, false, io);
      const next = nextOccurrence(schedules.get(mailbox) as Schedule, runtime.deps.clock.now());
      due.set(mailbox, next?.getTime() ?? Number.POSITIVE_INFINITY);
    }
    const earliest = Math.min(...due.values());
    if (!Number.isFinite(earliest)) break;
    if (earliest > runtime.deps.clock.now().getTime()) io.out(`Next cycle at ${new Date(earliest).toISOString()}.`);
    await sleepUntil(earliest, () => runtime.deps.clock.now().getTime(), io.signal);
  }
  io.out('Stopped.');
  return 0;
}

function sleepUntil(at: number, now: () => number, signal: AbortSignal | undefined): Promise<void> {
  const ms = at - now();
  if (ms <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

if (require.main === module) {
  const controller = new AbortController();
  let interrupted = false;
  process.on('SIGINT', () => {
    // The first Ctrl+C lets the running cycle finish (it commits per item anyway); the second one exits at once.
    if (interrupted) process.exit(130);
    interrupted = true;
    process.stderr.write('\nStopping after the current cycle (Ctrl+C again to quit now)…\n');
    controller.abort();
  });
  main(process.argv.slice(2), process.env, {
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
    signal: controller.signal,
  }).then(
    (code) => process.exit(code),
    () => process.exit(1),
  );
}
