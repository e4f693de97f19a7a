// Starts the Graph simulator and builds the real adapter against it (msal-node → the simulator's token endpoint,
// Graph SDK → its HTTPS routes), plus a world driver that plays the user the way Outlook on the web would: ordinary
// Graph calls with a token of its own. Mail is seeded through the simulator's control API, because received and sent
// mail cannot be created through Graph (only drafts).
import { startGraphSimulator, type GraphKnobs, type GraphSimulator } from '../../../src/simulators/graph';
import { GraphMailboxSource, type GraphMailboxSourceOptions } from '../../../src/adapters/graph/graph-mailbox-source';
import { trustedFetch, type Fetch } from '../../../src/adapters/http/trusted-fetch';
import type { RetryPolicy } from '../../../src/adapters/graph/retry';
import type { RequestObservation } from '../../../src/adapters/graph/transport';
import type { ItemKind, JsonObject } from '../../../src/core/model';
import type { ItemRef } from '../../../src/ports/mailbox-source';
import type { MailboxSourceHarness, MailboxWorld } from '../../contracts/mailbox-source.contract';
import { validateGraphRequest } from '../../support/openapi';

export const PRODUCT_GUID = '6d3c1f9e-2b7a-4c55-9a0e-5f1d2c3b4a99';
export const PRODUCT_NAME = 'outlook-crm-sync';
export const CATEGORY = 'Tracked to CRM';
export const TENANT = 'contoso-tenant';
export const CLIENT_ID = '11111111-2222-3333-4444-555555555555';

export interface SimulatedHarness extends MailboxSourceHarness {
  sim: GraphSimulator;
  source: GraphMailboxSource;
  /** Every HTTP exchange the adapter made (after its semaphore), in order. */
  observations: RequestObservation[];
  /** Waits the adapter's retry layer asked for, in ms (no real time passes: they advance a virtual clock). */
  sleeps: number[];
  /** The adapter's clock: wall clock plus the virtual time its sleeps have advanced. */
  now(): number;
  /** Every Graph request the adapter sent (token requests excluded), validated against the OpenAPI subset. */
  graphRequests: GraphRequestRecord[];
  /** The subset of graphRequests that do not fit the OpenAPI subset. */
  requestViolations: GraphRequestRecord[];
  /** Builds another adapter on the same simulator (different options). */
  makeSource(overrides?: Partial<GraphMailboxSourceOptions>): GraphMailboxSource;
}

export interface GraphRequestRecord {
  method: string;
  url: string;
  /** The request body as sent (JSON text), if any. */
  body: string | undefined;
  /** `METHOD template` matched in the OpenAPI subset, `POST /$batch`, or null when no path matched. */
  against: string | null;
  errors: string[];
}

/**
 * Wraps the adapter's fetch: every request to the Graph version root is checked against the OpenAPI subset
 * (test/support/openapi.ts) before it goes out, and recorded; the request itself is passed on unchanged, so a
 * violation shows in the records instead of changing the adapter's behaviour. msal's requests to the token
 * endpoint (same host in the simulator, outside `/v1.0`) are not Graph requests and are not checked.
 */
export function requestValidatingFetch(inner: Fetch, graphBaseUrl: string, records: GraphRequestRecord[], violations: GraphRequestRecord[]): Fetch {
  const versionRoot = new URL('v1.0/', graphBaseUrl).href.toLowerCase();
  return (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (url.toLowerCase().startsWith(versionRoot)) {
      const method = (init?.method ?? (typeof input === 'object' && !(input instanceof URL) ? input.method : 'GET')).toUpperCase();
      const body = typeof init?.body === 'string' ? init.body : undefined;
      const result = validateGraphRequest(method, url, body);
      const record: GraphRequestRecord = { method, url, body, against: result.against, errors: result.errors };
      records.push(record);
      if (!result.valid) violations.push(record);
    }
    return inner(input, init);
  };
}

export async function startSimulatedHarness(options: { knobs?: Partial<GraphKnobs>; retry?: Partial<RetryPolicy>; maxPageSize?: number } = {}): Promise<SimulatedHarness> {
  const sim = await startGraphSimulator({ knobs: options.knobs ?? {}, clients: new Map([[CLIENT_ID, 'sim-secret']]) });
  const mailbox = 'adele@contoso.test';
  sim.control.createUser(mailbox, 'Adele Vance');
  const observations: RequestObservation[] = [];
  const sleeps: number[] = [];
  let slept = 0;
  const now = (): number => Date.now() + slept;
  const recordSleep = async (ms: number): Promise<void> => {
    sleeps.push(ms);
    slept += ms;
  };
  const fetch = trustedFetch(sim.caCert);
  const graphRequests: GraphRequestRecord[] = [];
  const requestViolations: GraphRequestRecord[] = [];
  const makeSource = (overrides: Partial<GraphMailboxSourceOptions> = {}) =>
    new GraphMailboxSource({
      graphBaseUrl: sim.baseUrl,
      authorityHost: sim.baseUrl,
      tenantId: TENANT,
      clientId: CLIENT_ID,
      credential: { secret: 'sim-secret' },
      extraCaPem: sim.caCert,
      productGuid: PRODUCT_GUID,
      productName: PRODUCT_NAME,
      categoryName: CATEGORY,
      maxPageSize: options.maxPageSize ?? 5,
      retry: {
        sleep: recordSleep,
        now,
        ...options.retry,
      },
      onRequest: (_mailbox, observation) => observations.push(observation),
      ...overrides,
      // The adapter's own default (trustedFetch of the simulator CA) or the override's fetch, observed.
      fetch: requestValidatingFetch(overrides.fetch ?? trustedFetch(sim.caCert), sim.baseUrl, graphRequests, requestViolations),
      // Retry overrides refine the harness policy (its recorded sleeps and virtual clock) rather than replace it.
      ...(overrides.retry ? { retry: { sleep: recordSleep, now, ...options.retry, ...overrides.retry } } : {}),
    });
  const source = makeSource();
  const world = new OutlookWebUser(sim, fetch, mailbox);
  await world.signIn();
  const started = Date.now();
  const day = 86_400_000;
  return {
    sim,
    source,
    observations,
    sleeps,
    graphRequests,
    requestViolations,
    makeSource,
    mailbox,
    productGuid: PRODUCT_GUID,
    productName: PRODUCT_NAME,
    categoryName: CATEGORY,
    now,
    window: { start: new Date(started - 30 * day).toISOString(), end: new Date(started + 365 * day).toISOString() },
    world: world.driver(),
    close: () => sim.stop(),
  };
}

/** A user in Outlook on the web: plain Graph requests, immutable ids, its own token. */
class OutlookWebUser {
  private token = '';

  constructor(
    private readonly sim: GraphSimulator,
    private readonly fetch: Fetch,
    private readonly mailbox: string,
  ) {}

  async signIn(): Promise<void> {
    const response = await this.fetch(this.sim.tokenEndpoint.tokenUrl(TENANT), {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: CLIENT_ID, client_secret: 'sim-secret', scope: `${new URL(this.sim.baseUrl).origin}/.default` }).toString(),
    });
    const body = (await response.json()) as { access_token?: string };
    if (!body.access_token) throw new Error('the simulator issued no token');
    this.token = body.access_token;
  }

  private async call(method: string, path: string, body?: JsonObject): Promise<{ status: number; json: JsonObject }> {
    const response = await this.fetch(`${this.sim.baseUrl}v1.0/users/${encodeURIComponent(this.mailbox)}${path}`, {
      method,
      headers: { Authorization: `Bearer ${this.token}`, 'Content-Type': 'application/json', Prefer: 'IdType="ImmutableId"' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const json = (text ? JSON.parse(text) : {}) as JsonObject;
    if (response.status >= 400) throw new Error(`${method} ${path} → ${response.status} ${text}`);
    return { status: response.status, json };
  }

  private collection(kind: ItemKind, container: string): string {
    switch (kind) {
      case 'contact':
        return container === 'contacts' ? '/contacts' : `/contactFolders/${encodeURIComponent(container)}/contacts`;
      case 'appointment':
        return '/events';
      case 'task':
        return `/todo/lists/${encodeURIComponent(container)}/tasks`;
      case 'email':
        return `/mailFolders/${encodeURIComponent(container)}/messages`;
    }
  }

  private itemPath(ref: ItemRef): string {
    const id = encodeURIComponent(ref.id);
    if (ref.kind === 'task') return `/todo/lists/${encodeURIComponent(ref.container)}/tasks/${id}`;
    return `/${ref.kind === 'contact' ? 'contacts' : ref.kind === 'appointment' ? 'events' : 'messages'}/${id}`;
  }

  driver(): MailboxWorld {
    const todoListId = this.sim.control.folders(this.mailbox).tasks;
    return {
      todoListId,
      createTodoList: async (displayName) => {
        const created = await this.call('POST', '/todo/lists', { displayName });
        const id = created.json.id;
        if (typeof id !== 'string') throw new Error('list create returned no id');
        return id;
      },
      create: async (kind, container, data) => {
        if (kind === 'email') {
          const { singleValueExtendedProperties, isDraft, ...props } = data;
          const seeded = this.sim.control.seedMessage(this.mailbox, {
            folder: container as 'inbox' | 'sentitems',
            isDraft: isDraft === true,
            props,
            extendedProperties: Array.isArray(singleValueExtendedProperties) ? (singleValueExtendedProperties as { id: string; value: string }[]) : [],
          });
          return seeded.immutableId;
        }
        const created = await this.call('POST', this.collection(kind, container), data);
        const id = created.json.id;
        if (typeof id !== 'string') throw new Error('create returned no id');
        return id;
      },
      edit: async (ref, patch) => {
        await this.call('PATCH', this.itemPath(ref), patch);
      },
      remove: async (ref) => {
        await this.call('DELETE', this.itemPath(ref));
      },
      evictCursors: async () => this.sim.control.evictTokens(this.mailbox),
      // Graph validates what clients write, but mail seeded through the control API is stored as given: a message
      // whose categories is a string instead of a list is the malformed entry.
      injectMalformedEntry: async (stream) => {
        this.sim.control.seedMessage(this.mailbox, { folder: stream.container as 'inbox' | 'sentitems', isDraft: false, props: { subject: 'Bad', categories: 'Customer' } });
      },
      masterCategoryNames: async () => {
        const { json } = await this.call('GET', '/outlook/masterCategories');
        return (Array.isArray(json.value) ? json.value : []).flatMap((c) => (c && typeof c === 'object' && !Array.isArray(c) && typeof c.displayName === 'string' ? [c.displayName] : []));
      },
      deleteMasterCategory: async (name) => {
        const { json } = await this.call('GET', '/outlook/masterCategories');
        for (const c of Array.isArray(json.value) ? json.value : []) {
          if (c && typeof c === 'object' && !Array.isArray(c) && typeof c.displayName === 'string' && c.displayName.toLowerCase() === name.toLowerCase() && typeof c.id === 'string') {
            await this.call('DELETE', `/outlook/masterCategories/${encodeURIComponent(c.id)}`);
          }
        }
      },
      countItems: async (kind, container) => {
        const { json } = await this.call('GET', `${this.collection(kind, container)}?$top=1000`);
        return Array.isArray(json.value) ? json.value.length : 0;
      },
      requestCount: () => this.sim.requestLog.count({ mailbox: this.mailbox }),
    };
  }
}
