// The Graph request pipeline: authentication, per-mailbox throttling and fault injection, routing, and the
// resource handlers. Transport-free (SimRequest in, SimResponse out), so the HTTPS server and `$batch` share it.
import { randomUUID } from 'node:crypto';
import { expandSeries, parseDateTimeTimeZone, resolveZone } from './calendar';
import { decodeToken, deltaPage, exceptionTimes, type DeltaQuery, type DeltaToken } from './delta';
import type { GraphKnobs } from './knobs';
import { ODataError, parseExpand, parseFilter, parsePrefer, parseSelect, type FilterContext, type ItemPredicate, type Preferences } from './odata';
import {
  CATEGORY_COLORS, badRequest, contactDefaults, eventDefaults, fullRepresentation, idOf, messageDefaults, occurrenceId, parseOccurrenceId,
  parseWriteBody, propertyOf, render, renderInstance, timeZoneNotSupported, todoTaskDefaults, TYPE_NAME, type RenderOptions,
} from './represent';
import { graphErrorBody } from '../shared/http';
import { tokenFingerprint, type RequestLog } from '../shared/request-log';
import { Mailbox, type Collection, type Json, type JsonObject, type ResourceKind, type SimClock, type StoredItem, type UserRecord } from './store';

export interface SimRequest {
  method: string;
  /** Path after the version segment, e.g. `/users/a@b.c/contacts`. Raw (percent-encoded) segments. */
  path: string;
  /** Query string without `?`. */
  query: string;
  /** Lower-cased header names. */
  headers: Record<string, string | undefined>;
  body: Json | undefined;
  viaBatch: boolean;
}

export interface SimResponse {
  status: number;
  headers: Record<string, string>;
  body?: Json;
}

interface Route {
  kind: string;
  mailboxKey: string | null;
  handle: () => SimResponse;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const WRITE_METHODS = new Set(['POST', 'PATCH', 'PUT', 'DELETE']);

/** Microsoft Graph's application id: a token for `00000003-0000-0000-c000-000000000000/.default` is a Graph token. */
const GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';

function serverError(status: 503 | 504, retryAfter: number | null, now: Date, requestId: string): SimResponse {
  const r = errorResponse(status, status === 503 ? 'ServiceUnavailable' : 'GatewayTimeout', status === 503 ? 'The service is temporarily unavailable.' : 'The gateway timed out.', now, requestId);
  if (retryAfter !== null) r.headers['Retry-After'] = String(retryAfter);
  return r;
}

export class GraphService {
  readonly mailboxesByKey = new Map<string, Mailbox>();
  private readonly inFlight = new Map<string, number>();
  private readonly budgetUse = new Map<string, number[]>();

  constructor(
    readonly knobs: GraphKnobs,
    readonly clock: SimClock,
    private readonly baseUrl: () => string,
    readonly log: RequestLog,
  ) {}

  // --- users ---

  createUser(upn: string, displayName?: string): UserRecord {
    const existing = this.mailboxesByKey.get(upn.toLowerCase());
    if (existing) return existing.user;
    const user: UserRecord = { id: randomUUID(), userPrincipalName: upn, displayName: displayName ?? upn.split('@')[0] ?? upn, mail: upn };
    const mb = new Mailbox(user, this.clock);
    this.mailboxesByKey.set(upn.toLowerCase(), mb);
    this.mailboxesByKey.set(user.id.toLowerCase(), mb);
    return user;
  }

  mailbox(key: string): Mailbox | undefined {
    const mb = this.mailboxesByKey.get(key.toLowerCase());
    if (mb || !this.knobs.autoCreateUsers || !key.includes('@')) return mb;
    this.createUser(key);
    return this.mailboxesByKey.get(key.toLowerCase());
  }

  users(): UserRecord[] {
    return [...new Set(this.mailboxesByKey.values())].map((m) => m.user);
  }

  // --- pipeline ---

  async handle(req: SimRequest): Promise<SimResponse> {
    const now = this.clock.now();
    const requestId = randomUUID();
    // Sub-requests of a $batch were authenticated with the envelope.
    const authFailure = req.viaBatch ? null : this.authenticate(req.headers['authorization'], now, requestId);
    const authorized = authFailure === null;
    let route: Route | null = null;
    let response: SimResponse;
    let mailboxForLog: string | null = null;
    try {
      route = this.route(req);
      const mb = route.mailboxKey ? this.mailbox(route.mailboxKey) : undefined;
      mailboxForLog = mb ? mb.user.userPrincipalName.toLowerCase() : (route.mailboxKey?.toLowerCase() ?? null);
      if (authFailure) {
        response = authFailure;
      } else {
        response = (await this.faults(req, mailboxForLog, now, requestId, route.handle)) ?? { status: 500, headers: {} };
      }
    } catch (err) {
      // An unauthenticated caller learns nothing about the URL.
      response = authFailure ?? this.errorFrom(err, now, requestId);
    }
    response.headers['request-id'] = requestId;
    response.headers['client-request-id'] = req.headers['client-request-id'] ?? requestId;
    this.log.record({
      at: now.toISOString(),
      mailbox: mailboxForLog,
      method: req.method.toUpperCase(),
      kind: route?.kind ?? 'unknown',
      status: response.status,
      authorized,
      token: tokenFingerprint(req.headers['authorization']),
      viaBatch: req.viaBatch,
      path: req.path + (req.query ? `?${req.query}` : ''),
    });
    return response;
  }

  /** Tokens issued by the identity routes, with their expiry on the simulator clock and the scope asked for. */
  readonly issuedTokens = new Map<string, { expiresAt: number; scope: string }>();

  recordIssuedToken(token: string, scope: string): void {
    this.issuedTokens.set(token, { expiresAt: this.clock.now().getTime() + this.knobs.tokenLifetimeSeconds * 1000, scope });
  }

  /**
   * null when the Authorization header carries a token this simulator accepts, else the 401 Graph answers
   * (`InvalidAuthenticationToken` in the §9.4 error shape, with Graph's `WWW-Authenticate` challenge).
   */
  authenticate(authorization: string | undefined, now: Date, requestId: string): SimResponse | null {
    const refuse = (message: string): SimResponse => {
      const r = errorResponse(401, 'InvalidAuthenticationToken', message, now, requestId);
      r.headers['WWW-Authenticate'] = 'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"';
      return r;
    };
    const token = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
    if (!token) return refuse('Access token is empty.');
    const issued = this.issuedTokens.get(token);
    if (issued) {
      if (issued.expiresAt <= now.getTime()) return refuse('Lifetime validation failed, the token is expired.');
      // The audience is the resource of the `.default` scope the token was asked for: this simulator's origin (what
      // the SDK's base URL makes the adapter ask for) or Graph's application id.
      const origin = new URL(this.base()).origin;
      const audiences = issued.scope.split(' ').map((s) => s.replace(/\/?\.default$/i, '').replace(/\/+$/, '').toLowerCase());
      if (!audiences.some((a) => a === origin.toLowerCase() || a === GRAPH_APP_ID)) return refuse('Access token validation failure. Invalid audience.');
      return null;
    }
    // Identity-route tokens this simulator did not issue (e.g. the Dataverse simulator's) are never valid here.
    if (token.startsWith('simtok.')) return refuse('Access token validation failure.');
    if (!this.knobs.acceptAnyBearer) return refuse(token.includes('.') ? 'Access token validation failure.' : 'IDX14100: JWT is not well formed, there are no dots (.).');
    return null;
  }

  errorFrom(err: unknown, now: Date, requestId: string): SimResponse {
    if (err instanceof ODataError) return errorResponse(err.status, err.code, err.message, now, requestId);
    const message = err instanceof Error ? err.message : String(err);
    return errorResponse(500, 'InternalServerError', message, now, requestId);
  }

  /** Throttling (§5.1/§5.2) and injected faults, then the handler. */
  private async faults(req: SimRequest, mailbox: string | null, now: Date, requestId: string, handle: () => SimResponse): Promise<SimResponse | null> {
    const k = this.knobs;
    const key = mailbox ?? '';
    const inFlight = (this.inFlight.get(key) ?? 0) + 1;
    this.inFlight.set(key, inFlight);
    try {
      if (mailbox && k.requestBudget) {
        const windowMs = k.requestBudget.windowSeconds * 1000;
        const use = this.budgetUse.get(key) ?? [];
        while (use.length && (use[0] ?? 0) <= now.getTime() - windowMs) use.shift();
        use.push(now.getTime());
        this.budgetUse.set(key, use);
        if (use.length > k.requestBudget.limit) {
          const retryAfter = Math.max(0.001, ((use[0] ?? now.getTime()) + windowMs - now.getTime()) / 1000);
          return throttled(retryAfter, now, requestId, 'Please retry again later.');
        }
      }
      if (mailbox && k.concurrencyLimit !== null && inFlight > k.concurrencyLimit) {
        return throttled(k.retryAfterSeconds, now, requestId, 'Application is over its MailboxConcurrency limit.');
      }
      if (req.viaBatch && k.batchThrottleNext > 0) {
        k.batchThrottleNext -= 1;
        return throttled(k.retryAfterSeconds, now, requestId, 'Please retry again later.');
      }
      if (k.throttleNext > 0) {
        k.throttleNext -= 1;
        return throttled(k.retryAfterSeconds, now, requestId, 'Please retry again later.');
      }
      if (k.serverErrorNext > 0) {
        k.serverErrorNext -= 1;
        return serverError(k.serverErrorStatus, k.serverErrorRetryAfter, now, requestId);
      }
      if (k.latencyMs > 0) await sleep(k.latencyMs);
      if (req.method.toUpperCase() === 'PATCH' && k.conflictNextPatch > 0) {
        k.conflictNextPatch -= 1;
        return errorResponse(412, 'ErrorIrresolvableConflict', CONFLICT_MESSAGE, now, requestId);
      }
      const response = handle();
      // §9.2: a 503/504 that arrives after the server acted; the write stands, its answer is lost.
      if (k.failAfterCommitNext > 0 && WRITE_METHODS.has(req.method.toUpperCase()) && response.status < 400) {
        k.failAfterCommitNext -= 1;
        return serverError(k.failAfterCommitStatus, k.serverErrorRetryAfter, now, requestId);
      }
      return response;
    } finally {
      this.inFlight.set(key, (this.inFlight.get(key) ?? 1) - 1);
    }
  }

  // --- routing ---

  private route(req: SimRequest): Route {
    const segs = splitPath(req.path);
    const lower = segs.map((s) => s.toLowerCase());
    const method = req.method.toUpperCase();
    const q = new Query(req.query);
    const prefs = parsePrefer(req.headers['prefer']);
    const notFound = (): never => {
      throw new ODataError(400, 'BadRequest', `Resource not found for the segment '${segs[segs.length - 1] ?? ''}'.`);
    };
    if (lower[0] === 'me') {
      return { kind: 'me', mailboxKey: null, handle: () => { throw new ODataError(400, 'BadRequest', '/me request is only valid with delegated authentication flow.'); } };
    }
    if (lower[0] !== 'users' || segs.length < 2) {
      if (lower[0] === 'users' && segs.length === 1 && method === 'GET') {
        return { kind: 'users.list', mailboxKey: null, handle: () => ok({ '@odata.context': `${this.base()}$metadata#users`, value: this.users().map((u) => ({ ...u })) }) };
      }
      return { kind: 'unknown', mailboxKey: null, handle: notFound };
    }
    const userKey = segs[1] ?? '';
    const r = lower.slice(2);
    const raw = segs.slice(2);
    const ctx: Ctx = { req, q, prefs, userKey, method };
    const mb = (): Mailbox => {
      const m = this.mailbox(userKey);
      if (!m) throw new ODataError(404, 'ErrorInvalidUser', `The requested user '${userKey}' is invalid.`);
      return m;
    };
    const route = (kind: string, handle: () => SimResponse): Route => ({ kind, mailboxKey: userKey, handle });
    const isDelta = (s: string | undefined) => s === 'delta' || s === 'microsoft.graph.delta' || s === 'delta()' || s === 'microsoft.graph.delta()';
    const at = (i: number) => r[i];
    const n = r.length;

    if (n === 0) {
      if (method !== 'GET') return route('users.other', () => methodNotAllowed());
      return route('users.get', () => {
        const m = this.mailbox(userKey);
        // directory lookups answer in the directory's error shape, mailbox routes with ErrorInvalidUser
        if (!m) throw new ODataError(404, 'Request_ResourceNotFound', `Resource '${userKey}' does not exist or one of its queried reference-property objects are not present.`);
        return ok({ '@odata.context': `${this.base()}$metadata#users/$entity`, ...m.user });
      });
    }
    // contacts (default folder) — /contacts/delta is an UNCONFIRMED alias of the default folder (§2.1)
    if (at(0) === 'contacts') {
      if (n === 1) return route(method === 'GET' ? 'contacts.list' : 'contacts.create', () => this.collectionOp(ctx, mb(), mb().childCollection.get(mb().defaultContactFolder.immutableId) as Collection, 'contact', `users/${enc(userKey)}/contacts`));
      if (n === 2 && isDelta(at(1))) return route('contacts.delta', () => this.delta(ctx, mb(), mb().childCollection.get(mb().defaultContactFolder.immutableId) as Collection, `users/${enc(userKey)}/contacts/delta`));
      if (n === 2) return route(`contacts.${verb(method)}`, () => this.itemOp(ctx, mb(), raw[1] ?? '', ['contact']));
    }
    if (at(0) === 'contactfolders') {
      if (n === 1) return route(method === 'GET' ? 'contactFolders.list' : 'contactFolders.create', () => this.collectionOp(ctx, mb(), mb().contactFolders, 'contactFolder', `users/${enc(userKey)}/contactFolders`));
      if (n === 2 && isDelta(at(1))) return route('contactFolders.delta', () => this.delta(ctx, mb(), mb().contactFolders, `users/${enc(userKey)}/contactFolders/delta`));
      const folderId = raw[1] ?? '';
      const folder = () => this.container(mb(), folderId, 'contactFolder');
      if (n === 2) return route(`contactFolders.${verb(method)}`, () => this.itemOp(ctx, mb(), folderId, ['contactFolder'], folder()));
      if (at(2) === 'contacts') {
        if (n === 3) return route(method === 'GET' ? 'contacts.list' : 'contacts.create', () => this.collectionOp(ctx, mb(), this.children(mb(), folder()), 'contact', `users/${enc(userKey)}/contactFolders/${enc(folderId)}/contacts`));
        if (n === 4 && isDelta(at(3))) return route('contacts.delta', () => this.delta(ctx, mb(), this.children(mb(), folder()), `users/${enc(userKey)}/contactFolders/${enc(folderId)}/contacts/delta`));
        if (n === 4) return route(`contacts.${verb(method)}`, () => this.itemOp(ctx, mb(), raw[3] ?? '', ['contact'], undefined, this.children(mb(), folder())));
      }
    }
    // calendar: /events, /calendar/events, /calendars/{id}/events (the one default calendar), and the same for
    // calendarView (calendars/{id}/calendarView/delta is UNCONFIRMED on v1.0, §2.2; served as the default calendar)
    if (n === 1 && at(0) === 'calendar' && method === 'GET') {
      return route('calendar.get', () => ok({ '@odata.context': `${this.base()}$metadata#users('${userKey}')/calendar/$entity`, id: mb().calendarId, name: 'Calendar', color: 'auto', isDefaultCalendar: true, canEdit: true, canShare: true, canViewPrivateItems: true, owner: { name: mb().user.displayName, address: mb().user.mail } }));
    }
    const cal = at(0) === 'calendar' ? 1 : at(0) === 'calendars' ? 2 : 0;
    const calRoute = (kind: string, handle: () => SimResponse): Route =>
      route(kind, () => {
        if (prefs.timeZone !== null && !resolveZone(prefs.timeZone)) throw timeZoneNotSupported(prefs.timeZone);
        if (cal === 2 && raw[1] !== mb().calendarId) throw new ODataError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
        return handle();
      });
    if (at(cal) === 'events') {
      const calPath = cal === 2 ? `calendars/${enc(raw[1] ?? '')}/` : cal ? 'calendar/' : '';
      const prefix = `users/${enc(userKey)}/${calPath}events`;
      if (n === cal + 1) return calRoute(method === 'GET' ? 'events.list' : 'events.create', () => this.collectionOp(ctx, mb(), mb().calendar, 'event', prefix));
      if (n === cal + 2 && isDelta(at(cal + 1))) return calRoute('events.delta', () => { throw new ODataError(400, 'BadRequest', 'events/delta is beta-only; v1.0 supports calendarView/delta (graph-behaviour.md §2.2).'); });
      if (n === cal + 2) return calRoute(`events.${verb(method)}`, () => this.eventOp(ctx, mb(), raw[cal + 1] ?? ''));
      if (n === cal + 3 && at(cal + 2) === 'instances' && method === 'GET') return calRoute('events.instances', () => this.instances(ctx, mb(), raw[cal + 1] ?? ''));
    }
    if (at(cal) === 'calendarview') {
      const calPath = cal === 2 ? `calendars/${enc(raw[1] ?? '')}/` : cal ? 'calendar/' : '';
      if (n === cal + 1 && method === 'GET') return calRoute('events.calendarView', () => this.calendarView(ctx, mb(), `users/${enc(userKey)}/${calPath}calendarView`));
      if (n === cal + 2 && isDelta(at(cal + 1)) && method === 'GET') return calRoute('events.delta', () => this.calendarDelta(ctx, mb(), `users/${enc(userKey)}/${calPath}calendarView/delta`));
    }
    // messages
    if (at(0) === 'messages') {
      if (n === 1) return route(method === 'GET' ? 'messages.list' : 'messages.create', () => this.messagesRoot(ctx, mb()));
      if (n === 2) return route(`messages.${verb(method)}`, () => this.itemOp(ctx, mb(), raw[1] ?? '', ['message']));
      if (n === 3 && method === 'POST') return route(`messages.${at(2)?.replace('microsoft.graph.', '')}`, () => this.messageAction(ctx, mb(), raw[1] ?? '', at(2) ?? ''));
    }
    if (at(0) === 'mailfolders') {
      if (n === 1 && method === 'GET') return route('mailFolders.list', () => this.collectionOp(ctx, mb(), mb().mailFolders, 'mailFolder', `users/${enc(userKey)}/mailFolders`));
      if (n === 2 && isDelta(at(1))) return route('mailFolders.delta', () => this.delta(ctx, mb(), mb().mailFolders, `users/${enc(userKey)}/mailFolders/delta`));
      const folderId = raw[1] ?? '';
      const folder = () => this.mailFolder(mb(), folderId);
      if (n === 2 && method === 'GET') return route('mailFolders.get', () => this.itemOp(ctx, mb(), folder().restId, ['mailFolder'], folder()));
      if (at(2) === 'messages') {
        // nextLinks use the key syntax mailfolders('{id}') (§1.1)
        const linkBase = `users/${enc(userKey)}/mailfolders('${enc(folderId)}')/messages`;
        if (n === 3) return route(method === 'GET' ? 'messages.list' : 'messages.create', () => this.collectionOp(ctx, mb(), this.children(mb(), folder()), 'message', linkBase));
        if (n === 4 && isDelta(at(3))) return route('messages.delta', () => this.delta(ctx, mb(), this.children(mb(), folder()), `${linkBase}/delta`));
        if (n === 4) return route(`messages.${verb(method)}`, () => this.itemOp(ctx, mb(), raw[3] ?? '', ['message'], undefined, this.children(mb(), folder())));
        if (n === 5 && method === 'POST') return route(`messages.${at(4)?.replace('microsoft.graph.', '')}`, () => this.messageAction(ctx, mb(), raw[3] ?? '', at(4) ?? ''));
      }
    }
    // To Do
    if (at(0) === 'todo' && at(1) === 'lists') {
      const listsBase = `users/${enc(userKey)}/todo/lists`;
      if (n === 2) return route(method === 'GET' ? 'todoLists.list' : 'todoLists.create', () => this.collectionOp(ctx, mb(), mb().todoLists, 'todoTaskList', listsBase));
      if (n === 3 && isDelta(at(2))) return route('todoLists.delta', () => this.delta(ctx, mb(), mb().todoLists, `${listsBase}/delta`));
      const listId = raw[2] ?? '';
      const list = () => this.container(mb(), listId, 'todoTaskList');
      if (n === 3) return route(`todoLists.${verb(method)}`, () => this.itemOp(ctx, mb(), listId, ['todoTaskList'], list()));
      if (at(3) === 'tasks') {
        const tasksBase = `${listsBase}/${enc(listId)}/tasks`;
        if (n === 4) return route(method === 'GET' ? 'tasks.list' : 'tasks.create', () => this.collectionOp(ctx, mb(), this.children(mb(), list()), 'todoTask', tasksBase));
        if (n === 5 && isDelta(at(4))) return route('tasks.delta', () => this.delta(ctx, mb(), this.children(mb(), list()), `${tasksBase}/delta`));
        const task = () => this.find(mb(), raw[4] ?? '', ['todoTask'], this.children(mb(), list()));
        if (n === 5) return route(`tasks.${verb(method)}`, () => this.itemOp(ctx, mb(), raw[4] ?? '', ['todoTask'], undefined, this.children(mb(), list())));
        if (at(5) === 'linkedresources') {
          if (n === 6) return route(method === 'GET' ? 'linkedResources.list' : 'linkedResources.create', () => this.linkedResources(ctx, mb(), task(), null));
          if (n === 7) return route(`linkedResources.${verb(method)}`, () => this.linkedResources(ctx, mb(), task(), raw[6] ?? ''));
        }
      }
    }
    // §8: translate between the default (restId) and immutable (restImmutableEntryId) id spaces
    if (n === 1 && (at(0) === 'translateexchangeids' || at(0) === 'microsoft.graph.translateexchangeids') && method === 'POST') {
      return route('translateExchangeIds', () => this.translateIds(ctx, mb()));
    }
    // categories
    if (at(0) === 'outlook' && at(1) === 'mastercategories') {
      if (n === 2) return route(method === 'GET' ? 'masterCategories.list' : 'masterCategories.create', () => this.collectionOp(ctx, mb(), mb().categories, 'outlookCategory', `users/${enc(userKey)}/outlook/masterCategories`));
      if (n === 3) return route(`masterCategories.${verb(method)}`, () => this.itemOp(ctx, mb(), raw[2] ?? '', ['outlookCategory']));
    }
    return route('unknown', notFound);
  }

  base(): string {
    return `${this.baseUrl()}v1.0/`;
  }

  private link(path: string, query: string): string {
    return `${this.base()}${path}?${query}`;
  }

  // --- lookups ---

  private find(mb: Mailbox, id: string, kinds: ResourceKind[], within?: Collection): StoredItem {
    const item = mb.byId.get(id);
    if (!item || !kinds.includes(item.kind) || (within && item.collection !== within) || !item.collection) {
      throw new ODataError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
    }
    return item;
  }

  private container(mb: Mailbox, id: string, kind: 'contactFolder' | 'todoTaskList'): StoredItem {
    if (kind === 'contactFolder' && (id === mb.defaultContactFolder.restId || id.toLowerCase() === 'contacts')) return mb.defaultContactFolder;
    const item = mb.byId.get(id);
    if (!item || item.kind !== kind || !item.collection) throw new ODataError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
    return item;
  }

  private mailFolder(mb: Mailbox, id: string): StoredItem {
    const wk = mb.mailFolderByWellKnown.get(id.toLowerCase());
    if (wk) return wk;
    const item = mb.byId.get(id);
    if (!item || item.kind !== 'mailFolder') throw new ODataError(404, 'ErrorItemNotFound', 'The specified folder could not be found in the store.');
    return item;
  }

  private children(mb: Mailbox, owner: StoredItem): Collection {
    const c = mb.childCollection.get(owner.immutableId);
    if (!c) throw new ODataError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
    return c;
  }

  // --- collections: list and create ---

  private filterContext(prefs: Preferences): FilterContext {
    return {
      linkedResourcesFilter: this.knobs.linkedResourcesFilter,
      prop: (item, name) => {
        if (name === 'id') return idOf(item, prefs);
        if (name === 'createdDateTime') return item.createdDateTime;
        if (name === 'lastModifiedDateTime') return item.lastModifiedDateTime;
        if (name === 'changeKey') return item.changeKey;
        return propertyOf(item.kind, item.props, name);
      },
      ext: (item) => item.ext,
    };
  }

  private renderOptions(ctx: Ctx, kind: ResourceKind): RenderOptions {
    const expand = ctx.q.get('$expand');
    let expandLinkedResources = false;
    let extExpand: string | null = expand;
    if (kind === 'todoTask' && expand !== null && /^\s*linkedResources\s*$/i.test(expand)) {
      expandLinkedResources = true;
      extExpand = null;
    }
    return {
      prefs: ctx.prefs,
      select: parseSelect(ctx.q.get('$select')),
      expandExt: parseExpand(extExpand, ['contact', 'event', 'message', 'contactFolder', 'mailFolder'].includes(kind), TYPE_NAME[kind]),
      expandLinkedResources,
    };
  }

  private collectionOp(ctx: Ctx, mb: Mailbox, c: Collection, kind: ResourceKind, linkPath: string): SimResponse {
    if (ctx.method === 'GET') return this.list(ctx, mb, c, kind, linkPath, null);
    if (ctx.method !== 'POST') return methodNotAllowed();
    const item = this.create(mb, c, kind, ctx.req.body);
    return { status: 201, headers: { Location: `${this.base()}${linkPath}/${enc(idOf(item.created, ctx.prefs))}`, ...preferenceApplied(ctx.prefs) }, body: { '@odata.context': `${this.base()}$metadata#users('${ctx.userKey}')/${linkPath.split('/').pop()}/$entity`, ...render(item.created, mb, this.renderOptions(ctx, kind)) } };
  }

  private list(ctx: Ctx, mb: Mailbox, c: Collection | Collection[], kind: ResourceKind, linkPath: string, extra: ItemPredicate | null): SimResponse {
    const opts = this.renderOptions(ctx, kind);
    const filter = parseFilter(ctx.q.get('$filter'), this.filterContext(ctx.prefs));
    const top = ctx.q.int('$top');
    const skip = ctx.q.int('$skip') ?? 0;
    const pageSize = Math.min(top ?? ctx.prefs.maxPageSize ?? this.knobs.defaultPageSize, this.knobs.maxPageSize);
    const value: JsonObject[] = [];
    let matched = 0;
    let more = false;
    for (const coll of Array.isArray(c) ? c : [c]) {
      for (const item of coll.members.values()) {
        if (extra && !extra(item)) continue;
        if (filter && !filter(item)) continue;
        matched += 1;
        if (matched <= skip) continue;
        if (value.length >= pageSize) {
          more = true;
          break;
        }
        value.push(render(item, mb, opts));
      }
      if (more) break;
    }
    const body: JsonObject = { '@odata.context': `${this.base()}$metadata#users('${ctx.userKey}')/${linkPath.split('/').pop()}`, value };
    if (more) body['@odata.nextLink'] = this.link(linkPath, ctx.q.with('$skip', String(skip + pageSize)));
    return { status: 200, headers: preferenceApplied(ctx.prefs), body };
  }

  /** Creates an item as a POST would (defaults, validation, transactionId); also used by the seeding control. */
  create(mb: Mailbox, c: Collection, kind: ResourceKind, body: Json | undefined): { created: StoredItem } {
    const { props, ext } = parseWriteBody(kind, body);
    const now = this.clock.now().toISOString();
    const owner = { name: mb.user.displayName, address: mb.user.mail };
    let full: JsonObject;
    switch (kind) {
      case 'contact':
        full = contactDefaults(props);
        break;
      case 'event': {
        if (!props['start'] || !props['end']) throw badRequest('An event needs both start and end.', 'ErrorInvalidRequest');
        const tx = typeof props['transactionId'] === 'string' ? props['transactionId'] : null;
        if (tx && this.knobs.transactionIdDedup) {
          const existing = mb.transactionIds.get(tx);
          if (existing?.collection) return { created: existing };
        }
        full = eventDefaults(props, owner, this.baseUrl());
        break;
      }
      case 'message': {
        // real Graph creates drafts; PR_MESSAGE_FLAGS (Integer 0x0E07) without MSGFLAG_UNSENT (8) makes a sent/received item
        const flags = ext.find((e) => e.key === `integer tag ${0x0e07}`);
        const isDraft = flags ? (Number(flags.value) & 8) !== 0 : true;
        full = messageDefaults(props, isDraft, now, owner);
        break;
      }
      case 'todoTask':
        full = todoTaskDefaults(props, now);
        if (Array.isArray(full['linkedResources'])) full['linkedResources'] = full['linkedResources'].map((r) => ({ ...(r as JsonObject), id: randomUUID() }));
        break;
      case 'todoTaskList':
        if (typeof props['displayName'] !== 'string' || !props['displayName']) throw badRequest('displayName is required.', 'invalidRequest');
        return { created: mb.createContainer('todoTaskList', { displayName: props['displayName'], isOwner: true, isShared: false, wellknownListName: 'none' }) };
      case 'contactFolder':
        if (typeof props['displayName'] !== 'string' || !props['displayName']) throw badRequest('displayName is required.', 'ErrorInvalidRequest');
        if ([...mb.contactFolders.members.values()].some((f) => f.props['displayName'] === props['displayName'])) throw new ODataError(409, 'ErrorFolderExists', 'A folder with the specified name already exists.');
        return { created: mb.createContainer('contactFolder', { displayName: props['displayName'], parentFolderId: mb.defaultContactFolder.restId }) };
      case 'outlookCategory': {
        const name = props['displayName'];
        if (typeof name !== 'string' || !name) throw badRequest('displayName is required.', 'ErrorInvalidRequest');
        // "must be unique in a user's master list" (§4)
        if ([...c.members.values()].some((x) => String(x.props['displayName']).toLowerCase() === name.toLowerCase())) throw new ODataError(409, 'ErrorDuplicateCategoryName', `A category with the name '${name}' already exists.`);
        const color = props['color'] ?? 'none';
        if (typeof color !== 'string' || !CATEGORY_COLORS.has(color.toLowerCase())) throw badRequest(`Invalid color '${String(color)}'.`, 'ErrorInvalidRequest');
        return { created: mb.createItem('outlookCategory', { displayName: name, color: color.toLowerCase() }, c) };
      }
      default:
        throw new ODataError(405, 'ErrorInvalidRequest', 'The OData request is not supported.');
    }
    const item = mb.createItem(kind, full, c);
    for (const e of ext) item.ext.set(e.key, { id: e.id, value: e.value });
    if (kind === 'event' && typeof full['transactionId'] === 'string') mb.transactionIds.set(full['transactionId'], item);
    return { created: item };
  }

  // --- single items ---

  private itemOp(ctx: Ctx, mb: Mailbox, id: string, kinds: ResourceKind[], preset?: StoredItem, within?: Collection): SimResponse {
    const item = preset ?? this.find(mb, id, kinds, within);
    const kind = item.kind;
    if (ctx.method === 'GET') {
      return { status: 200, headers: preferenceApplied(ctx.prefs), body: { '@odata.context': `${this.base()}$metadata#users('${ctx.userKey}')/$entity`, ...render(item, mb, this.renderOptions(ctx, kind)) } };
    }
    if (ctx.method === 'DELETE') {
      if (item === mb.defaultContactFolder || item.props['wellknownListName'] === 'defaultList' || kind === 'mailFolder') throw new ODataError(403, 'ErrorAccessDenied', 'The default folder or list cannot be deleted.');
      this.checkIfMatch(ctx, item);
      mb.remove(item);
      return { status: 204, headers: {} };
    }
    if (ctx.method === 'PATCH') {
      this.checkIfMatch(ctx, item);
      this.update(ctx, mb, item);
      return { status: 200, headers: preferenceApplied(ctx.prefs), body: { '@odata.context': `${this.base()}$metadata#users('${ctx.userKey}')/$entity`, ...render(item, mb, this.renderOptions(ctx, kind)) } };
    }
    return methodNotAllowed();
  }

  private checkIfMatch(ctx: Ctx, item: { changeKey: string }): void {
    const ifMatch = ctx.req.headers['if-match'];
    if (!ifMatch || !this.knobs.enforceIfMatch || ifMatch.trim() === '*') return;
    const tags = ifMatch.split(',').map((t) => t.trim().replace(/^W\//, '').replace(/^"|"$/g, ''));
    if (!tags.includes(item.changeKey)) throw new ODataError(412, 'ErrorIrresolvableConflict', CONFLICT_MESSAGE);
  }

  private update(ctx: Ctx, mb: Mailbox, item: StoredItem): void {
    const { props, ext } = parseWriteBody(item.kind, ctx.req.body);
    if (item.kind === 'outlookCategory') {
      // "After a category is created, the name cannot be changed" (§4)
      if ('displayName' in props && props['displayName'] !== item.props['displayName']) throw badRequest('The displayName of a category cannot be changed.', 'ErrorInvalidRequest');
      const color = props['color'];
      if (color !== undefined && (typeof color !== 'string' || !CATEGORY_COLORS.has(color.toLowerCase()))) throw badRequest(`Invalid color '${String(color)}'.`, 'ErrorInvalidRequest');
      if (typeof color === 'string') props['color'] = color.toLowerCase();
    }
    if (item.kind === 'todoTaskList') for (const k of Object.keys(props)) if (k !== 'displayName') delete props[k];
    if (item.kind !== 'todoTask') delete props['linkedResources'];
    else if (Array.isArray(props['linkedResources'])) {
      props['linkedResources'] = props['linkedResources'].map((r) => ({ ...(r as JsonObject), id: typeof (r as JsonObject)['id'] === 'string' ? (r as JsonObject)['id'] : randomUUID() }) as JsonObject);
    }
    const changed: string[] = [];
    for (const [k, v] of Object.entries(props)) {
      if (JSON.stringify(item.props[k]) !== JSON.stringify(v)) changed.push(k);
      item.props[k] = v;
    }
    if (item.kind === 'event') {
      const s = parseDateTimeTimeZone(item.props['start']);
      const e = parseDateTimeTimeZone(item.props['end']);
      if (s) item.props['originalStartTimeZone'] = s.name;
      if (e) item.props['originalEndTimeZone'] = e.name;
      if ('recurrence' in props) {
        item.exceptions = undefined;
        item.cancelled = undefined;
      }
    }
    if (item.kind === 'todoTask' && 'body' in props) item.props['bodyLastModifiedDateTime'] = this.clock.now().toISOString();
    for (const e of ext) {
      const before = item.ext.get(e.key);
      if (before?.value !== e.value) changed.push('singleValueExtendedProperties');
      item.ext.set(e.key, { id: before?.id ?? e.id, value: e.value });
    }
    mb.touch(item, changed);
  }

  // --- events ---

  private eventOp(ctx: Ctx, mb: Mailbox, id: string): SimResponse {
    const occ = parseOccurrenceId(id);
    if (!occ) return this.itemOp(ctx, mb, id, ['event']);
    const master = this.find(mb, occ.masterId, ['event']);
    const start = parseDateTimeTimeZone(master.props['start']);
    const end = parseDateTimeTimeZone(master.props['end']);
    const recurrence = master.props['recurrence'];
    if (!start || !end || !recurrence || typeof recurrence !== 'object' || Array.isArray(recurrence)) throw new ODataError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
    const key = new Date(occ.originalStart).toISOString();
    const inSeries = expandSeries(start, end.ms - start.ms, recurrence, occ.originalStart, occ.originalStart + 1).find((o) => o.originalStart === occ.originalStart);
    if (!inSeries || master.cancelled?.has(key)) throw new ODataError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
    const opts = this.renderOptions(ctx, 'event');
    const exception = master.exceptions?.get(key);
    const rendered = () => renderInstance(master, exception ? { ...inSeries, ...exceptionTimes(exception, inSeries) } : inSeries, master.exceptions?.get(key), opts, false);
    if (ctx.method === 'GET') return ok({ '@odata.context': `${this.base()}$metadata#users('${ctx.userKey}')/events/$entity`, ...rendered() }, preferenceApplied(ctx.prefs));
    if (ctx.method === 'DELETE') {
      master.cancelled ??= new Set();
      master.cancelled.add(key);
      master.exceptions?.delete(key);
      mb.touch(master, null);
      return { status: 204, headers: {} };
    }
    if (ctx.method === 'PATCH') {
      this.checkIfMatch(ctx, exception ?? master);
      const { props } = parseWriteBody('event', ctx.req.body);
      delete props['recurrence'];
      const now = this.clock.now().toISOString();
      const ex = exception ?? { id, immutableId: occurrenceId(master.immutableId, occ.originalStart), originalStart: key, props: {}, changeKey: '', createdDateTime: now, lastModifiedDateTime: now };
      Object.assign(ex.props, props);
      ex.changeKey = `EQAAABYAAAD${randomUUID().replace(/-/g, '').slice(0, 16)}`;
      ex.lastModifiedDateTime = now;
      master.exceptions ??= new Map();
      master.exceptions.set(key, ex);
      mb.touch(master, null);
      return ok({ '@odata.context': `${this.base()}$metadata#users('${ctx.userKey}')/events/$entity`, ...rendered() }, preferenceApplied(ctx.prefs));
    }
    return methodNotAllowed();
  }

  private window(ctx: Ctx): [number, number] {
    const s = ctx.q.get('startDateTime');
    const e = ctx.q.get('endDateTime');
    if (!s || !e) throw new ODataError(400, 'ErrorInvalidParameter', "This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.");
    const start = parseDateTimeTimeZone({ dateTime: s, timeZone: 'UTC' });
    const end = parseDateTimeTimeZone({ dateTime: e, timeZone: 'UTC' });
    if (!start || !end || end.ms <= start.ms) throw new ODataError(400, 'ErrorInvalidParameter', 'The time window is not valid.');
    return [start.ms, end.ms];
  }

  /** All instances of the calendar in a window: singles, occurrences (full), exceptions. */
  private instancesInWindow(mb: Mailbox, w: [number, number], opts: RenderOptions, only?: StoredItem): JsonObject[] {
    const out: JsonObject[] = [];
    const items = only ? [only] : mb.calendar.members.values();
    for (const item of items) {
      const start = parseDateTimeTimeZone(item.props['start']);
      const end = parseDateTimeTimeZone(item.props['end']);
      if (!start || !end) continue;
      const recurrence = item.props['recurrence'];
      if (!recurrence || typeof recurrence !== 'object' || Array.isArray(recurrence)) {
        if (start.ms < w[1] && end.ms > w[0]) out.push(render(item, mb, opts));
        continue;
      }
      for (const occ of expandSeries(start, end.ms - start.ms, recurrence, w[0] - 366 * 86_400_000, w[1] + 366 * 86_400_000)) {
        const key = new Date(occ.originalStart).toISOString();
        if (item.cancelled?.has(key)) continue;
        const exception = item.exceptions?.get(key);
        const actual = exception ? { ...occ, ...exceptionTimes(exception, occ) } : occ;
        if (actual.start < w[1] && actual.end > w[0]) out.push(renderInstance(item, actual, exception, opts, false));
      }
    }
    return out;
  }

  private calendarView(ctx: Ctx, mb: Mailbox, linkPath: string): SimResponse {
    const w = this.window(ctx);
    const all = this.instancesInWindow(mb, w, this.renderOptions(ctx, 'event'));
    all.sort((a, b) => String((a['start'] as JsonObject | undefined)?.['dateTime']).localeCompare(String((b['start'] as JsonObject | undefined)?.['dateTime'])));
    return this.pageArray(ctx, all, linkPath);
  }

  private instances(ctx: Ctx, mb: Mailbox, id: string): SimResponse {
    const master = this.find(mb, id, ['event']);
    const w = this.window(ctx);
    return this.pageArray(ctx, this.instancesInWindow(mb, w, this.renderOptions(ctx, 'event'), master), `users/${enc(ctx.userKey)}/events/${enc(id)}/instances`);
  }

  private pageArray(ctx: Ctx, all: JsonObject[], linkPath: string): SimResponse {
    const top = ctx.q.int('$top');
    const skip = ctx.q.int('$skip') ?? 0;
    const pageSize = Math.min(top ?? ctx.prefs.maxPageSize ?? this.knobs.defaultPageSize, this.knobs.maxPageSize);
    const body: JsonObject = { '@odata.context': `${this.base()}$metadata#Collection(event)`, value: all.slice(skip, skip + pageSize) };
    if (all.length > skip + pageSize) body['@odata.nextLink'] = this.link(linkPath, ctx.q.with('$skip', String(skip + pageSize)));
    return { status: 200, headers: preferenceApplied(ctx.prefs), body };
  }

  private calendarDelta(ctx: Ctx, mb: Mailbox, linkPath: string): SimResponse {
    const token = this.presentedToken(ctx);
    if (!token) {
      // §2.2: calendarView delta supports none of $select/$expand/$filter/$orderby/$search
      if (ctx.q.get('$expand') !== null) throw new ODataError(500, 'InternalServerError', 'Value cannot be null.\r\nParameter name: type');
      for (const p of ['$select', '$filter', '$orderby', '$search']) if (ctx.q.get(p) !== null) throw new ODataError(400, 'ErrorInvalidUrlQuery', `The query parameter '${p}' is not supported with delta for calendarView.`);
    }
    const query: DeltaQuery = token ? token.q : { window: this.window(ctx) };
    return this.servePage(ctx, mb, mb.calendar, linkPath, token, query, 'event');
  }

  // --- messages ---

  private messagesRoot(ctx: Ctx, mb: Mailbox): SimResponse {
    if (ctx.method === 'GET') {
      const folders = [...mb.mailFolders.members.values()].map((f) => this.children(mb, f));
      return this.list(ctx, mb, folders, 'message', `users/${enc(ctx.userKey)}/messages`, null);
    }
    if (ctx.method !== 'POST') return methodNotAllowed();
    // POST /messages creates a draft in Drafts
    return this.collectionOp(ctx, mb, this.children(mb, mb.mailFolderByWellKnown.get('drafts') as StoredItem), 'message', `users/${enc(ctx.userKey)}/messages`);
  }

  private messageAction(ctx: Ctx, mb: Mailbox, id: string, action: string): SimResponse {
    const item = this.find(mb, id, ['message']);
    const name = action.replace('microsoft.graph.', '');
    if (name === 'move') {
      const body = ctx.req.body;
      const dest = body && typeof body === 'object' && !Array.isArray(body) ? body['destinationId'] : undefined;
      if (typeof dest !== 'string') throw badRequest('destinationId is required.', 'ErrorInvalidRequest');
      const target = this.children(mb, this.mailFolder(mb, dest));
      mb.move(item, target);
      return { status: 201, headers: preferenceApplied(ctx.prefs), body: { '@odata.context': `${this.base()}$metadata#users('${ctx.userKey}')/messages/$entity`, ...render(item, mb, this.renderOptions(ctx, 'message')) } };
    }
    if (name === 'send') {
      if (item.props['isDraft'] !== true) throw badRequest('Only drafts can be sent.', 'ErrorInvalidOperation');
      const now = this.clock.now().toISOString();
      Object.assign(item.props, { isDraft: false, isRead: true, sentDateTime: now, receivedDateTime: now, from: { emailAddress: { name: mb.user.displayName, address: mb.user.mail } }, sender: { emailAddress: { name: mb.user.displayName, address: mb.user.mail } } });
      mb.move(item, this.children(mb, mb.mailFolderByWellKnown.get('sentitems') as StoredItem));
      return { status: 202, headers: {} };
    }
    throw new ODataError(400, 'BadRequest', `Resource not found for the segment '${action}'.`);
  }

  private translateIds(ctx: Ctx, mb: Mailbox): SimResponse {
    const body = ctx.req.body;
    if (!body || typeof body !== 'object' || Array.isArray(body) || !Array.isArray(body['inputIds'])) throw badRequest('inputIds is required.', 'ErrorInvalidRequest');
    const types = ['restId', 'restImmutableEntryId'];
    const source = String(body['sourceIdType'] ?? '');
    const target = String(body['targetIdType'] ?? '');
    if (!types.includes(source) || !types.includes(target)) throw badRequest(`The simulator translates between ${types.join(' and ')} only.`, 'ErrorInvalidRequest');
    if (body['inputIds'].length > 1000) throw badRequest('At most 1000 ids can be translated at once.', 'ErrorInvalidRequest');
    const value = body['inputIds'].map((raw): JsonObject => {
      const id = String(raw);
      const item = mb.byId.get(id);
      if (!item?.collection || (source === 'restId' ? item.restId : item.immutableId) !== id) return { sourceId: id, errorDetails: { code: 'ErrorInvalidIdMalformed', message: 'Id is malformed.' } };
      return { sourceId: id, targetId: target === 'restId' ? item.restId : item.immutableId };
    });
    return ok({ '@odata.context': `${this.base()}$metadata#Collection(microsoft.graph.convertIdResult)`, value });
  }

  // --- To Do linked resources ---

  private linkedResources(ctx: Ctx, mb: Mailbox, task: StoredItem, resourceId: string | null): SimResponse {
    const list = (Array.isArray(task.props['linkedResources']) ? task.props['linkedResources'] : []) as JsonObject[];
    const fields = ['webUrl', 'applicationName', 'displayName', 'externalId'];
    if (resourceId === null) {
      if (ctx.method === 'GET') return ok({ '@odata.context': `${this.base()}$metadata#Collection(linkedResource)`, value: list });
      if (ctx.method !== 'POST') return methodNotAllowed();
      const body = ctx.req.body;
      if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('Empty Payload. JSON content expected.', 'BadRequest');
      const created: JsonObject = { id: randomUUID() };
      for (const f of fields) created[f] = body[f] ?? null;
      task.props['linkedResources'] = [...list, created];
      mb.touch(task, ['linkedResources']);
      return { status: 201, headers: {}, body: { '@odata.context': `${this.base()}$metadata#linkedResource/$entity`, ...created } };
    }
    const found = list.find((r) => r['id'] === resourceId);
    if (!found) throw new ODataError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
    if (ctx.method === 'GET') return ok({ '@odata.context': `${this.base()}$metadata#linkedResource/$entity`, ...found });
    if (ctx.method === 'DELETE') {
      task.props['linkedResources'] = list.filter((r) => r !== found);
      mb.touch(task, ['linkedResources']);
      return { status: 204, headers: {} };
    }
    if (ctx.method === 'PATCH') {
      const body = ctx.req.body;
      if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('Empty Payload. JSON content expected.', 'BadRequest');
      for (const f of fields) if (f in body) found[f] = body[f] ?? null;
      mb.touch(task, ['linkedResources']);
      return ok({ '@odata.context': `${this.base()}$metadata#linkedResource/$entity`, ...found });
    }
    return methodNotAllowed();
  }

  // --- delta ---

  private presentedToken(ctx: Ctx): DeltaToken | null {
    const text = ctx.q.get('$skiptoken') ?? ctx.q.get('$deltatoken');
    if (text === null) return null;
    const token = decodeToken(text);
    if (!token) throw new ODataError(400, 'BadRequest', 'The delta token is malformed.');
    return token;
  }

  private delta(ctx: Ctx, mb: Mailbox, c: Collection, linkPath: string): SimResponse {
    if (ctx.method !== 'GET') return methodNotAllowed();
    const token = this.presentedToken(ctx);
    let query: DeltaQuery;
    if (token) query = token.q;
    else {
      query = {};
      const select = parseSelect(ctx.q.get('$select'));
      if (select) query.select = select;
      const expand = ctx.q.get('$expand');
      if (c.kind === 'message') {
        // §1.3/§2.3: receivedDateTime ge|gt only; $orderby=receivedDateTime desc only; changeType
        const filter = ctx.q.get('$filter');
        if (filter !== null) {
          if (!/^\s*receivedDateTime\s+(ge|gt)\s+\S+\s*$/i.test(filter)) throw new ODataError(400, 'ErrorInvalidUrlQueryFilter', 'Only receivedDateTime ge/gt filters are supported on messages delta.');
          query.filter = filter;
        }
        const orderby = ctx.q.get('$orderby');
        if (orderby !== null && !/^\s*receivedDateTime\s+desc\s*$/i.test(orderby)) throw new ODataError(400, 'ErrorInvalidUrlQuery', 'Only $orderby=receivedDateTime desc is supported on messages delta.');
        const changeType = ctx.q.get('changeType');
        if (changeType !== null) {
          if (!['created', 'updated', 'deleted'].includes(changeType)) throw new ODataError(400, 'ErrorInvalidUrlQuery', `Invalid changeType '${changeType}'.`);
          query.changeType = changeType as DeltaQuery['changeType'];
        }
        // [R] §3.4: a $filter inside $expand on delta fails in the OData library
        if (expand !== null) throw new ODataError(500, 'InternalServerError', 'Value cannot be null.\r\nParameter name: type');
      } else {
        // contacts, folders and To Do delta: $select only (§2.1, §2.4, §2.5)
        for (const p of ['$filter', '$orderby', '$search']) if (ctx.q.get(p) !== null) throw new ODataError(400, 'ErrorInvalidUrlQuery', `The query parameter '${p}' is not supported with delta.`);
        if (expand !== null) {
          if (c.kind === 'todoTask' && /^\s*linkedResources\s*$/i.test(expand)) query.expandLinkedResources = true;
          else throw new ODataError(400, 'ErrorInvalidUrlQuery', "The query parameter '$expand' is not supported with delta.");
        }
      }
    }
    return this.servePage(ctx, mb, c, linkPath, token, query, c.kind);
  }

  private servePage(ctx: Ctx, mb: Mailbox, c: Collection, linkPath: string, token: DeltaToken | null, query: DeltaQuery, kind: ResourceKind): SimResponse {
    const filter = query.filter ? parseFilter(query.filter, this.filterContext(ctx.prefs)) : null;
    const page = deltaPage(token, query, {
      mb,
      collection: c,
      knobs: this.knobs,
      prefs: ctx.prefs,
      filter,
      onPageServed: () => this.pageServed(),
    });
    const body: JsonObject = { '@odata.context': `${this.base()}$metadata#Collection(${kind})` };
    if (page.nextToken) body['@odata.nextLink'] = this.link(linkPath, `$skiptoken=${page.nextToken}`);
    if (page.deltaToken) body['@odata.deltaLink'] = this.link(linkPath, `$deltatoken=${page.deltaToken}`);
    body['value'] = page.value;
    return { status: 200, headers: preferenceApplied(ctx.prefs), body };
  }

  private pageServed(): void {
    if (this.knobs.evictTokensAfterPages === null) return;
    this.knobs.evictTokensAfterPages -= 1;
    if (this.knobs.evictTokensAfterPages <= 0) {
      this.knobs.evictTokensAfterPages = null;
      for (const mb of new Set(this.mailboxesByKey.values())) mb.evictTokens();
    }
  }

  /** Raw view of an item for tests (not a Graph request). */
  rawItem(mb: Mailbox, id: string): JsonObject | null {
    const item = mb.byId.get(id);
    if (!item?.collection) return null;
    const ext: JsonObject = {};
    for (const p of item.ext.values()) ext[p.id] = p.value;
    return {
      kind: item.kind,
      restId: item.restId,
      immutableId: item.immutableId,
      collection: item.collection.key,
      changeKey: item.changeKey,
      createdDateTime: item.createdDateTime,
      lastModifiedDateTime: item.lastModifiedDateTime,
      props: item.props,
      extendedProperties: ext,
      full: fullRepresentation(item, mb, { prefs: parsePrefer(undefined), select: null, expandExt: new Set(item.ext.keys()), expandLinkedResources: true }),
    };
  }
}

const CONFLICT_MESSAGE = 'The send or update operation could not be performed because the change key passed in the request does not match the current change key for the item.';

interface Ctx {
  req: SimRequest;
  q: Query;
  prefs: Preferences;
  userKey: string;
  method: string;
}

/** Query parameters with case-insensitive names (`startdatetime` = `startDateTime`, §1.1). */
class Query {
  private readonly params: [string, string][];
  constructor(readonly raw: string) {
    this.params = [];
    for (const part of raw.split('&')) {
      if (!part) continue;
      const eq = part.indexOf('=');
      const k = decodeQuery(eq < 0 ? part : part.slice(0, eq));
      const v = eq < 0 ? '' : decodeQuery(part.slice(eq + 1));
      this.params.push([k, v]);
    }
  }
  get(name: string): string | null {
    const n = name.toLowerCase();
    const alt = n.startsWith('$') ? n.slice(1) : null;
    for (const [k, v] of this.params) if (k.toLowerCase() === n || (alt && k.toLowerCase() === alt)) return v;
    return null;
  }
  int(name: string): number | null {
    const v = this.get(name);
    if (v === null) return null;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new ODataError(400, 'BadRequest', `Invalid value '${v}' for ${name}.`);
    return n;
  }
  with(name: string, value: string): string {
    const kept = this.params.filter(([k]) => k.toLowerCase() !== name.toLowerCase());
    kept.push([name, value]);
    return kept.map(([k, v]) => `${encodeURIComponent(k).replace('%24', '$')}=${encodeURIComponent(v)}`).join('&');
  }
}

function decodeQuery(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

/** Splits a path into decoded segments; `name('key')` / `name(key)` become two segments (§1.1). */
export function splitPath(path: string): string[] {
  const out: string[] = [];
  for (const rawSeg of path.split('/')) {
    if (!rawSeg) continue;
    let seg: string;
    try {
      seg = decodeURIComponent(rawSeg);
    } catch {
      seg = rawSeg;
    }
    const m = /^([A-Za-z.]+)\('?(.*?)'?\)$/.exec(seg);
    if (m?.[1] && m[2] !== undefined && m[2] !== '' && !/delta$/i.test(m[1])) {
      out.push(m[1], m[2]);
    } else out.push(seg);
  }
  return out;
}

/** Path-segment encoding as Graph's own links show it: `=` and `@` stay literal. */
function enc(s: string): string {
  return encodeURIComponent(s).replace(/%3D/g, '=').replace(/%40/g, '@');
}

function verb(method: string): string {
  return { GET: 'get', PATCH: 'update', DELETE: 'delete', POST: 'create', PUT: 'put' }[method] ?? method.toLowerCase();
}

function ok(body: JsonObject, headers: Record<string, string> = {}): SimResponse {
  return { status: 200, headers, body };
}

function methodNotAllowed(): SimResponse {
  return { status: 405, headers: {}, body: graphErrorBody('ErrorInvalidRequest', 'The OData request is not supported.', new Date()) as unknown as JsonObject };
}

function preferenceApplied(prefs: Preferences): Record<string, string> {
  return prefs.applied.length ? { 'Preference-Applied': prefs.applied.join(', ') } : {};
}

export function errorResponse(status: number, code: string, message: string, now: Date, requestId: string): SimResponse {
  return { status, headers: {}, body: graphErrorBody(code, message, now, requestId) as unknown as JsonObject };
}

/** 429 in the documented shape (§5.1), with Retry-After as integer or fractional seconds. */
function throttled(retryAfterSeconds: number, now: Date, requestId: string, message: string): SimResponse {
  const body = graphErrorBody('TooManyRequests', message, now, requestId, { code: '429', message: 'Please retry after', status: '429' });
  const retryAfter = Number.isInteger(retryAfterSeconds) ? String(retryAfterSeconds) : String(Math.round(retryAfterSeconds * 1000) / 1000);
  return { status: 429, headers: { 'Retry-After': retryAfter }, body: body as unknown as JsonObject };
}

export type { ItemPredicate };
