// MailboxSource over Microsoft Graph (@microsoft/microsoft-graph-client 3, app-only via @azure/msal-node).
//
// Request shape, per graph-behaviour.md:
// - one combined Prefer header on every request, continuation links included (§1.3, §8): IdType="ImmutableId",
//   outlook.body-content-type="text", odata.maxpagesize=N on delta, outlook.timezone="UTC" for events (§7);
// - delta paged by our own loop, not PageIterator (§9.3), so every page's link can be persisted and resumed;
// - hydration through `$batch` of ≤ 20 GETs with the tracking properties expanded (§3.3, §3.4, §5.3);
// - one retry layer (retry.ts explains why it is ours, not the SDK's RetryHandler) and ≤ 4 requests in flight per
//   mailbox (transport.ts).
// Containers: `contacts` is the default contacts folder, `calendar` the primary calendar's calendarView, `inbox` and
// `sentitems` the well-known mail folders, and a To Do list id for tasks. OutlookItem.container echoes them.
import { AuthenticationHandler, Client, GraphError, TelemetryHandler, type AuthenticationProvider } from '@microsoft/microsoft-graph-client';
import { createHash } from 'node:crypto';
import type { ItemKind, JsonObject, JsonValue, OutlookItem, OutlookWrite } from '../../core/model';
import type { TrackingUpkeep } from '../../core/plan';
import { ConcurrencyError, InvariantError, ItemRejectedError, ResyncRequiredError, TransientError } from '../../ports/errors';
import type { DeltaEntry, DeltaPage, ItemFailure, ItemRef, MailboxSource, StreamRef } from '../../ports/mailbox-source';
import { trustedFetch, type Fetch } from '../http/trusted-fetch';
import { createTokenProvider, type ClientCredential } from './auth';
import { errorForStatus, isResyncSignal, translateGraphError } from './errors';
import {
  crmIdFilter,
  expandedPropertyIds,
  expandExtendedProperties,
  samePropertyId,
  trackingPropertyIds,
  type TrackingPropertyIds,
} from './extended-properties';
import { productLink, toDeltaEntry, toOutlookItem, withCategory, type TrackingVocabulary } from './outlook-item';
import { DEFAULT_RETRY_POLICY, mayRetry, parseRetryAfter, RETRYABLE_STATUSES, retryDelayMs, RetryMiddleware, type RetryPolicy } from './retry';
import {
  batchResponseSchema,
  changeKeyFromEtag,
  collectionPageSchema,
  deltaPageSchema,
  describeIssues,
  graphErrorBodySchema,
  graphResourceSchema,
  linkedResourceSchema,
  masterCategorySchema,
  todoListSchema,
  type LinkedResource,
} from './schemas';
import { LimitedFetchMiddleware, WeightedSemaphore, type RequestObservation } from './transport';

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
  /** Outlook: 4 per app and mailbox (graph-behaviour.md §5.2). */
  maxConcurrentPerMailbox?: number;
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

interface MailboxClient {
  client: Client;
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
    const lists = await this.todoLists(mailbox);
    return [
      { id: 'contacts', kind: 'contact', container: 'contacts' },
      { id: 'calendar', kind: 'appointment', container: 'calendar' },
      // graph-behaviour.md §2.4: flaggedEmails mirrors flagged mail; tracking it would import mail flags as tasks.
      ...lists.filter((l) => (l.wellknownListName ?? '').toLowerCase() !== 'flaggedemails').map((l): StreamRef => ({ id: `todo:${l.id}`, kind: 'task', container: l.id })),
      { id: 'inbox', kind: 'email', container: 'inbox' },
      { id: 'sentitems', kind: 'email', container: 'sentitems' },
    ];
  }

  async readDelta(
    mailbox: string,
    stream: StreamRef,
    cursor: string | null,
    onPage: (page: DeltaPage) => Promise<void>,
    window?: { start: string; end: string },
  ): Promise<void> {
    let url = cursor ?? this.initialDeltaUrl(mailbox, stream, window);
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
        await onPage({ entries, failures, cursor: next, final: false });
        if (pages >= maxPages) throw new TransientError(`delta round of ${stream.id} exceeded ${maxPages} pages`);
        url = next;
        continue;
      }
      if (delta) {
        await onPage({ entries, failures, cursor: delta, final: true });
        return;
      }
      throw new TransientError(`delta page on ${stream.id} carried neither @odata.nextLink nor @odata.deltaLink`);
    }
  }

  private initialDeltaUrl(mailbox: string, stream: StreamRef, window?: { start: string; end: string }): string {
    const user = this.userPath(mailbox);
    switch (stream.kind) {
      case 'contact':
        return stream.container === 'contacts' ? `${user}/contacts/delta` : `${user}/contactFolders/${enc(stream.container)}/contacts/delta`;
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

  // ---------------------------------------------------------------- hydration

  async getItems(mailbox: string, refs: readonly ItemRef[]): Promise<Map<string, OutlookItem | null>> {
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
  }

  /**
   * GETs in one `$batch` (≤ 20). Result per request: the body (200), null (404), or undefined (refused alone).
   * Throttled sub-requests are retried by this method under the same policy as whole requests: the SDK does not retry
   * them (§5.3, §9.5), and waiting for the longest Retry-After among them is what the docs ask.
   */
  private async batchGet(mailbox: string, requests: { url: string; kind: ItemKind }[]): Promise<(unknown | null | undefined)[]> {
    const results: (unknown | null | undefined)[] = new Array(requests.length).fill(undefined);
    let pending = requests.map((_, index) => index);
    for (let attempt = 1; ; attempt++) {
      const body = {
        requests: pending.map((index) => ({
          id: String(index + 1),
          method: 'GET',
          url: requests[index]?.url ?? '',
          headers: { Prefer: this.prefer(requests[index]?.kind ?? 'contact') },
        })),
      };
      let raw: unknown;
      try {
        raw = await this.client(mailbox).api('/$batch').post(body);
      } catch (error) {
        throw translateGraphError(error);
      }
      const parsed = batchResponseSchema.safeParse(raw);
      if (!parsed.success) throw new TransientError(`malformed $batch response: ${describeIssues(parsed.error)}`);
      const throttled: number[] = [];
      let longestWait: number | null = null;
      for (const response of parsed.data.responses) {
        const index = Number(response.id) - 1;
        if (!pending.includes(index)) continue;
        if (response.status >= 200 && response.status < 300) {
          // A success without a body is not "gone": leave it undefined so the item fails alone.
          results[index] = response.body === undefined || response.body === null ? undefined : response.body;
        } else if (response.status === 404) {
          results[index] = null;
        } else if (RETRYABLE_STATUSES.has(response.status)) {
          throttled.push(index);
          const wait = parseRetryAfter(headerValue(response.headers, 'Retry-After'), this.retry.now());
          if (wait !== null) longestWait = Math.max(longestWait ?? 0, wait);
        } else if (response.status === 401 || response.status === 403) {
          const { code, message } = errorOf(response.body);
          throw errorForStatus(response.status, code, message, null);
        }
        // Any other refusal leaves results[index] undefined: that item fails alone.
      }
      // Sub-requests the response did not mention are treated like throttled ones.
      const answered = new Set(parsed.data.responses.map((r) => Number(r.id) - 1));
      throttled.push(...pending.filter((index) => !answered.has(index)));
      if (throttled.length === 0) return results;
      const delay = retryDelayMs(longestWait, attempt, this.retry);
      if (!mayRetry(attempt, delay, this.retry)) {
        throw new TransientError(`${throttled.length} $batch sub-requests still throttled after ${attempt} attempts`, longestWait);
      }
      await this.retry.sleep(delay);
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
    if (kind === 'task') return this.findTaskByCrmId(mailbox, crmId);
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

  async createItem(
    mailbox: string,
    kind: ItemKind,
    container: string,
    write: OutlookWrite,
    stamp: { crmId: string; categoryName: string },
  ): Promise<OutlookItem> {
    if (kind === 'email') throw new ItemRejectedError('graph-unsupported-create', 'e-mail is never created in Outlook (DESIGN.md §2)');
    const data: JsonObject = { ...write.data };
    data.categories = withCategory(stringArray(data.categories), stamp.categoryName, true);
    if (kind === 'task') {
      // Match before create (DESIGN.md §4): the linkedResource is the only stamp a task can carry.
      const existing = await this.findTaskByCrmId(mailbox, stamp.crmId);
      if (existing) return existing;
      data.linkedResources = [this.linkFor(stamp.crmId)];
      const created = await this.send(mailbox, 'POST', `${this.userPath(mailbox)}/todo/lists/${enc(container)}/tasks`, 'task', data);
      const id = idOf(created);
      return this.getOne(mailbox, { kind, id, container });
    }
    const stamps = [
      { id: this.ids.tracked, value: 'true' },
      { id: this.ids.crmId, value: stamp.crmId },
    ];
    data.singleValueExtendedProperties = upsertProperties(data.singleValueExtendedProperties, stamps);
    if (kind === 'appointment') {
      // graph-behaviour.md §2.2: transactionId lets the server drop a repeated POST; derived from mailbox + crmId so a
      // retry after a lost response (or a crash before the mapping commit) sends the same one.
      data.transactionId = transactionIdFor(mailbox, stamp.crmId);
    } else {
      const existing = await this.findByCrmId(mailbox, kind, stamp.crmId);
      if (existing) return existing;
    }
    const collection =
      kind === 'contact'
        ? container === 'contacts'
          ? `${this.userPath(mailbox)}/contacts`
          : `${this.userPath(mailbox)}/contactFolders/${enc(container)}/contacts`
        : container === 'calendar'
          ? `${this.userPath(mailbox)}/events`
          : `${this.userPath(mailbox)}/calendars/${enc(container)}/events`;
    const created = await this.send(mailbox, 'POST', collection, kind, data);
    // §3.2: the create response does not carry the extended properties; read the item back with them expanded.
    return this.getOne(mailbox, { kind, id: idOf(created), container });
  }

  // ---------------------------------------------------------------- update and delete

  async updateItem(
    mailbox: string,
    ref: ItemRef,
    write: OutlookWrite | null,
    tracking: (TrackingUpkeep & { categoryName: string }) | null,
    ifMatch?: string | null,
  ): Promise<OutlookItem> {
    // §8: `@odata.etag` is W/"<changeKey>" (To Do tasks: an etag without a changeKey property; OutlookItem.changeKey
    // holds its value), so the caller's version is sent in that form.
    const expected = ifMatch ? changeKeyFromEtag(ifMatch) : null;
    let condition: string | null = expected === null ? null : `W/"${expected}"`;
    const patch: JsonObject = write ? { ...write.data } : {};
    let links: LinkedResource[] = [];
    if (tracking) {
      let categories = Array.isArray(patch.categories) ? stringArray(patch.categories) : null;
      if (categories === null || ref.kind === 'task') {
        // §4: PATCH replaces the categories array, so read-modify-write; If-Match on the etag just read keeps a
        // concurrent user edit from being overwritten (412 → ConcurrencyError → the app re-reads and re-plans).
        const current = await this.getOne(mailbox, ref);
        // Our own read already shows an edit since the caller's: refuse here rather than rely on Outlook's honouring
        // of If-Match, which is UNCONFIRMED (§8).
        if (expected !== null && current.changeKey !== expected) {
          throw new ConcurrencyError(`item changed since it was read (changeKey ${current.changeKey ?? 'none'}, expected ${expected})`);
        }
        categories ??= stringArray(current.data.categories);
        const etag = current.data['@odata.etag'];
        condition ??= typeof etag === 'string' ? etag : null;
        links = linkedResourceSchema.array().safeParse(current.data.linkedResources ?? []).data ?? [];
      }
      patch.categories = withCategory(categories, tracking.categoryName, tracking.category);
      if (ref.kind !== 'task') {
        // §3.2: no documented way to delete an extended property; untracked is Tracked=false, unlinked is CrmId=''.
        patch.singleValueExtendedProperties = upsertProperties(patch.singleValueExtendedProperties, [
          { id: this.ids.tracked, value: tracking.marker ? 'true' : 'false' },
          { id: this.ids.crmId, value: tracking.crmId ?? '' },
        ]);
      }
    }
    if (Object.keys(patch).length > 0) {
      await this.send(mailbox, 'PATCH', this.itemUrl(mailbox, ref, false), ref.kind, patch, condition);
    }
    if (tracking && ref.kind === 'task') await this.upkeepTaskLink(mailbox, ref, links, tracking.crmId);
    // The PATCH response lacks the extended properties (§3.2); read back so the caller sees what is stored.
    return this.getOne(mailbox, ref);
  }

  private async upkeepTaskLink(mailbox: string, ref: ItemRef, links: LinkedResource[], crmId: string | null): Promise<void> {
    const ours = productLink(links, this.productName);
    const base = `${this.itemUrl(mailbox, ref, false)}/linkedResources`;
    if (crmId && !ours) await this.send(mailbox, 'POST', base, 'task', this.linkFor(crmId));
    else if (crmId && ours?.id && ours.externalId !== crmId) await this.send(mailbox, 'PATCH', `${base}/${enc(ours.id)}`, 'task', { externalId: crmId });
    else if (!crmId && ours?.id) await this.deleteTolerant(mailbox, `${base}/${enc(ours.id)}`);
  }

  async deleteItem(mailbox: string, ref: ItemRef): Promise<void> {
    await this.deleteTolerant(mailbox, this.itemUrl(mailbox, ref, false));
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

  private client(mailbox: string): Client {
    const key = mailbox.toLowerCase();
    let entry = this.clients.get(key);
    if (!entry) {
      const semaphore = new WeightedSemaphore(this.options.maxConcurrentPerMailbox ?? 4);
      const observe = this.options.onRequest ? (o: RequestObservation) => this.options.onRequest?.(mailbox, o) : undefined;
      const client = Client.initWithMiddleware({
        baseUrl: this.baseUrl,
        defaultVersion: this.version,
        customHosts: new Set([this.host]),
        // No RetryHandler and no RedirectHandler: retry.ts is the one retry layer; Graph does not redirect these calls.
        middleware: [new AuthenticationHandler(this.authProvider), new RetryMiddleware(this.retry), new TelemetryHandler(), new LimitedFetchMiddleware(this.fetch, semaphore, observe)],
      });
      entry = { client };
      this.clients.set(key, entry);
    }
    return entry.client;
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
