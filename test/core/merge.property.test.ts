// Properties of the three-way field merge (DESIGN.md §5; sync-lessons.md §5.4 layer 1).
import fc from 'fast-check';
import { DEFAULT_SKEW_TOLERANCE_MS, merge, type MergeInput } from '../../src/core/merge';
import type { ConflictPolicy, JsonValue, Side } from '../../src/core/model';
import { NUM_RUNS } from './support';

const NAMES = ['a', 'b', 'c', 'd', 'e'];
const FIELDS = NAMES.map((name) => ({ name, type: name === 'e' ? ('email' as const) : ('text' as const) }));
// A small domain so sides often collide; 'X@y.com' vs 'x@y.com' exercises case-insensitive e-mail comparison.
const value = fc.constantFrom<JsonValue>(null, 'v1', 'v2', 'v3', 'x@y.com', 'X@y.com');
const values = fc.dictionary(fc.constantFrom(...NAMES), value);
const instant = fc.integer({ min: 0, max: 4 }).map((m) => `2026-01-01T00:0${m}:00Z`);

const input = fc.record({
  base: fc.option(values, { nil: null }),
  outlook: values,
  crm: values,
  outlookModified: instant,
  crmModified: instant,
  policy: fc.constantFrom<ConflictPolicy>('latest', 'crm-wins', 'outlook-wins'),
  tieBreak: fc.constantFrom<Side>('outlook', 'crm'),
});

function run(i: Omit<MergeInput, 'fields'>) {
  return merge({ fields: FIELDS, ...i });
}

const get = (v: Record<string, JsonValue> | null, k: string): JsonValue => v?.[k] ?? null;
const key = (k: string, v: JsonValue) => (k === 'e' && typeof v === 'string' ? v.toLowerCase() : v);

test('a field changed on one side only takes that side value', () => {
  fc.assert(
    fc.property(input, (i) => {
      fc.pre(i.base !== null);
      const r = run(i);
      for (const k of NAMES) {
        const b = key(k, get(i.base, k));
        const o = key(k, get(i.outlook, k));
        const c = key(k, get(i.crm, k));
        if (o !== b && c === b) expect(key(k, r.merged[k] ?? null)).toBe(o);
        if (c !== b && o === b) expect(key(k, r.merged[k] ?? null)).toBe(c);
      }
    }),
    { numRuns: NUM_RUNS },
  );
});

test('merge(base, x, x) = x with no conflict and no writes', () => {
  fc.assert(
    fc.property(input, (i) => {
      const r = run({ ...i, crm: i.outlook });
      for (const k of NAMES) expect(r.merged[k]).toEqual(get(i.outlook, k));
      expect(r.conflicts).toEqual([]);
      expect(r.outlookWrites).toEqual([]);
      expect(r.crmWrites).toEqual([]);
    }),
    { numRuns: NUM_RUNS },
  );
});

test('merge is deterministic', () => {
  fc.assert(
    fc.property(input, (i) => {
      expect(run(structuredClone(i))).toEqual(run(structuredClone(i)));
    }),
    { numRuns: NUM_RUNS },
  );
});

test('swapping the sides (and the policy) swaps the writes and keeps the merged values', () => {
  const flip = (s: Side): Side => (s === 'crm' ? 'outlook' : 'crm');
  const flipPolicy = (p: ConflictPolicy): ConflictPolicy => (p === 'crm-wins' ? 'outlook-wins' : p === 'outlook-wins' ? 'crm-wins' : p);
  fc.assert(
    fc.property(input, (i) => {
      const r = run(i);
      const s = run({
        ...i,
        outlook: i.crm,
        crm: i.outlook,
        outlookModified: i.crmModified,
        crmModified: i.outlookModified,
        policy: flipPolicy(i.policy),
        tieBreak: flip(i.tieBreak),
      });
      for (const k of NAMES) expect(key(k, s.merged[k] ?? null)).toEqual(key(k, r.merged[k] ?? null));
      expect(s.outlookWrites).toEqual(r.crmWrites);
      expect(s.crmWrites).toEqual(r.outlookWrites);
    }),
    { numRuns: NUM_RUNS },
  );
});

test('unchanged fields are never written; a side is written only where it differs from the merged value', () => {
  fc.assert(
    fc.property(input, (i) => {
      const r = run(i);
      for (const k of NAMES) {
        const same = (a: JsonValue, b: JsonValue) => key(k, a) === key(k, b);
        if (i.base && same(get(i.base, k), get(i.outlook, k)) && same(get(i.base, k), get(i.crm, k))) {
          expect(r.outlookWrites).not.toContain(k);
          expect(r.crmWrites).not.toContain(k);
        }
        expect(r.outlookWrites.includes(k)).toBe(!same(get(i.outlook, k), r.merged[k] ?? null));
        expect(r.crmWrites.includes(k)).toBe(!same(get(i.crm, k), r.merged[k] ?? null));
      }
    }),
    { numRuns: NUM_RUNS },
  );
});

test('merging again on the result (both sides hold the merged values, the baseline is the merge) writes nothing', () => {
  fc.assert(
    fc.property(input, (i) => {
      const r = run(i);
      const again = run({ ...i, base: r.merged, outlook: r.merged, crm: r.merged });
      expect(again.outlookWrites).toEqual([]);
      expect(again.crmWrites).toEqual([]);
      expect(again.conflicts).toEqual([]);
      expect(again.merged).toEqual(r.merged);
    }),
    { numRuns: NUM_RUNS },
  );
});

test('every true conflict is logged with both values and the winner the policy names', () => {
  fc.assert(
    fc.property(input, (i) => {
      const r = run(i);
      for (const c of r.conflicts) {
        expect(key(c.field, c.outlook ?? null)).not.toEqual(key(c.field, c.crm ?? null));
        const expected = c.winner === 'outlook' ? c.outlook : c.crm;
        expect(r.merged[c.field]).toEqual(expected);
        if (i.policy === 'crm-wins') expect(c.winner).toBe('crm');
        if (i.policy === 'outlook-wins') expect(c.winner).toBe('outlook');
        // `latest`: the later side wins beyond the skew tolerance (default 2 minutes, sync-lessons.md §1.3); within
        // it, and on a first link (no baseline: the timestamps say nothing), the tie-break side wins.
        const apart = Math.abs(Date.parse(i.outlookModified) - Date.parse(i.crmModified));
        if (i.policy === 'latest' && (i.base === null || apart <= DEFAULT_SKEW_TOLERANCE_MS)) expect(c.winner).toBe(i.tieBreak);
        else if (i.policy === 'latest') expect(c.winner).toBe(i.outlookModified > i.crmModified ? 'outlook' : 'crm');
      }
    }),
    { numRuns: NUM_RUNS },
  );
});
