// The change feed behind `Prefer: odata.track-changes` (dataverse-behaviour.md §1): opaque `<version>!<timestamp>`
// tokens, a snapshot version per read so pages are consistent, upserts in version order then deletes, and
// ExpiredVersionStamp once changes the token has not seen were purged by the retention (§1.5).
import { CODES, DataverseError, MESSAGES, badRequest } from './errors';
import type { DataverseKnobs } from './knobs';
import { firstAfter, type DataverseStore, type Row, type TableStore } from './store';

/** Where a paged change read stands; carried inside the opaque `$skiptoken`. */
export interface TrackingCursor {
  /** Changes after this version are returned (0 for the initial full read). */
  since: number;
  /** Snapshot: changes after this version wait for the next delta; the deltaLink carries it. */
  upto: number;
  initial: boolean;
  phase: 'upserts' | 'deletes';
  /** Last version returned in the current phase. */
  after: number;
  /** Empty pages still to serve before the real ones (knob `trackingFaults`). */
  emptyPagesLeft?: number;
}

export type ChangeEntry = { kind: 'upsert'; row: Row } | { kind: 'delete'; id: string };

export class ChangeFeed {
  constructor(
    private readonly store: DataverseStore,
    private readonly knobs: () => DataverseKnobs,
    private readonly now: () => number,
  ) {}

  private retentionMs(): number {
    return this.knobs().changeTrackingRetentionDays * 86_400_000;
  }

  /** `<version>!<MM/dd/yyyy HH:mm:ss>` (§1.2 decoded doc token, §7.1). */
  deltaToken(version: number): string {
    const d = new Date(this.now());
    const p = (n: number) => String(n).padStart(2, '0');
    return `${version}!${p(d.getUTCMonth() + 1)}/${p(d.getUTCDate())}/${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
  }

  /** The version a token stands for; throws ExpiredVersionStamp when changes after it were purged (§1.5). */
  private validVersion(t: TableStore, version: number): number {
    this.store.purge(t, this.retentionMs());
    if (version < t.minValidVersion) {
      throw new DataverseError(this.knobs().expiredTokenStatus, CODES.expiredVersionStamp, MESSAGES.expiredVersionStamp);
    }
    return version;
  }

  parseDeltaToken(t: TableStore, token: string): number {
    const m = /^(\d+)!/.exec(token);
    if (!m) throw badRequest('The $deltatoken is not valid.', CODES.invalidArgument);
    return this.validVersion(t, Number(m[1]));
  }

  /** A new read: everything (no token) or the changes since the token, up to now. */
  start(t: TableStore, deltatoken: string | null): TrackingCursor {
    const since = deltatoken !== null ? this.parseDeltaToken(t, deltatoken) : 0;
    this.store.purge(t, this.retentionMs());
    const cursor: TrackingCursor = { since, upto: this.store.currentVersion(), initial: deltatoken === null, phase: 'upserts', after: since };
    const empty = this.knobs().trackingFaults.emptyPagesFirst;
    return empty > 0 ? { ...cursor, emptyPagesLeft: empty } : cursor;
  }

  /** A later page of a read: its token may have expired in between. */
  resume(t: TableStore, cursor: TrackingCursor): TrackingCursor {
    if (!cursor.initial) this.validVersion(t, cursor.since);
    return cursor;
  }

  /** One page: upserts first in version order, then deletes (§1.3); the initial read has no deletes (§1.7). */
  page(t: TableStore, cursor: TrackingCursor, pageSize: number): { entries: ChangeEntry[]; next: TrackingCursor | null } {
    if (cursor.emptyPagesLeft) return { entries: [], next: { ...cursor, emptyPagesLeft: cursor.emptyPagesLeft - 1 } };
    const entries: ChangeEntry[] = [];
    let phase = cursor.phase;
    let after = cursor.after;
    /** The version before the last entry returned in the current phase, for the repeat fault. */
    let beforeLast = after;
    let more = false;
    if (phase === 'upserts') {
      for (let i = firstAfter(t.upsertLog, after); i < t.upsertLog.length; i++) {
        const entry = t.upsertLog[i] as { version: number; id: string };
        if (entry.version > cursor.upto) break;
        if (!t.isLiveUpsert(entry)) continue;
        if (entries.length >= pageSize) {
          more = true;
          break;
        }
        entries.push({ kind: 'upsert', row: t.rows.get(entry.id) as Row });
        beforeLast = after;
        after = entry.version;
      }
      if (!more) {
        phase = 'deletes';
        after = cursor.since;
        beforeLast = after;
      }
    }
    if (phase === 'deletes' && !more && !cursor.initial) {
      for (let i = firstAfter(t.deleteLog, after); i < t.deleteLog.length; i++) {
        const entry = t.deleteLog[i] as { version: number; id: string };
        if (entry.version > cursor.upto) break;
        if (!t.isLiveDelete(entry)) continue;
        if (entries.length >= pageSize) {
          more = true;
          break;
        }
        entries.push({ kind: 'delete', id: entry.id });
        beforeLast = after;
        after = entry.version;
      }
    }
    if (!more) return { entries, next: null };
    const repeat = this.knobs().trackingFaults.repeatPageBoundary && pageSize >= 2 && beforeLast !== after;
    return { entries, next: { ...cursor, phase, after: repeat ? beforeLast : after } };
  }

  /** `$count?$deltatoken=` (§1.2): how many changes a delta read would return. */
  countChanges(t: TableStore, token: string): number {
    const since = this.parseDeltaToken(t, token);
    let n = 0;
    for (let i = firstAfter(t.upsertLog, since); i < t.upsertLog.length; i++) if (t.isLiveUpsert(t.upsertLog[i] as { version: number; id: string })) n++;
    for (let i = firstAfter(t.deleteLog, since); i < t.deleteLog.length; i++) if (t.isLiveDelete(t.deleteLog[i] as { version: number; id: string })) n++;
    return n;
  }
}
