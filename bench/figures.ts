// The report's vocabulary: one figure per measured number, each beside the floor (the least the design allows,
// DESIGN.md §10) or the baseline (the full-scan cycle, measured in the same run) it is judged against.

export interface BenchFigure {
  benchmark: string;
  metric: string;
  value: number;
  unit: string;
  /** The floor the figure is judged against, when there is one (value ÷ floor is the overhead factor). */
  floor?: number;
  /** A baseline measured in the same run, e.g. the full-scan cycle beside the delta cycle. */
  baseline?: number;
  /** What the baseline is (shown in the table's column header notes and in the JSON). */
  baselineLabel?: string;
  note?: string;
}

/** What one benchmark (one child process) hands back to `run.ts`. */
export interface BenchResult {
  benchmark: string;
  figures: BenchFigure[];
  /** Raw material behind the figures (request breakdowns by route, cycle summaries, sizes used). */
  details: Record<string, unknown>;
  /** Wall time of the whole benchmark, setup included. */
  ms: number;
  error?: string;
}

export function formatNumber(n: number): string {
  if (Number.isInteger(n)) return String(n);
  return Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 1 ? n.toFixed(2) : n.toFixed(3);
}

/** Plain-text table: one row per figure; `×floor` is value ÷ floor, `vs baseline` is value ÷ baseline. */
export function formatTable(figures: readonly BenchFigure[]): string {
  const header = ['benchmark', 'metric', 'value', 'unit', 'floor', '×floor', 'baseline', 'vs baseline', 'note'];
  const rows = figures.map((f) => [
    f.benchmark,
    f.metric,
    formatNumber(f.value),
    f.unit,
    f.floor === undefined ? '' : formatNumber(f.floor),
    f.floor === undefined || f.floor === 0 ? '' : `${(f.value / f.floor).toFixed(2)}×`,
    f.baseline === undefined ? '' : formatNumber(f.baseline),
    f.baseline === undefined || f.baseline === 0 ? '' : `${((f.value / f.baseline) * 100).toFixed(1)}%`,
    f.note ?? '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (i === header.length - 1 ? 0 : (r[i] ?? '').length))));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const out = [line(header), line(widths.map((w) => '-'.repeat(w)))];
  let previous = '';
  for (const [index, r] of rows.entries()) {
    const benchmark = figures[index]?.benchmark ?? '';
    if (previous && benchmark !== previous) out.push('');
    previous = benchmark;
    out.push(line(r));
  }
  return out.join('\n');
}
