// Benchmark 3: the first sync of a mailbox (10,000 contacts, 5,000 events, 2,000 tasks, 20,000 messages of which
// 1,000 tracked; all contacts, events and tasks tracked), run with the production cycle options (at most 500 change
// rows applied per cycle) until a cycle is quiet. Scaled to 10% by default; BENCH_FULL=1 runs the full size.
import { performance } from 'node:perf_hooks';
import { count, describeRun, isQuiet, progress, runCycle, writesOf } from './cycles';
import { GRAPH_PAGE_SIZE, startWorld } from './env';
import type { BenchFigure, BenchResult } from './figures';
import { graphBudgetUnits, measure, topKinds, type RequestCounts } from './measure';
import { seedMailbox, type MailboxShape } from './seed';
import type { RunSummary } from '../src/ports/state-store';

const MAILBOX = 'first.sync@contoso.test';
const FULL: MailboxShape = { contacts: 10_000, events: 5_000, tasks: 2_000, messages: 20_000, trackedMessages: 1_000, trackedShare: 1 };
const MAX_CYCLES = 200;

export function firstSyncScale(): number {
  if (process.env.BENCH_FIRST_SYNC_SCALE) return Number(process.env.BENCH_FIRST_SYNC_SCALE);
  return process.env.BENCH_FULL === '1' ? 1 : 0.05;
}

export async function benchFirstSync(): Promise<BenchResult> {
  const started = performance.now();
  const scale = firstSyncScale();
  const shape: MailboxShape = {
    contacts: Math.round(FULL.contacts * scale),
    events: Math.round(FULL.events * scale),
    tasks: Math.round(FULL.tasks * scale),
    messages: Math.round(FULL.messages * scale),
    trackedMessages: Math.round(FULL.trackedMessages * scale),
    trackedShare: 1,
  };
  const world = await startWorld([MAILBOX]);
  try {
    const seeded = seedMailbox(world, MAILBOX, shape);
    const items = shape.contacts + shape.events + shape.tasks + shape.messages;
    const tracked = seeded.tracked.contacts + seeded.tracked.events + seeded.tracked.tasks + seeded.tracked.messages;
    process.stderr.write(`  first sync: ${items} items (${tracked} tracked), scale ${scale}…\n`);
    const runs: RunSummary[] = [];
    const perCycleMs: number[] = [];
    const measured = await measure(world, async () => {
      for (let i = 0; i < MAX_CYCLES; i++) {
        const t = performance.now();
        const summary = await runCycle(world, MAILBOX);
        perCycleMs.push(Math.round(performance.now() - t));
        runs.push(summary);
        progress(`cycle ${i + 1}: ${count(summary, 'changes.due')} change rows, ${perCycleMs[perCycleMs.length - 1] ?? 0} ms`);
        if (summary.outcome === 'failed') throw new Error(`first sync cycle failed: ${JSON.stringify(describeRun(summary))}`);
        if (isQuiet(summary)) return;
      }
      throw new Error(`first sync did not settle in ${MAX_CYCLES} cycles`);
    });
    const requests: RequestCounts = measured.requests;
    const mapped = { contact: 0, appointment: 0, task: 0, email: 0 };
    for await (const mapping of world.runtime.store.listMappings(MAILBOX)) if (mapping.state === 'linked') mapped[mapping.kind] += 1;
    const totalMapped = mapped.contact + mapped.appointment + mapped.task + mapped.email;
    const writes = runs.map(writesOf).reduce((a, w) => ({ outlook: a.outlook + w.outlook, crm: a.crm + w.crm }), { outlook: 0, crm: 0 });
    const firstSettled = runs.findIndex((r) => writesOf(r).outlook + writesOf(r).crm === 0 && count(r, 'changes.due') === 0);

    // Floor: read every stream once (⌈items/page⌉ delta pages; an empty stream still costs its one request), hydrate
    // every tracked item in $batches of 20, stamp each in Outlook in batches of 20; in the CRM one feed read per kind
    // and the creates in batches of 20 (DESIGN.md §10).
    const pages = (n: number) => Math.max(1, Math.ceil(n / GRAPH_PAGE_SIZE));
    const streamsFloor = pages(shape.contacts) + pages(shape.events) + pages(shape.tasks) + pages(shape.messages) + pages(0);
    const batches = (n: number) => Math.ceil(n / 20);
    const graphFloor = streamsFloor + batches(tracked) + batches(tracked);
    const crmFloor = 4 + batches(tracked);
    const perTracked = (n: number) => Math.round((n / tracked) * 1000) / 1000;
    const b = '3 first sync';
    const size = `${shape.contacts} contacts, ${shape.events} events, ${shape.tasks} tasks, ${shape.messages} messages (${shape.trackedMessages} tracked)`;
    const figures: BenchFigure[] = [
      { benchmark: b, metric: 'size', value: scale, unit: '× full', note: `${size}${scale === 1 ? '' : '; BENCH_FULL=1 runs the full size'}` },
      { benchmark: b, metric: 'cycles until quiet', value: runs.length, unit: 'cycles', floor: Math.ceil(tracked / 500) + 1, note: `≤ 500 change rows applied per cycle (production default); last cycle is the quiet one` },
      { benchmark: b, metric: 'wall time (all cycles)', value: measured.ms, unit: 'ms', note: `per cycle: ${perCycleMs.join(', ')} ms` },
      { benchmark: b, metric: 'items linked', value: totalMapped, unit: 'pairs', floor: tracked, note: `${mapped.contact} contacts, ${mapped.appointment} appointments, ${mapped.task} tasks, ${mapped.email} e-mails` },
      { benchmark: b, metric: 'Graph requests per tracked item', value: perTracked(requests.graph), unit: 'req/item', floor: perTracked(graphFloor), note: `${requests.graph} requests; floor ${graphFloor} = ${streamsFloor} delta pages (page ${GRAPH_PAGE_SIZE}) + ⌈${tracked}/20⌉ reads + ⌈${tracked}/20⌉ stamp writes` },
      { benchmark: b, metric: 'Graph budget units per tracked item', value: perTracked(graphBudgetUnits(requests)), unit: 'req/item', floor: perTracked(graphFloor), note: `${graphBudgetUnits(requests)} incl. $batch sub-requests; at 10,000 per 10 min that is ≥ ${(graphBudgetUnits(requests) / 1000).toFixed(1)} min of the mailbox's Graph budget` },
      { benchmark: b, metric: 'CRM requests per tracked item', value: perTracked(requests.crm), unit: 'req/item', floor: perTracked(crmFloor), note: `${requests.crm} requests; floor ${crmFloor} = 4 feeds + ⌈${tracked}/20⌉ batched creates` },
      { benchmark: b, metric: 'Table Storage requests per tracked item', value: perTracked(requests.tables), unit: 'req/item', note: `${requests.tables} requests; ${topKinds(requests.tablesByKind)}` },
      { benchmark: b, metric: 'writes per tracked item', value: perTracked(writes.outlook + writes.crm), unit: 'writes/item', floor: 2, note: `${writes.crm} CRM creates, ${writes.outlook} Outlook stamps` },
      { benchmark: b, metric: 'throughput', value: Math.round((tracked / measured.ms) * 1000 * 10) / 10, unit: 'items/s', note: 'tracked items linked per second of cycle time (simulators, no network latency)' },
      { benchmark: b, metric: 'peak RSS', value: measured.memory.peakRssMiB, unit: 'MiB', note: `before: ${measured.memory.baseRssMiB} MiB (simulators hold the seeded mailbox in the same process)` },
      { benchmark: b, metric: 'peak heap growth', value: measured.memory.heapGrowthMiB, unit: 'MiB', note: 'peak heapUsed above the heap before the first cycle (after GC); uncollected garbage included' },
      { benchmark: b, metric: 'heap retained after GC', value: measured.memory.heapRetainedMiB, unit: 'MiB', note: 'after the last cycle, GC run; includes the simulators\' request logs and new stored items' },
    ];
    return {
      benchmark: 'first-sync',
      figures,
      details: { scale, shape, tracked, items, requests, runs: runs.map(describeRun), perCycleMs, floors: { graph: graphFloor, crm: crmFloor }, firstSettledCycle: firstSettled, memory: measured.memory },
      ms: Math.round(performance.now() - started),
    };
  } finally {
    await world.stop();
  }
}
