// Adapter-only behaviour of the Graph MailboxSource against the simulator: auth, the one retry layer, the per-mailbox
// concurrency limit, batching cost, Prefer headers on continuation pages, error translation.
import { AuthError, ConcurrencyError, ItemRejectedError, ResyncRequiredError, TransientError } from '../../../src/ports/errors';
import type { DeltaPage, ItemRef, StreamRef } from '../../../src/ports/mailbox-source';
import { readRound } from '../../contracts/mailbox-source.contract';
import { trustedFetch, type Fetch } from '../../../src/adapters/http/trusted-fetch';
import { PRODUCT_GUID, startSimulatedHarness, type SimulatedHarness } from './simulator-harness';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { startGraphSimulator } from '../../../src/simulators/graph';
import { GraphMailboxSource } from '../../../src/adapters/graph/graph-mailbox-source';

const contacts: StreamRef = { id: 'contacts', kind: 'contact', container: 'contacts' };
const contactRef = (id: string): ItemRef => ({ kind: 'contact', id, container: 'contacts' });

describe('Graph adapter on the simulator', () => {
  let h: SimulatedHarness;
  beforeEach(async () => {
    h = await startSimulatedHarness({ retry: { maxAttempts: 3, maxDelayMs: 5_000, baseDelayMs: 100 } });
  });
  afterEach(async () => {
    await h.close();
  });

  const seedContacts = async (n: number): Promise<string[]> => {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) ids.push(await h.world.create('contact', 'contacts', { givenName: `C${i}` }));
    return ids;
  };

  describe('auth', () => {
    it('gets one token from the token endpoint through msal and sends it as a bearer on every Graph request', async () => {
      await seedContacts(2);
      h.sim.requestLog.reset();
      await h.source.listStreams(h.mailbox);
      await readRound(h.source, h.mailbox, contacts, null);
      await h.source.ensureCategory(h.mailbox, h.categoryName);
      const graph = h.sim.requestLog.list({ mailbox: h.mailbox });
      expect(graph.length).toBeGreaterThanOrEqual(4);
      expect(graph.every((e) => e.authorized)).toBe(true);
      // msal caches the app token: one token request for all of them.
      expect(h.sim.requestLog.count({ kind: 'identity.token', status: 200 })).toBe(1);
    });

    it('a refused client secret surfaces as AuthError, not as a transient failure', async () => {
      const refused = h.makeSource({ credential: { secret: 'wrong-secret' } });
      await expect(refused.listStreams(h.mailbox)).rejects.toBeInstanceOf(AuthError);
      expect(h.sim.requestLog.count({ kind: 'identity.token', status: 401 })).toBe(1);
      expect(h.sim.requestLog.count({ mailbox: h.mailbox })).toBe(0);
    });
  });

  describe('certificate credential', () => {
    it('msal signs a client assertion with the certificate key and the token reaches Graph', async () => {
      // A second simulator whose registry accepts this client without a secret: only an assertion can get a token.
      const sim = await startGraphSimulator({ clients: new Map([['cert-client', null]]) });
      try {
        sim.control.createUser(h.mailbox);
        const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
        const source = new GraphMailboxSource({
          graphBaseUrl: sim.baseUrl,
          authorityHost: sim.baseUrl,
          tenantId: 'contoso',
          clientId: 'cert-client',
          credential: { certificate: { thumbprintSha256: createHash('sha256').update('cert').digest('hex'), privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() } },
          extraCaPem: sim.caCert,
          productGuid: PRODUCT_GUID,
          categoryName: 'Tracked to CRM',
          maxPageSize: 10,
        });
        expect((await source.listStreams(h.mailbox)).length).toBeGreaterThanOrEqual(5);
        expect(sim.requestLog.count({ kind: 'identity.token', status: 200 })).toBe(1);
        expect(sim.requestLog.list({ mailbox: h.mailbox }).every((e) => e.authorized)).toBe(true);
      } finally {
        await sim.stop();
      }
    });
  });

  describe('the one retry layer (graph-behaviour.md §5.1, §9.2)', () => {
    it('honours a fractional Retry-After on 429 and succeeds on the next attempt', async () => {
      h.sim.knobs.retryAfterSeconds = 0.25;
      h.sim.knobs.throttleNext = 2;
      const streams = await h.source.listStreams(h.mailbox);
      expect(streams.map((s) => s.id)).toContain('contacts');
      expect(h.sleeps).toEqual([250, 250]);
      expect(h.sim.requestLog.count({ mailbox: h.mailbox, kind: 'todoLists.list' })).toBe(3);
      expect(h.sim.requestLog.count({ mailbox: h.mailbox, status: 429 })).toBe(2);
    });

    it('honours an integer Retry-After on 503 and backs off exponentially when there is none', async () => {
      h.sim.knobs.serverErrorStatus = 503;
      h.sim.knobs.serverErrorRetryAfter = 2;
      h.sim.knobs.serverErrorNext = 1;
      await h.source.listStreams(h.mailbox);
      h.sim.knobs.serverErrorStatus = 504;
      h.sim.knobs.serverErrorRetryAfter = null;
      h.sim.knobs.serverErrorNext = 2;
      await h.source.listStreams(h.mailbox);
      expect(h.sleeps).toEqual([2_000, 100, 200]);
    });

    it('stops at the attempt bound with TransientError carrying Retry-After', async () => {
      h.sim.knobs.retryAfterSeconds = 1.5;
      h.sim.knobs.throttleNext = 10;
      const error = await h.source.listStreams(h.mailbox).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TransientError);
      expect((error as TransientError).retryAfterInMs).toBe(1_500);
      expect(h.sim.requestLog.count({ mailbox: h.mailbox })).toBe(3);
      expect(h.sleeps).toEqual([1_500, 1_500]);
    });

    it('does not sleep through a Retry-After beyond its budget: the caller reschedules', async () => {
      h.sim.knobs.retryAfterSeconds = 60;
      h.sim.knobs.throttleNext = 1;
      const error = await h.source.listStreams(h.mailbox).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TransientError);
      expect((error as TransientError).retryAfterInMs).toBe(60_000);
      expect(h.sleeps).toEqual([]);
      expect(h.sim.requestLog.count({ mailbox: h.mailbox })).toBe(1);
    });

    it('retries throttled sub-requests of a $batch, and only those (§5.3: the SDK does not)', async () => {
      const ids = await seedContacts(3);
      h.sim.requestLog.reset();
      h.sim.knobs.retryAfterSeconds = 0.5;
      h.sim.knobs.batchThrottleNext = 2;
      const items = await h.source.getItems(h.mailbox, ids.map(contactRef));
      expect([...items.values()].every((i) => i !== null)).toBe(true);
      expect(items.size).toBe(3);
      expect(h.sim.requestLog.count({ kind: '$batch' })).toBe(2);
      expect(h.sim.requestLog.count({ viaBatch: true })).toBe(5);
      expect(h.sleeps).toEqual([500]);
    });

    it('gives up on sub-requests that stay throttled with TransientError', async () => {
      const ids = await seedContacts(2);
      h.sim.knobs.retryAfterSeconds = 0.5;
      h.sim.knobs.batchThrottleNext = 100;
      const error = await h.source.getItems(h.mailbox, ids.map(contactRef)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TransientError);
      expect((error as TransientError).retryAfterInMs).toBe(500);
      expect(h.sim.requestLog.count({ kind: '$batch' })).toBe(3);
    });
  });

  describe('concurrency (graph-behaviour.md §5.2: 4 in flight per app and mailbox)', () => {
    const drive = async (h2: SimulatedHarness, source = h2.source) => {
      const ids = await seedContacts(20);
      h2.sim.knobs.concurrencyLimit = 4;
      h2.sim.knobs.latencyMs = 25;
      h2.sim.knobs.retryAfterSeconds = 0.01;
      // Streams first: every promise below must be settled-awaited from the start (no rejection left unhandled).
      const streams = await source.listStreams(h2.mailbox);
      h2.sim.requestLog.reset();
      const work: Promise<unknown>[] = ids.map((id) => source.getItems(h2.mailbox, [contactRef(id)]));
      work.push(source.getItems(h2.mailbox, ids.map(contactRef)));
      // One round per stream: parallel rounds of one collection would evict each other's tokens (§1.6 generations).
      for (const stream of streams) work.push(readRound(source, h2.mailbox, stream, null, h2.window));
      return Promise.allSettled(work);
    };

    it('parallel reads (21 hydrations, a 20-item batch, a round per stream), never put more than 4 requests in flight', async () => {
      const results = await drive(h);
      expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
      // The simulator answers 429 MailboxConcurrency to a 5th concurrent request of the mailbox (batch items count).
      expect(h.sim.requestLog.count({ mailbox: h.mailbox, status: 429 })).toBe(0);
      expect(Math.max(...h.observations.map((o) => o.inFlight))).toBeLessThanOrEqual(4);
      expect(h.observations.some((o) => o.inFlight === 4)).toBe(true);
    });

    it('the same load with the limit raised to 8 draws 429s (the assertion above can fail)', async () => {
      const loose = h.makeSource({ maxConcurrentPerMailbox: 8, retry: { maxAttempts: 1 } });
      const results = await drive(h, loose);
      expect(h.sim.requestLog.count({ mailbox: h.mailbox, status: 429 })).toBeGreaterThan(0);
      expect(results.some((r) => r.status === 'rejected')).toBe(true);
    });
  });

  describe('requests and pages', () => {
    it('hydrating 45 items costs exactly 3 $batch requests (⌈45/20⌉, DESIGN.md §10)', async () => {
      const ids = await seedContacts(45);
      h.sim.requestLog.reset();
      const items = await h.source.getItems(h.mailbox, ids.map(contactRef));
      expect(items.size).toBe(45);
      expect(h.sim.requestLog.count({ kind: '$batch' })).toBe(3);
      expect(h.sim.requestLog.count({ viaBatch: true, kind: 'contacts.get' })).toBe(45);
      expect(h.sim.requestLog.count({ mailbox: h.mailbox, viaBatch: false })).toBe(0);
    });

    it('re-sends Prefer odata.maxpagesize on every continuation page (§1.3: without it the page size falls back to 10)', async () => {
      await seedContacts(12);
      const round = await readRound(h.source, h.mailbox, contacts, null);
      expect(round.pages.map((p) => p.entries.length)).toEqual([5, 5, 2]);
    });

    it('follows empty pages and tolerates repeated entries (§1.1, §1.5)', async () => {
      const ids = await seedContacts(7);
      h.sim.knobs.emptyPagesBeforeData = 2;
      h.sim.knobs.repeatEntry = true;
      const round = await readRound(h.source, h.mailbox, contacts, null);
      expect(round.pages[0]).toMatchObject({ entries: [], final: false });
      expect(round.pages[1]).toMatchObject({ entries: [], final: false });
      expect(new Set(round.entries.map((e) => e.id))).toEqual(new Set(ids));
      expect(round.entries.length).toBeGreaterThan(ids.length);
    });

    it('an eviction between pages turns the mid-round nextLink into ResyncRequiredError (§1.6)', async () => {
      await seedContacts(12);
      h.sim.knobs.evictTokensAfterPages = 1;
      const pages: DeltaPage[] = [];
      const error = await h.source.readDelta(h.mailbox, contacts, null, async (p) => void pages.push(p)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ResyncRequiredError);
      expect((error as ResyncRequiredError).stream).toBe('contacts');
      expect(pages).toHaveLength(1);
      expect(h.sim.requestLog.count({ mailbox: h.mailbox, status: 410 })).toBe(1);
    });

    it('reads events in UTC (Prefer outlook.timezone, §7) inside the calendar window', async () => {
      const id = await h.world.create('appointment', 'calendar', {
        subject: 'Berlin',
        start: { dateTime: '2026-12-01T10:00:00', timeZone: 'W. Europe Standard Time' },
        end: { dateTime: '2026-12-01T11:00:00', timeZone: 'W. Europe Standard Time' },
      });
      const window = { start: '2026-11-01T00:00:00Z', end: '2027-01-01T00:00:00Z' };
      const round = await readRound(h.source, h.mailbox, { id: 'calendar', kind: 'appointment', container: 'calendar' }, null, window);
      expect(round.entries.map((e) => e.id)).toContain(id);
      const item = (await h.source.getItems(h.mailbox, [{ kind: 'appointment', id, container: 'calendar' }])).get(id);
      expect(item?.data.start).toMatchObject({ timeZone: 'UTC' });
      expect(String((item?.data.start as { dateTime: string }).dateTime)).toMatch(/^2026-12-01T09:00:00/);
    });
  });

  describe('error translation', () => {
    it('412 on PATCH → ConcurrencyError (§8)', async () => {
      const [id] = await seedContacts(1);
      h.sim.knobs.conflictNextPatch = 1;
      await expect(h.source.updateItem(h.mailbox, contactRef(id ?? ''), { data: { jobTitle: 'CEO' } }, null)).rejects.toBeInstanceOf(ConcurrencyError);
    });

    it('a user edit between the read and the write of a category upkeep → ConcurrencyError via If-Match', async () => {
      const [id] = await seedContacts(1);
      const ref = contactRef(id ?? '');
      // The adapter reads the item (etag), then PATCHes with If-Match; a user edit lands in between, deterministically:
      // the adapter's fetch lets the user's edit finish before its PATCH goes out.
      const base = trustedFetch(h.sim.caCert);
      let edited = false;
      const racing = h.makeSource({
        fetch: (async (input: Parameters<Fetch>[0], init?: Parameters<Fetch>[1]) => {
          if (!edited && init?.method === 'PATCH') {
            edited = true;
            await h.world.edit(ref, { categories: ['Golf'] });
          }
          return base(input, init);
        }) as Fetch,
      });
      const result = await racing.updateItem(h.mailbox, ref, null, { marker: true, category: true, crmId: 'x', categoryName: h.categoryName }).catch((e: unknown) => e);
      expect(result).toBeInstanceOf(ConcurrencyError);
      expect(edited).toBe(true);
      expect(h.sim.requestLog.count({ mailbox: h.mailbox, method: 'PATCH', status: 412 })).toBe(1);
    });

    describe('conditional updates (If-Match, graph-behaviour.md §8)', () => {
      /** A source whose fetch records the If-Match header of every PATCH. */
      const recordingIfMatch = () => {
        const base = trustedFetch(h.sim.caCert);
        const sent: (string | null)[] = [];
        const source = h.makeSource({
          fetch: (async (input: Parameters<Fetch>[0], init?: Parameters<Fetch>[1]) => {
            if (init?.method === 'PATCH') sent.push(new Headers(init.headers as ConstructorParameters<typeof Headers>[0]).get('if-match'));
            return base(input, init);
          }) as Fetch,
        });
        return { source, sent };
      };

      it('sends the caller\'s version as If-Match: W/"<changeKey>", for a contact and for a To Do task', async () => {
        const { source, sent } = recordingIfMatch();
        const [id] = await seedContacts(1);
        const ref = contactRef(id ?? '');
        const read = (await source.getItems(h.mailbox, [ref])).get(id ?? '');
        await source.updateItem(h.mailbox, ref, { data: { jobTitle: 'CEO' } }, null, read?.changeKey);
        const list = h.world.todoListId;
        const taskId = await h.world.create('task', list, { title: 'Plan' });
        const task = (await source.getItems(h.mailbox, [{ kind: 'task', id: taskId, container: list }])).get(taskId);
        await source.updateItem(h.mailbox, { kind: 'task', id: taskId, container: list }, { data: { title: 'Plan A' } }, null, task?.changeKey);
        // Without a version a field write is unconditional.
        await source.updateItem(h.mailbox, ref, { data: { jobTitle: 'CTO' } }, null);
        expect(sent).toEqual([`W/"${read?.changeKey}"`, `W/"${task?.changeKey}"`, null]);
        expect(read?.data['@odata.etag']).toBe(sent[0]);
        expect(task?.data['@odata.etag']).toBe(sent[1]);
      });

      it('refuses without a PATCH when its own upkeep read already shows a newer version', async () => {
        const { source, sent } = recordingIfMatch();
        const [id] = await seedContacts(1);
        const ref = contactRef(id ?? '');
        const read = (await source.getItems(h.mailbox, [ref])).get(id ?? '');
        await h.world.edit(ref, { jobTitle: 'Edited by the user' });
        // Even with Outlook ignoring If-Match (UNCONFIRMED, §8), this write does not go out.
        h.sim.knobs.enforceIfMatch = false;
        const upkeep = { marker: true, category: true, crmId: 'x', categoryName: h.categoryName };
        await expect(source.updateItem(h.mailbox, ref, { data: { jobTitle: 'CEO' } }, upkeep, read?.changeKey)).rejects.toBeInstanceOf(ConcurrencyError);
        expect(sent).toEqual([]);
        expect((await source.getItems(h.mailbox, [ref])).get(id ?? '')?.data.jobTitle).toBe('Edited by the user');
      });
    });

    it('a missing item on update → ItemRejectedError with a reason code', async () => {
      const error = await h.source.updateItem(h.mailbox, contactRef('AAMkdoesnotexist'), { data: { jobTitle: 'x' } }, null).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ItemRejectedError);
      expect((error as ItemRejectedError).reason).toMatch(/^graph-404-/);
    });

    it('creating e-mail is refused alone', async () => {
      await expect(h.source.createItem(h.mailbox, 'email', 'inbox', { data: {} }, { crmId: 'e', categoryName: h.categoryName })).rejects.toBeInstanceOf(ItemRejectedError);
    });
  });
});
