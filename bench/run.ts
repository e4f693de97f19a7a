// `npm run bench`: runs every benchmark, prints a readable table and writes a machine-readable report
// (bench-report.json). Each figure is shown beside the floor or baseline it is judged against (docs/benchmarks.md).
// Every benchmark runs in a child process of its own, so its memory figures are its own and a failure stays local.
// Benchmarks report; they assert nothing about timings.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { performance } from 'node:perf_hooks';
import { benchCore } from './core';
import { formatTable, type BenchFigure, type BenchResult } from './figures';
import { benchFirstSync, firstSyncScale } from './first-sync';
import { benchIncremental, incrementalItems } from './incremental';
import { azuriteKeyedLookups } from './env';
import { benchManyMailboxes } from './many-mailboxes';

export type { BenchFigure, BenchResult } from './figures';

const BENCHMARKS: Record<string, () => Promise<BenchResult>> = {
  core: runCore,
  incremental: benchIncremental,
  'first-sync': benchFirstSync,
  'many-mailboxes': benchManyMailboxes,
};

const RESULT_MARKER = '@@bench-result ';

async function runCore(): Promise<BenchResult> {
  const started = performance.now();
  const figures: BenchFigure[] = [];
  const rows = await benchCore();
  for (const row of rows) {
    figures.push({ benchmark: '5 core plan+merge', metric: row.name, value: row.itemsPerSecond, unit: 'items/s', note: row.note });
  }
  return { benchmark: 'core', figures, details: { rows }, ms: Math.round(performance.now() - started) };
}

/** Child mode: run one benchmark and hand its result to the parent on stdout. */
async function child(name: string): Promise<void> {
  const bench = BENCHMARKS[name];
  if (!bench) throw new Error(`unknown benchmark ${name}`);
  const result = await bench();
  process.stdout.write(`${RESULT_MARKER}${JSON.stringify(result)}\n`);
}

function runChild(name: string): Promise<BenchResult> {
  return new Promise((resolve) => {
    const started = performance.now();
    const proc = spawn(process.execPath, ['--expose-gc', __filename, '--child', name], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    proc.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    proc.on('close', (code) => {
      const line = stdout.split('\n').find((l) => l.startsWith(RESULT_MARKER));
      if (line) {
        resolve(JSON.parse(line.slice(RESULT_MARKER.length)) as BenchResult);
        return;
      }
      resolve({ benchmark: name, figures: [], details: {}, ms: Math.round(performance.now() - started), error: `exited with code ${String(code)} without a result` });
    });
  });
}

function selected(): string[] {
  const only = process.env.BENCH_ONLY?.split(',').map((s) => s.trim()).filter(Boolean);
  if (!only || only.length === 0) return Object.keys(BENCHMARKS);
  const unknown = only.filter((name) => !(name in BENCHMARKS));
  if (unknown.length > 0) throw new Error(`BENCH_ONLY: unknown benchmark(s) ${unknown.join(', ')}; known: ${Object.keys(BENCHMARKS).join(', ')}`);
  return only;
}

async function main(): Promise<void> {
  const childIndex = process.argv.indexOf('--child');
  if (childIndex >= 0) return child(process.argv[childIndex + 1] ?? '');

  const started = performance.now();
  const loadAtStart = loadavg()[0] ?? 0;
  const results: BenchResult[] = [];
  for (const name of selected()) {
    process.stderr.write(`running ${name}…\n`);
    const result = await runChild(name);
    process.stderr.write(`  ${name}: ${(result.ms / 1000).toFixed(1)} s${result.error ? ` — FAILED: ${result.error}` : ''}\n`);
    results.push(result);
  }
  const figures = results.flatMap((r) => r.figures);
  const report = {
    machine: { cores: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, loadAverage1m: { atStart: loadAtStart, atEnd: loadavg()[0] ?? 0 } },
    at: new Date().toISOString(),
    settings: {
      full: process.env.BENCH_FULL === '1',
      firstSyncScale: firstSyncScale(),
      incrementalItems: incrementalItems(),
      mailboxes: Number(process.env.BENCH_MAILBOXES ?? 200),
      workers: Number(process.env.BENCH_WORKERS ?? 4),
      azuriteKeyedLookups: azuriteKeyedLookups(),
      only: process.env.BENCH_ONLY ?? null,
    },
    totalMs: Math.round(performance.now() - started),
    figures,
    benchmarks: results.map((r) => ({ benchmark: r.benchmark, ms: r.ms, error: r.error ?? null, details: r.details })),
  };
  const path = process.env.BENCH_REPORT ?? 'bench-report.json';
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
  console.log(formatTable(figures));
  const failed = results.filter((r) => r.error);
  for (const r of failed) console.log(`\n${r.benchmark}: FAILED — ${r.error ?? ''}`);
  console.log(`\n${figures.length} figures in ${(report.totalMs / 1000).toFixed(0)} s on ${report.machine.cores} cores (${report.machine.cpu}), Node ${report.machine.node}, load average ${loadAtStart.toFixed(1)} → ${report.machine.loadAverage1m.atEnd.toFixed(1)}${report.settings.azuriteKeyedLookups ? '' : ', Azurite without keyed lookups'}. Report written to ${path}; docs/benchmarks.md explains every figure.`);
  if (failed.length > 0) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
