// A whole world for cycle tests on the ports: the in-memory mailbox, CRM and state store, a manual clock, and
// test-only decorators that count writes, inject store failures and simulate a crash after the Nth write.
import type { CrmRecord, CrmWrite, ItemKind, JsonObject, KindSettings, MailboxSettings, MappingRow, OutlookItem, OutlookWrite } from '../../../src/core/model';
import type { TrackingUpkeep } from '../../../src/core/plan';
import { DEFAULT_PRODUCT_GUID } from '../../../src/core/mappings/extended-properties';
import type { Clock } from '../../../src/ports/clock';
import type { CrmChangePage, CrmConnector, CrmUser, CrmWriteOp, CrmWriteOptions, CrmWriteResult } from '../../../src/ports/crm-connector';
import type { LogFields, Logger } from '../../../src/ports/logger';
import type { DeltaPage, ItemRef, MailboxSource, OutlookUpdate, OutlookUpdateResult, StreamRef } from '../../../src/ports/mailbox-source';
import { ItemRejectedError } from '../../../src/ports/errors';
import type { ChangeRecord, ChangeRow, CommitResult, CommitUnit, Lease, RunSummary, StateStore } from '../../../src/ports/state-store';
import { InMemoryCrmConnector } from '../../../src/adapters/memory/crm-connector';
import { MemoryMailboxSource } from '../../../src/adapters/memory/mailbox-source';
import { MemoryStateStore } from '../../../src/adapters/memory/state-store';
import type { CycleDeps, CycleOptions } from '../../../src/app/deps';
import { runMailboxCycle } from '../../../src/app/cycle';

export const MAILBOX = 'alice@contoso.example';
export const CATEGORY = 'Tracked to CRM';
export const START = '2026-03-02T09:00:00.000Z';

export class ManualClock implements Clock {
  private at: number;
  constructor(iso = START) {
    this.at = Date.parse(iso);
  }
  now(): Date {
    return new Date(this.at);
  }
  iso(): string {
    return new Date(this.at).toISOString();
  }
  advance(ms: number): void {
    this.at += ms;
  }
}

export class RecordingLogger implements Logger {
  readonly lines: { level: string; message: string; fields: LogFields | undefined }[] = [];
  debug(message: string, fields?: LogFields): void {
    this.lines.push({ level: 'debug', message, fields });
  }
  info(message: string, fields?: LogFields): void {
    this.lines.push({ level: 'info', message, fields });
  }
  warn(message: string, fields?: LogFields): void {
    this.lines.push({ level: 'warn', message, fields });
  }
  error(message: string, fields?: LogFields): void {
    this.lines.push({ level: 'error', message, fields });
  }
}

/** Thrown by every decorated port once the simulated process has "died". */
export class SimulatedCrash extends Error {
  constructor() {
    super('simulated crash');
    this.name = 'SimulatedCrash';
  }
}

/**
 * Counts writes across all decorated ports and kills the "process" right after the Nth one succeeded: from then on
 * every call of every decorated port throws, so nothing more is written, as if the worker had died there.
 */
export class Writes {
  readonly byName: Record<string, number> = {};
  total = 0;
  dead = false;
  constructor(
    private readonly crashAfter: number | null = null,
    /** Runs after each successful write, before the crash check: a slow call, a clock that moves on meanwhile. */
    private readonly afterWrite: (name: string) => void = () => undefined,
  ) {}

  check(): void {
    if (this.dead) throw new SimulatedCrash();
  }

  /** Whether a crash point is set: batched writes then go one by one, so the crash falls between two of them. */
  get crashArmed(): boolean {
    return this.crashAfter !== null;
  }

  written(name: string): void {
    this.byName[name] = (this.byName[name] ?? 0) + 1;
    this.total += 1;
    this.afterWrite(name);
    if (this.crashAfter !== null && this.total >= this.crashAfter) {
      this.dead = true;
      throw new SimulatedCrash();
    }
  }

  /** Writes to Graph and the CRM only (not the state store). */
  serviceWrites(): Record<string, number> {
    return Object.fromEntries(Object.entries(this.byName).filter(([name]) => name.startsWith('outlook.') || name.startsWith('crm.')));
  }
}

export class CountingMailboxSource implements MailboxSource {
  /** Runs once, right before the next updateItem reaches the mailbox: a user's edit racing our write. */
  beforeNextUpdate: ((ref: ItemRef) => void) | null = null;
  /** Forwarded only when the inner source has it (the port's method is optional). */
  readonly findMarkedIds?: (mailbox: string, stream: StreamRef) => Promise<string[]>;
  /** Streams findMarkedIds was called for, in order. */
  readonly markerSearches: string[] = [];
  constructor(private readonly inner: MailboxSource, private readonly writes: Writes) {
    const find = inner.findMarkedIds?.bind(inner);
    if (find) {
      this.findMarkedIds = async (mailbox, stream) => {
        this.writes.check();
        this.markerSearches.push(stream.id);
        return find(mailbox, stream);
      };
    }
  }
  async listStreams(mailbox: string): Promise<StreamRef[]> {
    this.writes.check();
    return this.inner.listStreams(mailbox);
  }
  async readDelta(mailbox: string, stream: StreamRef, cursor: string | null, onPage: (page: DeltaPage) => Promise<void>, window?: { start: string; end: string }): Promise<void> {
    this.writes.check();
    return this.inner.readDelta(mailbox, stream, cursor, onPage, window);
  }
  async getItems(mailbox: string, refs: readonly ItemRef[]): Promise<Map<string, OutlookItem | null>> {
    this.writes.check();
    return this.inner.getItems(mailbox, refs);
  }
  async findByCrmId(mailbox: string, kind: ItemKind, crmId: string): Promise<OutlookItem | null> {
    this.writes.check();
    return this.inner.findByCrmId(mailbox, kind, crmId);
  }
  async createItem(mailbox: string, kind: ItemKind, container: string, write: OutlookWrite, stamp: { crmId: string; categoryName: string }): Promise<OutlookItem> {
    this.writes.check();
    const item = await this.inner.createItem(mailbox, kind, container, write, stamp);
    this.writes.written('outlook.create');
    return item;
  }
  async updateItem(
    mailbox: string,
    ref: ItemRef,
    write: OutlookWrite | null,
    tracking: (TrackingUpkeep & { categoryName: string }) | null,
    ifMatch?: string | null,
  ): Promise<OutlookItem> {
    this.writes.check();
    const race = this.beforeNextUpdate;
    this.beforeNextUpdate = null;
    race?.(ref);
    this.updateCalls.push({ ref, fields: write !== null, ifMatch: ifMatch ?? null });
    const item = await this.inner.updateItem(mailbox, ref, write, tracking, ifMatch);
    this.writes.written('outlook.update');
    return item;
  }
  /** Every updateItem call, in order: whether it wrote fields, and the If-Match it carried. */
  readonly updateCalls: { ref: ItemRef; fields: boolean; ifMatch: string | null }[] = [];
  /** Sizes of the updateItems calls, in order. */
  readonly updateBatchSizes: number[] = [];

  /**
   * Without a crash point, the inner source's own batch; with one, the updates go one by one and the crash cuts the
   * batch short after its Nth write, as a `$batch` that died half-processed would.
   */
  async updateItems(mailbox: string, updates: readonly OutlookUpdate[]): Promise<OutlookUpdateResult[]> {
    this.writes.check();
    this.updateBatchSizes.push(updates.length);
    if (this.writes.crashArmed) {
      const results: OutlookUpdateResult[] = [];
      for (const update of updates) {
        try {
          results.push({ ok: true, item: await this.updateItem(mailbox, update.ref, update.write, update.tracking, update.ifMatch) });
        } catch (error) {
          if (error instanceof SimulatedCrash) throw error;
          results.push({ ok: false, error: error instanceof Error ? error : new Error(String(error)) });
        }
      }
      return results;
    }
    const race = this.beforeNextUpdate;
    this.beforeNextUpdate = null;
    if (updates[0]) race?.(updates[0].ref);
    for (const update of updates) this.updateCalls.push({ ref: update.ref, fields: update.write !== null, ifMatch: update.ifMatch ?? null });
    const results = await this.inner.updateItems(mailbox, updates);
    for (const result of results) if (result.ok) this.writes.written('outlook.update');
    return results;
  }

  async deleteItem(mailbox: string, ref: ItemRef): Promise<void> {
    this.writes.check();
    await this.inner.deleteItem(mailbox, ref);
    this.writes.written('outlook.delete');
  }
  async ensureCategory(mailbox: string, categoryName: string): Promise<void> {
    this.writes.check();
    return this.inner.ensureCategory(mailbox, categoryName);
  }
}

/** CRM records the Dataverse adapter could not validate, as it reports them (dataverse-behaviour.md, zod at the edge). */
export interface MalformedCrm {
  /** Ids whose change-feed entry fails validation: the page carries them as failures instead of changes. */
  inFeed: Set<string>;
  /** Ids whose record fails validation on a read by id: like the Dataverse connector, the whole `read` call throws. */
  onRead: Set<string>;
}

export class CountingCrm implements CrmConnector {
  /** Forwarded only when the inner connector has it (the port's method is optional). */
  readonly findEmailsByMessageId?: (messageIds: readonly string[], user: CrmUser) => Promise<CrmRecord[]>;
  /** Message-IDs of every findEmailsByMessageId call, in order. */
  readonly messageIdQueries: string[][] = [];
  /** Forwarded only when the inner connector has it; the ids of every call, in order. */
  readonly findDeleted?: (kind: ItemKind, ids: readonly string[], user: CrmUser) => Promise<Set<string> | null>;
  readonly deletedQueries: string[][] = [];
  constructor(
    private readonly inner: CrmConnector,
    private readonly writes: Writes,
    private readonly malformed: MalformedCrm = { inFeed: new Set(), onRead: new Set() },
  ) {
    const find = inner.findEmailsByMessageId?.bind(inner);
    if (find) {
      this.findEmailsByMessageId = async (messageIds, user) => {
        this.writes.check();
        this.messageIdQueries.push([...messageIds]);
        return find(messageIds, user);
      };
    }
    const findDeleted = inner.findDeleted?.bind(inner);
    if (findDeleted) {
      this.findDeleted = async (kind, ids, user) => {
        this.writes.check();
        this.deletedQueries.push([...ids]);
        return findDeleted(kind, ids, user);
      };
    }
  }
  async resolveUser(mailboxAddress: string): Promise<CrmUser | null> {
    this.writes.check();
    return this.inner.resolveUser(mailboxAddress);
  }
  async readChanges(kind: ItemKind, user: CrmUser, cursor: string | null, onPage: (page: CrmChangePage) => Promise<void>): Promise<void> {
    this.writes.check();
    return this.inner.readChanges(kind, user, cursor, async (page) => {
      const bad = page.changes.filter((change) => this.malformed.inFeed.has(change.id));
      await onPage({
        ...page,
        changes: page.changes.filter((change) => !this.malformed.inFeed.has(change.id)),
        failures: [...page.failures, ...bad.map((change) => ({ id: change.id, reason: 'crm-invalid-record', detail: 'injected: the entry did not validate' }))],
      });
    });
  }
  /** Ids of every read call, in order. */
  readonly readCalls: string[][] = [];
  async read(kind: ItemKind, ids: readonly string[], user: CrmUser): Promise<Map<string, CrmRecord | null>> {
    this.writes.check();
    this.readCalls.push([...ids]);
    const bad = ids.find((id) => this.malformed.onRead.has(id));
    if (bad) throw new ItemRejectedError('crm-invalid-record', `injected: record ${bad} did not validate`);
    return this.inner.read(kind, ids, user);
  }
  isInScope(record: CrmRecord, user: CrmUser): boolean {
    return this.inner.isInScope(record, user);
  }
  idForCreate(kind: ItemKind, idempotencyKey: string): string | null {
    return this.inner.idForCreate?.(kind, idempotencyKey) ?? null;
  }
  async create(kind: ItemKind, write: CrmWrite, options: CrmWriteOptions & { idempotencyKey: string }): Promise<CrmRecord> {
    this.writes.check();
    const record = await this.inner.create(kind, write, options);
    this.writes.written('crm.create');
    return record;
  }
  async update(kind: ItemKind, id: string, write: CrmWrite, options: CrmWriteOptions & { ifMatch: string }): Promise<CrmRecord> {
    this.writes.check();
    const record = await this.inner.update(kind, id, write, options);
    this.writes.written('crm.update');
    return record;
  }
  async delete(kind: ItemKind, id: string, options: CrmWriteOptions): Promise<void> {
    this.writes.check();
    await this.inner.delete(kind, id, options);
    this.writes.written('crm.delete');
  }
  /** The addresses of every findContactsByEmail call, in order. */
  readonly findContactsCalls: string[][] = [];
  async findContactsByEmail(addresses: readonly string[], user: CrmUser): Promise<CrmRecord[]> {
    this.writes.check();
    this.findContactsCalls.push([...addresses]);
    return this.inner.findContactsByEmail(addresses, user);
  }
  /** Sizes of the writeBatch calls, in order. */
  readonly batchSizes: number[] = [];
  /**
   * Without a crash point, the inner connector's own batch (one Dataverse `$batch`); with one, the writes go one by one
   * and the crash cuts the batch short after its Nth write, as a request that died half-processed would.
   */
  async writeBatch(ops: readonly CrmWriteOp[], options: CrmWriteOptions): Promise<CrmWriteResult[]> {
    this.writes.check();
    this.batchSizes.push(ops.length);
    if (!this.writes.crashArmed) {
      const results = await this.inner.writeBatch(ops, options);
      results.forEach((result, index) => {
        if (result.ok) this.writes.written(`crm.${ops[index]?.type ?? 'write'}`);
      });
      return results;
    }
    const results: CrmWriteResult[] = [];
    for (const op of ops) {
      try {
        const record =
          op.type === 'create'
            ? await this.create(op.kind, op.write, { ...options, idempotencyKey: op.idempotencyKey })
            : op.type === 'update'
              ? await this.update(op.kind, op.id, op.write, { ...options, ifMatch: op.ifMatch })
              : (await this.delete(op.kind, op.id, options), null);
        results.push({ ok: true, record });
      } catch (error) {
        if (error instanceof SimulatedCrash) throw error;
        results.push({ ok: false, error: error instanceof Error ? error : new Error(String(error)) });
      }
    }
    return results;
  }
}

/** Counts state writes (crash points too) and can make `recordChanges` fail a number of times. */
export class FaultyStore implements StateStore {
  failRecordChanges = 0;
  constructor(private readonly inner: StateStore, private readonly writes: Writes) {}
  getMapping(mailbox: string, mapId: string): Promise<MappingRow | null> {
    this.writes.check();
    return this.inner.getMapping(mailbox, mapId);
  }
  findMappingByOutlookId(mailbox: string, kind: ItemKind, outlookId: string): Promise<MappingRow | null> {
    this.writes.check();
    return this.inner.findMappingByOutlookId(mailbox, kind, outlookId);
  }
  findMappingByCrmId(mailbox: string, kind: ItemKind, crmId: string): Promise<MappingRow | null> {
    this.writes.check();
    return this.inner.findMappingByCrmId(mailbox, kind, crmId);
  }
  listMappings(mailbox: string, kind?: ItemKind): AsyncIterable<MappingRow> {
    this.writes.check();
    return this.inner.listMappings(mailbox, kind);
  }
  oldestVerified(mailbox: string, limit: number): Promise<MappingRow[]> {
    this.writes.check();
    return this.inner.oldestVerified(mailbox, limit);
  }
  async recordChanges(mailbox: string, changes: readonly ChangeRecord[]): Promise<void> {
    this.writes.check();
    if (this.failRecordChanges > 0) {
      this.failRecordChanges -= 1;
      throw new Error('injected: the state store is unavailable');
    }
    await this.inner.recordChanges(mailbox, changes);
    this.writes.written('store.recordChanges');
  }
  getChange(mailbox: string, key: string): Promise<ChangeRow | null> {
    this.writes.check();
    return this.inner.getChange(mailbox, key);
  }
  listDueChanges(mailbox: string, now: string, limit: number): Promise<ChangeRow[]> {
    this.writes.check();
    return this.inner.listDueChanges(mailbox, now, limit);
  }
  countChanges(mailbox: string): Promise<number> {
    this.writes.check();
    return this.inner.countChanges(mailbox);
  }
  async commit(mailbox: string, units: readonly CommitUnit[]): Promise<CommitResult[]> {
    this.writes.check();
    const results = await this.inner.commit(mailbox, units);
    this.writes.written('store.commit');
    return results;
  }
  getCursor(mailbox: string, stream: string): Promise<string | null> {
    this.writes.check();
    return this.inner.getCursor(mailbox, stream);
  }
  async setCursor(mailbox: string, stream: string, cursor: string | null): Promise<void> {
    this.writes.check();
    await this.inner.setCursor(mailbox, stream, cursor);
    this.writes.written('store.setCursor');
  }
  listCursors(mailbox: string): Promise<Map<string, string>> {
    this.writes.check();
    return this.inner.listCursors(mailbox);
  }
  acquireLease(mailbox: string, owner: string, ttlMs: number, now: Date): Promise<Lease | null> {
    this.writes.check();
    return this.inner.acquireLease(mailbox, owner, ttlMs, now);
  }
  renewLease(lease: Lease, ttlMs: number, now: Date): Promise<Lease | null> {
    this.writes.check();
    return this.inner.renewLease(lease, ttlMs, now);
  }
  releaseLease(lease: Lease): Promise<void> {
    this.writes.check();
    return this.inner.releaseLease(lease);
  }
  appendRun(summary: RunSummary): Promise<void> {
    this.writes.check();
    return this.inner.appendRun(summary);
  }
  listRuns(mailbox: string, limit: number): Promise<RunSummary[]> {
    this.writes.check();
    return this.inner.listRuns(mailbox, limit);
  }
}

export function kindSettings(overrides: Partial<KindSettings> = {}): KindSettings {
  return {
    enabled: true,
    syncFromCrm: true,
    conflictPolicy: 'latest',
    tieBreak: 'crm',
    deleteInCrmOnUntrack: false,
    updateCompanyField: false,
    ...overrides,
  };
}

export function mailboxSettings(overrides: Partial<MailboxSettings> = {}): MailboxSettings {
  return {
    mailbox: MAILBOX,
    kinds: {
      contact: kindSettings(),
      appointment: kindSettings(),
      task: kindSettings(),
      email: kindSettings({ syncFromCrm: false }),
    },
    categoryName: CATEGORY,
    calendarWindow: { pastDays: 30, futureDays: 365 },
    deleteGuard: { maxCount: 50, maxShare: 1 },
    dryRun: false,
    ...overrides,
  };
}

/** One mailbox, one CRM, one state store; `deps()` builds a fresh "process" (new decorators) over them. */
export class World {
  readonly clock = new ManualClock();
  readonly outlook = new MemoryMailboxSource({ productGuid: DEFAULT_PRODUCT_GUID, categoryName: CATEGORY, pageSize: 3, now: () => this.clock.iso() });
  /** The decorated mailbox of the latest `deps()` (its race hook and call log). */
  mailboxSource: CountingMailboxSource;
  readonly crm: InMemoryCrmConnector;
  readonly store = new MemoryStateStore();
  readonly logger = new RecordingLogger();
  readonly user: CrmUser;
  settings = mailboxSettings();
  writes = new Writes();
  /** Runs after every successful write of every later `deps()` (see Writes). */
  afterWrite: (name: string) => void = () => undefined;
  readonly malformedCrm: MalformedCrm = { inFeed: new Set(), onRead: new Set() };
  /** The decorated CRM of the latest `deps()` (its read log). */
  countingCrm: CountingCrm;
  faultyStore: FaultyStore;
  private idCounter = 0;
  private generation = 0;

  /** `keepDeletedRecords`: the CRM keeps deleted records (Dataverse's recycle bin), which CrmConnector.findDeleted reads. */
  constructor(options: { keepDeletedRecords?: boolean } = {}) {
    this.crm = new InMemoryCrmConnector({ pageSize: 3, now: () => this.clock.now(), keepDeletedRecords: options.keepDeletedRecords ?? false });
    this.user = this.crm.addUser({ address: MAILBOX });
    this.faultyStore = new FaultyStore(this.store, this.writes);
    this.mailboxSource = new CountingMailboxSource(this.outlook, this.writes);
    this.countingCrm = new CountingCrm(this.crm, this.writes, this.malformedCrm);
  }

  /** A fresh worker process over the same services; `crashAfter` kills it right after that many writes. */
  deps(crashAfter: number | null = null): CycleDeps {
    this.generation += 1;
    this.writes = new Writes(crashAfter, (name) => this.afterWrite(name));
    this.faultyStore = new FaultyStore(this.store, this.writes);
    this.mailboxSource = new CountingMailboxSource(this.outlook, this.writes);
    this.countingCrm = new CountingCrm(this.crm, this.writes, this.malformedCrm);
    return {
      mailboxSource: this.mailboxSource,
      crm: this.countingCrm,
      store: this.faultyStore,
      clock: this.clock,
      logger: this.logger,
      ids: () => `map-${(this.idCounter += 1).toString().padStart(4, '0')}`,
      owner: `worker-${this.generation}`,
      requestCounts: () => {
        const crm = this.crm.counters;
        // A writeBatch call is one request (a Dataverse `$batch`), whatever number of writes it carried.
        const singleWrites = crm.create + crm.update + crm.delete - crm.batchedWrites;
        return { graph: this.outlook.requestCount(MAILBOX), crm: crm.read + crm.changePages + singleWrites + crm.batch };
      },
    };
  }

  async cycle(options: CycleOptions & { settings?: Partial<MailboxSettings>; deps?: CycleDeps } = {}): Promise<RunSummary> {
    const deps = options.deps ?? this.deps();
    const summary = await runMailboxCycle(deps, { ...this.settings, ...options.settings }, options);
    this.clock.advance(60_000);
    return summary;
  }

  async mappings(kind?: ItemKind): Promise<MappingRow[]> {
    const rows: MappingRow[] = [];
    for await (const row of this.store.listMappings(MAILBOX, kind)) rows.push(row);
    return rows;
  }

  /** Outlook data of a live item. */
  outlookItem(id: string): JsonObject {
    const item = this.outlook.snapshot(MAILBOX).find((candidate) => candidate.id === id);
    if (!item) throw new Error(`no live Outlook item ${id}`);
    return item.data;
  }
}
