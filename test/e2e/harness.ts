// One end-to-end world per test file (DESIGN.md §9.4 "Cycle: end to end on Azurite + both simulators"): Azurite
// (Table Storage), the Graph simulator and the Dataverse simulator, wired through the composition root exactly as a
// deployment is (buildRuntime from app settings), so every request goes through the real adapters and SDK clients.
//
// The user is played the way the brief asks: "in Outlook on the web" = ordinary Graph HTTP calls to the simulator with a
// token of its own (received mail is seeded through the simulator's control, since Graph can only create drafts,
// graph-behaviour.md §2.3); "in the CRM" = the Dataverse simulator's control, which writes through the same path as
// the Web API (new version, change-feed entry) without adding requests to the log the tests count.
import { trustedFetch, type Fetch } from '../../src/adapters/http/trusted-fetch';
import { runMailboxCycle } from '../../src/app/cycle';
import type { CycleDeps, CycleOptions } from '../../src/app/deps';
import { buildRuntime, type Runtime } from '../../src/composition';
import { loadConfigOrThrow } from '../../src/config';
import type { ItemKind, JsonObject, KindSettings, MailboxSettings, MappingRow } from '../../src/core/model';
import type { Clock } from '../../src/ports/clock';
import type { RunSummary } from '../../src/ports/state-store';
import { startDataverseSimulator, type DataverseSimulator } from '../../src/simulators/dataverse';
import { startGraphSimulator, type GraphSimulator } from '../../src/simulators/graph';
import { startAzurite, type AzuriteInstance } from '../support/azurite';
import { CountingCrm, CountingMailboxSource, FaultyStore, SimulatedCrash, Writes } from '../app/support/world';
import { RecordingLogger } from '../app/support/world';

export const MAILBOX = 'adele@contoso.test';
export const CATEGORY = 'Tracked to CRM';
export const PRODUCT_GUID = '6f0c3a9e-2b7d-4e1a-9c58-d41b7e2f8a63';
const MAILBOX_AAD_OBJECT_ID = 'a1b2c3d4-0000-4000-8000-0000000000e1';
const OTHER_AAD_OBJECT_ID = 'a1b2c3d4-0000-4000-8000-0000000000e2';
const DAY = 86_400_000;

export const ENTITY_SETS: Record<ItemKind, string> = { contact: 'contacts', appointment: 'appointments', task: 'tasks', email: 'emails' };
type GraphKind = 'contact' | 'event' | 'todoTask' | 'message';
export const GRAPH_KINDS: Record<ItemKind, GraphKind> = { contact: 'contact', appointment: 'event', task: 'todoTask', email: 'message' };

/** The worker's clock: the wall clock plus an offset a test can move forward (past a dead process's lease). */
export class OffsetClock implements Clock {
  private offset = 0;
  now(): Date {
    return new Date(Date.now() + this.offset);
  }
  advance(ms: number): void {
    this.offset += ms;
  }
}

/** Keeps the worker's log lines for assertions (one recording logger for every test harness). */
export const QuietLogger = RecordingLogger;
export type QuietLogger = RecordingLogger;

/** Writes one cycle made on each side, counted from the simulators' own request logs. */
export interface WriteCounts {
  graph: number;
  crm: number;
}

/** Requests one cycle made on each side, from the simulators' request logs (token requests excluded). */
export interface RequestCounts {
  graph: number;
  crm: number;
}

const WRITE_METHODS = new Set(['POST', 'PATCH', 'PUT', 'DELETE']);

/** `2026-03-02T09:00:00.0000000`: Graph's dateTimeTimeZone form in UTC. */
export function graphDateTime(at: Date): string {
  return at.toISOString().replace('Z', '').replace(/\.\d{3}$/, '.0000000');
}

/** Dataverse's instant form. */
export function crmInstant(at: Date): string {
  return at.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** A whole-hour instant `days` from now (negative: in the past). */
export function daysFromNow(days: number, hourUtc = 10): Date {
  const at = new Date(Date.now() + days * DAY);
  at.setUTCHours(hourUtc, 0, 0, 0);
  return at;
}

export interface World {
  graph: GraphSimulator;
  dataverse: DataverseSimulator;
  azurite: AzuriteInstance;
  runtime: Runtime;
  clock: OffsetClock;
  logger: QuietLogger;
  mailbox: string;
  /** The mailbox owner's systemuserid, and another seller's. */
  crmUserId: string;
  otherUserId: string;
  settings: MailboxSettings;
  outlook: OutlookWeb;
  crm: CrmUser;
  /** One cycle on the runtime's real ports (or on `deps`); returns its summary and the writes/requests it made. */
  cycle(options?: CycleRun): Promise<CycleResult>;
  /** The runtime's ports behind crash decorators that kill the "process" right after the nth write named `name`. */
  crashingDeps(name: CrashPoint, nth?: number): { deps: CycleDeps; writes: Writes };
  mappings(kind?: ItemKind): Promise<MappingRow[]>;
  mappingByCrmId(kind: ItemKind, crmId: string): Promise<MappingRow | null>;
  mappingByOutlookId(kind: ItemKind, outlookId: string): Promise<MappingRow | null>;
  stop(): Promise<void>;
}

export type CrashPoint = 'outlook.create' | 'outlook.update' | 'outlook.delete' | 'crm.create' | 'crm.update' | 'crm.delete' | 'store.commit';

export interface CycleRun extends CycleOptions {
  deps?: CycleDeps;
  /** Per-kind overrides of the mailbox settings for this cycle (e.g. deleteInCrmOnUntrack). */
  kinds?: Partial<Record<ItemKind, Partial<KindSettings>>>;
  /** Mailbox-level overrides for this cycle (dryRun, deleteGuard, …). */
  settings?: Partial<Omit<MailboxSettings, 'kinds' | 'mailbox'>>;
}

export interface CycleResult {
  summary: RunSummary;
  writes: WriteCounts;
  requests: RequestCounts;
}

/** Crashes right after the nth successful write of one kind (Writes counts all kinds; this kills on one). */
class CrashAfterNth extends Writes {
  constructor(private readonly target: CrashPoint, private readonly nth: number) {
    super(null);
  }
  override written(name: string): void {
    super.written(name);
    if (name === this.target && (this.byName[name] ?? 0) >= this.nth) {
      this.dead = true;
      throw new SimulatedCrash();
    }
  }
}

/**
 * The sync cycle, then the cycle that reads its echoes: both without failures, and the second writes nothing
 * (DESIGN.md §5). Throws with what went wrong, so a test that calls it fails.
 */
export async function syncThenEcho(world: World): Promise<void> {
  const first = await world.cycle();
  const echo = await world.cycle();
  const failures = [...first.summary.failures, ...echo.summary.failures];
  if (failures.length > 0) throw new Error(`cycle failures: ${JSON.stringify(failures)}`);
  if (echo.writes.graph !== 0 || echo.writes.crm !== 0) throw new Error(`the echo cycle wrote: ${JSON.stringify(echo.writes)}`);
}

export interface WorldOptions {
  /** `Prefer: odata.maxpagesize` on the worker's Graph delta requests (default 100, the composition root's). */
  graphPageSize?: number;
}

export async function startWorld(options: WorldOptions = {}): Promise<World> {
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  };
  try {
    const azurite = await startAzurite({ table: true, queue: true });
    stops.push(() => azurite.stop());
    const graph = await startGraphSimulator();
    stops.push(() => graph.stop());
    const dataverse = await startDataverseSimulator();
    stops.push(() => dataverse.stop());

    graph.control.createUser(MAILBOX, 'Adele Vance');
    const crmUserId = dataverse.control.createUser({ fullname: 'Adele Vance', internalemailaddress: MAILBOX, azureactivedirectoryobjectid: MAILBOX_AAD_OBJECT_ID });
    const otherUserId = dataverse.control.createUser({ fullname: 'Otto Other', internalemailaddress: 'otto@contoso.test', azureactivedirectoryobjectid: OTHER_AAD_OBJECT_ID });

    // App settings as a deployment has them (the sandbox's form, src/sandbox/index.ts). The delete guard is opened
    // wide: these tests delete one item of a handful on purpose, which the default share (20 %) would hold.
    const env: Record<string, string> = {
      OCS_TENANT_ID: 'contoso.onmicrosoft.com',
      OCS_CLIENT_ID: '5a4d0b7e-0000-4000-8000-00000000e2e0',
      OCS_CLIENT_SECRET: 'e2e-client-secret',
      OCS_GRAPH_BASE_URL: graph.baseUrl,
      OCS_AUTHORITY_HOST: graph.baseUrl,
      OCS_EXTRA_CA_PEM: graph.caCert,
      AzureWebJobsStorage: azurite.connectionString,
      OCS_CRM_URL: dataverse.baseUrl,
      OCS_MAILBOXES: MAILBOX,
      OCS_PRODUCT_GUID: PRODUCT_GUID,
      OCS_CATEGORY_NAME: CATEGORY,
      OCS_DELETE_GUARD_MAX_COUNT: '1000',
      OCS_DELETE_GUARD_MAX_SHARE: '1',
    };
    const clock = new OffsetClock();
    const logger = new QuietLogger();
    const runtime = buildRuntime(loadConfigOrThrow(env), {
      clock,
      logger,
      crmAuthorityHost: dataverse.baseUrl,
      owner: 'e2e-worker',
      ...(options.graphPageSize ? { graphPageSize: options.graphPageSize } : {}),
    });
    stops.push(() => runtime.close());
    const settings = runtime.settingsFor(MAILBOX);
    const outlook = new OutlookWeb(graph, trustedFetch(graph.caCert), MAILBOX);
    const crm = new CrmUser(dataverse, crmUserId);
    let generation = 0;

    const graphLog = () => graph.requestLog.list({ mailbox: MAILBOX });
    const crmLog = () => dataverse.requestLog.entries.filter((entry) => entry.kind !== 'identity');
    const graphWrites = () => graphLog().filter((entry) => WRITE_METHODS.has(entry.method) && entry.kind !== '$batch').length;
    // A $batch envelope is a POST that writes nothing itself: its sub-requests are logged one by one (viaBatch).
    const crmWrites = () => crmLog().filter((entry) => WRITE_METHODS.has(entry.method) && entry.kind !== 'batch').length;
    // Requests as the services count them: top-level HTTP requests (a $batch is one), token requests excluded.
    const graphRequests = () => graph.requestLog.list({ viaBatch: false }).filter((entry) => entry.mailbox === MAILBOX || entry.kind === '$batch').length;
    const crmRequests = () => crmLog().filter((entry) => !entry.viaBatch).length;

    const world: World = {
      graph,
      dataverse,
      azurite,
      runtime,
      clock,
      logger,
      mailbox: MAILBOX,
      crmUserId,
      otherUserId,
      settings,
      outlook,
      crm,
      cycle: async (options = {}) => {
        const { deps, kinds, settings: overrides, ...cycleOptions } = options;
        const before = { gw: graphWrites(), cw: crmWrites(), gr: graphRequests(), cr: crmRequests() };
        const effective: MailboxSettings = { ...settings, ...overrides, kinds: { ...settings.kinds } };
        for (const [kind, overrides] of Object.entries(kinds ?? {}) as [ItemKind, Partial<KindSettings>][]) {
          effective.kinds[kind] = { ...effective.kinds[kind], ...overrides };
        }
        const summary = await runMailboxCycle(deps ?? runtime.deps, effective, { ...runtime.cycleOptions, ...cycleOptions });
        return {
          summary,
          writes: { graph: graphWrites() - before.gw, crm: crmWrites() - before.cw },
          requests: { graph: graphRequests() - before.gr, crm: crmRequests() - before.cr },
        };
      },
      crashingDeps: (name, nth = 1) => {
        generation += 1;
        const writes = new CrashAfterNth(name, nth);
        const base = runtime.deps;
        return {
          writes,
          deps: {
            ...base,
            // A new process: its own lease owner.
            owner: `e2e-crashing-${generation}`,
            mailboxSource: new CountingMailboxSource(base.mailboxSource, writes),
            crm: new CountingCrm(base.crm, writes),
            store: new FaultyStore(base.store, writes),
          },
        };
      },
      mappings: async (kind) => {
        const rows: MappingRow[] = [];
        for await (const row of runtime.store.listMappings(MAILBOX, kind)) rows.push(row);
        return rows;
      },
      mappingByCrmId: (kind, crmId) => runtime.store.findMappingByCrmId(MAILBOX, kind, crmId),
      mappingByOutlookId: (kind, outlookId) => runtime.store.findMappingByOutlookId(MAILBOX, kind, outlookId),
      stop: stopAll,
    };
    return world;
  } catch (error) {
    await stopAll();
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// "Outlook on the web": plain Graph requests with a token of the user's own, immutable ids (DESIGN.md §3).

export interface RawOutlookItem {
  id: string;
  props: JsonObject;
  extendedProperties: Record<string, string>;
  categories: string[];
  /** The `Tracked` marker (DESIGN.md §2) and the `CrmId` stamp, as stored on the item. */
  tracked: boolean;
  crmId: string | null;
}

export class OutlookWeb {
  private readonly base: string;
  private readonly headers: Record<string, string> = {
    Authorization: 'Bearer outlook-on-the-web',
    'Content-Type': 'application/json',
    Prefer: 'IdType="ImmutableId", outlook.timezone="UTC"',
  };

  constructor(private readonly sim: GraphSimulator, private readonly fetch: Fetch, readonly mailbox: string) {
    this.base = `${sim.baseUrl}v1.0/users/${encodeURIComponent(mailbox)}`;
  }

  get taskListId(): string {
    return this.sim.control.folders(this.mailbox).tasks;
  }

  private async call(method: string, path: string, body?: JsonObject): Promise<JsonObject | null> {
    const response = await this.fetch(`${this.base}${path}`, {
      method,
      headers: this.headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (response.status >= 400) throw new Error(`Outlook on the web: ${method} ${path} → ${response.status} ${text}`);
    return text ? (JSON.parse(text) as JsonObject) : null;
  }

  private path(kind: ItemKind, id?: string): string {
    const tail = id === undefined ? '' : `/${encodeURIComponent(id)}`;
    switch (kind) {
      case 'contact':
        return `/contacts${tail}`;
      case 'appointment':
        return `/events${tail}`;
      case 'task':
        return `/todo/lists/${encodeURIComponent(this.taskListId)}/tasks${tail}`;
      case 'email':
        return `/messages${tail}`;
    }
  }

  /** Create a contact, event or To Do task (mail cannot be created through Graph except drafts). */
  async create(kind: Exclude<ItemKind, 'email'>, props: JsonObject): Promise<string> {
    const created = await this.call('POST', this.path(kind), props);
    const id = created?.['id'];
    if (typeof id !== 'string') throw new Error('created item without an id');
    return id;
  }

  /** A received message in the Inbox (as mail arrives); returns its immutable id. */
  receive(props: JsonObject): string {
    return this.sim.control.seedMessage(this.mailbox, { folder: 'inbox', props }).immutableId;
  }

  async patch(kind: ItemKind, id: string, props: JsonObject): Promise<void> {
    await this.call('PATCH', this.path(kind, id), props);
  }

  async remove(kind: ItemKind, id: string): Promise<void> {
    await this.call('DELETE', this.path(kind, id));
  }

  /** Set or clear the tracking category, keeping the item's other categories (PATCH replaces the array). */
  async setCategory(kind: ItemKind, id: string, on: boolean): Promise<void> {
    const current = this.read(id);
    if (!current) throw new Error(`no Outlook item ${id}`);
    const others = current.categories.filter((name) => name.toLowerCase() !== CATEGORY.toLowerCase());
    await this.patch(kind, id, { categories: on ? [...others, CATEGORY] : others });
  }

  /** A new To Do list; returns its id. */
  async createTaskList(displayName: string): Promise<string> {
    const created = await this.call('POST', '/todo/lists', { displayName });
    return String(created?.['id']);
  }

  /** A task in a given To Do list (the default list: `create('task', …)`). */
  async createTaskIn(listId: string, props: JsonObject): Promise<string> {
    const created = await this.call('POST', `/todo/lists/${encodeURIComponent(listId)}/tasks`, props);
    return String(created?.['id']);
  }

  async patchTaskIn(listId: string, id: string, props: JsonObject): Promise<void> {
    await this.call('PATCH', `/todo/lists/${encodeURIComponent(listId)}/tasks/${encodeURIComponent(id)}`, props);
  }

  /** The To Do task's linkedResources as stored (the CRM link lives there, graph-behaviour.md §3.5). */
  linkedResources(id: string): JsonObject[] {
    const full = (this.sim.control.getItemRaw(this.mailbox, id)?.['full'] ?? {}) as JsonObject;
    return Array.isArray(full['linkedResources']) ? (full['linkedResources'] as JsonObject[]) : [];
  }

  /** The mailbox's master category list (display names), as Outlook on the web shows it. */
  async masterCategories(): Promise<{ id: string; displayName: string }[]> {
    const page = await this.call('GET', '/outlook/masterCategories');
    const value = Array.isArray(page?.['value']) ? (page['value'] as JsonObject[]) : [];
    return value.map((c) => ({ id: String(c['id']), displayName: String(c['displayName']) }));
  }

  async deleteMasterCategory(id: string): Promise<void> {
    await this.call('DELETE', `/outlook/masterCategories/${encodeURIComponent(id)}`);
  }

  /** A direct read of the stored item (either id), or null when it is gone. */
  read(id: string): RawOutlookItem | null {
    const raw = this.sim.control.getItemRaw(this.mailbox, id);
    return raw ? toRaw(raw) : null;
  }

  /** Live items of a kind (every folder/list of that kind). */
  list(kind: ItemKind): RawOutlookItem[] {
    return this.sim.control.listItems(this.mailbox, GRAPH_KINDS[kind]).map(toRaw);
  }
}

function toRaw(raw: JsonObject): RawOutlookItem {
  const props = (raw['props'] ?? {}) as JsonObject;
  const ext = (raw['extendedProperties'] ?? {}) as Record<string, string>;
  const full = (raw['full'] ?? {}) as JsonObject;
  const categories = Array.isArray(props['categories']) ? (props['categories'] as string[]) : [];
  const find = (name: string) => Object.entries(ext).find(([id]) => new RegExp(`\\{${PRODUCT_GUID}\\}\\s+Name\\s+${name}$`, 'i').test(id))?.[1];
  // A stamp cleared on unlink is written as an empty value (a single-value extended property cannot be removed by PATCH).
  let crmId = find('CrmId') || null;
  // To Do tasks carry the link as a linkedResource (graph-behaviour.md §3.5).
  if (crmId === null && Array.isArray(full['linkedResources'])) {
    const link = (full['linkedResources'] as JsonObject[]).find((r) => typeof r['externalId'] === 'string');
    crmId = (link?.['externalId'] as string | undefined) ?? null;
  }
  return {
    id: String(raw['immutableId']),
    props,
    extendedProperties: ext,
    categories,
    tracked: String(find('Tracked') ?? '').toLowerCase() === 'true',
    crmId,
  };
}

// ---------------------------------------------------------------------------------------------------------------------
// A CRM user at work: the Dataverse simulator's control (same write path as the Web API: new version, change feed).

export class CrmUser {
  constructor(private readonly sim: DataverseSimulator, readonly userId: string) {}

  create(kind: ItemKind, body: Record<string, unknown>, owner = this.userId): string {
    return this.sim.control.seed(ENTITY_SETS[kind], body, { as: owner });
  }

  update(kind: ItemKind, id: string, body: Record<string, unknown>): void {
    this.sim.control.update(ENTITY_SETS[kind], id, body, { as: this.userId });
  }

  remove(kind: ItemKind, id: string): void {
    if (!this.sim.control.remove(ENTITY_SETS[kind], id)) throw new Error(`no CRM ${kind} ${id}`);
  }

  reassign(kind: ItemKind, id: string, ownerId: string): void {
    this.sim.control.reassign(ENTITY_SETS[kind], id, ownerId);
  }

  /** A direct read (all columns), or null when the record is gone. */
  read(kind: ItemKind, id: string): Record<string, unknown> | null {
    return this.sim.control.get(ENTITY_SETS[kind], id);
  }

  rows(kind: ItemKind): Record<string, unknown>[] {
    return this.sim.control.rows(ENTITY_SETS[kind]);
  }

  /** Move the CRM's clock on, so its next change is measurably later than Outlook's (DESIGN.md §5 "more recent"). */
  later(ms = 2_000): void {
    this.sim.control.advanceClock(ms);
  }
}

/** An event "in Outlook on the web", with the tracking category unless `tracked` is false. */
export function eventProps(subject: string, start: Date, extra: JsonObject = {}, tracked = true): JsonObject {
  return {
    subject,
    start: { dateTime: graphDateTime(start), timeZone: 'UTC' },
    end: { dateTime: graphDateTime(new Date(start.getTime() + 3_600_000)), timeZone: 'UTC' },
    body: { contentType: 'text', content: `${subject}: agenda` },
    location: { displayName: 'Room 12' },
    ...(tracked ? { categories: [CATEGORY] } : {}),
    ...extra,
  };
}

export function contactProps(given: string, surname: string, extra: JsonObject = {}, tracked = true): JsonObject {
  const address = `${given}.${surname}@fabrikam.test`.toLowerCase();
  return {
    givenName: given,
    surname,
    emailAddresses: [{ address, name: `${given} ${surname}` }],
    ...(tracked ? { categories: [CATEGORY] } : {}),
    ...extra,
  };
}

export function taskProps(title: string, extra: JsonObject = {}, tracked = true): JsonObject {
  return { title, importance: 'normal', ...(tracked ? { categories: [CATEGORY] } : {}), ...extra };
}

export function messageProps(subject: string, from: string, extra: JsonObject = {}): JsonObject {
  return {
    subject,
    body: { contentType: 'text', content: `${subject}. Best regards.` },
    internetMessageId: `<${subject.toLowerCase().replace(/\W+/g, '-')}-${Date.now()}@fabrikam.test>`,
    from: { emailAddress: { address: from, name: from.split('@')[0] ?? from } },
    toRecipients: [{ emailAddress: { address: MAILBOX, name: 'Adele Vance' } }],
    ...extra,
  };
}

export function crmAppointmentBody(subject: string, start: Date): Record<string, unknown> {
  return {
    subject,
    scheduledstart: crmInstant(start),
    scheduledend: crmInstant(new Date(start.getTime() + 30 * 60_000)),
    location: 'Teams',
  };
}

/** Ids of the rows of a CRM table whose column equals a value. */
export function crmIdsWhere(world: World, kind: ItemKind, column: string, value: unknown): string[] {
  const key = `${kind === 'contact' ? 'contact' : 'activity'}id`;
  return world.crm
    .rows(kind)
    .filter((row) => row[column] === value)
    .map((row) => String(row[key]));
}
