// MailboxSource over Microsoft Graph (@microsoft/microsoft-graph-client 3, app-only via @azure/msal-node).
//
// Request shape, per graph-behaviour.md:
// - one combined Prefer header on every request, continuation links included (§1.3, §8): IdType="ImmutableId",
//   outlook.body-content-type="text", odata.maxpagesize=N on delta, outlook.timezone="UTC" for events (§7);
// - delta paged by our own loop, not PageIterator (§9.3), so every page's link can be persisted and resumed;
// - hydration through `$batch` of ≤ 20 GETs with the tracking properties expanded (§3.3, §3.4, §5.3);
// - batched updates (updateItems): the upkeep reads, the PATCHes (each with its own If-Match) and the read-backs, each
//   step in `$batch`es of ≤ 20 independent sub-requests (§5.3, §8, §3.2);
// - one retry layer (retry.ts explains why it is ours, not the SDK's RetryHandler), ≤ 4 requests in flight per
//   mailbox, and a per-mailbox pause after throttling (transport.ts);
// - creates are never blindly re-sent after a 503/504 (the server may have acted, §9.2): the create path looks for the
//   item before it posts again.
// Containers: `contacts` is the default contacts folder, `calendar` the primary calendar's calendarView, `inbox` and
// `sentitems` the well-known mail folders, and a To Do list id for tasks. OutlookItem.container echoes them.
import { AuthenticationHandler, Client, GraphError, TelemetryHandler, type AuthenticationProvider } from '@microsoft/microsoft-graph-client';
import { createHash } from 'node:crypto';
import type { ItemKind, JsonObject, JsonValue, OutlookItem, OutlookWrite } from '../../core/model';
import type { TrackingUpkeep } from '../../core/plan';
import { AuthError, ConcurrencyError, InvariantError, ItemRejectedError, ResyncRequiredError, TransientError } from '../../ports/errors';
import type { DeltaEntry, DeltaPage, ItemFailure, ItemRef, MailboxSource, OutlookUpdate, OutlookUpdateResult, StreamRef } from '../../ports/mailbox-source';
import { trustedFetch, type Fetch } from '../http/trusted-fetch';
import { createTokenProvider, type ClientCredential } from './auth';
import { errorForStatus, isResyncSignal, translateGraphError } from './errors';
import {
  crmIdFilter,
  expandedPropertyIds,
  expandExtendedProperties,
  linkIdUpdate,
  markerFilter,
  samePropertyId,
  trackingPropertyIds,
  type TrackingPropertyIds,
} from './extended-properties';
import { mailboxStreams, productLink, toDeltaEntry, toOutlookItem, withCategory, type TrackingVocabulary } from './outlook-item';
import {
  currentCallBudget,
  DEFAULT_RETRY_POLICY,
  mayRetry,
  parseRetryAfter,
  RETRYABLE_STATUSES,
  retryDelayMs,
  RetryMiddleware,
  outsideCallBudget,
  withCallBudget,
  type RetryPolicy,
} from './retry';
import {
  batchResponseSchema,
  changeKeyFromEtag,
  collectionPageSchema,
  deltaPageSchema,
  describeIssues,
  graphErrorBodySchema,
  graphResourceSchema,
  idOnlySchema,
  linkedResourceSchema,
  masterCategorySchema,
  parentFolderSchema,
  todoListSchema,
  type LinkedResource,
} from './schemas';
import { AppGate, LimitedFetchMiddleware, MailboxGate, WeightedSemaphore, type RequestObservation } from './transport';

export interface GraphMailboxSourceOptions {
  /** Graph root, with or without the version: `https://graph.microsoft.com` or `https://localhost:8443/v1.0`. */
  graphBaseUrl: string;
  /** Token authority host: `https://login.microsoftonline.com`, or the simulator's base URL. */
  authorityHost: string;
  tenantId: string;
  clientId: string;
  credential: ClientCredential;
  /** PEM of an extra CA to trust (the simulators' start-up certificate); production passes none. */
  extraCaPem?: string;
  /** GUID namespace of the Tracked / CrmId / RegardingId extended properties (DESIGN.md §2). */
  productGuid: string;
  /** linkedResource.applicationName on To Do tasks; default `outlook-crm-sync`. */
  productName?: string;
  /** The tracking category used when reading items (create/update take theirs as arguments). */
  categoryName: string | ((mailbox: string) => string);
  /** `Prefer: odata.maxpagesize` on delta requests. */
  maxPageSize: number;
  /** Outlook: 4 per app and mailbox (graph-behaviour.md §5.2). Default 4. */
  maxConcurrentPerMailbox?: number;
  /**
   * Requests in flight across all mailboxes of this adapter instance (a `$batch` counts its sub-requests, up to the
   * per-mailbox limit). Default unlimited. One copy of the throttling doc reads the 4-concurrent limit as per app ID
   * across mailboxes (graph-behaviour.md §5.2): set 4 for that reading.
   */
  maxConcurrentPerApp?: number;
  retry?: Partial<RetryPolicy>;
  /** Colour of a created master category (§4). */
  categoryColor?: string;
  /** Replaces the fetch (tests instrument it); default: trustedFetch(extraCaPem). */
  fetch?: Fetch;
  /** Replaces MSAL (e.g. a managed-identity provider from the composition root). */
  authProvider?: AuthenticationProvider;
  /** Called after every HTTP exchange (diagnostics, request counting). */
  onRequest?: (mailbox: string, observation: RequestObservation) => void;
  /** Safety net against a server that never ends a round (graph-behaviour.md §1.3: reported infinite pagination). */
  maxPagesPerRound?: number;
}

const BATCH_LIMIT = 20;

/** One sub-request of a `$batch`: only idempotent methods, so the batch loop may send it again. */
interface BatchSubRequest {
  method: 'GET' | 'PATCH';
  /** Relative to the version root (§5.3). */
  url: string;
  kind: ItemKind;
  body?: JsonObject;
  ifMatch?: string | null;
}

interface BatchSubReply {
  status: number;
  body: unknown;
  headers: Record<string, string> | undefined;
}

/** One update on its way through updateItem's steps. */
interface UpdatePlan {
  ref: ItemRef;
  tracking: (TrackingUpkeep & { categoryName: string }) | null;
  /** The caller's version (changeKey, or a task etag's value), or null for an unconditional write. */
  expected: string | null;
  /** The If-Match of the PATCH: the caller's version, else the etag the upkeep read saw. */
  condition: string | null;
  patch: JsonObject;
  /** The categories the upkeep starts from: the write's, else the item's current ones; null until known. */
  categories: string[] | null;
}

interface MailboxClient {
  client: Client;
  gate: MailboxGate;
}

export class GraphMailboxSource implements MailboxSource {
  private readonly clients = new Map<string, MailboxClient>();
  private readonly authProvider: AuthenticationProvider;
  private readonly fetch: Fetch;
  private readonly host: string;
  private readonly baseUrl: string;
  private readonly version: string;
  private readonly ids: TrackingPropertyIds;
  private readonly productName: string;
  private readonly retry: RetryPolicy;
  private readonly appGate: AppGate;
  /** Default contacts folder id per mailbox (lower-cased key), resolved once (§2.1). */
  private readonly defaultContactFolders = new Map<string, string>();

  constructor(private readonly options: GraphMailboxSourceOptions) {
    const base = new URL(options.graphBaseUrl);
    const versionMatch = /\/(v1\.0|beta)\/?$/.exec(base.pathname);
    this.version = versionMatch?.[1] ?? 'v1.0';
    this.baseUrl = `${base.origin}${versionMatch ? base.pathname.slice(0, versionMatch.index) : base.pathname.replace(/\/+$/, '')}/`;
    // graph-behaviour.md §9.6: customHosts holds the bare lower-case hostname, no port.
    this.host = base.hostname.toLowerCase();
    this.fetch = options.fetch ?? trustedFetch(options.extraCaPem);
    this.ids = trackingPropertyIds(options.productGuid);
    this.productName = options.productName ?? 'outlook-crm-sync';
    this.retry = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    const appLimit = options.maxConcurrentPerApp;
    this.appGate = new AppGate(appLimit !== undefined && Number.isFinite(appLimit) ? new WeightedSemaphore(Math.max(1, Math.floor(appLimit))) : null);
    this.authProvider =
      options.authProvider ??
      createTokenProvider({
        authorityHost: options.authorityHost,
        tenantId: options.tenantId,
        clientId: options.clientId,
        credential: options.credential,
        resource: base.origin,
        fetch: this.fetch,
      });
  }

  // ---------------------------------------------------------------- streams and delta

  async listStreams(mailbox: string): Promise<StreamRef[]> {
    const lists = await this.budgeted(() => this.todoLists(mailbox));
    return mailboxStreams(lists);
  }

  async readDelta(
    mailbox: string,
    stream: StreamRef,
    cursor: string | null,
    onPage: (page: DeltaPage) => Promise<void>,
    window?: { start: string; end: string },
  ): Promise<void> {
    return this.budgeted(() => this.readDeltaRound(mailbox, stream, cursor, onPage, window));
  }

  private async readDeltaRound(
    mailbox: string,
    stream: StreamRef,
    cursor: string | null,
    onPage: (page: DeltaPage) => Promise<void>,
    window?: { start: string; end: string },
  ): Promise<void> {
    let url = cursor ?? (await this.initialDeltaUrl(mailbox, stream, window));
    const prefer = this.prefer(stream.kind, this.options.maxPageSize);
    const maxPages = this.options.maxPagesPerRound ?? 10_000;
    for (let pages = 1; ; pages++) {
      let body: unknown;
      try {
        body = await this.client(mailbox).api(url).header('Prefer', prefer).get();
      } catch (error) {
        // §1.6: 410 / SyncStateNotFound / resyncRequired, on a deltaLink or on a nextLink mid-round.
        if (error instanceof GraphError && isResyncSignal(error.statusCode, error.code)) {
          throw new ResyncRequiredError(stream.id, `delta cursor of ${stream.id} is no longer valid (${error.statusCode} ${error.code ?? ''})`, { cause: error });
        }
        throw translateGraphError(error);
      }
      const page = deltaPageSchema.safeParse(body);
      if (!page.success) throw new TransientError(`malformed delta page on ${stream.id}: ${describeIssues(page.error)}`);
      const entries: DeltaEntry[] = [];
      const failures: ItemFailure[] = [];
      for (const raw of page.data.value) {
        const parsed = toDeltaEntry(raw);
        if (parsed.ok) entries.push(parsed.value);
        else failures.push(parsed.failure);
      }
      // §1.1: the JSON key is the only signal (never the token name in the URL); a nextLink means "keep going", even
      // on an empty page.
      const next = page.data['@odata.nextLink'];
      const delta = page.data['@odata.deltaLink'];
      if (next) {
        await outsideCallBudget(() => onPage({ entries, failures, cursor: next, final: false }));
        if (pages >= maxPages) throw new TransientError(`delta round of ${stream.id} exceeded ${maxPages} pages`);
        url = next;
        continue;
      }
      if (delta) {
        await outsideCallBudget(() => onPage({ entries, failures, cursor: delta, final: true }));
        return;
      }
      throw new TransientError(`delta page on ${stream.id} carried neither @odata.nextLink nor @odata.deltaLink`);
    }
  }

  private async initialDeltaUrl(mailbox: string, stream: StreamRef, window?: { start: string; end: string }): Promise<string> {
    const user = this.userPath(mailbox);
    switch (stream.kind) {
      case 'contact': {
        // §2.1: only the per-folder path is documented; /contacts/delta (no folder) is an UNCONFIRMED alias, used only
        // while the default folder's id cannot be learnt (see defaultContactFolderId).
        const folder = stream.container === 'contacts' ? await this.defaultContactFolderId(mailbox) : stream.container;
        return folder === null ? `${user}/contacts/delta` : `${user}/contactFolders/${enc(folder)}/contacts/delta`;
      }
      case 'appointment': {
        // §2.2: the window is fixed by the initial request and encoded in the links that follow.
        if (!window) throw new InvariantError('an initial calendar round needs a window');
        return `${user}/calendarView/delta?startDateTime=${enc(window.start)}&endDateTime=${enc(window.end)}`;
      }
      case 'task':
        return `${user}/todo/lists/${enc(stream.container)}/tasks/delta`;
      case 'email':
        return `${user}/mailFolders/${enc(stream.container)}/messages/delta`;
    }
  }

  /**
   * §2.1: the default contacts folder's id, the way the documented API shows it: the parentFolderId of a contact listed
   * by /contacts (the default folder's), else of a folder listed by /contactFolders (its child folders). Null when the
   * mailbox has neither (not cached: the next initial round asks again).
   */
  private async defaultContactFolderId(mailbox: string): Promise<string | null> {
    const key = mailbox.toLowerCase();
    const known = this.defaultContactFolders.get(key);
    if (known !== undefined) return known;
    const user = this.userPath(mailbox);
    for (const url of [`${user}/contacts?$top=1&$select=parentFolderId`, `${user}/contactFolders?$top=1&$select=parentFolderId`]) {
      const page = await this.getCollection(mailbox, url, 'contact');
      const parent = parentFolderSchema.safeParse(page.value[0]).data?.parentFolderId;
      if (parent !== undefined) {
        this.defaultContactFolders.set(key, parent);
        return parent;
      }
    }
    return null;
  }

  // ---------------------------------------------------------------- hydration

  async getItems(mailbox: string, refs: readonly ItemRef[]): Promise<Map<string, OutlookItem | null>> {
    return this.budgeted(async () => {
      const out = new Map<string, OutlookItem | null>();
      const unique = [...new Map(refs.map((r) => [r.id, r])).values()];
      for (let i = 0; i < unique.length; i += BATCH_LIMIT) {
        const chunk = unique.slice(i, i + BATCH_LIMIT);
        const bodies = await this.batchGet(mailbox, chunk.map((ref) => ({ url: this.itemUrl(mailbox, ref, true), kind: ref.kind })));
        chunk.forEach((ref, index) => {
          const result = bodies[index];
          if (result === undefined) return;
          if (result === null) {
            out.set(ref.id, null);
            return;
          }
          const item = toOutlookItem(ref.kind, ref.container, result, this.vocabulary(mailbox));
          // A sub-response that does not validate fails alone: the id is left out of the map (not null: not "gone").
          if (item.ok) out.set(ref.id, item.value);
        });
      }
      return out;
    });
  }

  /**
   * GETs in one `$batch` (≤ 20). Result per request: the body (200), null (404), or undefined (refused alone).
   * Sub-requests still throttled after the retries fail the whole call with TransientError (hydration is re-run).
   */
  private async batchGet(mailbox: string, requests: { url: string; kind: ItemKind }[]): Promise<(unknown | null | undefined)[]> {
    const { replies, unsettled } = await this.sendBatch(
      mailbox,
      requests.map((request) => ({ method: 'GET', url: request.url, kind: request.kind })),
    );
    if (unsettled) throw new TransientError(`${unsettled.count} $batch sub-requests still throttled or failing after ${unsettled.attempts} attempts`, unsettled.retryAfterMs);
    return replies.map((reply) => {
      if (reply === undefined) return undefined;
      // A success without a body is not "gone": leave it undefined so the item fails alone.
      if (reply.status >= 200 && reply.status < 300) return reply.body === undefined || reply.body === null ? undefined : reply.body;
      if (reply.status === 404) return null;
      // Any other refusal leaves the result undefined: that item fails alone.
      return undefined;
    });
  }

  /**
   * Up to 20 sub-requests in one `$batch`, all independent (no `dependsOn`: §5.3 lets them run in any order and in
   * parallel, and a failed parent would fail its dependents with 424, while each of ours must succeed or fail alone).
   * A sub-request with a body carries `Content-Type` in its own headers (§5.3), and its own `If-Match` (§8).
   *
   * This loop is the one retry layer of a `$batch` (retry.ts): the middleware leaves `$batch` POSTs alone, and one
   * attempt count covers a throttled or failed envelope (429/503/504) and throttled sub-requests, which the SDK never
   * retries (§5.3, §9.5). Only GET and PATCH go through here, both safe to send again. It waits for the longest
   * Retry-After among them, as the docs ask, and pauses the mailbox for that long so its other requests wait too
   * (§5.1). At most `maxAttempts` POSTs per chunk; all waits of the call come out of its budget.
   *
   * Result per request: its last reply, or undefined when no reply ever came. `unsettled` reports the sub-requests
   * still throttled (or unanswered) when the retries ran out; their replies are the last throttled ones. A 401/403
   * sub-reply fails the whole call with AuthError, as does any envelope failure other than 429/503/504.
   */
  private async sendBatch(
    mailbox: string,
    requests: readonly BatchSubRequest[],
  ): Promise<{ replies: (BatchSubReply | undefined)[]; unsettled: { count: number; attempts: number; retryAfterMs: number | null } | null }> {
    const replies: (BatchSubReply | undefined)[] = new Array<BatchSubReply | undefined>(requests.length).fill(undefined);
    let pending = requests.map((_, index) => index);
    for (let attempt = 1; ; attempt++) {
      const body = {
        requests: pending.map((index) => {
          const request = requests[index] as BatchSubRequest;
          const headers: Record<string, string> = { Prefer: this.prefer(request.kind) };
          if (request.body !== undefined) headers['Content-Type'] = 'application/json';
          if (request.ifMatch) headers['If-Match'] = request.ifMatch;
          return {
            id: String(index + 1),
            method: request.method,
            url: request.url,
            headers,
            ...(request.body !== undefined ? { body: request.body } : {}),
          };
        }),
      };
      const throttled: number[] = [];
      let longestWait: number | null = null;
      let subRequestWait: number | null = null;
      let raw: unknown;
      try {
        raw = await this.client(mailbox).api('/$batch').post(body);
      } catch (error) {
        // The envelope failed as a whole; GETs and PATCHes are safe to send again.
        if (!(error instanceof GraphError) || !RETRYABLE_STATUSES.has(error.statusCode)) throw translateGraphError(error);
        throttled.push(...pending);
        longestWait = parseRetryAfter(error.headers?.get('Retry-After'), this.retry.now());
      }
      if (throttled.length === 0) {
        const parsed = batchResponseSchema.safeParse(raw);
        if (!parsed.success) throw new TransientError(`malformed $batch response: ${describeIssues(parsed.error)}`);
        for (const response of parsed.data.responses) {
          const index = Number(response.id) - 1;
          if (!pending.includes(index)) continue;
          replies[index] = { status: response.status, body: response.body, headers: response.headers };
          if (RETRYABLE_STATUSES.has(response.status)) {
            throttled.push(index);
            const wait = parseRetryAfter(headerValue(response.headers, 'Retry-After'), this.retry.now());
            if (wait !== null) {
              longestWait = Math.max(longestWait ?? 0, wait);
              if (response.status === 429 || response.status === 503) subRequestWait = Math.max(subRequestWait ?? 0, wait);
            }
          } else if (response.status === 401 || response.status === 403) {
            const { code, message } = errorOf(response.body);
            throw errorForStatus(response.status, code, message, null);
          }
        }
        // Sub-requests the response did not mention are treated like throttled ones.
        const answered = new Set(parsed.data.responses.map((r) => Number(r.id) - 1));
        throttled.push(...pending.filter((index) => !answered.has(index)));
      }
      if (throttled.length === 0) return { replies, unsettled: null };
      // Throttled sub-requests count against the mailbox like throttled requests: pause it (transport.ts).
      if (subRequestWait !== null) this.gateOf(mailbox).pause(subRequestWait, this.retry.now());
      const delay = retryDelayMs(longestWait, attempt, this.retry);
      if (!mayRetry(attempt, delay, this.retry)) return { replies, unsettled: { count: throttled.length, attempts: attempt, retryAfterMs: longestWait } };
      await currentCallBudget().sleep(delay, this.retry);
      pending = throttled;
    }
  }

  private async getOne(mailbox: string, ref: ItemRef): Promise<OutlookItem> {
    let raw: unknown;
    try {
      raw = await this.client(mailbox).api(this.itemUrl(mailbox, ref, true)).header('Prefer', this.prefer(ref.kind)).get();
    } catch (error) {
      throw translateGraphError(error);
    }
    return this.parseItem(mailbox, ref.kind, ref.container, raw);
  }

  private parseItem(mailbox: string, kind: ItemKind, container: string, raw: unknown): OutlookItem {
    const item = toOutlookItem(kind, container, raw, this.vocabulary(mailbox));
    if (!item.ok) throw new ItemRejectedError(item.failure.reason, item.failure.detail);
    return item.value;
  }

  // ---------------------------------------------------------------- find and create

  async findByCrmId(mailbox: string, kind: ItemKind, crmId: string): Promise<OutlookItem | null> {
    return this.budgeted(() => (kind === 'task' ? this.findTaskByCrmId(mailbox, crmId) : this.findStampedItem(mailbox, kind, crmId)));
  }

  /** `container`: a create's target folder or calendar besides the defaults, searched first (the create's own scope). */
  private async findStampedItem(mailbox: string, kind: Exclude<ItemKind, 'task'>, crmId: string, container?: string): Promise<OutlookItem | null> {
    const user = this.userPath(mailbox);
    const scopes: { path: string; container: string }[] =
      kind === 'contact'
        ? [{ path: `${user}/contacts`, container: 'contacts' }]
        : kind === 'appointment'
          ? [{ path: `${user}/events`, container: 'calendar' }]
          : [
              { path: `${user}/mailFolders/inbox/messages`, container: 'inbox' },
              { path: `${user}/mailFolders/sentitems/messages`, container: 'sentitems' },
            ];
    if (kind === 'contact' && container !== undefined && container !== 'contacts') {
      scopes.unshift({ path: `${user}/contactFolders/${enc(container)}/contacts`, container });
    } else if (kind === 'appointment' && container !== undefined && container !== 'calendar') {
      scopes.unshift({ path: `${user}/calendars/${enc(container)}/events`, container });
    }
    const query = `$filter=${enc(crmIdFilter(this.ids, crmId))}&$expand=${enc(expandExtendedProperties(expandedPropertyIds(kind, this.ids)))}&$top=2`;
    for (const scope of scopes) {
      const page = await this.getCollection(mailbox, `${scope.path}?${query}`, kind);
      const first = page.value[0];
      if (first !== undefined) return this.parseItem(mailbox, kind, scope.container, first);
    }
    return null;
  }

  /**
   * To Do has no extended properties and filtering on linkedResources is UNCONFIRMED (graph-behaviour.md §3.5), so
   * this scans every list's tasks with their linked resources: ⌈tasks / page size⌉ requests per list plus one for the
   * lists. It runs only before a create from the CRM side, never per delta entry.
   */
  private async findTaskByCrmId(mailbox: string, crmId: string): Promise<OutlookItem | null> {
    const wanted = crmId.toLowerCase();
    for (const list of await this.todoLists(mailbox)) {
      if ((list.wellknownListName ?? '').toLowerCase() === 'flaggedemails') continue;
      let url: string | undefined = `${this.userPath(mailbox)}/todo/lists/${enc(list.id)}/tasks?$expand=linkedResources&$top=100`;
      while (url) {
        const page = await this.getCollection(mailbox, url, 'task');
        for (const raw of page.value) {
          const task = graphResourceSchema.safeParse(raw);
          if (!task.success) continue;
          const link = productLink(task.data.linkedResources, this.productName);
          if ((link?.externalId ?? '').toLowerCase() === wanted) return this.parseItem(mailbox, 'task', list.id, raw);
        }
        url = page['@odata.nextLink'];
      }
    }
    return null;
  }

  /**
   * Ids in the stream's container whose Tracked property is 'true' (graph-behaviour.md §3.3 `$filter` with Any; the
   * value comparison is case-insensitive). Delta never carries extended properties (§3.4), so this is how an item
   * marked only by an add-in is found. `/events`, not calendarView: the filter is documented on the collection.
   * Cost: ⌈marked / 100⌉ requests per stream. To Do has no extended properties (§3.5): [] without a request.
   */
  async findMarkedIds(mailbox: string, stream: StreamRef): Promise<string[]> {
    if (stream.kind === 'task') return [];
    return this.budgeted(async () => {
      const user = this.userPath(mailbox);
      const collection =
        stream.kind === 'contact'
          ? stream.container === 'contacts'
            ? `${user}/contacts`
            : `${user}/contactFolders/${enc(stream.container)}/contacts`
          : stream.kind === 'appointment'
            ? stream.container === 'calendar'
              ? `${user}/events`
              : `${user}/calendars/${enc(stream.container)}/events`
            : `${user}/mailFolders/${enc(stream.container)}/messages`;
      const ids: string[] = [];
      let url: string | undefined = `${collection}?$filter=${enc(markerFilter(this.ids))}&$select=id&$top=100`;
      while (url) {
        const page = await this.getCollection(mailbox, url, stream.kind);
        for (const raw of page.value) {
          const parsed = idOnlySchema.safeParse(raw);
          if (parsed.success) ids.push(parsed.data.id);
        }
        url = page['@odata.nextLink'];
      }
      return [...new Set(ids)];
    });
  }

  async createItem(
    mailbox: string,
    kind: ItemKind,
    container: string,
    write: OutlookWrite,
    stamp: { crmId: string; categoryName: string },
  ): Promise<OutlookItem> {
    if (kind === 'email') throw new ItemRejectedError('graph-unsupported-create', 'e-mail is never created in Outlook (DESIGN.md §2)');
    return this.budgeted(async () => {
      const data: JsonObject = { ...write.data };
      data.categories = withCategory(stringArray(data.categories), stamp.categoryName, true);
      // Match before create (DESIGN.md §4), for every kind: an event's transactionId is a second guard, not the only
      // one, because how long Graph remembers it is UNCONFIRMED (§2.2).
      const find = (): Promise<OutlookItem | null> =>
        kind === 'task' ? this.findTaskByCrmId(mailbox, stamp.crmId) : this.findStampedItem(mailbox, kind, stamp.crmId, container);
      const existing = await find();
      if (existing) return existing;
      let collection: string;
      if (kind === 'task') {
        // The linkedResource is the only stamp a task can carry (§3.5).
        data.linkedResources = [this.linkFor(stamp.crmId)];
        collection = `${this.userPath(mailbox)}/todo/lists/${enc(container)}/tasks`;
      } else {
        data.singleValueExtendedProperties = upsertProperties(data.singleValueExtendedProperties, [
          { id: this.ids.tracked, value: 'true' },
          { id: this.ids.crmId, value: stamp.crmId },
          // Made by the worker for this record: a crash before the link commit then an untrack reads as one (planner halfLinkedUntracked).
          { id: this.ids.linkId, value: stamp.crmId },
        ]);
        if (kind === 'appointment') {
          // graph-behaviour.md §2.2: transactionId lets the server drop a repeated POST; derived from mailbox + crmId so
          // a retry after a lost response (or a crash before the mapping commit) sends the same one.
          data.transactionId = transactionIdFor(mailbox, stamp.crmId);
        }
        collection =
          kind === 'contact'
            ? container === 'contacts'
              ? `${this.userPath(mailbox)}/contacts`
              : `${this.userPath(mailbox)}/contactFolders/${enc(container)}/contacts`
            : container === 'calendar'
              ? `${this.userPath(mailbox)}/events`
              : `${this.userPath(mailbox)}/calendars/${enc(container)}/events`;
      }
      const created = await this.postCreate(mailbox, collection, kind, data, find);
      if ('item' in created) return created.item;
      // §3.2: the create response does not carry the extended properties; read the item back with them expanded.
      return this.getOne(mailbox, { kind, id: created.id, container });
    });
  }

  /**
   * POST of a create. The middleware re-sends it only after a 429 (the server did not act). A 503/504 may come after
   * the server created the item (§9.2), so before posting again this waits as asked, then looks for the item: found,
   * it is the result; not found, the POST goes out again, within the same attempt and wait bounds as any retry.
   */
  private async postCreate(
    mailbox: string,
    url: string,
    kind: ItemKind,
    body: JsonObject,
    find: () => Promise<OutlookItem | null>,
  ): Promise<{ id: string } | { item: OutlookItem }> {
    for (let attempt = 1; ; attempt++) {
      try {
        const created: unknown = await this.client(mailbox).api(url).header('Prefer', this.prefer(kind)).post(body);
        return { id: idOf(created) };
      } catch (error) {
        const ambiguous = error instanceof GraphError && (error.statusCode === 503 || error.statusCode === 504);
        const translated = translateGraphError(error, this.retry.now());
        if (!ambiguous) throw translated;
        const retryAfter = translated instanceof TransientError ? translated.retryAfterInMs : null;
        const delay = retryDelayMs(retryAfter, attempt, this.retry);
        if (!mayRetry(attempt, delay, this.retry)) throw translated;
        await currentCallBudget().sleep(delay, this.retry);
        const existing = await find();
        if (existing) return { item: existing };
      }
    }
  }

  // ---------------------------------------------------------------- update and delete

  async updateItem(
    mailbox: string,
    ref: ItemRef,
    write: OutlookWrite | null,
    tracking: (TrackingUpkeep & { categoryName: string }) | null,
    ifMatch?: string | null,
  ): Promise<OutlookItem> {
    return this.budgeted(() => this.update(mailbox, ref, write, tracking, ifMatch));
  }

  private async update(
    mailbox: string,
    ref: ItemRef,
    write: OutlookWrite | null,
    tracking: (TrackingUpkeep & { categoryName: string }) | null,
    ifMatch?: string | null,
  ): Promise<OutlookItem> {
    const plan = planUpdate({ ref, write, tracking, ifMatch });
    let links: LinkedResource[] = [];
    if (needsUpkeepRead(plan)) {
      const current = await this.getOne(mailbox, ref);
      absorbUpkeepRead(plan, current);
      links = linkedResourceSchema.array().safeParse(current.data.linkedResources ?? []).data ?? [];
    }
    this.completePatch(plan);
    if (Object.keys(plan.patch).length > 0) {
      await this.send(mailbox, 'PATCH', this.itemUrl(mailbox, ref, false), ref.kind, plan.patch, plan.condition);
    }
    if (tracking && ref.kind === 'task') await this.upkeepTaskLink(mailbox, ref, links, tracking.crmId);
    // The PATCH response lacks the extended properties (§3.2); read back so the caller sees what is stored.
    return this.getOne(mailbox, ref);
  }

  /** The tracking upkeep of a planned update, once its categories are known (from the write or the upkeep read). */
  private completePatch(plan: UpdatePlan): void {
    const tracking = plan.tracking;
    if (!tracking) return;
    plan.patch.categories = withCategory(plan.categories ?? [], tracking.categoryName, tracking.category);
    if (plan.ref.kind !== 'task') {
      // §3.2: no documented way to delete an extended property; untracked is Tracked=false, unlinked is CrmId='', cleared LinkId is ''.
      plan.patch.singleValueExtendedProperties = upsertProperties(plan.patch.singleValueExtendedProperties, [
        { id: this.ids.tracked, value: tracking.marker ? 'true' : 'false' },
        { id: this.ids.crmId, value: tracking.crmId ?? '' },
        ...linkIdUpdate(this.ids, tracking),
      ]);
    }
  }

  /**
   * updateItem's three steps for many items, each step one `$batch` per 20 items (§5.3): the upkeep reads, the PATCHes
   * (each with its own If-Match), the read-backs. An item fails at the step that refuses it and takes no further step.
   * An item updated twice in one call gets its second update in a later round, after the first one's read-back: the
   * sub-requests of one batch run in any order (§5.3), so one batch never holds two writes of one item.
   * A To Do task with tracking upkeep takes the single path (its linkedResources requests, whose POST must not be
   * re-sent after a 503/504, §9.2, do not fit the batch loop's retries).
   * Only an AuthError (a 401/403, of the envelope or of a sub-request) fails the whole call; a sub-request still
   * throttled after the retries, or a batch whose envelope failed, fails its items alone (TransientError, or the
   * envelope's error), so the results of writes that landed are never lost in a thrown error.
   */
  async updateItems(mailbox: string, updates: readonly OutlookUpdate[]): Promise<OutlookUpdateResult[]> {
    return this.budgeted(async () => {
      const results = new Map<number, OutlookUpdateResult>();
      for (const round of updateRounds(updates)) {
        const single = round.filter((index) => updates[index]?.tracking && updates[index]?.ref.kind === 'task');
        await this.updateBatched(
          mailbox,
          round.filter((index) => !single.includes(index)),
          updates,
          results,
        );
        for (const index of single) {
          const update = updates[index] as OutlookUpdate;
          results.set(index, await settleAlone(() => this.update(mailbox, update.ref, update.write, update.tracking, update.ifMatch)));
        }
      }
      return updates.map((_, index) => results.get(index) ?? { ok: false, error: new InvariantError(`update ${index} was not run`) });
    });
  }

  private async updateBatched(mailbox: string, indices: readonly number[], updates: readonly OutlookUpdate[], results: Map<number, OutlookUpdateResult>): Promise<void> {
    const plans = new Map<number, UpdatePlan>();
    for (const index of indices) plans.set(index, planUpdate(updates[index] as OutlookUpdate));
    const fail = (index: number, error: Error): void => {
      results.set(index, { ok: false, error });
      plans.delete(index);
    };

    // §4 read-modify-write of categories: the upkeep reads first.
    const reading = [...plans].filter(([, plan]) => needsUpkeepRead(plan));
    const current = await this.readItems(mailbox, reading.map(([, plan]) => plan.ref));
    reading.forEach(([index, plan], position) => {
      const read = current[position] as OutlookUpdateResult;
      if (!read.ok) return fail(index, read.error);
      try {
        absorbUpkeepRead(plan, read.item);
      } catch (error) {
        fail(index, translateGraphError(error));
      }
    });

    const writing: [number, UpdatePlan][] = [];
    for (const [index, plan] of plans) {
      this.completePatch(plan);
      if (Object.keys(plan.patch).length > 0) writing.push([index, plan]);
    }
    for (let i = 0; i < writing.length; i += BATCH_LIMIT) {
      const chunk = writing.slice(i, i + BATCH_LIMIT);
      const outcomes = await this.sendChunk(
        mailbox,
        chunk.map(([, plan]) => ({ method: 'PATCH', url: this.itemUrl(mailbox, plan.ref, false), kind: plan.ref.kind, body: plan.patch, ifMatch: plan.condition })),
      );
      chunk.forEach(([index], position) => {
        const error = outcomes[position]?.error;
        if (error) fail(index, error);
      });
    }

    // The PATCH responses lack the extended properties (§3.2): read back what is stored.
    const written = [...plans.keys()];
    const stored = await this.readItems(mailbox, written.map((index) => (plans.get(index) as UpdatePlan).ref));
    written.forEach((index, position) => results.set(index, stored[position] as OutlookUpdateResult));
  }

  /**
   * One `$batch` of updateItems: per sub-request its reply and the error the single request would have thrown for it.
   * An envelope that fails beyond the retries fails the chunk's items alone (another chunk's writes may have landed:
   * they keep their results); only an AuthError fails the whole call.
   */
  private async sendChunk(mailbox: string, requests: readonly BatchSubRequest[]): Promise<{ reply: BatchSubReply | undefined; error: Error | null }[]> {
    try {
      const { replies, unsettled } = await this.sendBatch(mailbox, requests);
      const now = this.retry.now();
      return requests.map((_, position) => ({ reply: replies[position], error: subRequestError(replies[position], unsettled, now) }));
    } catch (error) {
      const translated = translateGraphError(error);
      if (translated instanceof AuthError) throw translated;
      return requests.map(() => ({ reply: undefined, error: translated }));
    }
  }

  /** getOne for many items, in `$batch`es of ≤ 20: each item read or failed with the error getOne would throw. */
  private async readItems(mailbox: string, refs: readonly ItemRef[]): Promise<OutlookUpdateResult[]> {
    const out: OutlookUpdateResult[] = [];
    for (let i = 0; i < refs.length; i += BATCH_LIMIT) {
      const chunk = refs.slice(i, i + BATCH_LIMIT);
      const outcomes = await this.sendChunk(
        mailbox,
        chunk.map((ref) => ({ method: 'GET', url: this.itemUrl(mailbox, ref, true), kind: ref.kind })),
      );
      chunk.forEach((ref, position) => {
        const outcome = outcomes[position];
        if (!outcome || outcome.error) {
          out.push({ ok: false, error: outcome?.error ?? new InvariantError('no outcome for a $batch sub-request') });
          return;
        }
        try {
          out.push({ ok: true, item: this.parseItem(mailbox, ref.kind, ref.container, outcome.reply?.body) });
        } catch (parseError) {
          out.push({ ok: false, error: translateGraphError(parseError) });
        }
      });
    }
    return out;
  }

  private async upkeepTaskLink(mailbox: string, ref: ItemRef, links: LinkedResource[], crmId: string | null): Promise<void> {
    const ours = productLink(links, this.productName);
    const base = `${this.itemUrl(mailbox, ref, false)}/linkedResources`;
    // A 503/504 on the POST may come after the link was created (§9.2): it is not re-sent here but surfaces as
    // TransientError, and the retried update reads the task's links again before it posts.
    if (crmId && !ours) await this.send(mailbox, 'POST', base, 'task', this.linkFor(crmId));
    else if (crmId && ours?.id && ours.externalId !== crmId) await this.send(mailbox, 'PATCH', `${base}/${enc(ours.id)}`, 'task', { externalId: crmId });
    else if (!crmId && ours?.id) await this.deleteTolerant(mailbox, `${base}/${enc(ours.id)}`);
  }

  async deleteItem(mailbox: string, ref: ItemRef): Promise<void> {
    await this.budgeted(() => this.deleteTolerant(mailbox, this.itemUrl(mailbox, ref, false)));
  }

  private async deleteTolerant(mailbox: string, url: string): Promise<void> {
    try {
      await this.client(mailbox).api(url).header('Prefer', this.prefer('contact')).delete();
    } catch (error) {
      if (error instanceof GraphError && error.statusCode === 404) return; // already gone counts as deleted
      throw translateGraphError(error);
    }
  }

  // ---------------------------------------------------------------- categories

  async ensureCategory(mailbox: string, categoryName: string): Promise<void> {
    return this.budgeted(() => this.ensureMasterCategory(mailbox, categoryName));
  }

  private async ensureMasterCategory(mailbox: string, categoryName: string): Promise<void> {
    const url = `${this.userPath(mailbox)}/outlook/masterCategories`;
    const page = await this.getCollection(mailbox, url, 'contact');
    const wanted = categoryName.toLowerCase();
    const exists = page.value.some((raw) => masterCategorySchema.safeParse(raw).data?.displayName.toLowerCase() === wanted);
    if (exists) return;
    try {
      await this.client(mailbox).api(url).header('Prefer', this.prefer('contact')).post({ displayName: categoryName, color: this.options.categoryColor ?? 'preset7' });
    } catch (error) {
      // §4: displayName is unique; a 409 means someone created it meanwhile, which is what we wanted.
      if (error instanceof GraphError && error.statusCode === 409) return;
      throw translateGraphError(error);
    }
  }

  // ---------------------------------------------------------------- plumbing

  /** Every public call runs under one sleep budget (retry.ts); nested calls share their caller's. */
  private budgeted<T>(call: () => Promise<T>): Promise<T> {
    return withCallBudget(this.retry, call);
  }

  private client(mailbox: string): Client {
    return this.mailboxClient(mailbox).client;
  }

  private gateOf(mailbox: string): MailboxGate {
    return this.mailboxClient(mailbox).gate;
  }

  private mailboxClient(mailbox: string): MailboxClient {
    const key = mailbox.toLowerCase();
    let entry = this.clients.get(key);
    if (!entry) {
      const gate = new MailboxGate(new WeightedSemaphore(Math.max(1, Math.floor(this.options.maxConcurrentPerMailbox ?? 4))));
      const observe = this.options.onRequest ? (o: RequestObservation) => this.options.onRequest?.(mailbox, o) : undefined;
      const client = Client.initWithMiddleware({
        baseUrl: this.baseUrl,
        defaultVersion: this.version,
        customHosts: new Set([this.host]),
        // No RetryHandler and no RedirectHandler: retry.ts is the one retry layer; Graph does not redirect these calls.
        middleware: [
          new AuthenticationHandler(this.authProvider),
          new RetryMiddleware(this.retry),
          new TelemetryHandler(),
          new LimitedFetchMiddleware(this.fetch, gate, this.appGate, this.retry, observe),
        ],
      });
      entry = { client, gate };
      this.clients.set(key, entry);
    }
    return entry;
  }

  private async send(mailbox: string, method: 'POST' | 'PATCH', url: string, kind: ItemKind, body: JsonObject, ifMatch: string | null = null): Promise<unknown> {
    try {
      let request = this.client(mailbox).api(url).header('Prefer', this.prefer(kind));
      if (ifMatch) request = request.header('If-Match', ifMatch);
      return method === 'POST' ? await request.post(body) : await request.patch(body);
    } catch (error) {
      throw translateGraphError(error);
    }
  }

  private async getCollection(mailbox: string, url: string, kind: ItemKind): Promise<{ value: unknown[]; '@odata.nextLink'?: string }> {
    let raw: unknown;
    try {
      raw = await this.client(mailbox).api(url).header('Prefer', this.prefer(kind)).get();
    } catch (error) {
      throw translateGraphError(error);
    }
    const page = collectionPageSchema.safeParse(raw);
    if (!page.success) throw new TransientError(`malformed collection page: ${describeIssues(page.error)}`);
    return page.data;
  }

  private async todoLists(mailbox: string): Promise<{ id: string; wellknownListName?: string | null }[]> {
    const lists: { id: string; wellknownListName?: string | null }[] = [];
    let url: string | undefined = `${this.userPath(mailbox)}/todo/lists`;
    while (url) {
      const page = await this.getCollection(mailbox, url, 'task');
      for (const raw of page.value) {
        const list = todoListSchema.safeParse(raw);
        if (list.success) lists.push(list.data);
      }
      url = page['@odata.nextLink'];
    }
    return lists;
  }

  /** One combined Prefer header (§8: the SDK's .header() overwrites by key). */
  private prefer(kind: ItemKind, maxPageSize?: number): string {
    const parts = [];
    if (maxPageSize !== undefined) parts.push(`odata.maxpagesize=${maxPageSize}`);
    parts.push('IdType="ImmutableId"', 'outlook.body-content-type="text"');
    if (kind === 'appointment') parts.push('outlook.timezone="UTC"');
    return parts.join(', ');
  }

  private userPath(mailbox: string): string {
    return `/users/${enc(mailbox)}`;
  }

  private itemUrl(mailbox: string, ref: ItemRef, expand: boolean): string {
    const user = this.userPath(mailbox);
    const id = enc(ref.id);
    if (ref.kind === 'task') return `${user}/todo/lists/${enc(ref.container)}/tasks/${id}${expand ? '?$expand=linkedResources' : ''}`;
    const collection = ref.kind === 'contact' ? 'contacts' : ref.kind === 'appointment' ? 'events' : 'messages';
    const query = expand ? `?$expand=${enc(expandExtendedProperties(expandedPropertyIds(ref.kind, this.ids)))}` : '';
    return `${user}/${collection}/${id}${query}`;
  }

  private vocabulary(mailbox: string): TrackingVocabulary {
    const name = typeof this.options.categoryName === 'function' ? this.options.categoryName(mailbox) : this.options.categoryName;
    return { ids: this.ids, categoryName: name, productName: this.productName };
  }

  private linkFor(crmId: string): JsonObject {
    return { applicationName: this.productName, externalId: crmId, displayName: this.productName };
  }
}

/** GUID-shaped, deterministic per mailbox and CRM record (graph-behaviour.md §2.2). */
export function transactionIdFor(mailbox: string, crmId: string): string {
  const hex = createHash('sha256').update(`${mailbox.toLowerCase()}\n${crmId.toLowerCase()}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

function planUpdate(update: OutlookUpdate): UpdatePlan {
  // §8: `@odata.etag` is W/"<changeKey>" (To Do tasks: an etag without a changeKey property; OutlookItem.changeKey
  // holds its value), so the caller's version is sent in that form.
  const expected = update.ifMatch ? changeKeyFromEtag(update.ifMatch) : null;
  const patch: JsonObject = update.write ? { ...update.write.data } : {};
  return {
    ref: update.ref,
    tracking: update.tracking,
    expected,
    condition: expected === null ? null : `W/"${expected}"`,
    patch,
    categories: Array.isArray(patch.categories) ? stringArray(patch.categories) : null,
  };
}

/**
 * §4: PATCH replaces the categories array, so tracking upkeep without categories in the write reads them first (and a
 * task always, for its linkedResources); If-Match on the etag just read keeps a concurrent user edit from being
 * overwritten (412 → ConcurrencyError → the app re-reads and re-plans).
 */
function needsUpkeepRead(plan: UpdatePlan): boolean {
  return plan.tracking !== null && (plan.categories === null || plan.ref.kind === 'task');
}

function absorbUpkeepRead(plan: UpdatePlan, current: OutlookItem): void {
  // Our own read already shows an edit since the caller's: refuse here rather than rely on Outlook's honouring of
  // If-Match, which is UNCONFIRMED (§8).
  if (plan.expected !== null && current.changeKey !== plan.expected) {
    throw new ConcurrencyError(`item changed since it was read (changeKey ${current.changeKey ?? 'none'}, expected ${plan.expected})`);
  }
  plan.categories ??= stringArray(current.data.categories);
  const etag = current.data['@odata.etag'];
  plan.condition ??= typeof etag === 'string' ? etag : null;
}

/** Indices of `updates` in rounds where each item appears at most once, its updates in the caller's order. */
function updateRounds(updates: readonly OutlookUpdate[]): number[][] {
  const seen = new Map<string, number>();
  const rounds: number[][] = [];
  updates.forEach((update, index) => {
    // Graph ids are case-sensitive (§8).
    const round = seen.get(update.ref.id) ?? 0;
    seen.set(update.ref.id, round + 1);
    (rounds[round] ??= []).push(index);
  });
  return rounds;
}

/** One update on the single path, its failure as its result; an AuthError fails the whole call (as in a `$batch`). */
async function settleAlone(run: () => Promise<OutlookItem>): Promise<OutlookUpdateResult> {
  try {
    return { ok: true, item: await run() };
  } catch (error) {
    if (error instanceof AuthError) throw error;
    return { ok: false, error: translateGraphError(error) };
  }
}

/**
 * The error the single request would have thrown for this sub-reply (errors.ts, as translateGraphError maps a
 * GraphError: 404 → ItemRejectedError `graph-404-…`, 412 → ConcurrencyError, 5xx and still-throttled 429 →
 * TransientError with Retry-After), or null for a success.
 */
function subRequestError(reply: BatchSubReply | undefined, unsettled: { attempts: number; retryAfterMs: number | null } | null, now: number): Error | null {
  if (reply === undefined) {
    return new TransientError(`$batch sub-request unanswered after ${unsettled?.attempts ?? 1} attempts`, unsettled?.retryAfterMs ?? null);
  }
  if (reply.status >= 200 && reply.status < 300) return null;
  const { code, message } = errorOf(reply.body);
  return errorForStatus(reply.status, code, message, parseRetryAfter(headerValue(reply.headers, 'Retry-After'), now));
}

function enc(value: string): string {
  return encodeURIComponent(value);
}

function idOf(raw: unknown): string {
  const parsed = graphResourceSchema.pick({ id: true }).safeParse(raw);
  if (!parsed.success) throw new TransientError('create response carried no id');
  return parsed.data.id;
}

function stringArray(value: JsonValue | undefined): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function upsertProperties(existing: JsonValue | undefined, updates: { id: string; value: string }[]): JsonValue {
  const list: { id: string; value: string | null }[] = [];
  if (Array.isArray(existing)) {
    for (const entry of existing) {
      if (entry && typeof entry === 'object' && !Array.isArray(entry) && typeof entry.id === 'string') {
        list.push({ id: entry.id, value: typeof entry.value === 'string' ? entry.value : null });
      }
    }
  }
  for (const update of updates) {
    const index = list.findIndex((p) => samePropertyId(p.id, update.id));
    if (index >= 0) list.splice(index, 1);
    list.push(update);
  }
  return list;
}

function headerValue(headers: Record<string, string> | undefined, name: string): string | null {
  if (!headers) return null;
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === wanted) return value;
  return null;
}

function errorOf(body: unknown): { code: string | null; message: string } {
  const parsed = graphErrorBodySchema.safeParse(body);
  return parsed.success ? { code: parsed.data.error.code ?? null, message: parsed.data.error.message ?? '' } : { code: null, message: '' };
}
