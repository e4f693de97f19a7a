// The simulator's control surface: in-process helpers (`GraphSimulator.control`) and the same operations over HTTP
// for `npm run simulate`. Control calls are not Graph requests: they are not logged, throttled or faulted.
//
// HTTP routes (JSON in and out, no auth, under the simulator's own base URL):
//   GET    /_sim                                    → {service, users, now, knobs}
//   GET    /_sim/users                              → [{id, userPrincipalName, displayName, mail}]
//   POST   /_sim/users            {userPrincipalName, displayName?}   → the user (idempotent by UPN)
//   GET    /_sim/users/{upn}/folders               → {inbox, sentitems, drafts, deleteditems, contacts, calendar, tasks}
//   POST   /_sim/users/{upn}/messages {folder: 'inbox'|'sentitems'|..., isDraft?: false, ...message props}
//                                                  → the seeded message (Graph itself can only create drafts)
//   POST   /_sim/users/{upn}/seed     {kind: 'contact'|'event'|'todoTask'|'message', items: [...], container?}
//                                                  → {ids}: bulk seeding for benchmarks (same defaults/validation as POST)
//   GET    /_sim/users/{upn}/items?kind=contact     → raw stored items (both ids, props, extended properties)
//   POST   /_sim/users/{upn}/evict-tokens           → invalidates every delta token of that mailbox (410 next, §1.6)
//   POST   /_sim/evict-tokens                       → the same for every mailbox
//   GET    /_sim/knobs                              → the live knobs
//   PATCH  /_sim/knobs            {…partial GraphKnobs}  → the knobs after the change
//   GET    /_sim/requests?mailbox=&kind=&method=    → {entries, summary} of the Graph request log
//   DELETE /_sim/requests                           → clears the request log
//   POST   /_sim/clock            {now?: ISO string | null, advanceMs?: number}  → {now}
// Items are otherwise seeded through the ordinary Graph endpoints (POST /v1.0/users/{upn}/contacts, …).
import { randomUUID } from 'node:crypto';
import type { GraphKnobs } from './knobs';
import { defaultKnobs } from './knobs';
import { ODataError, canonicalExtendedPropertyId } from './odata';
import { messageDefaults } from './represent';
import type { GraphService } from './service';
import type { Json, JsonObject, Mailbox, ResourceKind, UserRecord } from './store';

export interface SimulatorClock {
  now(): Date;
  /** Pins the simulated now; null returns to the wall clock. */
  setNow(now: Date | string | null): void;
  advance(ms: number): void;
}

export function createClock(): SimulatorClock {
  let offset = 0;
  let pinned: number | null = null;
  return {
    now: () => new Date(pinned ?? Date.now() + offset),
    setNow: (now) => {
      pinned = now === null ? null : new Date(now).getTime();
      offset = 0;
    },
    advance: (ms) => {
      if (pinned !== null) pinned += ms;
      else offset += ms;
    },
  };
}

export interface SeedMessageOptions {
  /** Well-known name (`inbox`, `sentitems`, `drafts`, `deleteditems`) or folder id; default inbox. */
  folder?: string;
  isDraft?: boolean;
  props?: JsonObject;
  extendedProperties?: { id: string; value: string }[];
}

export interface WellKnownIds {
  inbox: string;
  sentitems: string;
  drafts: string;
  deleteditems: string;
  contacts: string;
  calendar: string;
  tasks: string;
}

export interface GraphControl {
  createUser(userPrincipalName: string, displayName?: string): UserRecord;
  users(): UserRecord[];
  /** Default ids of the well-known containers of a mailbox. */
  folders(mailbox: string): WellKnownIds;
  /** Puts a message straight into a folder (received or sent mail cannot be created through Graph). */
  seedMessage(mailbox: string, options?: SeedMessageOptions): { id: string; immutableId: string };
  /**
   * Bulk seeding for benchmarks: creates items exactly as POSTs would (same defaults and validation), without HTTP,
   * logging or faults. `container`: a contact folder or To Do list id (default folder/list when omitted), or a mail
   * folder well-known name or id for messages (inbox when omitted; seeded messages are not drafts unless isDraft).
   * Returns the default ids.
   */
  seed(mailbox: string, kind: 'contact' | 'event' | 'todoTask' | 'message', items: readonly JsonObject[], container?: string): string[];
  /** The stored item by either id, with both ids, raw props and all extended properties; null when absent. */
  getItemRaw(mailbox: string, id: string): JsonObject | null;
  /** Raw items of a kind (optionally of one container collection key, e.g. `contact:<folderId>`). */
  listItems(mailbox: string, kind: ResourceKind, collectionKey?: string): JsonObject[];
  /** Invalidates all delta tokens of one mailbox (or of all, when omitted): the next use gets 410 (§1.6). */
  evictTokens(mailbox?: string): void;
  setNow(now: Date | string | null): void;
  advanceClock(ms: number): void;
  now(): Date;
  resetKnobs(): void;
}

export function createControl(service: GraphService, clock: SimulatorClock): GraphControl {
  const mailbox = (key: string): Mailbox => {
    const mb = service.mailboxesByKey.get(key.toLowerCase());
    if (!mb) throw new Error(`no such simulated user: ${key}`);
    return mb;
  };
  const seedMessage: GraphControl['seedMessage'] = (key, options = {}) => {
    const mb = mailbox(key);
    const name = options.folder ?? 'inbox';
    const folder = mb.mailFolderByWellKnown.get(name.toLowerCase()) ?? mb.byId.get(name);
    const c = folder ? mb.childCollection.get(folder.immutableId) : undefined;
    if (!c || folder?.kind !== 'mailFolder') throw new Error(`no such mail folder: ${name}`);
    const now = clock.now().toISOString();
    const isDraft = options.isDraft ?? name.toLowerCase() === 'drafts';
    const item = mb.createItem('message', messageDefaults({ ...(options.props ?? {}) }, isDraft, now, { name: mb.user.displayName, address: mb.user.mail }), c);
    for (const e of options.extendedProperties ?? []) {
      const k = canonicalExtendedPropertyId(e.id);
      if (!k) throw new Error(`invalid extended property id: ${e.id}`);
      item.ext.set(k, { id: e.id, value: e.value });
    }
    return { id: item.restId, immutableId: item.immutableId };
  };
  return {
    createUser: (upn, displayName) => service.createUser(upn, displayName),
    users: () => service.users(),
    folders: (key) => {
      const mb = mailbox(key);
      const wk = (name: string) => mb.mailFolderByWellKnown.get(name)?.restId ?? '';
      return { inbox: wk('inbox'), sentitems: wk('sentitems'), drafts: wk('drafts'), deleteditems: wk('deleteditems'), contacts: mb.defaultContactFolder.restId, calendar: mb.calendarId, tasks: mb.defaultTodoList.restId };
    },
    seedMessage,
    seed: (key, kind, items, container) => {
      const mb = mailbox(key);
      const ids: string[] = [];
      if (kind === 'message') {
        for (const props of items) {
          const { isDraft, ...rest } = props;
          ids.push(seedMessage(key, { folder: container ?? 'inbox', isDraft: isDraft === true, props: rest }).id);
        }
        return ids;
      }
      let owner;
      if (kind === 'contact') owner = container ? mb.byId.get(container) : mb.defaultContactFolder;
      else if (kind === 'todoTask') owner = container ? mb.byId.get(container) : mb.defaultTodoList;
      const c = kind === 'event' ? mb.calendar : owner ? mb.childCollection.get(owner.immutableId) : undefined;
      if (!c) throw new Error(`no such container: ${container ?? ''}`);
      for (const props of items) ids.push(service.create(mb, c, kind, props).created.restId);
      return ids;
    },
    getItemRaw: (key, id) => service.rawItem(mailbox(key), id),
    listItems: (key, kind, collectionKey) => {
      const mb = mailbox(key);
      const out: JsonObject[] = [];
      for (const c of mb.collections.values()) {
        if (c.kind !== kind || (collectionKey && c.key !== collectionKey)) continue;
        for (const item of c.members.values()) {
          const raw = service.rawItem(mb, item.restId);
          if (raw) out.push(raw);
        }
      }
      return out;
    },
    evictTokens: (key) => {
      if (key) mailbox(key).evictTokens();
      else for (const mb of new Set(service.mailboxesByKey.values())) mb.evictTokens();
    },
    setNow: (now) => clock.setNow(now),
    advanceClock: (ms) => clock.advance(ms),
    now: () => clock.now(),
    resetKnobs: () => {
      Object.assign(service.knobs, defaultKnobs());
    },
  };
}

export interface ControlReply {
  status: number;
  body: Json | undefined;
}

/** Serves `/_sim/...`; returns null for other paths. */
export function handleControlRequest(service: GraphService, control: GraphControl, method: string, path: string, query: URLSearchParams, body: Json | undefined): ControlReply | null {
  if (!/^\/_sim(\/|$)/i.test(path)) return null;
  const segs = path.split('/').filter(Boolean).slice(1).map((s) => decodeURIComponent(s));
  const obj = (body && typeof body === 'object' && !Array.isArray(body) ? body : {}) as JsonObject;
  try {
    const [a, b, c] = segs;
    if (a === 'users' && segs.length === 1) {
      if (method === 'GET') return { status: 200, body: control.users() as unknown as Json };
      if (method === 'POST') {
        const upn = obj['userPrincipalName'];
        if (typeof upn !== 'string' || !upn.includes('@')) return { status: 400, body: { error: 'userPrincipalName (an e-mail address) is required' } };
        return { status: 201, body: control.createUser(upn, typeof obj['displayName'] === 'string' ? obj['displayName'] : undefined) as unknown as Json };
      }
    }
    if (segs.length === 0 && method === 'GET') {
      return { status: 200, body: { service: 'graph-simulator', users: control.users().length, now: control.now().toISOString(), knobs: service.knobs as unknown as Json } };
    }
    if (a === 'users' && b && segs.length === 3) {
      if (c === 'folders' && method === 'GET') return { status: 200, body: control.folders(b) as unknown as Json };
      if (c === 'seed' && method === 'POST') {
        const kind = obj['kind'];
        const items = obj['items'];
        if (!['contact', 'event', 'todoTask', 'message'].includes(String(kind)) || !Array.isArray(items)) return { status: 400, body: { error: "body must be {kind: 'contact'|'event'|'todoTask'|'message', items: [...], container?}" } };
        const ids = control.seed(b, kind as 'contact', items as JsonObject[], typeof obj['container'] === 'string' ? obj['container'] : undefined);
        return { status: 201, body: { ids } };
      }
      if (c === 'messages' && method === 'POST') {
        const { folder, isDraft, singleValueExtendedProperties, ...props } = obj;
        const seeded = control.seedMessage(b, {
          folder: typeof folder === 'string' ? folder : 'inbox',
          isDraft: typeof isDraft === 'boolean' ? isDraft : undefined,
          props: props as JsonObject,
          extendedProperties: Array.isArray(singleValueExtendedProperties) ? (singleValueExtendedProperties as { id: string; value: string }[]) : [],
        });
        return { status: 201, body: control.getItemRaw(b, seeded.id) };
      }
      if (c === 'items' && method === 'GET') return { status: 200, body: control.listItems(b, (query.get('kind') ?? 'contact') as ResourceKind, query.get('collection') ?? undefined) };
      if (c === 'evict-tokens' && method === 'POST') {
        control.evictTokens(b);
        return { status: 204, body: undefined };
      }
    }
    if (a === 'evict-tokens' && method === 'POST') {
      control.evictTokens();
      return { status: 204, body: undefined };
    }
    if (a === 'knobs') {
      if (method === 'GET') return { status: 200, body: service.knobs as unknown as Json };
      if (method === 'PATCH') {
        const known = service.knobs as unknown as Record<string, unknown>;
        for (const [k, v] of Object.entries(obj)) {
          if (!(k in known)) return { status: 400, body: { error: `unknown knob '${k}'` } };
          known[k] = v;
        }
        return { status: 200, body: service.knobs as unknown as Json };
      }
    }
    if (a === 'requests') {
      if (method === 'GET') {
        const filter: { mailbox?: string; kind?: string; method?: string } = {};
        for (const k of ['mailbox', 'kind', 'method'] as const) {
          const v = query.get(k);
          if (v) filter[k] = v;
        }
        return { status: 200, body: { entries: service.log.list(filter), summary: service.log.summary() } as unknown as Json };
      }
      if (method === 'DELETE') {
        service.log.reset();
        return { status: 204, body: undefined };
      }
    }
    if (a === 'clock' && method === 'POST') {
      if ('now' in obj) control.setNow(obj['now'] === null ? null : String(obj['now']));
      if (typeof obj['advanceMs'] === 'number') control.advanceClock(obj['advanceMs']);
      return { status: 200, body: { now: control.now().toISOString() } };
    }
    return { status: 404, body: { error: `unknown control route ${method} ${path}` } };
  } catch (err) {
    const message = err instanceof ODataError || err instanceof Error ? err.message : String(err);
    return { status: 400, body: { error: message, ref: randomUUID() } };
  }
}

export type { GraphKnobs };
