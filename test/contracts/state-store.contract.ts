// The StateStore contract (src/ports/state-store.ts, DESIGN.md §3), run against every adapter: the in-memory twin and
// Table Storage on Azurite. Every guarantee the app relies on has a test here that fails when it breaks.
import { randomBytes } from 'node:crypto';
import type { MappingRow } from '../../src/core/model';
import { ConcurrencyError, ItemRejectedError } from '../../src/ports/errors';
import type { ChangeRecord, ChangeRow, CommitResult, RunSummary, StateStore } from '../../src/ports/state-store';

export interface StateStoreFixture {
  store: StateStore;
  /** Entity group transactions submitted so far. */
  transactions(): number;
}

const MAILBOX = 'Alice@Contoso.example';

// service-limits.md §2: keys may not contain / \ # ? or control characters; Graph ids contain / and +.
const AWKWARD_IDS = [
  'AAMkAGI2TG93AAA=/a+b',
  'back\\slash#hash?query',
  'tab\there\nnewline\u0000nul\u007fdel\u0085nel\u009f',
  'ünïcødé 日本語 😀',
  '%2F%23 percent',
  '..',
];

function mapping(mapId: string, overrides: Partial<MappingRow> = {}): MappingRow {
  return {
    mapId,
    kind: 'contact',
    outlookId: `o-${mapId}`,
    outlookContainer: 'contacts',
    crmId: `c-${mapId}`,
    state: 'linked',
    trackedVia: 'outlook',
    baseline: { givenName: 'Ada', surname: 'Lovelace' },
    baselineHash: 'h1',
    outlookVersion: 'ck1',
    crmVersion: 'W/"1"',
    visitedEpoch: 0,
    verifiedAt: null,
    ...overrides,
  };
}

function change(key: string, side: 'outlook' | 'crm', at: string, extra: Partial<ChangeRecord> = {}): ChangeRecord {
  return { key, kind: 'contact', mapId: null, side, change: side === 'outlook' ? 'upsert' : 'upsert', at, ...extra };
}

function ok(result: CommitResult | undefined): MappingRow | undefined {
  if (!result) throw new Error('missing commit result');
  if (!result.ok) throw result.error;
  return result.mapping;
}

function failure(result: CommitResult | undefined): Error {
  if (!result || result.ok) throw new Error('expected the unit to fail');
  return result.error;
}

async function insert(store: StateStore, row: MappingRow, mailbox = MAILBOX): Promise<MappingRow> {
  const [result] = await store.commit(mailbox, [{ mapping: { put: row } }]);
  const stored = ok(result);
  if (!stored) throw new Error('commit returned no mapping');
  return stored;
}

function withoutEtag<T extends { etag?: string }>(row: T): Omit<T, 'etag'> {
  const { etag: _etag, ...rest } = row;
  return rest;
}

/** A JSON-safe string that gzip cannot shrink much: hex of random bytes. */
function incompressible(chars: number): string {
  return randomBytes(Math.ceil(chars / 2)).toString('hex').slice(0, chars);
}

export function describeStateStoreContract(name: string, factory: () => Promise<StateStoreFixture>): void {
  describe(`StateStore contract: ${name}`, () => {
    let fixture: StateStoreFixture;
    let store: StateStore;

    beforeEach(async () => {
      fixture = await factory();
      store = fixture.store;
    });

    describe('mappings', () => {
      it('an inserted mapping is found by mapId, by Outlook id and by CRM id, with an ETag', async () => {
        const stored = await insert(store, mapping('m1'));
        expect(stored.etag).toEqual(expect.any(String));
        const byId = await store.getMapping(MAILBOX, 'm1');
        expect(byId).toEqual(stored);
        expect(await store.findMappingByOutlookId(MAILBOX, 'contact', 'o-m1')).toEqual(stored);
        expect(await store.findMappingByCrmId(MAILBOX, 'contact', 'c-m1')).toEqual(stored);
        expect(await store.findMappingByOutlookId(MAILBOX, 'task', 'o-m1')).toBeNull();
        expect(await store.getMapping(MAILBOX, 'other')).toBeNull();
      });

      it('listMappings streams every mapping of the mailbox, optionally of one kind; other mailboxes are separate', async () => {
        await insert(store, mapping('a'));
        await insert(store, mapping('b', { kind: 'task' }));
        await insert(store, mapping('c', { kind: 'task' }), 'bob@contoso.example');
        const all: string[] = [];
        for await (const row of store.listMappings(MAILBOX)) all.push(row.mapId);
        const tasks: string[] = [];
        for await (const row of store.listMappings(MAILBOX, 'task')) tasks.push(row.mapId);
        expect(all.sort()).toEqual(['a', 'b']);
        expect(tasks).toEqual(['b']);
      });

      it('the mailbox is case-insensitive: one partition however it is spelled', async () => {
        await insert(store, mapping('m1'));
        expect(await store.getMapping('alice@contoso.example', 'm1')).not.toBeNull();
        expect(await store.getMapping('ALICE@CONTOSO.EXAMPLE', 'm1')).not.toBeNull();
      });

      it.each(AWKWARD_IDS)('keys with forbidden or unusual characters round-trip: %j', async (id) => {
        // service-limits.md §2: encoded before use as PartitionKey/RowKey, decoded back intact.
        const mailbox = `${id}@mailbox`;
        const row = mapping(id, { outlookId: id, crmId: `${id}-crm` });
        await insert(store, row, mailbox);
        expect(withoutEtag((await store.getMapping(mailbox, id)) as MappingRow)).toEqual(row);
        expect((await store.findMappingByOutlookId(mailbox, 'contact', id))?.mapId).toBe(id);
        expect((await store.findMappingByCrmId(mailbox, 'contact', `${id}-crm`))?.mapId).toBe(id);
        await store.recordChanges(mailbox, [change(id, 'outlook', '2026-01-01T00:00:00Z')]);
        expect((await store.getChange(mailbox, id))?.key).toBe(id);
        await store.setCursor(mailbox, id, `cursor ${id}`);
        expect(await store.listCursors(mailbox)).toEqual(new Map([[id, `cursor ${id}`]]));
      });

      it('the Outlook container round-trips on every read, follows an update, and reads as null when never given', async () => {
        // DESIGN.md §3: a To Do task is read inside its list (graph-behaviour.md §2.5), so the mapping remembers which.
        const list = 'AAMkADlist/+Q==';
        const stored = await insert(store, mapping('t1', { kind: 'task', outlookContainer: list }));
        expect(stored.outlookContainer).toBe(list);
        expect((await store.getMapping(MAILBOX, 't1'))?.outlookContainer).toBe(list);
        expect((await store.findMappingByOutlookId(MAILBOX, 'task', 'o-t1'))?.outlookContainer).toBe(list);
        expect((await store.findMappingByCrmId(MAILBOX, 'task', 'c-t1'))?.outlookContainer).toBe(list);
        const listed: (string | null | undefined)[] = [];
        for await (const row of store.listMappings(MAILBOX, 'task')) listed.push(row.outlookContainer);
        expect(listed).toEqual([list]);
        expect((await store.oldestVerified(MAILBOX, 5)).map((row) => row.outlookContainer)).toEqual([list]);

        ok((await store.commit(MAILBOX, [{ mapping: { put: { ...stored, outlookContainer: 'other-list' } } }]))[0]);
        expect((await store.getMapping(MAILBOX, 't1'))?.outlookContainer).toBe('other-list');

        const { outlookContainer: _omitted, ...legacy } = mapping('m-legacy');
        await insert(store, legacy);
        expect((await store.getMapping(MAILBOX, 'm-legacy'))?.outlookContainer).toBeNull();
        await insert(store, mapping('m-null', { outlookContainer: null }));
        expect((await store.findMappingByOutlookId(MAILBOX, 'contact', 'o-m-null'))?.outlookContainer).toBeNull();
      });

      it('a baseline over the 64 KiB property limit round-trips intact', async () => {
        // service-limits.md §2: string properties hold 64 KiB; never truncate.
        const baseline = { notes: 'lorem ipsum dolor sit amet '.repeat(4000), children: ['a', 'b'], n: 1.5, none: null };
        const stored = await insert(store, mapping('big', { baseline }));
        expect(JSON.stringify(baseline).length).toBeGreaterThan(64 * 1024);
        expect((await store.getMapping(MAILBOX, 'big'))?.baseline).toEqual(baseline);
        expect(stored.baseline).toEqual(baseline);
      });

      it('a ~600 KiB incompressible baseline round-trips intact (split across properties)', async () => {
        const baseline = { a: incompressible(300 * 1024), b: incompressible(300 * 1024) };
        await insert(store, mapping('huge', { baseline }));
        const read = await store.getMapping(MAILBOX, 'huge');
        expect(read?.baseline).toEqual(baseline);
        const listed: MappingRow[] = [];
        for await (const row of store.listMappings(MAILBOX)) listed.push(row);
        expect(listed[0]?.baseline).toEqual(baseline);
      });

      it('a baseline that cannot fit an entity even compressed fails its unit with a reason, and nothing is stored', async () => {
        // service-limits.md §2: entities are at most 1 MiB.
        const [result] = await store.commit(MAILBOX, [{ mapping: { put: mapping('too-big', { baseline: { a: incompressible(2_400_000) } }) } }]);
        const error = failure(result);
        expect(error).toBeInstanceOf(ItemRejectedError);
        expect((error as ItemRejectedError).reason).toBe('state-too-large');
        expect(await store.getMapping(MAILBOX, 'too-big')).toBeNull();
      });

      it('two writers racing on one mapping row: one wins, the other gets ConcurrencyError', async () => {
        const stored = await insert(store, mapping('m1'));
        const [first, second] = await Promise.all([
          store.commit(MAILBOX, [{ mapping: { put: { ...stored, baselineHash: 'writer-1' } } }]),
          store.commit(MAILBOX, [{ mapping: { put: { ...stored, baselineHash: 'writer-2' } } }]),
        ]);
        const results = [first[0], second[0]];
        const winners = results.filter((r) => r?.ok);
        const losers = results.filter((r) => r && !r.ok);
        expect(winners).toHaveLength(1);
        expect(losers).toHaveLength(1);
        expect(failure(losers[0])).toBeInstanceOf(ConcurrencyError);
        const winner = ok(winners[0]);
        expect((await store.getMapping(MAILBOX, 'm1'))?.baselineHash).toBe(winner?.baselineHash);
        expect(winner?.etag).not.toBe(stored.etag);
      });

      it('a put with a stale ETag fails and leaves the stored row alone', async () => {
        const stored = await insert(store, mapping('m1'));
        const updated = ok((await store.commit(MAILBOX, [{ mapping: { put: { ...stored, baselineHash: 'h2' } } }]))[0]);
        const [stale] = await store.commit(MAILBOX, [{ mapping: { put: { ...stored, baselineHash: 'h3' } } }]);
        expect(failure(stale)).toBeInstanceOf(ConcurrencyError);
        expect(await store.getMapping(MAILBOX, 'm1')).toEqual(updated);
      });

      it('an insert fails when the mapId exists, and when another mapping holds the same Outlook or CRM id (bijection)', async () => {
        await insert(store, mapping('m1'));
        const results = await store.commit(MAILBOX, [
          { mapping: { put: mapping('m1', { outlookId: 'fresh', crmId: 'fresh' }) } },
          { mapping: { put: mapping('m2', { outlookId: 'o-m1', crmId: 'c-m2' }) } },
          { mapping: { put: mapping('m3', { outlookId: 'o-m3', crmId: 'c-m1' }) } },
        ]);
        for (const result of results) expect(failure(result)).toBeInstanceOf(ConcurrencyError);
        expect(await store.getMapping(MAILBOX, 'm2')).toBeNull();
        expect(await store.findMappingByCrmId(MAILBOX, 'contact', 'c-m2')).toBeNull();
        expect(await store.findMappingByOutlookId(MAILBOX, 'contact', 'o-m3')).toBeNull();
        expect((await store.findMappingByOutlookId(MAILBOX, 'contact', 'o-m1'))?.mapId).toBe('m1');
      });

      it('an id change moves the index row: the old id no longer finds the mapping, the new one does', async () => {
        const stored = await insert(store, mapping('m1'));
        ok((await store.commit(MAILBOX, [{ mapping: { put: { ...stored, outlookId: 'moved', crmId: null } } }]))[0]);
        expect(await store.findMappingByOutlookId(MAILBOX, 'contact', 'o-m1')).toBeNull();
        expect(await store.findMappingByCrmId(MAILBOX, 'contact', 'c-m1')).toBeNull();
        expect((await store.findMappingByOutlookId(MAILBOX, 'contact', 'moved'))?.mapId).toBe('m1');
        // The freed id can be claimed by another mapping now.
        await insert(store, mapping('m2', { outlookId: 'o-m1', crmId: 'c-m1' }));
        expect((await store.findMappingByOutlookId(MAILBOX, 'contact', 'o-m1'))?.mapId).toBe('m2');
      });

      it('remove deletes the mapping and its index rows; a stale ETag fails; the mapId can be inserted again', async () => {
        const stored = await insert(store, mapping('m1'));
        const updated = ok((await store.commit(MAILBOX, [{ mapping: { put: { ...stored, state: 'unlinked' } } }]))[0]) as MappingRow;
        expect(failure((await store.commit(MAILBOX, [{ mapping: { remove: stored } }]))[0])).toBeInstanceOf(ConcurrencyError);
        ok((await store.commit(MAILBOX, [{ mapping: { remove: updated } }]))[0]);
        expect(await store.getMapping(MAILBOX, 'm1')).toBeNull();
        expect(await store.findMappingByOutlookId(MAILBOX, 'contact', 'o-m1')).toBeNull();
        expect(await store.findMappingByCrmId(MAILBOX, 'contact', 'c-m1')).toBeNull();
        const listed: MappingRow[] = [];
        for await (const row of store.listMappings(MAILBOX)) listed.push(row);
        expect(listed).toEqual([]);
        expect(failure((await store.commit(MAILBOX, [{ mapping: { remove: updated } }]))[0])).toBeInstanceOf(ConcurrencyError);
        const again = await insert(store, mapping('m1', { baselineHash: 'again' }));
        expect(await store.getMapping(MAILBOX, 'm1')).toEqual(again);
      });

      it('oldestVerified returns never-verified first, then the oldest verifiedAt, at most limit', async () => {
        await insert(store, mapping('recent', { verifiedAt: '2026-03-01T00:00:00.000Z' }));
        await insert(store, mapping('old', { verifiedAt: '2026-01-01T00:00:00.000Z' }));
        await insert(store, mapping('never', { verifiedAt: null }));
        await insert(store, mapping('middle', { verifiedAt: '2026-02-01T00:00:00.000Z' }));
        expect((await store.oldestVerified(MAILBOX, 3)).map((row) => row.mapId)).toEqual(['never', 'old', 'middle']);
      });
    });

    describe('commit', () => {
      it('150 units land in at least 2 transactions of at most 100 operations, and every row is there', async () => {
        const before = fixture.transactions();
        const units = Array.from({ length: 150 }, (_, i) => ({ mapping: { put: mapping(`bulk-${i}`) } }));
        const results = await store.commit(MAILBOX, units);
        expect(results.every((r) => r.ok)).toBe(true);
        // Three rows per insert (mapping + two index rows): 450 operations need at least 5 transactions of 100.
        expect(fixture.transactions() - before).toBeGreaterThanOrEqual(5);
        let count = 0;
        for await (const _ of store.listMappings(MAILBOX)) count += 1;
        expect(count).toBe(150);
        expect((await store.findMappingByCrmId(MAILBOX, 'contact', 'c-bulk-149'))?.mapId).toBe('bulk-149');
      });

      it('one conflicting unit among many fails alone; the others commit', async () => {
        const stored = await insert(store, mapping('contested'));
        ok((await store.commit(MAILBOX, [{ mapping: { put: { ...stored, baselineHash: 'moved-on' } } }]))[0]);
        await insert(store, mapping('existing'));
        const units = Array.from({ length: 40 }, (_, i) => ({ mapping: { put: mapping(`u-${i}`) } }));
        units.splice(20, 0, { mapping: { put: { ...stored, baselineHash: 'stale-writer' } } });
        // A duplicate insert is only detected by the service inside the transaction, among innocent units.
        units.splice(30, 0, { mapping: { put: mapping('existing', { outlookId: 'dup-o', crmId: 'dup-c', baselineHash: 'dup' }) } });
        const before = fixture.transactions();
        const results = await store.commit(MAILBOX, units);
        // 41 units fit 2 transactions; finding the duplicate costs one failed transaction, its own careful retry and
        // one more for the innocent units it was packed with. Blaming the wrong unit would cost many more.
        expect(fixture.transactions() - before).toBeLessThanOrEqual(5);
        expect(results).toHaveLength(42);
        expect(failure(results[20])).toBeInstanceOf(ConcurrencyError);
        expect(failure(results[30])).toBeInstanceOf(ConcurrencyError);
        expect(results.filter((r) => r.ok)).toHaveLength(40);
        expect((await store.getMapping(MAILBOX, 'contested'))?.baselineHash).toBe('moved-on');
        expect((await store.getMapping(MAILBOX, 'existing'))?.baselineHash).toBe('h1');
        expect(await store.findMappingByOutlookId(MAILBOX, 'contact', 'dup-o')).toBeNull();
        for (let i = 0; i < 40; i++) expect(await store.getMapping(MAILBOX, `u-${i}`)).not.toBeNull();
      });

      it('units commit in order: a unit may claim an id that an earlier unit freed, even past a failing unit', async () => {
        const m0 = await insert(store, mapping('m0'));
        await insert(store, mapping('existing'));
        const results = await store.commit(MAILBOX, [
          { mapping: { put: { ...m0, outlookId: null } } },
          { mapping: { put: mapping('existing', { outlookId: 'x-o', crmId: 'x-c' }) } },
          { deleteChange: { key: 'not-recorded' } },
          { mapping: { put: mapping('m1', { outlookId: 'o-m0' }) } },
        ]);
        expect(results.map((r) => (r.ok ? 'ok' : r.error.name))).toEqual(['ok', 'ConcurrencyError', 'ok', 'ok']);
        expect((await store.findMappingByOutlookId(MAILBOX, 'contact', 'o-m0'))?.mapId).toBe('m1');
      });

      it('a unit is atomic: when its change row lost the race, its mapping is not written either', async () => {
        const stored = await insert(store, mapping('m1'));
        await store.recordChanges(MAILBOX, [change('map:m1', 'outlook', '2026-01-01T00:00:00Z', { mapId: 'm1' })]);
        const read = (await store.getChange(MAILBOX, 'map:m1')) as ChangeRow;
        // A newer change arrives after the row was read (a collector running meanwhile).
        await store.recordChanges(MAILBOX, [change('map:m1', 'crm', '2026-01-01T00:05:00Z', { mapId: 'm1' })]);
        const [result] = await store.commit(MAILBOX, [
          { mapping: { put: { ...stored, baselineHash: 'merged' } }, deleteChange: { key: 'map:m1', etag: read.etag as string } },
        ]);
        expect(failure(result)).toBeInstanceOf(ConcurrencyError);
        expect((await store.getMapping(MAILBOX, 'm1'))?.baselineHash).toBe('h1');
        const pending = await store.getChange(MAILBOX, 'map:m1');
        expect(pending?.crmChange).toBe('upsert');
        expect(pending?.outlookChange).toBe('upsert');
      });

      it('a unit with the current change ETag writes the mapping and deletes the change row together', async () => {
        const stored = await insert(store, mapping('m1'));
        await store.recordChanges(MAILBOX, [change('map:m1', 'outlook', '2026-01-01T00:00:00Z', { mapId: 'm1' })]);
        const read = (await store.getChange(MAILBOX, 'map:m1')) as ChangeRow;
        const [result] = await store.commit(MAILBOX, [
          { mapping: { put: { ...stored, baselineHash: 'merged' } }, deleteChange: { key: 'map:m1', etag: read.etag as string } },
        ]);
        expect(ok(result)?.baselineHash).toBe('merged');
        expect(await store.getChange(MAILBOX, 'map:m1')).toBeNull();
        expect(await store.countChanges(MAILBOX)).toBe(0);
        expect(await store.listDueChanges(MAILBOX, '2030-01-01T00:00:00Z', 10)).toEqual([]);
        // A change recorded after the resolution starts afresh: the resolved side's columns are not resurrected.
        await store.recordChanges(MAILBOX, [change('map:m1', 'crm', '2026-01-02T00:00:00Z', { mapId: 'm1' })]);
        const next = await store.getChange(MAILBOX, 'map:m1');
        expect(next?.crmChange).toBe('upsert');
        expect(next?.outlookChange).toBeNull();
        expect(next?.attempts).toBe(0);
        expect(await store.countChanges(MAILBOX)).toBe(1);
      });

      it('deleteChange without an ETag removes the row if present and is a no-op otherwise', async () => {
        await store.recordChanges(MAILBOX, [change('o:contact:x', 'outlook', '2026-01-01T00:00:00Z')]);
        const results = await store.commit(MAILBOX, [
          { deleteChange: { key: 'o:contact:x' } },
          { deleteChange: { key: 'never-recorded' }, mapping: { put: mapping('m9') } },
          { deleteChange: { key: 'also-never-recorded' } },
        ]);
        expect(results).toHaveLength(3);
        results.forEach(ok);
        expect(await store.getChange(MAILBOX, 'o:contact:x')).toBeNull();
        expect(await store.getMapping(MAILBOX, 'm9')).not.toBeNull();
      });

      it('putChange writes a failure (attempts, backoff, reason); with a stale ETag it fails', async () => {
        await store.recordChanges(MAILBOX, [change('c:task:1', 'crm', '2026-01-01T00:00:00Z', { kind: 'task', crmId: '1' })]);
        const read = (await store.getChange(MAILBOX, 'c:task:1')) as ChangeRow;
        const retry: ChangeRow = { ...read, attempts: 1, nextAttemptAt: '2026-01-01T01:00:00Z', lastError: 'boom', reason: 'crm-unavailable' };
        ok((await store.commit(MAILBOX, [{ putChange: retry }]))[0]);
        const stored = await store.getChange(MAILBOX, 'c:task:1');
        expect(stored).toMatchObject({ attempts: 1, nextAttemptAt: '2026-01-01T01:00:00.000Z', lastError: 'boom', reason: 'crm-unavailable', crmId: '1', kind: 'task' });
        expect(failure((await store.commit(MAILBOX, [{ putChange: { ...retry, attempts: 2 } }]))[0])).toBeInstanceOf(ConcurrencyError);
        expect((await store.getChange(MAILBOX, 'c:task:1'))?.attempts).toBe(1);
      });

      it('a unit that deletes and writes the same change row is refused', async () => {
        const row: ChangeRow = {
          key: 'k', kind: 'contact', mapId: null, outlookId: null, outlookContainer: null, crmId: null, outlookChange: 'upsert',
          outlookAt: '2026-01-01T00:00:00.000Z', crmChange: null, crmAt: null, attempts: 0, nextAttemptAt: '2026-01-01T00:00:00.000Z',
          lastError: null, reason: null,
        };
        const [result] = await store.commit(MAILBOX, [{ deleteChange: { key: 'k' }, putChange: row }]);
        expect(result?.ok).toBe(false);
      });
    });

    describe('changes', () => {
      it('recording coalesces: each side overwrites only its own columns; attempts survive', async () => {
        await store.recordChanges(MAILBOX, [change('map:m1', 'outlook', '2026-01-01T00:00:00Z', { mapId: 'm1', outlookId: 'o1', outlookContainer: 'f1' })]);
        const first = (await store.getChange(MAILBOX, 'map:m1')) as ChangeRow;
        ok((await store.commit(MAILBOX, [{ putChange: { ...first, attempts: 2, lastError: 'x', reason: 'r' } }]))[0]);
        await store.recordChanges(MAILBOX, [
          { key: 'map:m1', kind: 'contact', mapId: 'm1', side: 'crm', change: 'deleted', at: '2026-01-01T00:10:00Z', crmId: 'c1' },
        ]);
        await store.recordChanges(MAILBOX, [
          { key: 'map:m1', kind: 'contact', mapId: 'm1', side: 'outlook', change: 'removed', at: '2026-01-01T00:20:00Z' },
        ]);
        const row = await store.getChange(MAILBOX, 'map:m1');
        expect(row).toMatchObject({
          key: 'map:m1', mapId: 'm1', outlookId: 'o1', outlookContainer: 'f1', crmId: 'c1',
          outlookChange: 'removed', outlookAt: '2026-01-01T00:20:00.000Z', crmChange: 'deleted', crmAt: '2026-01-01T00:10:00.000Z', attempts: 2,
        });
        expect(await store.countChanges(MAILBOX)).toBe(1);
      });

      it('several records of one item in one call coalesce, the later winning', async () => {
        await store.recordChanges(MAILBOX, [
          change('o:contact:1', 'outlook', '2026-01-01T00:00:00Z', { outlookId: '1' }),
          { key: 'o:contact:1', kind: 'contact', mapId: null, side: 'outlook', change: 'removed', at: '2026-01-01T00:01:00Z' },
          change('c:contact:9', 'crm', '2026-01-01T00:02:00Z', { crmId: '9' }),
        ]);
        expect(await store.getChange(MAILBOX, 'o:contact:1')).toMatchObject({ outlookChange: 'removed', outlookId: '1', outlookAt: '2026-01-01T00:01:00.000Z' });
        expect(await store.countChanges(MAILBOX)).toBe(2);
      });

      it('listDueChanges returns due rows only, oldest nextAttemptAt first, at most limit', async () => {
        await store.recordChanges(MAILBOX, [
          change('c', 'outlook', '2026-01-01T00:03:00Z'),
          change('a', 'outlook', '2026-01-01T00:01:00Z'),
          change('b', 'crm', '2026-01-01T00:02:00+00:00'),
          change('future', 'outlook', '2026-01-01T09:00:00Z'),
        ]);
        expect((await store.listDueChanges(MAILBOX, '2026-01-01T01:00:00Z', 10)).map((r) => r.key)).toEqual(['a', 'b', 'c']);
        expect((await store.listDueChanges(MAILBOX, '2026-01-01T01:00:00Z', 2)).map((r) => r.key)).toEqual(['a', 'b']);
        expect(await store.countChanges(MAILBOX)).toBe(4);
      });

      it('recording many changes at once (more than one transaction) makes them all durable', async () => {
        const records = Array.from({ length: 230 }, (_, i) => change(`o:contact:${i}`, 'outlook', '2026-01-01T00:00:00Z'));
        await store.recordChanges(MAILBOX, records);
        expect(await store.countChanges(MAILBOX)).toBe(230);
      });

      it('a record whose change does not belong to its side is rejected', async () => {
        await expect(
          store.recordChanges(MAILBOX, [{ key: 'k', kind: 'contact', mapId: null, side: 'outlook', change: 'deleted', at: '2026-01-01T00:00:00Z' }]),
        ).rejects.toBeInstanceOf(ItemRejectedError);
      });
    });

    describe('cursors', () => {
      it('set, get, list and clear; a cursor larger than one property round-trips', async () => {
        const long = `https://graph.microsoft.com/v1.0/me/contacts/delta?$deltatoken=${incompressible(70_000)}`;
        await store.setCursor(MAILBOX, 'contacts', 'link-1');
        await store.setCursor(MAILBOX, 'crm:task', long);
        await store.setCursor(MAILBOX, 'contacts', 'link-2');
        expect(await store.getCursor(MAILBOX, 'contacts')).toBe('link-2');
        expect(await store.getCursor(MAILBOX, 'crm:task')).toBe(long);
        expect(await store.listCursors(MAILBOX)).toEqual(new Map([['contacts', 'link-2'], ['crm:task', long]]));
        await store.setCursor(MAILBOX, 'contacts', null);
        await store.setCursor(MAILBOX, 'never-set', null);
        expect(await store.getCursor(MAILBOX, 'contacts')).toBeNull();
        expect([...(await store.listCursors(MAILBOX)).keys()]).toEqual(['crm:task']);
      });
    });

    describe('leases', () => {
      const t0 = new Date('2026-01-01T00:00:00Z');
      const later = (ms: number) => new Date(t0.getTime() + ms);

      it('a free lease is taken; a live one is refused to another owner; an expired one is taken over', async () => {
        const a = await store.acquireLease(MAILBOX, 'instance-a', 60_000, t0);
        expect(a).toMatchObject({ owner: 'instance-a', expiresAt: '2026-01-01T00:01:00.000Z' });
        expect(await store.acquireLease(MAILBOX, 'instance-b', 60_000, later(30_000))).toBeNull();
        const b = await store.acquireLease(MAILBOX, 'instance-b', 60_000, later(61_000));
        expect(b?.owner).toBe('instance-b');
        // a's lease was lost: renewing it fails, releasing it does not free b's.
        expect(await store.renewLease(a as NonNullable<typeof a>, 60_000, later(62_000))).toBeNull();
        await store.releaseLease(a as NonNullable<typeof a>);
        expect(await store.acquireLease(MAILBOX, 'instance-c', 60_000, later(63_000))).toBeNull();
      });

      it('renew extends a held lease; release frees it', async () => {
        const a = await store.acquireLease(MAILBOX, 'instance-a', 60_000, t0);
        const renewed = await store.renewLease(a as NonNullable<typeof a>, 60_000, later(50_000));
        expect(renewed?.expiresAt).toBe('2026-01-01T00:01:50.000Z');
        expect(renewed?.etag).not.toBe(a?.etag);
        expect(await store.acquireLease(MAILBOX, 'instance-b', 60_000, later(100_000))).toBeNull();
        await store.releaseLease(renewed as NonNullable<typeof renewed>);
        expect((await store.acquireLease(MAILBOX, 'instance-b', 60_000, later(100_000)))?.owner).toBe('instance-b');
      });

      it('two concurrent acquirers: exactly one wins', async () => {
        const attempts = await Promise.all(['x', 'y', 'z'].map((owner) => store.acquireLease(MAILBOX, owner, 60_000, t0)));
        expect(attempts.filter((lease) => lease !== null)).toHaveLength(1);
        // Also when the lease exists but has expired (the compare-and-swap path).
        const takeovers = await Promise.all(['p', 'q'].map((owner) => store.acquireLease(MAILBOX, owner, 60_000, later(120_000))));
        expect(takeovers.filter((lease) => lease !== null)).toHaveLength(1);
      });

      it('leases of different mailboxes are independent', async () => {
        expect(await store.acquireLease(MAILBOX, 'a', 60_000, t0)).not.toBeNull();
        expect(await store.acquireLease('bob@contoso.example', 'b', 60_000, t0)).not.toBeNull();
      });
    });

    describe('runs', () => {
      function run(runId: string, startedAt: string, mailbox = MAILBOX): RunSummary {
        return {
          mailbox, runId, startedAt, finishedAt: startedAt, outcome: 'ok', dryRun: false, counts: { 'crm.create': 1 },
          requests: { graph: 3 }, failures: [{ key: 'k', reason: 'r', detail: 'd' }], heldDeletes: 0, alerts: [],
        };
      }

      it('listRuns returns the newest first, at most limit, per mailbox', async () => {
        await store.appendRun(run('r2', '2026-01-01T00:15:00Z'));
        await store.appendRun(run('r1', '2026-01-01T00:00:00Z'));
        await store.appendRun(run('r3', '2026-01-01T00:30:00Z'));
        await store.appendRun(run('other', '2026-01-01T00:45:00Z', 'bob@contoso.example'));
        expect((await store.listRuns(MAILBOX, 10)).map((r) => r.runId)).toEqual(['r3', 'r2', 'r1']);
        expect((await store.listRuns(MAILBOX, 2)).map((r) => r.runId)).toEqual(['r3', 'r2']);
        expect(await store.listRuns(MAILBOX, 1)).toEqual([run('r3', '2026-01-01T00:30:00Z')]);
      });

      it('a large run summary (many failures) round-trips', async () => {
        const summary = run('big', '2026-01-01T00:00:00Z');
        summary.failures = Array.from({ length: 2000 }, (_, i) => ({ key: `o:contact:${i}`, reason: 'graph-rejected', detail: `detail ${i} ${'x'.repeat(40)}` }));
        await store.appendRun(summary);
        expect(await store.listRuns(MAILBOX, 1)).toEqual([summary]);
      });
    });
  });
}
