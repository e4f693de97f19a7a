// Benchmark 4: many small mailboxes fanned out through the queue (Azurite + StorageWorkQueue, fanOut) to several
// in-process consumers, each running runMailboxCycle under the Table Storage lease. The fan-out runs twice at the same
// time (two schedule ticks overlapping, as when the timer fires on two instances), so every mailbox has two messages
// and consumers do race for the same mailbox: the lease must make one of them skip or wait its turn.
// Evidence of "never two synchronizers at once": every port call (Graph and CRM) of every run is timed, per mailbox
// the runs' activity intervals [first call start, last call end] must not overlap.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { runMailboxCycle } from '../src/app/cycle';
import { fanOut } from '../src/app/fan-out';
import type { CycleDeps } from '../src/app/deps';
import type { RunSummary } from '../src/ports/state-store';
import { systemClock } from '../src/composition';
import { startWorld, type BenchWorld } from './env';
import type { BenchFigure, BenchResult } from './figures';
import { graphBudgetUnits, measure } from './measure';
import { seedMailbox } from './seed';

interface Activity {
  mailbox: string;
  owner: string;
  start: number;
  end: number;
}

/** Wraps every method of a port: calls that return a promise are timed until they settle. */
function timed<T extends object>(port: T, onCall: (start: number, end: number) => void): T {
  return new Proxy(port, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const start = performance.now();
        const result: unknown = Reflect.apply(value as (...a: unknown[]) => unknown, target, args);
        if (result instanceof Promise) {
          return result.finally(() => onCall(start, performance.now()));
        }
        onCall(start, performance.now());
        return result;
      };
    },
  });
}

/** Pairs of runs of one mailbox whose activity intervals overlap (must be none). */
export function overlaps(activities: readonly Activity[]): { mailbox: string; a: string; b: string }[] {
  const byMailbox = new Map<string, Activity[]>();
  for (const a of activities) byMailbox.set(a.mailbox, [...(byMailbox.get(a.mailbox) ?? []), a]);
  const found: { mailbox: string; a: string; b: string }[] = [];
  for (const [mailbox, list] of byMailbox) {
    const sorted = [...list].sort((x, y) => x.start - y.start);
    for (let i = 1; i < sorted.length; i++) {
      const previous = sorted[i - 1] as Activity;
      const current = sorted[i] as Activity;
      if (current.start < previous.end) found.push({ mailbox, a: previous.owner, b: current.owner });
    }
  }
  return found;
}

async function consume(world: BenchWorld, worker: number, activities: Activity[], summaries: RunSummary[], busyMs: number[]): Promise<number> {
  const runtime = world.runtime;
  let handled = 0;
  let emptyPolls = 0;
  while (emptyPolls < 3) {
    const [message] = await runtime.queue.receive(1, 300);
    if (!message) {
      emptyPolls += 1;
      await new Promise((resolve) => setTimeout(resolve, 50));
      continue;
    }
    emptyPolls = 0;
    const mailbox = runtime.enrolled(message.body.mailbox);
    if (mailbox === null) throw new Error(`not enrolled: ${message.body.mailbox}`);
    const owner = `worker${worker}/${randomUUID()}`;
    const base = runtime.depsFor(owner);
    let activity: Activity | null = null;
    const onCall = (start: number, end: number) => {
      if (activity === null) {
        activity = { mailbox, owner: base.owner, start, end };
        activities.push(activity);
      } else {
        activity.start = Math.min(activity.start, start);
        activity.end = Math.max(activity.end, end);
      }
    };
    const deps: CycleDeps = { ...base, mailboxSource: timed(base.mailboxSource, onCall), crm: timed(base.crm, onCall) };
    const t = performance.now();
    summaries.push(await runMailboxCycle(deps, runtime.settingsFor(mailbox), runtime.cycleOptions));
    busyMs[worker] = (busyMs[worker] ?? 0) + (performance.now() - t);
    await runtime.queue.complete(message);
    handled += 1;
  }
  return handled;
}

export async function benchManyMailboxes(): Promise<BenchResult> {
  const started = performance.now();
  const count = Number(process.env.BENCH_MAILBOXES ?? 200);
  const workers = Number(process.env.BENCH_WORKERS ?? 4);
  const mailboxes = Array.from({ length: count }, (_, i) => `user${String(i).padStart(4, '0')}@contoso.test`);
  const world = await startWorld(mailboxes);
  try {
    for (const mailbox of mailboxes) seedMailbox(world, mailbox, { contacts: 3, events: 2, tasks: 1, messages: 4, trackedMessages: 1, trackedShare: 0.67 });
    // Two overlapping schedule ticks: every mailbox is enqueued twice.
    const [first, second] = await Promise.all([
      fanOut(world.runtime.queue, mailboxes, { clock: systemClock }),
      fanOut(world.runtime.queue, mailboxes, { clock: systemClock }),
    ]);
    const sent = (first?.sent ?? 0) + (second?.sent ?? 0);
    process.stderr.write(`  many mailboxes: ${count} mailboxes, ${sent} messages, ${workers} consumers…\n`);
    const activities: Activity[] = [];
    const summaries: RunSummary[] = [];
    const busyMs: number[] = [];
    const measured = await measure(world, () => Promise.all(Array.from({ length: workers }, (_, w) => consume(world, w, activities, summaries, busyMs))));
    const handled = measured.result.reduce((a, n) => a + n, 0);
    // The consumers stop after three empty polls (150 ms); that tail is not throughput.
    const activeMs = Math.max(1, ...activities.map((a) => a.end)) - Math.min(...activities.map((a) => a.start));
    const synced = summaries.filter((s) => s.outcome !== 'skipped');
    const skipped = summaries.filter((s) => s.outcome === 'skipped').length;
    const failed = summaries.filter((s) => s.outcome === 'failed').length;
    const distinct = new Set(synced.map((s) => s.mailbox.toLowerCase())).size;
    const overlapping = overlaps(activities);
    const ran = new Map<string, number>();
    for (const s of synced) ran.set(s.mailbox, (ran.get(s.mailbox) ?? 0) + 1);
    const syncedTwice = [...ran.values()].filter((n) => n > 1).length;
    const b = '4 many mailboxes';
    const figures: BenchFigure[] = [
      { benchmark: b, metric: 'mailboxes synced', value: distinct, unit: 'mailboxes', floor: count, note: `${sent} queue messages (fan-out run twice at once), ${handled} handled, ${workers} consumers` },
      { benchmark: b, metric: 'throughput', value: Math.round((distinct / activeMs) * 1000 * 100) / 100, unit: 'mailboxes/s', note: `first sync of ${count} small mailboxes in ${Math.round(activeMs)} ms (first port call to last)` },
      { benchmark: b, metric: 'cycles run', value: synced.length, unit: 'cycles', note: `${syncedTwice} mailboxes ran twice (second message after the first run ended: a quiet cycle)` },
      { benchmark: b, metric: 'lease skips', value: skipped, unit: 'cycles', note: 'second message taken while another consumer held the lease' },
      { benchmark: b, metric: 'overlapping runs of one mailbox', value: overlapping.length, unit: 'pairs', floor: 0, note: `must be 0: per mailbox, runs' port-call intervals never overlap (${activities.length} runs checked)` },
      { benchmark: b, metric: 'failed cycles', value: failed, unit: 'cycles', floor: 0 },
      { benchmark: b, metric: 'Graph requests per mailbox', value: Math.round((measured.requests.graph / count) * 10) / 10, unit: 'req', note: `${measured.requests.graph} total; budget units ${graphBudgetUnits(measured.requests)}` },
      { benchmark: b, metric: 'CRM requests per mailbox', value: Math.round((measured.requests.crm / count) * 10) / 10, unit: 'req', note: `${measured.requests.crm} total` },
      { benchmark: b, metric: 'Table Storage requests per mailbox', value: Math.round((measured.requests.tables / count) * 10) / 10, unit: 'req' },
      { benchmark: b, metric: 'consumer utilisation', value: Math.round((busyMs.reduce((a, n) => a + n, 0) / (workers * activeMs)) * 100), unit: '%', note: 'share of wall time the consumers spent inside cycles' },
      { benchmark: b, metric: 'peak RSS', value: measured.memory.peakRssMiB, unit: 'MiB' },
    ];
    return {
      benchmark: 'many-mailboxes',
      figures,
      details: { count, workers, sent, handled, skipped, failed, overlapping, requests: measured.requests, firstFailures: summaries.flatMap((s) => s.failures).slice(0, 5) },
      ms: Math.round(performance.now() - started),
    };
  } finally {
    await world.stop();
  }
}
