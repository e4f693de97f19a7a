// Test-only decorators for the model-based suite: faults the in-memory fakes do not offer (throttling bursts, a
// dropped `@removed`, message folder moves, failing Table Storage writes) and audits of what a cycle wrote. They sit
// between the fakes and the crash/counting decorators of test/app/support/world.ts.
import type { CrmRecord, CrmWrite, ItemKind, MappingRow, OutlookItem, OutlookWrite } from '../../../src/core/model';
import type { TrackingUpkeep } from '../../../src/core/plan';
import type { CrmChangePage, CrmConnector, CrmUser, CrmWriteOp, CrmWriteOptions, CrmWriteResult } from '../../../src/ports/crm-connector';
import { TransientError } from '../../../src/ports/errors';
import type { DeltaEntry, DeltaPage, ItemRef, MailboxSource, OutlookUpdate, OutlookUpdateResult, StreamRef } from '../../../src/ports/mailbox-source';
import type { ChangeRecord, ChangeRow, CommitResult, CommitUnit, Lease, RunSummary, StateStore } from '../../../src/ports/state-store';
import type { InMemoryCrmConnector } from '../../../src/adapters/memory/crm-connector';
import type { MemoryMailboxSource } from '../../../src/adapters/memory/mailbox-source';

/** graph-behaviour.md §6 / service-limits.md: a burst of 429s with Retry-After, surfaced by the retry layer as TransientError. */
export class Throttle {
  remaining = 0;
  hits = 0;
  constructor(private readonly service: string) {}
  burst(calls: number): void {
    this.remaining += calls;
  }
  check(): void {
    if (this.remaining <= 0) return;
    this.remaining -= 1;
    this.hits += 1;
    throw new TransientError(`${this.service}: 429 Too Many Requests (injected)`, 500);
  }
}

export interface AuditFinding {
  cycle: number;
  message: string;
}

/** Shared by the decorators: which cycle runs, and what broke an invariant while it ran. */
export class Audit {
  cycle = 0;
  readonly findings: AuditFinding[] = [];
  crmWriteAttempts = 0;
  deletes = 0;
  flag(message: string): void {
    this.findings.push({ cycle: this.cycle, message });
  }
}

const removedEntry = (id: string): DeltaEntry => ({ id, removed: true, categories: null, changeKey: null, lastModified: null, isDraft: null, data: null });

/**
 * Wraps the in-memory mailbox: throttling, dropped removals (graph-behaviour.md §1.5/§2.2 "sometimes omit @removed"),
 * messages moved out of the Inbox (§1.4: with immutable ids the id stays; the Inbox delta reports the item as removed),
 * and an audit that no write touches an item the user does not track (sync-lessons.md §5.4 invariant 2).
 */
export class ModelMailbox implements MailboxSource {
  readonly throttle = new Throttle('graph');
  /** Removals the delta never reports. */
  readonly droppedRemovals = new Set<string>();
  /** Message id → folder it was moved to (no stream reads that folder). */
  readonly movedMessages = new Map<string, string>();
  private readonly pendingInboxRemovals = new Set<string>();

  constructor(
    private readonly inner: MemoryMailboxSource,
    private readonly mailbox: string,
    private readonly categoryName: string,
    private readonly audit: Audit,
  ) {}

  moveMessage(id: string, folder: string): void {
    this.movedMessages.set(id, folder);
    this.pendingInboxRemovals.add(id);
  }

  async listStreams(mailbox: string): Promise<StreamRef[]> {
    this.throttle.check();
    return this.inner.listStreams(mailbox);
  }

  async readDelta(
    mailbox: string,
    stream: StreamRef,
    cursor: string | null,
    onPage: (page: DeltaPage) => Promise<void>,
    window?: { start: string; end: string },
  ): Promise<void> {
    this.throttle.check();
    const isInbox = stream.id === 'inbox';
    const filtered = async (page: DeltaPage): Promise<void> => {
      const entries = page.entries.filter(
        (entry) => !(entry.removed && this.droppedRemovals.has(entry.id)) && !(isInbox && this.movedMessages.has(entry.id)),
      );
      const flushing = isInbox && page.final ? [...this.pendingInboxRemovals] : [];
      await onPage({ ...page, entries: [...entries, ...flushing.map(removedEntry)] });
      for (const id of flushing) this.pendingInboxRemovals.delete(id);
    };
    return this.inner.readDelta(mailbox, stream, cursor, filtered, window);
  }

  async getItems(mailbox: string, refs: readonly ItemRef[]): Promise<Map<string, OutlookItem | null>> {
    this.throttle.check();
    const found = await this.inner.getItems(mailbox, refs);
    for (const [id, item] of found) if (item) found.set(id, this.relocated(item));
    return found;
  }

  async findByCrmId(mailbox: string, kind: ItemKind, crmId: string): Promise<OutlookItem | null> {
    this.throttle.check();
    const item = await this.inner.findByCrmId(mailbox, kind, crmId);
    return item ? this.relocated(item) : null;
  }

  async createItem(
    mailbox: string,
    kind: ItemKind,
    container: string,
    write: OutlookWrite,
    stamp: { crmId: string; categoryName: string },
  ): Promise<OutlookItem> {
    this.throttle.check();
    return this.inner.createItem(mailbox, kind, container, write, stamp);
  }

  async updateItem(
    mailbox: string,
    ref: ItemRef,
    write: OutlookWrite | null,
    tracking: (TrackingUpkeep & { categoryName: string }) | null,
  ): Promise<OutlookItem> {
    this.throttle.check();
    const before = this.inner.snapshot(this.mailbox).find((item) => item.id === ref.id);
    if (before && !this.hasCategory(before.data.categories)) {
      // An untracked item may only have what is left of its marker cleared; never data, never the category back.
      if (write !== null || tracking?.category === true || tracking?.marker === true) {
        this.audit.flag(`outlook write to untracked ${ref.kind} ${ref.id}: ${JSON.stringify({ write: write?.data ?? null, tracking })}`);
      }
    }
    return this.relocated(await this.inner.updateItem(mailbox, ref, write, tracking));
  }

  /** Throttled as one request (a 429 answers the whole `$batch`), audited update by update, If-Match left out as above. */
  async updateItems(mailbox: string, updates: readonly OutlookUpdate[]): Promise<OutlookUpdateResult[]> {
    this.throttle.check();
    for (const { ref, write, tracking } of updates) {
      const before = this.inner.snapshot(this.mailbox).find((item) => item.id === ref.id);
      if (before && !this.hasCategory(before.data.categories) && (write !== null || tracking?.category === true || tracking?.marker === true)) {
        this.audit.flag(`outlook write to untracked ${ref.kind} ${ref.id}: ${JSON.stringify({ write: write?.data ?? null, tracking })}`);
      }
    }
    const results = await this.inner.updateItems(mailbox, updates.map(({ ifMatch: _ignored, ...update }) => update));
    return results.map((result) => (result.ok ? { ok: true, item: this.relocated(result.item) } : result));
  }

  async deleteItem(mailbox: string, ref: ItemRef): Promise<void> {
    this.throttle.check();
    const before = this.inner.snapshot(this.mailbox).find((item) => item.id === ref.id);
    if (before && !this.hasCategory(before.data.categories)) this.audit.flag(`outlook delete of untracked ${ref.kind} ${ref.id}`);
    await this.inner.deleteItem(mailbox, ref);
    this.audit.deletes += 1;
  }

  async ensureCategory(mailbox: string, categoryName: string): Promise<void> {
    this.throttle.check();
    return this.inner.ensureCategory(mailbox, categoryName);
  }

  private relocated(item: OutlookItem): OutlookItem {
    const folder = this.movedMessages.get(item.id);
    return folder ? { ...item, container: folder } : item;
  }

  private hasCategory(categories: unknown): boolean {
    return Array.isArray(categories) && categories.some((c) => typeof c === 'string' && c.toLowerCase() === this.categoryName.toLowerCase());
  }
}

/** Wraps the in-memory CRM: throttling, and an audit that no write touches a record outside the user's scope. */
export class ModelCrm implements CrmConnector {
  readonly throttle = new Throttle('crm');
  constructor(private readonly inner: InMemoryCrmConnector, private readonly audit: Audit) {}

  async resolveUser(mailboxAddress: string): Promise<CrmUser | null> {
    this.throttle.check();
    return this.inner.resolveUser(mailboxAddress);
  }
  async readChanges(kind: ItemKind, user: CrmUser, cursor: string | null, onPage: (page: CrmChangePage) => Promise<void>): Promise<void> {
    this.throttle.check();
    return this.inner.readChanges(kind, user, cursor, onPage);
  }
  async read(kind: ItemKind, ids: readonly string[], user: CrmUser): Promise<Map<string, CrmRecord | null>> {
    this.throttle.check();
    return this.inner.read(kind, ids, user);
  }
  isInScope(record: CrmRecord, user: CrmUser): boolean {
    return this.inner.isInScope(record, user);
  }
  async findDeleted(kind: ItemKind, ids: readonly string[], user: CrmUser): Promise<Set<string> | null> {
    this.throttle.check();
    return this.inner.findDeleted(kind, ids, user);
  }
  idForCreate(kind: ItemKind, idempotencyKey: string): string | null {
    return this.inner.idForCreate(kind, idempotencyKey);
  }
  async create(kind: ItemKind, write: CrmWrite, options: CrmWriteOptions & { idempotencyKey: string }): Promise<CrmRecord> {
    this.throttle.check();
    this.audit.crmWriteAttempts += 1;
    return this.inner.create(kind, write, options);
  }
  async update(kind: ItemKind, id: string, write: CrmWrite, options: CrmWriteOptions & { ifMatch: string }): Promise<CrmRecord> {
    this.throttle.check();
    this.checkScope(kind, id, options.actAs, 'update');
    this.audit.crmWriteAttempts += 1;
    return this.inner.update(kind, id, write, options);
  }
  async delete(kind: ItemKind, id: string, options: CrmWriteOptions): Promise<void> {
    this.throttle.check();
    this.checkScope(kind, id, options.actAs, 'delete');
    this.audit.crmWriteAttempts += 1;
    const existed = this.inner.peek(kind, id) !== null;
    await this.inner.delete(kind, id, options);
    if (existed) this.audit.deletes += 1;
  }
  async findContactsByEmail(addresses: readonly string[], user: CrmUser): Promise<CrmRecord[]> {
    this.throttle.check();
    return this.inner.findContactsByEmail(addresses, user);
  }
  async findEmailsByMessageId(messageIds: readonly string[], user: CrmUser): Promise<CrmRecord[]> {
    this.throttle.check();
    return this.inner.findEmailsByMessageId(messageIds, user);
  }
  /** Throttled as one request (a 429 answers the whole `$batch`); audited write by write. */
  async writeBatch(ops: readonly CrmWriteOp[], options: CrmWriteOptions): Promise<CrmWriteResult[]> {
    this.throttle.check();
    const existed = ops.map((op) => op.type === 'delete' && this.inner.peek(op.kind, op.id) !== null);
    for (const op of ops) {
      if (op.type !== 'create') this.checkScope(op.kind, op.id, options.actAs, op.type);
      this.audit.crmWriteAttempts += 1;
    }
    const results = await this.inner.writeBatch(ops, options);
    results.forEach((result, index) => {
      if (result.ok && existed[index]) this.audit.deletes += 1;
    });
    return results;
  }

  private checkScope(kind: ItemKind, id: string, user: CrmUser, what: string): void {
    const record = this.inner.peek(kind, id);
    if (record && !this.inner.isInScope(record, user)) this.audit.flag(`crm ${what} of out-of-scope ${kind} ${id}`);
  }
}

/** Table Storage writes failing (503 / timeouts surface as TransientError) for the next k write calls. */
export class FlakyStore implements StateStore {
  failWrites = 0;
  failures = 0;
  constructor(private readonly inner: StateStore) {}

  private fail(what: string): void {
    if (this.failWrites <= 0) return;
    this.failWrites -= 1;
    this.failures += 1;
    throw new TransientError(`table storage ${what}: 503 Server Busy (injected)`, 500);
  }

  getMapping(mailbox: string, mapId: string): Promise<MappingRow | null> {
    return this.inner.getMapping(mailbox, mapId);
  }
  findMappingByOutlookId(mailbox: string, kind: ItemKind, outlookId: string): Promise<MappingRow | null> {
    return this.inner.findMappingByOutlookId(mailbox, kind, outlookId);
  }
  findMappingByCrmId(mailbox: string, kind: ItemKind, crmId: string): Promise<MappingRow | null> {
    return this.inner.findMappingByCrmId(mailbox, kind, crmId);
  }
  listMappings(mailbox: string, kind?: ItemKind): AsyncIterable<MappingRow> {
    return this.inner.listMappings(mailbox, kind);
  }
  oldestVerified(mailbox: string, limit: number): Promise<MappingRow[]> {
    return this.inner.oldestVerified(mailbox, limit);
  }
  async recordChanges(mailbox: string, changes: readonly ChangeRecord[]): Promise<void> {
    this.fail('recordChanges');
    return this.inner.recordChanges(mailbox, changes);
  }
  getChange(mailbox: string, key: string): Promise<ChangeRow | null> {
    return this.inner.getChange(mailbox, key);
  }
  listDueChanges(mailbox: string, now: string, limit: number): Promise<ChangeRow[]> {
    return this.inner.listDueChanges(mailbox, now, limit);
  }
  countChanges(mailbox: string): Promise<number> {
    return this.inner.countChanges(mailbox);
  }
  async commit(mailbox: string, units: readonly CommitUnit[]): Promise<CommitResult[]> {
    this.fail('commit');
    return this.inner.commit(mailbox, units);
  }
  getCursor(mailbox: string, stream: string): Promise<string | null> {
    return this.inner.getCursor(mailbox, stream);
  }
  async setCursor(mailbox: string, stream: string, cursor: string | null): Promise<void> {
    this.fail('setCursor');
    return this.inner.setCursor(mailbox, stream, cursor);
  }
  listCursors(mailbox: string): Promise<Map<string, string>> {
    return this.inner.listCursors(mailbox);
  }
  acquireLease(mailbox: string, owner: string, ttlMs: number, now: Date): Promise<Lease | null> {
    return this.inner.acquireLease(mailbox, owner, ttlMs, now);
  }
  renewLease(lease: Lease, ttlMs: number, now: Date): Promise<Lease | null> {
    return this.inner.renewLease(lease, ttlMs, now);
  }
  releaseLease(lease: Lease): Promise<void> {
    return this.inner.releaseLease(lease);
  }
  appendRun(summary: RunSummary): Promise<void> {
    return this.inner.appendRun(summary);
  }
  listRuns(mailbox: string, limit: number): Promise<RunSummary[]> {
    return this.inner.listRuns(mailbox, limit);
  }
}
