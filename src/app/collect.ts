// Phase 3: read what changed on both sides into change rows (DESIGN.md §4.2). The invariant of this phase: a cursor
// advances only after the change rows it produced are durable, so a crash re-reads a page instead of losing it.
import type { ItemKind, JsonValue, MappingRow } from '../core/model';
import type { CrmChange, CrmChangePage } from '../ports/crm-connector';
import { AuthError, InvariantError, ResyncRequiredError } from '../ports/errors';
import type { DeltaEntry, DeltaPage, StreamRef } from '../ports/mailbox-source';
import type { ChangeRecord, CommitUnit } from '../ports/state-store';
import { classifyError } from './failures';
import { LeaseLostError } from './lease';
import { dueNoLaterThanNow, enabledKinds, nowIso, type RunContext } from './run-context';

/** Cursor key of the CRM change feed of one kind. */
export const crmCursorKey = (kind: ItemKind): string => `crm:${kind}`;
/** Set while a full re-read after a cursor eviction is under way; holds the sweep's epoch. */
export const sweepKey = (streamId: string): string => `sweep:${streamId}`;

/**
 * The calendarView window the calendar stream's delta rounds read, as JSON `{start, end}`. The window is fixed by a
 * round's initial request and travels with its delta link (graph-behaviour.md §2.2), so it is stored beside the cursor
 * to know when it has to move.
 */
export const windowKey = (streamId: string): string => `window:${streamId}`;
/** Cycles since the last periodic marker sweep (MailboxSource.findMarkedIds), one counter per mailbox. */
export const MARKER_SWEEP_KEY = 'markers:cycles';

export const outlookChangeKey = (kind: ItemKind, outlookId: string): string => `o:${kind}:${outlookId}`;
export const crmChangeKey = (kind: ItemKind, crmId: string): string => `c:${kind}:${crmId}`;
export const mappedChangeKey = (mapId: string): string => `map:${mapId}`;

/**
 * The mailbox's cursor rows (stream cursors, sweep markers, calendar windows, the marker-sweep counter), read with one
 * range query of the partition's cursor rows when the cycle first needs one, instead of a point read per row: about
 * 20 Table requests of every cycle, idle ones included, become one (DESIGN.md §10). Only collect writes these rows, under
 * the lease, and every write goes through `set`, so the snapshot stays what a point read would return. A key whose write
 * failed may or may not be stored: it is read afresh.
 */
class CycleCursors {
  private readonly unsure = new Set<string>();

  constructor(
    private readonly ctx: RunContext,
    private readonly values: Map<string, string>,
  ) {}

  async get(key: string): Promise<string | null> {
    if (this.unsure.has(key)) return this.ctx.deps.store.getCursor(this.ctx.mailbox, key);
    return this.values.get(key) ?? null;
  }

  async set(key: string, cursor: string | null): Promise<void> {
    // A feed that had nothing new often hands back the cursor it was given: the stored row already says so.
    if (!this.unsure.has(key) && (this.values.get(key) ?? null) === cursor) return;
    this.unsure.add(key);
    await this.ctx.deps.store.setCursor(this.ctx.mailbox, key, cursor);
    this.unsure.delete(key);
    if (cursor === null) this.values.delete(key);
    else this.values.set(key, cursor);
  }
}

const cursorsOfCycle = new WeakMap<RunContext, Promise<CycleCursors>>();

function cursorsOf(ctx: RunContext): Promise<CycleCursors> {
  let cursors = cursorsOfCycle.get(ctx);
  if (!cursors) {
    cursors = ctx.deps.store.listCursors(ctx.mailbox).then((values) => new CycleCursors(ctx, values));
    // A failed listing is not kept: the next caller (the CRM phase after a failed Outlook phase) lists again.
    cursors.catch(() => cursorsOfCycle.delete(ctx));
    cursorsOfCycle.set(ctx, cursors);
  }
  return cursors;
}

export async function collectOutlook(ctx: RunContext): Promise<void> {
  const kinds = new Set(enabledKinds(ctx.settings));
  const markerRound = await markerRoundDue(ctx);
  for (const stream of ctx.streams) {
    if (!kinds.has(stream.kind)) continue;
    await ctx.lease.keepAlive();
    try {
      const { fullRound } = await collectStream(ctx, stream);
      // A full round's payloads carry no extended properties either (graph-behaviour.md §3.4): after one, the items
      // marked only by an add-in are looked up at once, not at the next periodic round.
      if (markerRound || fullRound) await sweepMarkers(ctx, stream);
    } catch (error) {
      rethrowIfFatal(error);
      const classified = classifyError(error);
      ctx.tally.fail(`stream:${stream.id}`, classified.reason, classified.detail);
      ctx.deps.logger.warn('stream collection failed', { stream: stream.id, reason: classified.reason });
    }
  }
}

export async function collectCrm(ctx: RunContext): Promise<void> {
  for (const kind of enabledKinds(ctx.settings)) {
    await ctx.lease.keepAlive();
    try {
      await collectCrmKind(ctx, kind);
    } catch (error) {
      rethrowIfFatal(error);
      const classified = classifyError(error);
      ctx.tally.fail(`stream:${crmCursorKey(kind)}`, classified.reason, classified.detail);
      ctx.deps.logger.warn('crm feed collection failed', { kind, reason: classified.reason });
    }
  }
}

/** A mapping whose Outlook item a listing vouches for: a linked pair, or one whose CRM create is pending. */
function isPaired(mapping: MappingRow): boolean {
  return mapping.state === 'linked' || mapping.state === 'pendingCreate';
}

function rethrowIfFatal(error: unknown): void {
  if (error instanceof AuthError || error instanceof InvariantError || error instanceof LeaseLostError) throw error;
}

/** `fullRound`: the stream was read from the start (first round, after an eviction, or with a new calendar window). */
async function collectStream(ctx: RunContext, stream: StreamRef): Promise<{ fullRound: boolean }> {
  const cursors = await cursorsOf(ctx);
  const storedSweep = await cursors.get(sweepKey(stream.id));
  let sweepEpoch = storedSweep === null ? null : Number(storedSweep);
  let cursor = await cursors.get(stream.id);
  if (cursor !== null && sweepEpoch === null && stream.kind === 'appointment' && (await windowOutdated(ctx, stream))) {
    // graph-behaviour.md §2.2: a delta link keeps the window of its first round, so new meetings beyond that window's
    // end would never be reported. A fresh round under a sweep epoch moves it; events that left the window are then
    // unvisited candidates, read directly, and found only out of view (DESIGN.md §6, last row): nothing is deleted.
    ctx.tally.add('streams.newWindow');
    ctx.deps.logger.info('calendar window moved; full re-read', { stream: stream.id });
    sweepEpoch = await startFullRound(ctx, stream);
    cursor = null;
  }
  if (cursor === null && sweepEpoch === null && (await hasLinkedMappingsOf(ctx, stream))) {
    // A round from no cursor reports no removals (graph-behaviour.md §1.4). With pairs already linked here (the first
    // round's cursor was never stored, or it was lost) it is a re-read like one after an eviction, and sweeps the same.
    ctx.tally.add('streams.uncursoredResync');
    sweepEpoch = await startFullRound(ctx, stream);
  }
  let fullRound = cursor === null;
  try {
    await readStreamRound(ctx, stream, cursor, sweepEpoch);
  } catch (error) {
    if (!(error instanceof ResyncRequiredError)) throw error;
    // graph-behaviour.md §1.6: drop the link, re-read in full, and mark-and-sweep what the full listing does not show.
    ctx.tally.add('streams.resync');
    ctx.deps.logger.warn('delta cursor evicted; full re-read', { stream: stream.id });
    sweepEpoch = await startFullRound(ctx, stream);
    fullRound = true;
    await readStreamRound(ctx, stream, null, sweepEpoch);
  }
  if (sweepEpoch !== null) await finishSweep(ctx, stream, sweepEpoch);
  return { fullRound };
}

/** Whether a linked mapping this stream's listing vouches for exists (the candidates `sweepUnvisited` would take). */
async function hasLinkedMappingsOf(ctx: RunContext, stream: StreamRef): Promise<boolean> {
  const singleStream = ctx.streams.filter((other) => other.kind === stream.kind).length === 1;
  for await (const mapping of ctx.deps.store.listMappings(ctx.mailbox, stream.kind)) {
    if (!isPaired(mapping) || mapping.outlookId === null) continue;
    if (singleStream || !mapping.outlookContainer || mapping.outlookContainer === stream.container) return true;
  }
  return false;
}

/** Drop the stream's cursor and open a sweep epoch for the full re-read that follows. */
async function startFullRound(ctx: RunContext, stream: StreamRef): Promise<number> {
  const cursors = await cursorsOf(ctx);
  const epoch = ctx.deps.clock.now().getTime();
  // The sweep marker goes first: a crash after it re-reads and sweeps again, never skips the sweep.
  await cursors.set(sweepKey(stream.id), String(epoch));
  await cursors.set(stream.id, null);
  return epoch;
}

async function finishSweep(ctx: RunContext, stream: StreamRef, epoch: number): Promise<void> {
  await sweepUnvisited(ctx, stream, epoch);
  await (await cursorsOf(ctx)).set(sweepKey(stream.id), null);
}

/**
 * Whether the stored window no longer covers from `pastDays` ago to half of `futureDays` ahead: it is moved once half
 * its future has passed (or the settings widened it). A cursor without a stored window (state written before windows
 * were stored) is treated as outdated: one full round stores it.
 */
async function windowOutdated(ctx: RunContext, stream: StreamRef): Promise<boolean> {
  const stored = parseWindow(await (await cursorsOf(ctx)).get(windowKey(stream.id)));
  if (!stored) return true;
  const now = ctx.startedAt.getTime();
  const { pastDays, futureDays } = ctx.settings.calendarWindow;
  return Date.parse(stored.start) > now - pastDays * DAY_MS || Date.parse(stored.end) < now + (futureDays * DAY_MS) / 2;
}

function parseWindow(text: string | null): { start: string; end: string } | null {
  if (text === null) return null;
  try {
    const value: unknown = JSON.parse(text);
    if (value === null || typeof value !== 'object') return null;
    const { start, end } = value as Record<string, unknown>;
    if (typeof start !== 'string' || typeof end !== 'string' || Number.isNaN(Date.parse(start)) || Number.isNaN(Date.parse(end))) return null;
    return { start, end };
  } catch {
    return null;
  }
}

async function readStreamRound(
  ctx: RunContext,
  stream: StreamRef,
  cursor: string | null,
  sweepEpoch: number | null,
): Promise<void> {
  const { mailboxSource, store } = ctx.deps;
  const cursors = await cursorsOf(ctx);
  let pages = 0;
  let entries = 0;
  const window = cursor === null && stream.kind === 'appointment' ? calendarWindow(ctx) : undefined;
  // Stored before the round starts: its nextLinks and its deltaLink all read this window.
  if (window) await cursors.set(windowKey(stream.id), JSON.stringify(window));
  const mappings = new MappedIds(ctx, stream.kind, 'outlook');
  const onPage = async (page: DeltaPage): Promise<void> => {
    await ctx.lease.keepAlive();
    pages += 1;
    entries += page.entries.length;
    const failedIds = page.failures.flatMap((failure) => (failure.id === null ? [] : [failure.id]));
    const mapped = await mappings.lookUp([...page.entries.map((entry) => entry.id), ...failedIds]);
    const records: ChangeRecord[] = [];
    const visits: CommitUnit[] = [];
    for (const entry of page.entries) {
      const mapping = mapped.get(entry.id) ?? null;
      const record = outlookRecord(ctx, stream, entry, mapping);
      if (record) records.push(record);
      if (mapping && sweepEpoch !== null && !entry.removed && mapping.visitedEpoch < sweepEpoch) {
        const row = await mappings.fullRow(mapping);
        if (row && row.visitedEpoch < sweepEpoch) visits.push({ mapping: { put: { ...row, visitedEpoch: sweepEpoch } } });
      }
    }
    for (const failure of page.failures) {
      ctx.tally.fail(`stream:${stream.id}:${failure.id ?? '?'}`, failure.reason, failure.detail);
      // Hydration reads the item afresh, and may well succeed where the delta payload did not validate.
      if (failure.id !== null) records.push(outlookRecordOf(stream, failure.id, false, mapped.get(failure.id) ?? null, nowIso(ctx)));
    }
    if (records.length > 0) {
      await store.recordChanges(ctx.mailbox, records);
      ctx.tally.add('changes.recorded.outlook', records.length);
    }
    if (visits.length > 0) {
      // A lost visit mark is harmless: the sweep confirms every candidate by a direct read.
      const results = await store.commit(ctx.mailbox, visits);
      ctx.tally.add('mappings.visited', results.filter((result) => result.ok).length);
    }
    await cursors.set(stream.id, page.cursor);
    ctx.options.onProgress({ phase: 'collect', stream: stream.id, pages, items: entries });
  };
  await mailboxSource.readDelta(ctx.mailbox, stream, cursor, onPage, window);
  ctx.tally.add('delta.pages', pages);
  ctx.tally.add('delta.entries', entries);
}

const DAY_MS = 24 * 60 * 60_000;

function calendarWindow(ctx: RunContext): { start: string; end: string } {
  const now = ctx.startedAt.getTime();
  return {
    start: new Date(now - ctx.settings.calendarWindow.pastDays * DAY_MS).toISOString(),
    end: new Date(now + ctx.settings.calendarWindow.futureDays * DAY_MS).toISOString(),
  };
}

/**
 * Whether this cycle runs the periodic marker sweep: every `markerSweepEvery` cycles (the first cycle included), when
 * the adapter can search by marker at all. The counter is advanced here, once per cycle.
 */
async function markerRoundDue(ctx: RunContext): Promise<boolean> {
  const every = ctx.options.markerSweepEvery;
  if (!ctx.deps.mailboxSource.findMarkedIds || every <= 0) return false;
  const cursors = await cursorsOf(ctx);
  const stored = await cursors.get(MARKER_SWEEP_KEY);
  const since = stored === null ? null : Number(stored);
  const due = since === null || !Number.isFinite(since) || since + 1 >= every;
  await cursors.set(MARKER_SWEEP_KEY, String(due ? 0 : (since ?? 0) + 1));
  return due;
}

/**
 * Items marked `Tracked` only by an add-in (no category) never show as tracked in a delta payload, which carries no
 * extended properties (graph-behaviour.md §3.4). The adapter finds them by a filter on the marker; every one not yet
 * mapped gets an Outlook change, so hydration reads the marker and the planner decides. To Do tasks have no extended
 * properties. An id that already has a pending row keeps it (and its backoff).
 */
async function sweepMarkers(ctx: RunContext, stream: StreamRef): Promise<void> {
  const { mailboxSource, store } = ctx.deps;
  if (stream.kind === 'task' || !mailboxSource.findMarkedIds) return;
  const ids = await mailboxSource.findMarkedIds(ctx.mailbox, stream);
  const records: ChangeRecord[] = [];
  if (ids.length > 0) {
    // Nearly every mapped item carries the marker (the worker stamps it), so the marked ids are about the kind's
    // mappings: one listing of them costs a query page per ~1,000 rows, where a lookup per id cost two point reads
    // (DESIGN.md §10). Only the marked ids are held, and they are in memory already.
    const unmapped = new Set(ids);
    for await (const mapping of store.listMappings(ctx.mailbox, stream.kind)) {
      if (mapping.outlookId !== null) unmapped.delete(mapping.outlookId);
    }
    for (const id of ids) {
      if (!unmapped.has(id)) continue;
      // Unmapped marked items are pending work (or the planner declined them): a read each grows with them, not the mailbox.
      if (await store.getChange(ctx.mailbox, outlookChangeKey(stream.kind, id))) continue;
      records.push(outlookRecordOf(stream, id, false, null, nowIso(ctx)));
    }
  }
  await recordInChunks(ctx, records);
  ctx.tally.add('markers.found', records.length);
}

/**
 * Which delta entries become change rows: mapped items always; unmapped ones only when they can be tracked — they carry
 * the tracking category or the marker, or the payload did not say (categories missing), so hydration decides. Drafts
 * are never tracked (DESIGN.md §2) and an unmapped removal concerns nothing we know.
 */
function outlookRecord(
  ctx: RunContext,
  stream: StreamRef,
  entry: DeltaEntry,
  mapping: MappedRef | null,
): ChangeRecord | null {
  const at = entry.lastModified ? dueNoLaterThanNow(ctx, entry.lastModified) : nowIso(ctx);
  if (mapping) return outlookRecordOf(stream, entry.id, entry.removed, mapping, at);
  if (entry.removed || entry.isDraft === true) return null;
  if (!possiblyTracked(entry, ctx.settings.categoryName)) return null;
  return outlookRecordOf(stream, entry.id, false, null, at);
}

function outlookRecordOf(
  stream: StreamRef,
  outlookId: string,
  removed: boolean,
  mapping: MappedRef | null,
  at: string,
): ChangeRecord {
  return {
    key: mapping ? mappedChangeKey(mapping.mapId) : outlookChangeKey(stream.kind, outlookId),
    kind: stream.kind,
    mapId: mapping?.mapId ?? null,
    outlookId,
    outlookContainer: stream.container,
    crmId: mapping?.crmId ?? null,
    side: 'outlook',
    change: removed ? 'removed' : 'upsert',
    at,
  };
}

export function possiblyTracked(entry: DeltaEntry, categoryName: string): boolean {
  if (entry.categories === null) return true;
  const wanted = categoryName.toLowerCase();
  if (entry.categories.some((category) => category.toLowerCase() === wanted)) return true;
  return carriesMarker(entry.data?.['singleValueExtendedProperties']);
}

/** Extended properties are unreliable on delta (graph-behaviour.md §3.4), but when a payload carries one, use it. */
function carriesMarker(properties: JsonValue | undefined): boolean {
  if (!Array.isArray(properties)) return false;
  return properties.some(
    (property) =>
      property !== null &&
      typeof property === 'object' &&
      !Array.isArray(property) &&
      typeof property['id'] === 'string' &&
      / Name Tracked$/i.test(property['id']) &&
      String(property['value']).toLowerCase() === 'true',
  );
}

async function collectCrmKind(ctx: RunContext, kind: ItemKind): Promise<void> {
  const cursors = await cursorsOf(ctx);
  const key = crmCursorKey(kind);
  // The CRM mapping row has no visited column of its own, so a CRM sweep keeps the seen ids in memory; a sweep that
  // was interrupted (its marker is still set) starts the full read over.
  const interrupted = (await cursors.get(sweepKey(key))) !== null;
  let seen: Set<string> | null = interrupted ? new Set() : null;
  const cursor = interrupted ? null : await cursors.get(key);
  try {
    await readCrmRound(ctx, kind, cursor, seen);
  } catch (error) {
    if (!(error instanceof ResyncRequiredError)) throw error;
    ctx.tally.add('streams.resync');
    ctx.deps.logger.warn('crm cursor expired; full re-read', { kind });
    await cursors.set(sweepKey(key), String(ctx.deps.clock.now().getTime()));
    await cursors.set(key, null);
    seen = new Set();
    await readCrmRound(ctx, kind, null, seen);
  }
  if (seen !== null) {
    await sweepUnseenCrm(ctx, kind, seen);
    await cursors.set(sweepKey(key), null);
  }
}

async function readCrmRound(
  ctx: RunContext,
  kind: ItemKind,
  cursor: string | null,
  seen: Set<string> | null,
): Promise<void> {
  const { crm, store } = ctx.deps;
  const cursors = await cursorsOf(ctx);
  const key = crmCursorKey(kind);
  let pages = 0;
  let items = 0;
  const mappings = new MappedIds(ctx, kind, 'crm');
  const onPage = async (page: CrmChangePage): Promise<void> => {
    await ctx.lease.keepAlive();
    pages += 1;
    items += page.changes.length;
    const failedIds = page.failures.flatMap((failure) => (failure.id === null ? [] : [failure.id]));
    const mapped = await mappings.lookUp([...page.changes.map((change) => change.id), ...failedIds]);
    const records: ChangeRecord[] = [];
    for (const change of page.changes) {
      if (seen && change.type === 'upsert') seen.add(change.id);
      const record = crmRecord(ctx, kind, change, mapped.get(change.id) ?? null);
      if (record) records.push(record);
    }
    for (const failure of page.failures) {
      ctx.tally.fail(`stream:${key}:${failure.id ?? '?'}`, failure.reason, failure.detail);
      if (failure.id === null) continue;
      if (seen) seen.add(failure.id);
      // The cursor moves past this entry: without a row it would be lost for good. Hydration reads the record by id
      // and, while it stays invalid, backs off on its own row (as a failed delta entry does on the Outlook side).
      const mapping = mapped.get(failure.id) ?? null;
      const record = crmRecord(ctx, kind, { type: 'upsert', id: failure.id, at: nowIso(ctx) }, mapping);
      if (record) records.push(record);
    }
    if (records.length > 0) {
      await store.recordChanges(ctx.mailbox, records);
      ctx.tally.add('changes.recorded.crm', records.length);
    }
    await cursors.set(key, page.cursor);
    ctx.options.onProgress({ phase: 'collect', stream: key, pages, items });
  };
  await crm.readChanges(kind, ctx.user, cursor, onPage);
  ctx.tally.add('crmFeed.pages', pages);
  ctx.tally.add('crmFeed.changes', items);
}

/**
 * Mapped records always; unmapped ones only when they may have to be created in Outlook (syncFromCrm). A deletion or a
 * scope exit of a record we never mapped concerns nothing we know (crm-connector.ts `outOfScope`).
 */
function crmRecord(
  ctx: RunContext,
  kind: ItemKind,
  change: Pick<CrmChange, 'type' | 'id' | 'at'>,
  mapping: MappedRef | null,
): ChangeRecord | null {
  if (!mapping && (change.type !== 'upsert' || !ctx.settings.kinds[kind].syncFromCrm)) return null;
  return {
    key: mapping ? mappedChangeKey(mapping.mapId) : crmChangeKey(kind, change.id),
    kind,
    mapId: mapping?.mapId ?? null,
    ...(mapping ? { outlookId: mapping.outlookId } : {}),
    crmId: change.id,
    side: 'crm',
    change: change.type,
    at: dueNoLaterThanNow(ctx, change.at),
  };
}

/**
 * Mapped, linked items the full re-read did not visit are deletion *candidates*: they are recorded as removals, and
 * the apply phase reads each one directly; only a confirmed 404 plans a delete (never delete what still exists).
 */
async function sweepUnvisited(ctx: RunContext, stream: StreamRef, epoch: number): Promise<void> {
  const records: ChangeRecord[] = [];
  const singleStream = ctx.streams.filter((other) => other.kind === stream.kind).length === 1;
  for await (const mapping of ctx.deps.store.listMappings(ctx.mailbox, stream.kind)) {
    if (!isPaired(mapping) || mapping.outlookId === null || mapping.visitedEpoch >= epoch) continue;
    // With several streams of one kind (To Do lists, Inbox and Sent Items) this listing only vouches for items of its
    // own container: items of the kind's other streams are theirs to sweep. A mapping stored without a container is
    // a candidate for every stream of its kind; the apply phase reads it in each list (readOutlookItems).
    if (!singleStream && mapping.outlookContainer && mapping.outlookContainer !== stream.container) continue;
    const container = mapping.outlookContainer ?? (singleStream ? stream.container : null);
    records.push({
      key: mappedChangeKey(mapping.mapId),
      kind: stream.kind,
      mapId: mapping.mapId,
      outlookId: mapping.outlookId,
      outlookContainer: container,
      crmId: mapping.crmId,
      side: 'outlook',
      change: 'removed',
      at: nowIso(ctx),
    });
  }
  await recordInChunks(ctx, records);
  ctx.tally.add('sweep.candidates', records.length);
}

async function sweepUnseenCrm(ctx: RunContext, kind: ItemKind, seen: Set<string>): Promise<void> {
  const records: ChangeRecord[] = [];
  for await (const mapping of ctx.deps.store.listMappings(ctx.mailbox, kind)) {
    if (mapping.state !== 'linked' || mapping.crmId === null || seen.has(mapping.crmId)) continue;
    records.push({
      key: mappedChangeKey(mapping.mapId),
      kind,
      mapId: mapping.mapId,
      outlookId: mapping.outlookId,
      crmId: mapping.crmId,
      side: 'crm',
      change: 'deleted',
      at: nowIso(ctx),
    });
  }
  await recordInChunks(ctx, records);
  ctx.tally.add('sweep.candidates', records.length);
}

async function recordInChunks(ctx: RunContext, records: ChangeRecord[]): Promise<void> {
  for (let start = 0; start < records.length; start += 100) {
    await ctx.deps.store.recordChanges(ctx.mailbox, records.slice(start, start + 100));
  }
}

/**
 * What collect needs of a mapping. A listed kind keeps only these columns (`full` null), so it does not hold every
 * baseline in memory; a point read keeps the row it read.
 */
interface MappedRef extends Pick<MappingRow, 'mapId' | 'kind' | 'outlookId' | 'crmId' | 'visitedEpoch'> {
  full: MappingRow | null;
}

const refOf = (row: MappingRow, keep: boolean): MappedRef => ({
  mapId: row.mapId,
  kind: row.kind,
  outlookId: row.outlookId,
  crmId: row.crmId,
  visitedEpoch: row.visitedEpoch,
  full: keep ? row : null,
});

/**
 * Which ids of one round's pages are mapped, by Outlook id or by CRM id. Every entry needs the answer (a mapped item
 * is recorded whatever its payload says: a removed category is how an untrack shows, and the marker is invisible on
 * delta, graph-behaviour.md §3.4). A small page asks the index per id (two point reads for a mapped id, one for an
 * unmapped one); from the first page above `mappingListThreshold` ids on, the kind's mappings are listed once and
 * kept for the rest of the round (about one query page per 1,000 rows), so a first sync or a full re-read costs what
 * the mapped rows cost, not a read per item of the mailbox (DESIGN.md §10). The listing is taken during the round,
 * under the lease, and collect writes no mapping but its visit marks, which change none of these ids.
 */
class MappedIds {
  private listed: Map<string, MappedRef> | null = null;

  constructor(
    private readonly ctx: RunContext,
    private readonly kind: ItemKind,
    private readonly by: 'outlook' | 'crm',
  ) {}

  async lookUp(ids: readonly string[]): Promise<Map<string, MappedRef>> {
    const found = new Map<string, MappedRef>();
    if (ids.length === 0) return found;
    if (!this.listed && ids.length > this.ctx.options.mappingListThreshold) this.listed = await this.listAll();
    for (const id of ids) {
      if (found.has(id)) continue;
      const mapping = this.listed ? (this.listed.get(id) ?? null) : await this.pointRead(id);
      if (mapping) found.set(id, mapping);
    }
    return found;
  }

  /** The whole row (with its baseline and etag), read afresh: a visit mark replaces it by compare-and-swap. */
  async fullRow(mapping: MappedRef): Promise<MappingRow | null> {
    if (mapping.full) return mapping.full;
    const row = await this.ctx.deps.store.getMapping(this.ctx.mailbox, mapping.mapId);
    // The same test findMappingByOutlookId makes: the row still pairs this id.
    return row && row.kind === mapping.kind && row.outlookId === mapping.outlookId ? row : null;
  }

  private async pointRead(id: string): Promise<MappedRef | null> {
    const { store } = this.ctx.deps;
    const row =
      this.by === 'outlook'
        ? await store.findMappingByOutlookId(this.ctx.mailbox, this.kind, id)
        : await store.findMappingByCrmId(this.ctx.mailbox, this.kind, id);
    return row ? refOf(row, true) : null;
  }

  private async listAll(): Promise<Map<string, MappedRef>> {
    const listed = new Map<string, MappedRef>();
    for await (const row of this.ctx.deps.store.listMappings(this.ctx.mailbox, this.kind)) {
      const id = this.by === 'outlook' ? row.outlookId : row.crmId;
      if (id !== null) listed.set(id, refOf(row, false));
    }
    this.ctx.tally.add('collect.mappingListings');
    return listed;
  }
}
