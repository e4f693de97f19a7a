// The system under test for the model-based suite: the real cycle (runMailboxCycle) over the in-memory mailbox, CRM
// and state store, with one ManualClock per system (bounded skew), the fault decorators of ./ports and the crash and
// write counters of test/app/support/world.ts. It plays the users, runs cycles, and observes both sides.
import { fieldsOfCrm, fieldsOfOutlook } from '../../../src/core/fields';
import { DEFAULT_PRODUCT_GUID } from '../../../src/core/mappings/extended-properties';
import type { ItemKind, JsonObject, JsonValue, MailboxSettings, MappingRow } from '../../../src/core/model';
import { InMemoryCrmConnector } from '../../../src/adapters/memory/crm-connector';
import { MemoryMailboxSource, type StoredItem } from '../../../src/adapters/memory/mailbox-source';
import { MemoryStateStore } from '../../../src/adapters/memory/state-store';
import { runMailboxCycle } from '../../../src/app/cycle';
import { confirmHeldDeletes } from '../../../src/app/delete-guard';
import type { CycleDeps } from '../../../src/app/deps';
import type { Logger } from '../../../src/ports/logger';
import type { CrmUser } from '../../../src/ports/crm-connector';
import type { RunSummary } from '../../../src/ports/state-store';
import { CATEGORY, CountingCrm, CountingMailboxSource, FaultyStore, MAILBOX, ManualClock, Writes, kindSettings, mailboxSettings } from '../../app/support/world';
import { Audit, FlakyStore, ModelCrm, ModelMailbox } from './ports';
import { FIELDS, type Kind, type ModelItem, type Values } from './reference';

export const OTHER_OWNER = '99999999-0000-4000-8000-000000000001';
export const ARCHIVE_FOLDER = 'archive';
/** Bounded skew between the three systems' clocks (DESIGN.md §5 compares Graph and CRM timestamps raw). */
export const MAX_SKEW_MS = 3_000;
export const CYCLE_GAP_MS = 60_000;

const quietLogger: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

export interface Observed {
  o: ModelItem['o'];
  outlookId: string | null;
  tracked: boolean;
  ov: Values;
  outlookModified: number | null;
  c: ModelItem['c'];
  crmId: string | null;
  inScope: boolean;
  cv: Values;
  crmModified: number | null;
  link: ModelItem['link'];
  via: ModelItem['via'];
  row: MappingRow | null;
}

export interface CycleOutcome {
  summary: RunSummary | null;
  crashed: boolean;
  /** A fault touched the cycle: the model cannot say how far it got. */
  faulty: boolean;
  deletes: number;
  serviceWrites: Record<string, number>;
  storeFailed: boolean;
}

export class ModelWorld {
  readonly workerClock = new ManualClock();
  readonly outlookClock = new ManualClock();
  readonly crmClock = new ManualClock();
  readonly offsets = { outlook: 0, crm: 0 };
  readonly outlook = new MemoryMailboxSource({ productGuid: DEFAULT_PRODUCT_GUID, categoryName: CATEGORY, pageSize: 3, now: () => this.outlookClock.iso() });
  // The CRM keeps deleted records (Dataverse's recycle bin, CrmConnector.findDeleted), as an environment with
  // deleted-record keeping on does: the evidence that settles a pendingCreate row whose created mark was lost.
  readonly crm = new InMemoryCrmConnector({ pageSize: 3, now: () => this.crmClock.now(), keepDeletedRecords: true });
  readonly store = new MemoryStateStore();
  readonly audit = new Audit();
  readonly mailbox = new ModelMailbox(this.outlook, MAILBOX, CATEGORY, this.audit);
  readonly crmPort = new ModelCrm(this.crm, this.audit);
  readonly flaky = new FlakyStore(this.store);
  readonly user: CrmUser;
  readonly settings: MailboxSettings;
  readonly lists: [string, string];
  rejectArmed = false;
  /** Quiet by default; swap in a RecordingLogger to see a cycle's conflict log while debugging a counterexample. */
  logger: Logger = quietLogger;
  private ids = 0;
  private generation = 0;

  constructor() {
    this.user = this.crm.addUser({ address: MAILBOX });
    const base = mailboxSettings();
    this.settings = {
      ...base,
      kinds: { ...base.kinds, appointment: kindSettings({ enabled: false }) },
      // Low, so that a few deletes in one cycle trip the guard (held deletes, ConfirmHeldDeletes).
      deleteGuard: { maxCount: 1, maxShare: 1 },
    };
    this.lists = [this.outlook.defaultTodoListId(MAILBOX), this.outlook.addTodoList(MAILBOX, 'Errands')];
  }

  // ---- time ----

  /** True time moves on; every system's clock moves with it. */
  tick(ms: number): void {
    this.workerClock.advance(ms);
    this.outlookClock.advance(ms);
    this.crmClock.advance(ms);
  }

  /** Set one system's offset from the worker's clock (NTP drift or a correction, both directions). */
  skew(system: 'outlook' | 'crm', offsetMs: number): void {
    const bounded = Math.max(-MAX_SKEW_MS, Math.min(MAX_SKEW_MS, offsetMs));
    const clock = system === 'outlook' ? this.outlookClock : this.crmClock;
    clock.advance(bounded - this.offsets[system]);
    this.offsets[system] = bounded;
  }

  // ---- users ----

  createInOutlook(item: ModelItem, tracked: boolean): string {
    const categories = tracked ? [CATEGORY] : [];
    const values = outlookData(item.kind, item.ov);
    let data: JsonObject;
    let container: string;
    if (item.kind === 'contact') {
      data = { ...values, surname: `Model${item.n}`, emailAddresses: [{ address: item.tag, name: item.tag }], categories };
      container = 'contacts';
    } else if (item.kind === 'task') {
      data = { ...values, status: 'notStarted', body: { contentType: 'text', content: item.tag }, categories };
      container = this.lists[0];
    } else {
      data = {
        subject: `Mail ${item.n}`,
        body: { contentType: 'text', content: 'Hello' },
        internetMessageId: item.tag,
        from: { emailAddress: { address: 'bob@example.org', name: 'Bob' } },
        toRecipients: [{ emailAddress: { address: MAILBOX, name: 'Alice' } }],
        ccRecipients: [],
        sentDateTime: '2026-03-01T08:00:00Z',
        receivedDateTime: '2026-03-01T08:00:05Z',
        isDraft: false,
        categories,
      };
      container = 'inbox';
    }
    return this.outlook.userCreate(MAILBOX, item.kind, container, data);
  }

  createInCrm(item: ModelItem): string {
    const attributes: JsonObject = { ...crmData(item.kind, item.cv) };
    if (item.kind === 'contact') Object.assign(attributes, { lastname: `Model${item.n}`, emailaddress1: item.tag });
    if (item.kind === 'task') Object.assign(attributes, { description: item.tag, statecode: 0, statuscode: 2 });
    return this.crm.userCreate(item.kind, { attributes, ownerId: this.user.id });
  }

  editOutlook(item: ModelItem, field: string, value: string): void {
    const spec = FIELDS[item.kind].find((f) => f.field === field);
    if (!spec || !item.outlookId) throw new Error(`model: cannot edit ${field} of ${item.tag} in Outlook`);
    this.outlook.userEdit(MAILBOX, item.outlookId, spec.outlook(value));
  }

  editCrm(item: ModelItem, field: string, value: string): void {
    const spec = FIELDS[item.kind].find((f) => f.field === field);
    if (!spec || !item.crmId) throw new Error(`model: cannot edit ${field} of ${item.tag} in the CRM`);
    this.crm.userEdit(item.kind, item.crmId, spec.crm(value));
  }

  setTracked(item: ModelItem, tracked: boolean): void {
    const stored = this.liveOutlook(item);
    const others = stringsOf(stored.data.categories).filter((c) => c.toLowerCase() !== CATEGORY.toLowerCase());
    this.outlook.userEdit(MAILBOX, stored.id, { categories: tracked ? [...others, CATEGORY] : others });
  }

  deleteInOutlook(item: ModelItem, dropRemoval: boolean): void {
    const id = this.liveOutlook(item).id;
    if (dropRemoval) this.mailbox.droppedRemovals.add(id);
    this.outlook.userDelete(MAILBOX, id);
  }

  deleteInCrm(item: ModelItem): void {
    if (!item.crmId) throw new Error(`model: no CRM id for ${item.tag}`);
    this.crm.userDelete(item.kind, item.crmId);
  }

  /** graph-behaviour.md §1.4: a To Do task moved to another list gets a new id; the fake copies the task as is. */
  moveTask(item: ModelItem): string {
    const stored = this.liveOutlook(item);
    const target = stored.container === this.lists[0] ? this.lists[1] : this.lists[0];
    const data = structuredClone(stored.data);
    for (const key of ['id', 'createdDateTime', 'lastModifiedDateTime', '@odata.etag', 'changeKey']) delete data[key];
    this.outlook.userDelete(MAILBOX, stored.id);
    return this.outlook.userCreate(MAILBOX, 'task', target, data);
  }

  moveMessage(item: ModelItem): void {
    this.mailbox.moveMessage(this.liveOutlook(item).id, ARCHIVE_FOLDER);
  }

  reassign(item: ModelItem): void {
    if (!item.crmId) throw new Error(`model: no CRM id for ${item.tag}`);
    this.crm.reassign(item.kind, item.crmId, OTHER_OWNER);
  }

  /** Faults off: bursts end, the store heals, an armed CRM rejection is spent on a write outside the worker. */
  async faultsOff(): Promise<void> {
    this.mailbox.throttle.remaining = 0;
    this.crmPort.throttle.remaining = 0;
    this.flaky.failWrites = 0;
    if (this.rejectArmed) {
      await this.crm.delete('contact', '00000000-0000-4000-8000-00000000dead', { actAs: this.user }).catch(() => undefined);
      this.rejectArmed = false;
    }
  }

  async confirmHeld(): Promise<number> {
    return confirmHeldDeletes(this.store, MAILBOX);
  }

  private liveOutlook(item: ModelItem): StoredItem {
    const stored = this.outlook.snapshot(MAILBOX).find((candidate) => candidate.id === item.outlookId);
    if (!stored) throw new Error(`model: no live Outlook item for ${item.tag} (${item.outlookId})`);
    return stored;
  }

  // ---- the worker ----

  async cycle(options: { crashAfter: number | null; reconcileLimit: number }): Promise<CycleOutcome> {
    this.audit.cycle += 1;
    this.audit.deletes = 0;
    this.audit.crmWriteAttempts = 0;
    const throttled = this.mailbox.throttle.hits + this.crmPort.throttle.hits;
    const throttleArmed = this.mailbox.throttle.remaining + this.crmPort.throttle.remaining > 0;
    const storeFailures = this.flaky.failures;
    const writes = new Writes(options.crashAfter);
    this.generation += 1;
    const deps: CycleDeps = {
      mailboxSource: new CountingMailboxSource(this.mailbox, writes),
      crm: new CountingCrm(this.crmPort, writes),
      store: new FaultyStore(this.flaky, writes),
      clock: this.workerClock,
      logger: this.logger,
      ids: () => `map-${(this.ids += 1).toString().padStart(5, '0')}`,
      owner: `worker-${this.generation}`,
    };
    let summary: RunSummary | null = null;
    try {
      summary = await runMailboxCycle(deps, this.settings, {
        reconcileLimit: options.reconcileLimit,
        // A crashed process never releases its lease: it must have expired by the next cycle (CYCLE_GAP_MS).
        leaseTtlMs: 30_000,
        // Failed rows are due again by the next cycle, so a clean cycle after a faulty one finishes the work.
        backoff: { baseMs: 1_000, maxMs: 1_000, concurrencyMs: 1_000 },
      });
    } catch (error) {
      if (!writes.dead) throw error;
    }
    const rejectionSpent = this.rejectArmed && this.audit.crmWriteAttempts > 0;
    if (rejectionSpent) this.rejectArmed = false;
    const storeFailed = this.flaky.failures > storeFailures;
    const faulty =
      writes.dead ||
      throttleArmed ||
      this.mailbox.throttle.hits + this.crmPort.throttle.hits > throttled ||
      storeFailed ||
      rejectionSpent ||
      (summary?.heldDeletes ?? 0) > 0;
    this.tick(CYCLE_GAP_MS);
    return { summary, crashed: writes.dead, faulty, deletes: this.audit.deletes, serviceWrites: writes.serviceWrites(), storeFailed };
  }

  // ---- observation ----

  async mappings(): Promise<MappingRow[]> {
    const rows: MappingRow[] = [];
    for await (const row of this.store.listMappings(MAILBOX)) rows.push(row);
    return rows;
  }

  /** Live items on each side grouped by their logical tag. */
  liveByTag(): { outlook: Map<string, StoredItem[]>; crm: Map<string, { id: string; kind: ItemKind }[]>; untagged: string[] } {
    const outlook = new Map<string, StoredItem[]>();
    const crm = new Map<string, { id: string; kind: ItemKind }[]>();
    const untagged: string[] = [];
    for (const stored of this.outlook.snapshot(MAILBOX)) {
      const tag = outlookTag(stored);
      if (tag === null) untagged.push(`outlook ${stored.kind} ${stored.id}`);
      else outlook.set(tag, [...(outlook.get(tag) ?? []), stored]);
    }
    for (const kind of ['contact', 'task', 'email'] as const) {
      for (const record of this.crm.all(kind)) {
        const tag = crmTag(kind, record.data);
        if (tag === null) untagged.push(`crm ${kind} ${record.id}`);
        else crm.set(tag, [...(crm.get(tag) ?? []), { id: record.id, kind }]);
      }
    }
    return { outlook, crm, untagged };
  }

  async observe(item: ModelItem, live = this.liveByTag()): Promise<Observed> {
    const stored = live.outlook.get(item.tag)?.[0] ?? null;
    const record = live.crm.get(item.tag)?.[0] ?? null;
    const observed: Observed = {
      o: stored ? 'live' : item.o === 'none' ? 'none' : 'gone',
      outlookId: stored?.id ?? item.outlookId,
      tracked: false,
      ov: {},
      outlookModified: null,
      c: record ? 'live' : item.c === 'none' ? 'none' : 'gone',
      crmId: record?.id ?? item.crmId,
      inScope: item.inScope,
      cv: {},
      crmModified: null,
      link: 'none',
      via: null,
      row: null,
    };
    const settings = this.settings.kinds[item.kind];
    if (stored) {
      const hydrated = (await this.outlook.getItems(MAILBOX, [{ kind: item.kind, id: stored.id, container: stored.container }])).get(stored.id);
      if (!hydrated) throw new Error(`model: ${item.tag} does not hydrate`);
      observed.tracked = hydrated.tracking.category;
      observed.ov = pick(item.kind, fieldsOfOutlook(hydrated, settings));
      observed.outlookModified = Date.parse(hydrated.lastModified);
    }
    if (record) {
      const full = this.crm.peek(item.kind, record.id);
      if (!full) throw new Error(`model: ${item.tag} vanished`);
      observed.inScope = this.crm.isInScope(full, this.user);
      observed.cv = pick(item.kind, fieldsOfCrm(full, settings));
      observed.crmModified = Date.parse(full.modifiedOn);
    }
    const row =
      (observed.crmId ? await this.store.findMappingByCrmId(MAILBOX, item.kind, observed.crmId) : null) ??
      (observed.outlookId ? await this.store.findMappingByOutlookId(MAILBOX, item.kind, observed.outlookId) : null);
    if (row) {
      observed.link = row.state;
      observed.via = row.trackedVia;
      observed.row = row;
    }
    return observed;
  }
}

function outlookData(kind: Kind, values: Values): JsonObject {
  const data: JsonObject = {};
  for (const spec of FIELDS[kind]) if (values[spec.field] !== undefined) Object.assign(data, spec.outlook(values[spec.field] as string));
  return data;
}

function crmData(kind: Kind, values: Values): JsonObject {
  const data: JsonObject = {};
  for (const spec of FIELDS[kind]) if (values[spec.field] !== undefined) Object.assign(data, spec.crm(values[spec.field] as string));
  return data;
}

function pick(kind: Kind, values: Readonly<Record<string, JsonValue>>): Values {
  const out: Values = {};
  for (const spec of FIELDS[kind]) {
    const value = values[spec.field];
    out[spec.field] = typeof value === 'string' ? value : value === null || value === undefined ? '' : JSON.stringify(value);
  }
  return out;
}

function stringsOf(value: JsonValue | undefined): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function objectOf(value: JsonValue | undefined): JsonObject | null {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? value : null;
}

export function outlookTag(stored: StoredItem): string | null {
  if (stored.kind === 'contact') {
    const first = Array.isArray(stored.data.emailAddresses) ? objectOf(stored.data.emailAddresses[0]) : null;
    return typeof first?.address === 'string' ? first.address : null;
  }
  if (stored.kind === 'task') {
    const body = objectOf(stored.data.body);
    return typeof body?.content === 'string' ? body.content.trim() : null;
  }
  return typeof stored.data.internetMessageId === 'string' ? stored.data.internetMessageId : null;
}

export function crmTag(kind: ItemKind, data: JsonObject): string | null {
  const value = kind === 'contact' ? data.emailaddress1 : kind === 'task' ? data.description : data.messageid;
  return typeof value === 'string' ? value.trim() : null;
}

export { MAILBOX, CATEGORY };
