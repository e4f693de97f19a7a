// The in-memory twin must be faithful: random sequences of commits and recorded changes are applied to it and to the
// Table Storage adapter (on Azurite), and after every step both must report the same outcomes and the same state.
import fc from 'fast-check';
import { MemoryStateStore } from '../../src/adapters/memory/state-store';
import { TableStateStore } from '../../src/adapters/tables/state-store';
import type { MappingRow } from '../../src/core/model';
import type { ChangeRow, CommitResult, CommitUnit, StateStore } from '../../src/ports/state-store';
import { startAzurite, type AzuriteInstance } from '../support/azurite';

const MAILBOX = 'diff@contoso.example';
const MAP_IDS = ['m0', 'm1', 'm2', 'm3'];
const IDS = ['i0', 'i1', 'i2', 'i3', 'i4'];
const KEYS = ['k0', 'k1', 'k2'];

type EtagChoice = 'fresh' | 'stale' | 'none';

type UnitSpec =
  | { type: 'insert'; mapId: string; outlookId: string | null; crmId: string | null }
  | { type: 'update'; mapId: string; outlookId: string | null; hash: string; etag: EtagChoice }
  | { type: 'remove'; mapId: string; etag: EtagChoice }
  | { type: 'resolve'; key: string; etag: EtagChoice; alsoUpdate: string | null }
  | { type: 'fail'; key: string; etag: EtagChoice };

type Step = { type: 'commit'; units: UnitSpec[] } | { type: 'record'; key: string; side: 'outlook' | 'crm'; minute: number };

const idOrNull = fc.option(fc.constantFrom(...IDS), { nil: null, freq: 4 });
const etagChoice = fc.constantFrom<EtagChoice>('fresh', 'fresh', 'stale', 'none');
const unitSpec: fc.Arbitrary<UnitSpec> = fc.oneof(
  fc.record({ type: fc.constant('insert' as const), mapId: fc.constantFrom(...MAP_IDS), outlookId: idOrNull, crmId: idOrNull }),
  fc.record({ type: fc.constant('update' as const), mapId: fc.constantFrom(...MAP_IDS), outlookId: idOrNull, hash: fc.constantFrom('a', 'b', 'c'), etag: etagChoice }),
  fc.record({ type: fc.constant('remove' as const), mapId: fc.constantFrom(...MAP_IDS), etag: etagChoice }),
  fc.record({ type: fc.constant('resolve' as const), key: fc.constantFrom(...KEYS), etag: etagChoice, alsoUpdate: fc.option(fc.constantFrom(...MAP_IDS), { nil: null }) }),
  fc.record({ type: fc.constant('fail' as const), key: fc.constantFrom(...KEYS), etag: etagChoice }),
);
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ type: fc.constant('commit' as const), units: fc.array(unitSpec, { minLength: 1, maxLength: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('record' as const), key: fc.constantFrom(...KEYS), side: fc.constantFrom<'outlook' | 'crm'>('outlook', 'crm'), minute: fc.integer({ min: 0, max: 59 }) }) },
);

/** One adapter under test, with the ETags it handed out (the first ones are "stale" once a row changed). */
class Subject {
  private readonly firstMappingEtag = new Map<string, string>();
  private readonly firstChangeEtag = new Map<string, string>();

  constructor(readonly store: StateStore) {}

  async units(specs: UnitSpec[]): Promise<CommitUnit[]> {
    const units: CommitUnit[] = [];
    for (const spec of specs) units.push(await this.unit(spec));
    return units;
  }

  remember(results: CommitResult[]): void {
    for (const result of results) if (result.ok && result.mapping?.etag) this.firstMappingEtag.set(result.mapping.mapId, this.firstMappingEtag.get(result.mapping.mapId) ?? result.mapping.etag);
  }

  async rememberChange(key: string): Promise<void> {
    const row = await this.store.getChange(MAILBOX, key);
    if (row?.etag && !this.firstChangeEtag.has(key)) this.firstChangeEtag.set(key, row.etag);
  }

  private async unit(spec: UnitSpec): Promise<CommitUnit> {
    switch (spec.type) {
      case 'insert':
        return { mapping: { put: mapping(spec.mapId, spec.outlookId, spec.crmId, 'h') } };
      case 'update': {
        const current = await this.store.getMapping(MAILBOX, spec.mapId);
        const base = current ?? mapping(spec.mapId, null, null, 'h');
        return { mapping: { put: { ...base, outlookId: spec.outlookId, baselineHash: spec.hash, etag: this.mappingEtag(spec.mapId, current, spec.etag) } } };
      }
      case 'remove': {
        const current = await this.store.getMapping(MAILBOX, spec.mapId);
        const base = current ?? mapping(spec.mapId, null, null, 'h');
        return { mapping: { remove: { ...base, etag: this.mappingEtag(spec.mapId, current, spec.etag) } } };
      }
      case 'resolve': {
        const current = await this.store.getChange(MAILBOX, spec.key);
        const etag = this.changeEtag(spec.key, current, spec.etag);
        const unit: CommitUnit = { deleteChange: etag === undefined ? { key: spec.key } : { key: spec.key, etag } };
        if (spec.alsoUpdate) {
          const row = await this.store.getMapping(MAILBOX, spec.alsoUpdate);
          if (row) unit.mapping = { put: { ...row, baselineHash: 'resolved' } };
        }
        return unit;
      }
      case 'fail': {
        const current = await this.store.getChange(MAILBOX, spec.key);
        const base: ChangeRow = current ?? emptyChange(spec.key);
        const etag = this.changeEtag(spec.key, current, spec.etag);
        const { etag: _ignored, ...rest } = base;
        return { putChange: { ...rest, attempts: base.attempts + 1, nextAttemptAt: '2026-01-01T02:00:00.000Z', lastError: 'boom', reason: 'test', ...(etag === undefined ? {} : { etag }) } };
      }
    }
  }

  // Only ETags this store really issued are used: "stale" means the first one, when the row has changed since.
  private mappingEtag(mapId: string, current: MappingRow | null, choice: EtagChoice): string | undefined {
    if (choice === 'none') return undefined;
    if (choice === 'stale') return this.firstMappingEtag.get(mapId) ?? current?.etag;
    return current?.etag ?? this.firstMappingEtag.get(mapId);
  }

  private changeEtag(key: string, current: ChangeRow | null, choice: EtagChoice): string | undefined {
    if (choice === 'none') return undefined;
    if (choice === 'stale') return this.firstChangeEtag.get(key) ?? current?.etag;
    return current?.etag ?? this.firstChangeEtag.get(key);
  }
}

function mapping(mapId: string, outlookId: string | null, crmId: string | null, hash: string): MappingRow {
  return { mapId, kind: 'contact', outlookId, crmId, state: 'linked', trackedVia: 'both', baseline: { n: mapId }, baselineHash: hash, outlookVersion: null, crmVersion: null, visitedEpoch: 0, verifiedAt: null };
}

function emptyChange(key: string): ChangeRow {
  return { key, kind: 'contact', mapId: null, outlookId: null, outlookContainer: null, crmId: null, outlookChange: null, outlookAt: null, crmChange: null, crmAt: null, attempts: 0, nextAttemptAt: '2026-01-01T00:00:00.000Z', lastError: null, reason: null };
}

function outcome(results: CommitResult[]): string[] {
  return results.map((r) => (r.ok ? `ok:${r.mapping ? r.mapping.baselineHash : '-'}` : r.error.name));
}

async function snapshot(store: StateStore): Promise<unknown> {
  const mappings: unknown[] = [];
  for await (const row of store.listMappings(MAILBOX)) mappings.push({ ...row, etag: undefined });
  mappings.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  const byOutlook: unknown[] = [];
  const byCrm: unknown[] = [];
  for (const id of IDS) {
    byOutlook.push((await store.findMappingByOutlookId(MAILBOX, 'contact', id))?.mapId ?? null);
    byCrm.push((await store.findMappingByCrmId(MAILBOX, 'contact', id))?.mapId ?? null);
  }
  const changes: unknown[] = [];
  for (const key of KEYS) {
    const row = await store.getChange(MAILBOX, key);
    changes.push(row ? { ...row, etag: undefined } : null);
  }
  return { mappings, byOutlook, byCrm, changes, count: await store.countChanges(MAILBOX), due: (await store.listDueChanges(MAILBOX, '2026-01-01T01:00:00Z', 10)).map((r) => r.key) };
}

let azurite: AzuriteInstance;
let run = 0;

beforeAll(async () => {
  azurite = await startAzurite({ table: true });
});

afterAll(async () => {
  await azurite?.stop();
});

it('the in-memory twin and Table Storage agree on every outcome and every state, step by step', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 14 }), async (steps) => {
      run += 1;
      const memory = new Subject(new MemoryStateStore());
      const tables = new Subject(new TableStateStore({ connection: { connectionString: azurite.connectionString }, tablePrefix: `D${run}` }));
      for (const s of steps) {
        if (s.type === 'record') {
          const at = `2026-01-01T00:${String(s.minute).padStart(2, '0')}:00Z`;
          const record = { key: s.key, kind: 'contact' as const, mapId: null, side: s.side, change: 'upsert' as const, at };
          for (const subject of [memory, tables]) {
            await subject.store.recordChanges(MAILBOX, [record]);
            await subject.rememberChange(s.key);
          }
        } else {
          const memoryResults = await memory.store.commit(MAILBOX, await memory.units(s.units));
          const tableResults = await tables.store.commit(MAILBOX, await tables.units(s.units));
          memory.remember(memoryResults);
          tables.remember(tableResults);
          expect(outcome(tableResults)).toEqual(outcome(memoryResults));
        }
        expect(await snapshot(tables.store)).toEqual(await snapshot(memory.store));
      }
    }),
    { numRuns: process.env.LONG_PROPERTY_RUNS ? 300 : 20 },
  );
});
