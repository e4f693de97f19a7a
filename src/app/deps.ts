// What one mailbox cycle needs from the outside world: ports only, injected, no global state (DESIGN.md §8).
import type { ItemKind } from '../core/model';
import type { KindMapping } from '../core/mappings';
import type { Clock } from '../ports/clock';
import type { CrmConnector } from '../ports/crm-connector';
import type { Logger } from '../ports/logger';
import type { MailboxSource } from '../ports/mailbox-source';
import type { StateStore } from '../ports/state-store';

export interface CycleDeps {
  mailboxSource: MailboxSource;
  crm: CrmConnector;
  store: StateStore;
  clock: Clock;
  logger: Logger;
  /** New unique ids (uuids in production); injected so tests are deterministic. */
  ids: () => string;
  /** Lease owner id of this worker instance. */
  owner: string;
  /**
   * Requests made so far, by service (e.g. `graph`, `crm`), when the composition root counts them. The cycle reports
   * the difference between its start and its end.
   */
  requestCounts?: () => Readonly<Record<string, number>>;
}

export type CyclePhase = 'lease' | 'provision' | 'collect' | 'apply' | 'reconcile' | 'summarize';

export interface ProgressEvent {
  phase: CyclePhase;
  /** Stream id (`contacts`, `calendar`, `crm:contact`, …) while collecting. */
  stream?: string;
  /** Pages read so far on this stream. */
  pages?: number;
  /** Entries read so far on this stream, or change rows handled so far while applying. */
  items?: number;
}

export interface BackoffPolicy {
  /** Delay after the first failure. */
  baseMs: number;
  /** Upper bound of the exponential delay. */
  maxMs: number;
  /** Delay after a lost optimistic-concurrency race (retry soon). */
  concurrencyMs: number;
}

export interface CycleOptions {
  /** Lease time to live; the lease is renewed once half of it has passed. */
  leaseTtlMs?: number;
  /** Change rows applied per cycle at most (the rest wait for the next cycle). */
  maxChangesPerRun?: number;
  /** Change rows hydrated together (one MailboxSource.getItems call and one CrmConnector.read per kind). */
  hydrateBatchSize?: number;
  /** Mappings verified per cycle by reconciliation, oldest `verifiedAt` first. */
  reconcileLimit?: number;
  backoff?: Partial<BackoffPolicy>;
  /**
   * Deterministic jitter source: a fraction in [0, 1) for a change row key and attempt number. Default: a hash of
   * both, so two workers computing the same row's backoff agree and tests are reproducible.
   */
  jitter?: (key: string, attempt: number) => number;
  onProgress?: (event: ProgressEvent) => void;
  /** Product GUID of the named extended properties (Tracked, CrmId); the core's default when absent. */
  productGuid?: string;
  /** Field mappings after validated admin overrides (`applyMappingOverrides`), per kind; the built-in ones otherwise. */
  fieldMappings?: Partial<Record<ItemKind, KindMapping>>;
  /**
   * Every how many cycles the streams are searched for items carrying the Tracked marker (MailboxSource.findMarkedIds),
   * which delta payloads never show (graph-behaviour.md §3.4). A stream read in full is searched in that cycle anyway.
   * 0: only after full rounds.
   */
  markerSweepEvery?: number;
  /**
   * A delta or change-feed page with more ids than this looks them up in one listing of the kind's mappings, kept for
   * the rest of the stream's round, instead of an index read per id (collect.ts MappedIds).
   */
  mappingListThreshold?: number;
}

export interface ResolvedCycleOptions {
  leaseTtlMs: number;
  maxChangesPerRun: number;
  hydrateBatchSize: number;
  reconcileLimit: number;
  backoff: BackoffPolicy;
  jitter: (key: string, attempt: number) => number;
  onProgress: (event: ProgressEvent) => void;
  productGuid: string | undefined;
  fieldMappings: Partial<Record<ItemKind, KindMapping>>;
  markerSweepEvery: number;
  mappingListThreshold: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 60_000, maxMs: 6 * 60 * 60_000, concurrencyMs: 5_000 };

export function resolveCycleOptions(options: CycleOptions = {}): ResolvedCycleOptions {
  return {
    leaseTtlMs: options.leaseTtlMs ?? 10 * 60_000,
    maxChangesPerRun: options.maxChangesPerRun ?? 500,
    // The Graph adapter batches getItems by 20 ($batch limit, graph-behaviour.md §5.3); one chunk is one $batch.
    hydrateBatchSize: options.hydrateBatchSize ?? 20,
    reconcileLimit: options.reconcileLimit ?? 20,
    backoff: { ...DEFAULT_BACKOFF, ...options.backoff },
    jitter: options.jitter ?? hashJitter,
    onProgress: options.onProgress ?? (() => undefined),
    productGuid: options.productGuid,
    fieldMappings: options.fieldMappings ?? {},
    markerSweepEvery: options.markerSweepEvery ?? 4,
    mappingListThreshold: options.mappingListThreshold ?? 50,
  };
}

/** FNV-1a of `key#attempt`, scaled to [0, 1). */
export function hashJitter(key: string, attempt: number): number {
  let hash = 0x811c9dc5;
  const text = `${key}#${attempt}`;
  for (let i = 0; i < text.length; i += 1) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash / 0x1_0000_0000;
}
