// The ids of the mapping versions this store last read or wrote, by ETag, so that an update of a mapping the caller
// got from this store needs no read before its transaction (DESIGN.md §10: one Table request per mapping update, not
// two).
//
// Why a read was needed: a mapping update also moves the mapping's index rows when an id changed, so the transaction
// must know the ids of the STORED version. An ETag names one version of one row: when the caller's ETag is the one this
// store saw with ids X, the transaction's compare-and-swap (If-Match on the mapping row) only commits while the stored
// version is that one, whose ids are X. When it is not (someone wrote the row since, or removed it), the transaction
// fails with 412 and commit.ts prepares the unit again from a fresh read, as it does for every lost optimistic attempt.
import type { MappingRow } from '../../core/model';

export type MappingIds = Pick<MappingRow, 'kind' | 'outlookId' | 'crmId'>;

/** Bounded: a cycle applies at most `maxChangesPerRun` (500) rows; older entries are simply read again when needed. */
const DEFAULT_CAPACITY = 4096;

export class KnownVersions {
  private readonly rows = new Map<string, { etag: string; ids: MappingIds }>();

  constructor(private readonly capacity = DEFAULT_CAPACITY) {}

  remember(partitionKey: string, mapId: string, etag: string, ids: MappingIds): void {
    const key = keyOf(partitionKey, mapId);
    // Re-inserted, so the Map's order is least recently seen first.
    this.rows.delete(key);
    this.rows.set(key, { etag, ids: { kind: ids.kind, outlookId: ids.outlookId, crmId: ids.crmId } });
    if (this.rows.size > this.capacity) {
      const oldest = this.rows.keys().next();
      if (!oldest.done) this.rows.delete(oldest.value);
    }
  }

  forget(partitionKey: string, mapId: string): void {
    this.rows.delete(keyOf(partitionKey, mapId));
  }

  /** The ids of the version with this ETag, when that version is the one this store saw last. */
  idsOf(partitionKey: string, mapId: string, etag: string): MappingIds | null {
    const known = this.rows.get(keyOf(partitionKey, mapId));
    return known && known.etag === etag ? { ...known.ids } : null;
  }

  get size(): number {
    return this.rows.size;
  }
}

function keyOf(partitionKey: string, mapId: string): string {
  return `${partitionKey}\n${mapId}`;
}
