// Delta rounds over a collection's change log (graph-behaviour.md §1, §10.2).
// A token is (mailbox, collection, generation, phase, cursor, encoded query, window); it travels inside the link
// ($skiptoken for nextLinks, $deltatoken for deltaLinks, §1.2) and the server keeps no per-token state. Each page
// served advances the collection's generation; a token older than `tokenGenerationsKept` generations, or older than
// an eviction, gets 410 SyncStateNotFound (§1.6).
import { expandSeries, parseDateTimeTimeZone } from './calendar';
import type { GraphKnobs } from './knobs';
import { ODataError, type ItemPredicate, type Preferences } from './odata';
import { idOf, ODATA_TYPE, render, renderInstance, occurrenceId, type RenderOptions } from './represent';
import type { ChangeEntry, Collection, Json, JsonObject, Mailbox, StoredItem } from './store';

export interface DeltaQuery {
  select?: string[];
  /** messages: receivedDateTime filter text, re-parsed on every page. */
  filter?: string;
  changeType?: 'created' | 'updated' | 'deleted';
  /** calendarView window, epoch ms. */
  window?: [number, number];
  expandLinkedResources?: boolean;
}

export interface DeltaToken {
  /** mailbox id */
  m: string;
  /** collection key */
  c: string;
  /** generation */
  g: number;
  /** phase: i = initial enumeration, c = changes round, d = deltaLink (round not started) */
  p: 'i' | 'c' | 'd';
  /** since seq (changes) / snapshot seq (initial) */
  s: number;
  /** upper seq bound of a changes round */
  u?: number;
  /** cursor: order index (initial) or last seq consumed (changes) */
  x?: number;
  /** empty pages still to serve */
  e?: number;
  /** items emitted so far under a messages $filter (capped at 5,000, §2.3) */
  f?: number;
  q: DeltaQuery;
}

const FILTERED_DELTA_CAP = 5_000;

export function encodeToken(t: DeltaToken): string {
  return Buffer.from(JSON.stringify(t)).toString('base64url');
}

export function decodeToken(text: string): DeltaToken | null {
  try {
    const t = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as DeltaToken;
    if (typeof t.m !== 'string' || typeof t.c !== 'string' || typeof t.g !== 'number' || !['i', 'c', 'd'].includes(t.p)) return null;
    return t;
  } catch {
    return null;
  }
}

export interface DeltaPageResult {
  value: JsonObject[];
  nextToken: string | null;
  deltaToken: string | null;
}

export class SyncStateNotFound extends ODataError {
  constructor(generation: number, c: Collection) {
    const recent = c.recentGenerations.slice(-3).map((g) => `[${g}]`).join('');
    super(410, 'SyncStateNotFound', `The sync state generation is not found; generation=${generation};[highest=${c.generation}]${recent}.`);
  }
}

export interface DeltaContext {
  mb: Mailbox;
  collection: Collection;
  knobs: GraphKnobs;
  prefs: Preferences;
  /** Extra predicate (messages receivedDateTime filter). */
  filter: ItemPredicate | null;
  /** Called once per page served, for the eviction-after-pages knob. */
  onPageServed: () => void;
}

/** Validates a presented token against the collection's live generations (§1.6). */
export function checkToken(token: DeltaToken, ctx: DeltaContext): void {
  const c = ctx.collection;
  if (token.m !== ctx.mb.user.id || token.c !== c.key) throw new ODataError(400, 'BadRequest', 'The delta token is not valid for this resource.');
  const oldestKept = c.generation - Math.max(1, ctx.knobs.tokenGenerationsKept) + 1;
  if (token.g < oldestKept || token.g < c.minValidGeneration) throw new SyncStateNotFound(token.g, c);
}

function removedEntry(kind: StoredItem['kind'], id: string, knobs: GraphKnobs): JsonObject {
  const out: JsonObject = {};
  if (kind !== 'todoTask' && kind !== 'todoTaskList') out['@odata.type'] = ODATA_TYPE[kind];
  out['id'] = id;
  out['@removed'] = { reason: knobs.removedReason };
  return out;
}

function inWindow(item: StoredItem, w: [number, number]): boolean {
  const s = parseDateTimeTimeZone(item.props['start']);
  const e = parseDateTimeTimeZone(item.props['end']);
  if (!s || !e) return false;
  return s.ms < w[1] && e.ms > w[0];
}

/** Calendar entries of one event for a window: instances of a series, or the single event; [] when outside. */
function calendarEntries(item: StoredItem, ctx: DeltaContext, opts: RenderOptions, w: [number, number], removal: boolean): JsonObject[] {
  const recurrence = item.props['recurrence'];
  const id = idOf(item, ctx.prefs);
  if (!recurrence || typeof recurrence !== 'object' || Array.isArray(recurrence)) {
    if (removal) return [removedEntry('event', id, ctx.knobs)];
    return inWindow(item, w) ? [render(item, ctx.mb, opts)] : [removedEntry('event', id, ctx.knobs)];
  }
  const start = parseDateTimeTimeZone(item.props['start']);
  const end = parseDateTimeTimeZone(item.props['end']);
  if (!start || !end) return [];
  const out: JsonObject[] = [];
  for (const occ of expandSeries(start, end.ms - start.ms, recurrence, w[0] - 366 * 86_400_000, w[1] + 366 * 86_400_000)) {
    const key = new Date(occ.originalStart).toISOString();
    const exception = item.exceptions?.get(key);
    const actual = exception ? { ...occ, ...exceptionTimes(exception, occ) } : occ;
    if (!(actual.start < w[1] && actual.end > w[0])) continue;
    const occId = occurrenceId(id, occ.originalStart);
    if (removal || item.cancelled?.has(key)) out.push(removedEntry('event', occId, ctx.knobs));
    else out.push(renderInstance(item, actual, exception, opts, true));
  }
  // a series wholly outside the window (or deleted) is reported removed by its own id as well (§2.2)
  if (removal || out.length === 0) out.push(removedEntry('event', id, ctx.knobs));
  return out;
}

export function exceptionTimes(exception: { props: JsonObject }, occ: { start: number; end: number }): { start: number; end: number } {
  const s = parseDateTimeTimeZone(exception.props['start']);
  const e = parseDateTimeTimeZone(exception.props['end']);
  return { start: s?.ms ?? occ.start, end: e?.ms ?? occ.end };
}

/** Which properties changed in (since, seq]; null when the item must be sent in full. */
function changedProps(c: Collection, entry: ChangeEntry, since: number): string[] | null {
  const names = new Set<string>();
  let e: ChangeEntry | undefined = entry;
  while (e && e.seq > since) {
    if (e.entered || e.props === null || e.type === 'remove') return null;
    for (const p of e.props) names.add(p);
    e = e.prevSeq ? c.entry(e.prevSeq) : undefined;
  }
  return [...names];
}

function enteredSince(c: Collection, entry: ChangeEntry, since: number): boolean {
  let e: ChangeEntry | undefined = entry;
  while (e && e.seq > since) {
    if (e.entered) return true;
    e = e.prevSeq ? c.entry(e.prevSeq) : undefined;
  }
  return false;
}

/** Serves one page of a delta round; `token` null starts an initial round. */
export function deltaPage(token: DeltaToken | null, query: DeltaQuery, ctx: DeltaContext): DeltaPageResult {
  const c = ctx.collection;
  const { knobs } = ctx;
  let t: DeltaToken;
  if (!token) {
    t = { m: ctx.mb.user.id, c: c.key, g: 0, p: 'i', s: c.seq, x: 0, e: knobs.emptyPagesBeforeData, q: query };
  } else {
    checkToken(token, ctx);
    t = token.p === 'd' ? { ...token, p: 'c', u: c.seq, x: token.s, e: knobs.emptyPagesBeforeData } : { ...token };
  }
  const q = t.q;
  const pageSize = Math.min(ctx.prefs.maxPageSize ?? knobs.defaultPageSize, knobs.maxPageSize) + Math.max(0, knobs.pageSizeOvershoot);
  const opts: RenderOptions = { prefs: ctx.prefs, select: q.select ?? null, expandExt: null, withType: true, expandLinkedResources: q.expandLinkedResources ?? false };
  const value: JsonObject[] = [];
  const finish = (done: boolean, next: Partial<DeltaToken>): DeltaPageResult => {
    const g = c.nextGeneration();
    ctx.onPageServed();
    if (done) return { value, nextToken: null, deltaToken: encodeToken({ m: t.m, c: t.c, g, p: 'd', s: t.p === 'i' ? t.s : (t.u ?? c.seq), q }) };
    return { value, nextToken: encodeToken({ ...t, ...next, g }), deltaToken: null };
  };
  if ((t.e ?? 0) > 0) return finish(false, { e: (t.e ?? 0) - 1 });

  const window = q.window;
  const emit = (entries: JsonObject[]): void => {
    for (const e of entries) {
      if ('@removed' in e && knobs.dropNextRemoval > 0) {
        knobs.dropNextRemoval -= 1;
        continue;
      }
      value.push(e);
    }
  };

  if (t.p === 'i') {
    let i = t.x ?? 0;
    const skipAll = q.changeType === 'deleted';
    let filtered = t.f ?? 0;
    for (; i < c.order.length && value.length < pageSize; i++) {
      const item = c.order[i];
      if (!item || item.orderIndex !== i || item.collection !== c || skipAll) continue;
      if (ctx.filter) {
        // "Applying $filter in a delta query returns only up to 5,000 messages." (§2.3)
        if (!ctx.filter(item) || filtered >= FILTERED_DELTA_CAP) continue;
        filtered += 1;
      }
      if (window) {
        const entries = calendarEntries(item, ctx, opts, window, false).filter((e) => !('@removed' in e));
        emit(entries);
      } else emit([render(item, ctx.mb, opts)]);
    }
    if (i >= c.order.length) return finish(true, {});
    return finish(false, { x: knobs.repeatEntry && value.length > 1 ? i - 1 : i, e: 0, f: filtered });
  }

  const upto = t.u ?? c.seq;
  let seq = t.x ?? t.s;
  let lastEmittedSeq = seq;
  while (seq < upto && value.length < pageSize) {
    seq += 1;
    const entry = c.entry(seq);
    if (!entry || c.latestSeq.get(entry.item.immutableId) !== seq) continue;
    const before = value.length;
    if (entry.type === 'remove') {
      if (q.changeType && q.changeType !== 'deleted') continue;
      const ids = entry.removedIds ?? { restId: entry.item.restId, immutableId: entry.item.immutableId };
      if (window) emit(calendarEntries(entry.item, ctx, opts, window, true).map((e) => (e['id'] === idOf(entry.item, ctx.prefs) ? { ...e, id: ctx.prefs.immutableIds ? ids.immutableId : ids.restId } : e)));
      else emit([removedEntry(entry.item.kind, ctx.prefs.immutableIds ? ids.immutableId : ids.restId, knobs)]);
    } else {
      const entered = enteredSince(c, entry, t.s);
      if (q.changeType === 'deleted' || (q.changeType === 'created' && !entered) || (q.changeType === 'updated' && entered)) continue;
      if (ctx.filter && !ctx.filter(entry.item)) continue;
      if (window) emit(calendarEntries(entry.item, ctx, opts, window, false));
      else {
        const only = knobs.partialUpdates ? changedProps(c, entry, t.s) : null;
        emit([render(entry.item, ctx.mb, { ...opts, only: only ? [...only, 'changeKey'] : null })]);
      }
    }
    if (value.length > before) lastEmittedSeq = seq;
  }
  if (seq >= upto) return finish(true, {});
  const resumeAt = knobs.repeatEntry && value.length > 1 ? lastEmittedSeq - 1 : seq;
  return finish(false, { x: resumeAt, e: 0 });
}

export type { Json };
