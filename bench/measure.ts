// What a benchmark measures around a stretch of work: requests (from the simulators' own request logs and the state
// store's pipeline counter), wall time, and memory (sampled while the work runs).
import { performance } from 'node:perf_hooks';
import type { BenchWorld } from './env';

export interface RequestCounts {
  /** Graph HTTP requests the worker sent (a `$batch` counts once; token requests excluded). */
  graph: number;
  /** Sub-requests inside those `$batch`es. Each counts against the 10,000 / 10 min mailbox budget (service-limits.md §1). */
  graphSubrequests: number;
  /** Dataverse Web API requests (a `$batch` counts once; token requests excluded). */
  crm: number;
  crmSubrequests: number;
  /** Table Storage HTTP requests of the state store (leases, cursors, change rows, mappings, run summaries). */
  tables: number;
  /** Graph and CRM responses with status 429 (throttled); the benchmarks turn throttling off, so this stays 0. */
  throttled: number;
  /** `METHOD table shape` → count (env.ts tableRequestKind). */
  tablesByKind: Record<string, number>;
  /** `METHOD routeKind` → count, top-level Graph requests. */
  graphByKind: Record<string, number>;
  /** `METHOD kind entitySet` → count, top-level Dataverse requests. */
  crmByKind: Record<string, number>;
}

/** Graph requests that count against the mailbox budget: direct requests plus `$batch` sub-requests. */
export function graphBudgetUnits(counts: RequestCounts): number {
  return counts.graph - (counts.graphByKind['POST $batch'] ?? 0) + counts.graphSubrequests;
}

/** Clears both simulators' request logs and notes the store counter: counts() then covers only what follows. */
export class RequestMeter {
  private tablesAtStart: number;
  private tablesByKindAtStart: Record<string, number>;

  constructor(private readonly world: BenchWorld) {
    world.graph.requestLog.reset();
    world.dataverse.requestLog.reset();
    this.tablesAtStart = world.tableRequests();
    this.tablesByKindAtStart = world.tableRequestsByKind();
  }

  counts(): RequestCounts {
    const counts: RequestCounts = { graph: 0, graphSubrequests: 0, crm: 0, crmSubrequests: 0, tables: this.world.tableRequests() - this.tablesAtStart, throttled: 0, tablesByKind: {}, graphByKind: {}, crmByKind: {} };
    for (const [kind, n] of Object.entries(this.world.tableRequestsByKind())) {
      const made = n - (this.tablesByKindAtStart[kind] ?? 0);
      if (made > 0) counts.tablesByKind[kind] = made;
    }
    for (const entry of this.world.graph.requestLog.list()) {
      if (entry.kind.startsWith('identity')) continue;
      if (entry.status === 429) counts.throttled += 1;
      if (entry.viaBatch) {
        counts.graphSubrequests += 1;
        continue;
      }
      counts.graph += 1;
      const key = `${entry.method} ${entry.kind}`;
      counts.graphByKind[key] = (counts.graphByKind[key] ?? 0) + 1;
    }
    for (const entry of this.world.dataverse.requestLog.entries) {
      if (entry.kind === 'identity') continue;
      if (entry.status === 429) counts.throttled += 1;
      if (entry.viaBatch) {
        counts.crmSubrequests += 1;
        continue;
      }
      counts.crm += 1;
      const key = `${entry.method} ${entry.kind}${entry.entitySet ? ` ${entry.entitySet}` : ''}`;
      counts.crmByKind[key] = (counts.crmByKind[key] ?? 0) + 1;
    }
    return counts;
  }
}

export interface MemoryPeak {
  /** Resident set size before the work (after a GC when the process runs with --expose-gc), MiB. */
  baseRssMiB: number;
  peakRssMiB: number;
  baseHeapMiB: number;
  peakHeapMiB: number;
  /** peakHeap − baseHeap: the most the work added to the heap, garbage not yet collected included. */
  heapGrowthMiB: number;
  /** heapUsed after a GC at the end − baseHeap: what stayed (new mappings' and request logs' memory included). */
  heapRetainedMiB: number;
}

const MiB = 1024 * 1024;

function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) gc();
}

/** Samples rss and heapUsed every few milliseconds (and at every `sample()` call) while a piece of work runs. */
export class MemorySampler {
  private baseRss: number;
  private baseHeap: number;
  private peakRss: number;
  private peakHeap: number;
  private readonly timer: NodeJS.Timeout;

  constructor(intervalMs = 10) {
    collectGarbage();
    const usage = process.memoryUsage();
    this.baseRss = usage.rss;
    this.baseHeap = usage.heapUsed;
    this.peakRss = usage.rss;
    this.peakHeap = usage.heapUsed;
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  sample(): void {
    const usage = process.memoryUsage();
    if (usage.rss > this.peakRss) this.peakRss = usage.rss;
    if (usage.heapUsed > this.peakHeap) this.peakHeap = usage.heapUsed;
  }

  stop(): MemoryPeak {
    this.sample();
    clearInterval(this.timer);
    collectGarbage();
    const after = process.memoryUsage().heapUsed;
    const round = (bytes: number) => Math.round((bytes / MiB) * 10) / 10;
    return {
      heapRetainedMiB: round(after - this.baseHeap),
      baseRssMiB: round(this.baseRss),
      peakRssMiB: round(this.peakRss),
      baseHeapMiB: round(this.baseHeap),
      peakHeapMiB: round(this.peakHeap),
      heapGrowthMiB: round(this.peakHeap - this.baseHeap),
    };
  }
}

export interface Measured<T> {
  result: T;
  ms: number;
  requests: RequestCounts;
  memory: MemoryPeak;
}

/** Runs `work` with fresh request logs, a memory sampler and a timer. */
export async function measure<T>(world: BenchWorld, work: () => Promise<T>): Promise<Measured<T>> {
  const meter = new RequestMeter(world);
  const sampler = new MemorySampler();
  const start = performance.now();
  try {
    const result = await work();
    const ms = Math.round(performance.now() - start);
    return { result, ms, requests: meter.counts(), memory: sampler.stop() };
  } catch (error) {
    sampler.stop();
    throw error;
  }
}

/** `a 12, b 3, …`: the largest entries of a by-kind count, for a table note. */
export function topKinds(byKind: Record<string, number>, n = 4): string {
  return Object.entries(byKind)
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([kind, made]) => `${kind} ${made}`)
    .join(', ');
}
