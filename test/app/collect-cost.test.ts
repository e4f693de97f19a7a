// What collecting costs the state store (DESIGN.md §10: cost grows with the changes, not with the mailbox). Calls are
// counted at the StateStore port, by cycle phase: a port call is one Table request for a point read or write, and
// one query page per ~1,000 rows for a listing (see docs/benchmarks.md).
import type { CycleDeps, CycleOptions, CyclePhase } from '../../src/app/deps';
import { DEFAULT_PRODUCT_GUID } from '../../src/core/mappings/extended-properties';
import { trackingPropertyIds } from '../../src/adapters/graph/extended-properties';
import { MemoryMailboxSource } from '../../src/adapters/memory/mailbox-source';
import type { JsonObject } from '../../src/core/model';
import type { RunSummary, StateStore } from '../../src/ports/state-store';
import { outlookChangeKey } from '../../src/app/collect';
import { taggedContact, taggedMessage } from './support/fixtures';
import { CATEGORY, MAILBOX, World } from './support/world';

type CallLog = Partial<Record<CyclePhase, Record<string, number>>>;

/** The store of `deps`, wrapped so every port call is counted under the phase the cycle reported last. */
function countingDeps(deps: CycleDeps): { deps: CycleDeps; calls: CallLog; onProgress: (event: { phase: CyclePhase }) => void } {
  const calls: CallLog = {};
  let phase: CyclePhase = 'lease';
  const store = new Proxy(deps.store, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      return (...args: unknown[]): unknown => {
        const byMethod = (calls[phase] ??= {});
        byMethod[property] = (byMethod[property] ?? 0) + 1;
        return (value as (...callArgs: unknown[]) => unknown).apply(target, args);
      };
    },
  }) as StateStore;
  return { deps: { ...deps, store }, calls, onProgress: (event) => (phase = event.phase) };
}

async function countedCycle(world: World, options: CycleOptions = {}): Promise<{ summary: RunSummary; calls: CallLog }> {
  const counting = countingDeps(world.deps());
  const summary = await world.cycle({ ...options, deps: counting.deps, onProgress: counting.onProgress });
  return { summary, calls: counting.calls };
}

const TRACKED = trackingPropertyIds(DEFAULT_PRODUCT_GUID).tracked;

function markedContact(given: string): JsonObject {
  return {
    givenName: given,
    surname: 'Example',
    emailAddresses: [{ address: `${given.toLowerCase()}@example.org`, name: given }],
    categories: [],
    singleValueExtendedProperties: [{ id: TRACKED, value: 'true' }],
  };
}

/** N contacts tracked and synced until a cycle is quiet; the worker stamps each with the marker (DESIGN.md §2). */
async function syncedContacts(count: number): Promise<World> {
  const world = new World();
  for (let i = 0; i < count; i += 1) world.outlook.userCreate(MAILBOX, 'contact', 'contacts', taggedContact(`C${i}`, 'Example', `c${i}@example.org`));
  for (let cycle = 0; cycle < 3; cycle += 1) await world.cycle({ markerSweepEvery: 0 });
  expect(world.crm.all('contact')).toHaveLength(count);
  expect((await world.mappings('contact')).every((mapping) => mapping.state === 'linked')).toBe(true);
  return world;
}

describe('the periodic marker sweep', () => {
  it('looks the marked items up in one listing per stream: its store calls do not grow with the marked items', async () => {
    const measured: CallLog[] = [];
    for (const count of [4, 23]) {
      const world = await syncedContacts(count);
      const { summary, calls } = await countedCycle(world, { markerSweepEvery: 1 });
      expect(world.mailboxSource.markerSearches).toEqual(['contacts', 'calendar', 'inbox', 'sentitems']);
      expect(summary.counts['markers.found'] ?? 0).toBe(0);
      measured.push(calls);
    }
    // Cursors: all of them listed at once (one Table query; before, 20 point reads: the sweep counter, per Outlook
    // stream (5) its sweep key and cursor, the calendar's stored window, per CRM kind (4) its sweep key and cursor);
    // written: the sweep counter only, since every feed handed back the cursor it was given (before, 10 writes). The
    // contacts' marked items: one listing of the kind's mappings. Before: a findMappingByOutlookId per marked item,
    // which is 2 Table point reads each.
    const collect = { listCursors: 1, setCursor: 1, listMappings: 1 };
    expect(measured[0]?.collect).toEqual(collect);
    expect(measured[1]?.collect).toEqual(collect);
  });

  it('records exactly the marked items that are neither mapped nor already pending', async () => {
    const world = await syncedContacts(3);
    const newcomer = world.outlook.userCreate(MAILBOX, 'contact', 'contacts', markedContact('Grace'));
    const waiting = world.outlook.userCreate(MAILBOX, 'contact', 'contacts', markedContact('Hedy'));
    // Hedy already has a pending row, backed off into the future: the sweep must keep its backoff.
    const later = new Date(world.clock.now().getTime() + 3_600_000).toISOString();
    await world.store.recordChanges(MAILBOX, [
      { key: outlookChangeKey('contact', waiting), kind: 'contact', mapId: null, outlookId: waiting, outlookContainer: 'contacts', side: 'outlook', change: 'upsert', at: later },
    ]);

    const { summary, calls } = await countedCycle(world, { markerSweepEvery: 1 });

    expect(summary.counts['markers.found']).toBe(1);
    // One pending-row check per unmapped marked item (Grace, Hedy), none for the three mapped ones; the index reads
    // are the delta's two new entries (a small page).
    expect(calls.collect?.getChange).toBe(2);
    expect(calls.collect?.findMappingByOutlookId).toBe(2);
    expect(calls.collect?.listMappings).toBe(1);
    expect(world.crm.all('contact').map((contact) => contact.data.firstname).sort()).toEqual(['C0', 'C1', 'C2', 'Grace']);
    expect((await world.mappings('contact')).map((mapping) => mapping.outlookId)).toContain(newcomer);
    expect((await world.store.getChange(MAILBOX, outlookChangeKey('contact', waiting)))?.nextAttemptAt).toBe(later);
  });
});

/** A World whose delta pages hold up to 500 entries (Graph's maxpagesize allows more than the default 10, §1.3). */
class BigPageWorld extends World {
  override readonly outlook = new MemoryMailboxSource({ productGuid: DEFAULT_PRODUCT_GUID, categoryName: CATEGORY, pageSize: 500, now: () => this.clock.iso() });
}

function untrackedMessage(i: number): JsonObject {
  return taggedMessage(`Newsletter ${i}`, { categories: [] });
}

describe('collecting a large delta page', () => {
  async function firstSync(options: CycleOptions): Promise<{ world: World; summary: RunSummary; calls: CallLog }> {
    const world = new BigPageWorld();
    for (let i = 0; i < 200; i += 1) world.outlook.userCreate(MAILBOX, 'email', 'inbox', untrackedMessage(i));
    for (let i = 0; i < 3; i += 1) world.outlook.userCreate(MAILBOX, 'email', 'inbox', taggedMessage(`Deal ${i}`));
    const { summary, calls } = await countedCycle(world, { markerSweepEvery: 0, ...options });
    return { world, summary, calls };
  }

  it('looks its ids up in one listing of the kind, not an index read per entry', async () => {
    const { world, summary, calls } = await firstSync({});

    expect(summary.counts['delta.entries']).toBe(203);
    expect(summary.counts['changes.recorded.outlook']).toBe(3);
    expect(summary.counts['collect.mappingListings']).toBe(1);
    // Cursors: one listing of them all; per Outlook stream (5) one page's cursor written, plus the calendar window
    // stored; per CRM kind (4) one page's cursor written. Inbox: one listing and one recordChanges for its
    // 203 entries. Before: 203 index reads. Each Outlook stream read from no cursor (5) first asks whether linked
    // mappings of its kind exist (one listing, empty here), to sweep if so (graph-behaviour.md §1.4).
    expect(calls.collect).toEqual({ listCursors: 1, setCursor: 10, listMappings: 1 + 5, recordChanges: 1 });
    expect(world.crm.all('email').map((record) => record.data.subject).sort()).toEqual(['Deal 0', 'Deal 1', 'Deal 2']);

    // The echo of the three stamps in Inbox and of the three creates in the CRM feed: small pages, looked up by index
    // (two point reads per mapped id in the Table store).
    const echo = await countedCycle(world, { markerSweepEvery: 0 });
    expect(echo.summary.counts['delta.entries']).toBe(3);
    expect(echo.calls.collect).toEqual({ listCursors: 1, setCursor: 9, findMappingByOutlookId: 3, findMappingByCrmId: 3, recordChanges: 2 });
  });

  it('records what index reads per entry record', async () => {
    const listed = await firstSync({});
    const pointReads = await firstSync({ mappingListThreshold: 1_000 });

    expect(pointReads.calls.collect?.findMappingByOutlookId).toBe(203);
    // Only the five no-cursor checks list (see above); the entries are looked up by index.
    expect(pointReads.calls.collect?.listMappings).toBe(5);
    const { 'collect.mappingListings': listings, durationMs: _listedMs, ...listedCounts } = listed.summary.counts;
    const { durationMs: _pointMs, ...pointCounts } = pointReads.summary.counts;
    expect(listings).toBe(1);
    expect(listedCounts).toEqual(pointCounts);
    expect(await listed.world.mappings()).toEqual(await pointReads.world.mappings());
  });
});

describe('a full re-read after a token eviction, with the mappings listed', () => {
  // graph-behaviour.md §1.6: every link answers 410 SyncStateNotFound; the stream is read again in full and the mapped
  // items it does not show become deletion candidates. Pages of 3 above a threshold of 2 take the listing path.
  async function evictedRound(options: CycleOptions): Promise<{ world: World; summary: RunSummary; calls: CallLog; deleted: string }> {
    const world = new World();
    const ids: string[] = [];
    for (let i = 0; i < 7; i += 1) ids.push(world.outlook.userCreate(MAILBOX, 'contact', 'contacts', taggedContact(`C${i}`, 'Example', `c${i}@example.org`)));
    for (let i = 0; i < 5; i += 1) world.outlook.userCreate(MAILBOX, 'contact', 'contacts', { ...taggedContact(`U${i}`, 'Example', `u${i}@example.org`), categories: [] });
    for (let cycle = 0; cycle < 3; cycle += 1) await world.cycle({ markerSweepEvery: 0, ...options });
    world.outlook.userDelete(MAILBOX, ids[2] ?? '');
    world.outlook.evict(MAILBOX);
    const { summary, calls } = await countedCycle(world, { markerSweepEvery: 0, ...options });
    return { world, summary, calls, deleted: ids[2] ?? '' };
  }

  it('marks the listed mappings visited and nominates only the deleted one, as index reads do', async () => {
    const listed = await evictedRound({ mappingListThreshold: 2 });
    const pointReads = await evictedRound({ mappingListThreshold: 1_000 });

    expect(listed.summary.counts['streams.resync']).toBeGreaterThan(0);
    expect(listed.summary.counts['mappings.visited']).toBe(6);
    expect(listed.summary.counts['sweep.candidates']).toBe(1);
    expect(listed.calls.collect?.findMappingByOutlookId).toBeUndefined();
    // The contacts stream's 11 entries come in pages of 3: one listing; a fresh read of each mapped row it visits.
    expect(listed.calls.collect?.getMapping).toBe(6);
    expect(pointReads.calls.collect?.findMappingByOutlookId).toBe(11);
    const { 'collect.mappingListings': listings, durationMs: _listedMs, ...listedCounts } = listed.summary.counts;
    const { durationMs: _pointMs, ...pointCounts } = pointReads.summary.counts;
    expect(listings).toBeGreaterThan(0);
    expect(listedCounts).toEqual(pointCounts);
    expect(await listed.world.mappings()).toEqual(await pointReads.world.mappings());
    const linked = (await listed.world.mappings('contact')).filter((mapping) => mapping.state === 'linked');
    expect(linked.map((mapping) => mapping.outlookId)).not.toContain(listed.deleted);
    expect(linked).toHaveLength(6);
  });
});
