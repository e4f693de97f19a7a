// `npm run bench`: runs every benchmark, prints a readable table and writes a machine-readable report
// (bench-report.json). Each figure is shown beside the floor or baseline it is judged against.
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { benchCore } from './core';

export interface BenchFigure {
  benchmark: string;
  metric: string;
  value: number;
  unit: string;
  /** The floor or baseline the figure is judged against, when there is one. */
  floor?: number;
  note?: string;
}

async function main(): Promise<void> {
  const figures: BenchFigure[] = [];
  for (const row of await benchCore()) {
    figures.push({ benchmark: 'core plan+merge', metric: row.name, value: row.itemsPerSecond, unit: 'items/s', note: row.note });
  }

  const report = { machine: { cores: cpus().length, node: process.version }, at: new Date().toISOString(), figures };
  writeFileSync('bench-report.json', JSON.stringify(report, null, 2));
  const rows = figures.map((f) => [f.benchmark, f.metric, formatNumber(f.value), f.unit, f.floor === undefined ? '' : formatNumber(f.floor), f.note ?? '']);
  const header = ['benchmark', 'metric', 'value', 'unit', 'floor/baseline', 'note'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
  console.log('\nReport written to bench-report.json');
}

function formatNumber(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(2);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
