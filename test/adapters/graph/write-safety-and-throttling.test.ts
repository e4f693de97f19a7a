// The Graph adapter against the simulator: creates that must not duplicate when an answer is lost (graph-behaviour.md
// §9.2), the per-mailbox pause after throttling (§5.1), one retry layer with bounded attempts and waits for `$batch`
// (§5.3, §9.2), the documented per-folder contacts delta path (§2.1), the marker sweep's paging (§3.3) and the
// optional app-wide concurrency cap (§5.2).
import type { JsonObject } from '../../../src/core/model';
import { TransientError } from '../../../src/ports/errors';
import type { ItemRef, StreamRef } from '../../../src/ports/mailbox-source';
import type { RequestObservation } from '../../../src/adapters/graph/transport';
import type { RetryPolicy } from '../../../src/adapters/graph/retry';
import { trackingPropertyIds } from '../../../src/adapters/graph/extended-properties';
import { trustedFetch, type Fetch } from '../../../src/adapters/http/trusted-fetch';
import { readRound } from '../../contracts/mailbox-source.contract';
import { startSimulatedHarness, type SimulatedHarness } from './simulator-harness';

const contacts: StreamRef = { id: 'contacts', kind: 'contact', container: 'contacts' };
const contactRef = (id: string): ItemRef => ({ kind: 'contact', id, container: 'contacts' });
const RETRY = { maxAttempts: 3, maxDelayMs: 5_000, baseDelayMs: 100 };

/** Waits until `condition` holds, letting the adapter's promises run (no timing assertions: a bounded poll). */
async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  if (!condition()) throw new Error('condition not reached');
}

/**
 * A retry policy whose sleeps wait until the test releases them, on a virtual clock that only released sleeps advance
 * (so the waits asserted are exact, however slow the machine).
 */
function heldSleeps(base: Partial<RetryPolicy> = RETRY) {
  const held: { ms: number; release: () => void }[] = [];
  const start = Date.now();
  let virtual = 0;
  const policy: Partial<RetryPolicy> = {
    ...base,
    now: () => start + virtual,
    sleep: (ms) =>
      new Promise<void>((resolve) => {
        held.push({
          ms,
          release: () => {
            virtual += ms;
            resolve();
          },
        });
      }),
  };
  return { held, policy };
}

describe('Graph adapter: write safety and throttling', () => {
  let h: SimulatedHarness;
  beforeEach(async () => {
    h = await startSimulatedHarness({ retry: RETRY });
  });
  afterEach(async () => {
    await h.close();
  });

  const event = (subject: string) => {
    const start = new Date(Date.now() + 2 * 86_400_000);
    const fmt = (d: Date) => d.toISOString().replace('Z', '').replace(/\.\d+$/, '.0000000');
    return { subject, start: { dateTime: fmt(start), timeZone: 'UTC' }, end: { dateTime: fmt(new Date(start.getTime() + 3_600_000)), timeZone: 'UTC' } };
  };

  describe('creates are not duplicated when a 503/504 arrives after the server acted (§9.2)', () => {
    it.each([
      ['contact', 'contacts.create'],
      ['task', 'tasks.create'],
    ] as const)('a %s whose create answer is lost: exactly one item, one POST, and the item is returned', async (kind, route) => {
      const container = kind === 'contact' ? 'contacts' : h.world.todoListId;
      const data: JsonObject = kind === 'contact' ? { givenName: 'Cy' } : { title: 'Quote' };
      // The simulator applies the next write and then answers 504 (knob failAfterCommitNext).
      h.sim.knobs.failAfterCommitNext = 1;
      const created = await h.source.createItem(h.mailbox, kind, container, { data }, { crmId: `crm-${kind}`, categoryName: h.categoryName });
      expect(created).toMatchObject({ kind, crmId: `crm-${kind}` });
      expect(await h.world.countItems(kind, container)).toBe(1);
      expect(h.sim.requestLog.count({ mailbox: h.mailbox, method: 'POST', kind: route, status: 504 })).toBe(1);
      expect(h.sim.requestLog.count({ mailbox: h.mailbox, method: 'POST' })).toBe(1);
    });

    it('a contact created in another folder whose answer is lost: the look-up searches that folder too', async () => {
      const folder = (await (await fetchAs(h, h.mailbox, 'POST', '/contactFolders', { displayName: 'Suppliers' })).json()) as { id: string };
      h.sim.knobs.failAfterCommitNext = 1;
      const created = await h.source.createItem(h.mailbox, 'contact', folder.id, { data: { givenName: 'Flo' } }, { crmId: 'crm-flo', categoryName: h.categoryName });
      expect(created).toMatchObject({ crmId: 'crm-flo', container: folder.id });
      expect(await h.world.countItems('contact', folder.id)).toBe(1);
      expect(h.sim.requestLog.count({ mailbox: h.mailbox, method: 'POST', kind: 'contacts.create' })).toBe(1);
    });

    it('an event whose create answer is lost: one event even when Graph does not dedupe the transactionId', async () => {
      // How long Graph remembers a transactionId is UNCONFIRMED (§2.2): the match before create must hold on its own.
      h.sim.knobs.transactionIdDedup = false;
      h.sim.knobs.failAfterCommitNext = 1;
      const created = await h.source.createItem(h.mailbox, 'appointment', 'calendar', { data: event('Demo') }, { crmId: 'crm-ev', categoryName: h.categoryName });
      expect(created).toMatchObject({ kind: 'appointment', crmId: 'crm-ev' });
      expect(await h.world.countItems('appointment', 'calendar')).toBe(1);
      expect(h.sim.requestLog.count({ mailbox: h.mailbox, method: 'POST' })).toBe(1);
    });

    it('an event already stamped with the CRM id is returned without a POST (check before create)', async () => {
      h.sim.knobs.transactionIdDedup = false;
      const props = trackingPropertyIds(h.productGuid);
      const existing = await h.world.create('appointment', 'calendar', {
        ...event('Made elsewhere'),
        singleValueExtendedProperties: [
          { id: props.tracked, value: 'true' },
          { id: props.crmId, value: 'crm-ev2' },
        ],
      });
      h.sim.requestLog.reset();
      const found = await h.source.createItem(h.mailbox, 'appointment', 'calendar', { data: event('Demo') }, { crmId: 'crm-ev2', categoryName: h.categoryName });
      expect(found.id).toBe(existing);
      expect(h.sim.requestLog.count({ mailbox: h.mailbox, method: 'POST' })).toBe(0);
    });

    it('a 503 before the server acted: the item is looked for, not found, and the POST goes out once more', async () => {
      const base = trustedFetch(h.sim.caCert);
      let refused = 0;
      const source = h.makeSource({
        fetch: (async (input: Parameters<Fetch>[0], init?: Parameters<Fetch>[1]) => {
          if (init?.method === 'POST' && refused === 0 && String(input instanceof Request ? input.url : input).endsWith('/contacts')) {
            refused += 1;
            return new Response(JSON.stringify({ error: { code: 'ServiceUnavailable', message: 'down' } }), { status: 503, headers: { 'Content-Type': 'application/json' } });
          }
          return base(input, init);
        }) as Fetch,
      });
      const created = await source.createItem(h.mailbox, 'contact', 'contacts', { data: { givenName: 'Di' } }, { crmId: 'crm-di', categoryName: h.categoryName });
      expect(created.crmId).toBe('crm-di');
      expect(refused).toBe(1);
      // find, (503 not reaching the simulator), find again, POST, read back
      expect(h.sim.requestLog.count({ mailbox: h.mailbox, kind: 'contacts.list' })).toBe(2);
      expect(await h.world.countItems('contact', 'contacts')).toBe(1);
      expect(h.sim.requestLog.count({ mailbox: h.mailbox, method: 'POST' })).toBe(1);
      expect(h.sleeps).toEqual([100]);
    });

    it('a 429 on a create is retried by the middleware (the server did not act)', async () => {
      const base = trustedFetch(h.sim.caCert);
      let throttled = 0;
      const source = h.makeSource({
        fetch: (async (input: Parameters<Fetch>[0], init?: Parameters<Fetch>[1]) => {
          if (init?.method === 'POST' && throttled === 0 && String(input instanceof Request ? input.url : input).endsWith('/contacts')) {
            throttled += 1;
            return new Response('{"error":{"code":"TooManyRequests","message":"slow down"}}', { status: 429, headers: { 'Content-Type': 'application/json', 'Retry-After': '0.3' } });
          }
          return base(input, init);
        }) as Fetch,
      });
      await source.createItem(h.mailbox, 'contact', 'contacts', { data: { givenName: 'Ed' } }, { crmId: 'crm-ed', categoryName: h.categoryName });
      expect(throttled).toBe(1);
      expect(h.sleeps).toEqual([300]);
      // No second look-up: only the 503/504 path needs one.
      expect(h.sim.requestLog.count({ mailbox: h.mailbox, kind: 'contacts.list' })).toBe(1);
      expect(await h.world.countItems('contact', 'contacts')).toBe(1);
    });

    it('a task link whose POST answer is lost fails transiently, and the retried update does not add a second link', async () => {
      const list = h.world.todoListId;
      const id = await h.world.create('task', list, { title: 'Plan' });
      const ref: ItemRef = { kind: 'task', id, container: list };
      const base = trustedFetch(h.sim.caCert);
      let lost = 0;
      const source = h.makeSource({
        fetch: (async (input: Parameters<Fetch>[0], init?: Parameters<Fetch>[1]) => {
          const response = await base(input, init);
          if (init?.method === 'POST' && lost === 0 && String(input instanceof Request ? input.url : input).includes('/linkedResources')) {
            lost += 1;
            return new Response('{"error":{"code":"GatewayTimeout","message":"lost"}}', { status: 504, headers: { 'Content-Type': 'application/json' } });
          }
          return response;
        }) as Fetch,
      });
      const upkeep = { marker: true, category: true, crmId: 'crm-k', categoryName: h.categoryName };
      await expect(source.updateItem(h.mailbox, ref, null, upkeep)).rejects.toBeInstanceOf(TransientError);
      const retried = await source.updateItem(h.mailbox, ref, null, upkeep);
      expect(retried.crmId).toBe('crm-k');
      expect(lost).toBe(1);
      expect(h.sim.requestLog.count({ mailbox: h.mailbox, kind: 'linkedResources.create' })).toBe(1);
      const links = (retried.data.linkedResources as { externalId?: string }[]).filter((l) => l.externalId === 'crm-k');
      expect(links).toHaveLength(1);
    });
  });

  describe('a throttled mailbox is paused for its other requests too (§5.1)', () => {
    it('after a 429 with Retry-After 1 s, a concurrent request of the same mailbox waits; another mailbox does not', async () => {
      const other = 'megan@contoso.test';
      h.sim.control.createUser(other, 'Megan Bowen');
      const { held, policy } = heldSleeps();
      const source = h.makeSource({ retry: policy });
      h.sim.knobs.retryAfterSeconds = 1;
      h.sim.knobs.throttleNext = 1;

      const first = source.listStreams(h.mailbox);
      await until(() => held.length === 1);
      expect(held[0]?.ms).toBe(1_000);
      const second = source.findByCrmId(h.mailbox, 'contact', 'crm-x');
      await until(() => held.length === 2);
      // The second request waits for the rest of the pause instead of being sent into the throttle.
      expect(held[1]?.ms).toBe(1_000);
      expect(h.sim.requestLog.count({ mailbox: h.mailbox })).toBe(1);
      // Outlook throttles per app and mailbox (§5.2): another mailbox is not held back.
      await expect(source.findByCrmId(other, 'contact', 'crm-x')).resolves.toBeNull();
      expect(held).toHaveLength(2);

      for (const sleep of held) sleep.release();
      await Promise.all([first, second]);
      expect(h.sim.requestLog.count({ mailbox: h.mailbox })).toBe(3);
      expect(h.sim.requestLog.count({ mailbox: h.mailbox, status: 429 })).toBe(1);
    });

    it('throttled $batch sub-requests pause the mailbox as well', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 2; i++) ids.push(await h.world.create('contact', 'contacts', { givenName: `B${i}` }));
      const { held, policy } = heldSleeps();
      const source = h.makeSource({ retry: policy });
      h.sim.knobs.retryAfterSeconds = 0.5;
      h.sim.knobs.batchThrottleNext = 2;
      h.sim.requestLog.reset();
      const hydration = source.getItems(h.mailbox, ids.map(contactRef));
      await until(() => held.length === 1);
      const lookup = source.findByCrmId(h.mailbox, 'contact', 'crm-x');
      await until(() => held.length === 2);
      expect(held[1]?.ms).toBe(500);
      expect(h.sim.requestLog.count({ mailbox: h.mailbox, viaBatch: false })).toBe(0);
      for (const sleep of held) sleep.release();
      expect((await hydration).size).toBe(2);
      await expect(lookup).resolves.toBeNull();
    });

    it('a pause longer than the wait bound fails the next request fast, without sending it', async () => {
      h.sim.knobs.retryAfterSeconds = 60;
      h.sim.knobs.throttleNext = 1;
      await expect(h.source.listStreams(h.mailbox)).rejects.toBeInstanceOf(TransientError);
      const error = await h.source.findByCrmId(h.mailbox, 'contact', 'crm-x').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TransientError);
      expect((error as TransientError).retryAfterInMs).toBeGreaterThan(55_000);
      expect(h.sim.requestLog.count({ mailbox: h.mailbox })).toBe(1);
      expect(h.sleeps).toEqual([]);
    });
  });

  describe('one retry layer for $batch, bounded attempts and waits (§5.3, §9.2)', () => {
    it('an envelope that fails every other time and throttled sub-requests: at most maxAttempts POSTs in all', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 2; i++) ids.push(await h.world.create('contact', 'contacts', { givenName: `E${i}` }));
      const base = trustedFetch(h.sim.caCert);
      let batches = 0;
      const source = h.makeSource({
        fetch: (async (input: Parameters<Fetch>[0], init?: Parameters<Fetch>[1]) => {
          if (String(input instanceof Request ? input.url : input).includes('$batch')) {
            batches += 1;
            if (batches % 2 === 1) return new Response('{"error":{"code":"ServiceUnavailable","message":"busy"}}', { status: 503, headers: { 'Content-Type': 'application/json', 'Retry-After': '0.1' } });
          }
          return base(input, init);
        }) as Fetch,
      });
      h.sim.knobs.retryAfterSeconds = 0.2;
      h.sim.knobs.batchThrottleNext = 100;
      const error = await source.getItems(h.mailbox, ids.map(contactRef)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TransientError);
      expect(batches).toBe(RETRY.maxAttempts);
      expect(h.sleeps).toEqual([100, 200]);
    });

    it('all waits of one call come out of one budget (maxCallDelayMs), then the call is rescheduled', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 2; i++) ids.push(await h.world.create('contact', 'contacts', { givenName: `F${i}` }));
      const source = h.makeSource({ retry: { maxAttempts: 10, maxCallDelayMs: 1_000 } });
      h.sim.knobs.retryAfterSeconds = 0.4;
      h.sim.knobs.batchThrottleNext = 100;
      h.sim.requestLog.reset();
      const error = await source.getItems(h.mailbox, ids.map(contactRef)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TransientError);
      expect((error as TransientError).retryAfterInMs).toBe(400);
      expect(h.sleeps).toEqual([400, 400]);
      expect(h.sim.requestLog.count({ kind: '$batch' })).toBe(3);
    });
  });

  describe('contacts delta on the documented per-folder path (§2.1)', () => {
    it('resolves the default folder once from a contact and reads /contactFolders/{id}/contacts/delta', async () => {
      await h.world.create('contact', 'contacts', { givenName: 'Ada' });
      h.sim.requestLog.reset();
      const first = await readRound(h.source, h.mailbox, contacts, null);
      await readRound(h.source, h.mailbox, contacts, null);
      const defaultFolder = h.sim.control.folders(h.mailbox).contacts;
      const deltas = h.sim.requestLog.list({ mailbox: h.mailbox, kind: 'contacts.delta' });
      expect(deltas).toHaveLength(2);
      for (const d of deltas) expect(d.path).toContain(`/contactFolders/${encodeURIComponent(defaultFolder)}/contacts/delta`);
      expect(h.sim.requestLog.count({ mailbox: h.mailbox, kind: 'contacts.list' })).toBe(1);
      expect(first.cursor).toMatch(/contactFolders/i);
      const quiet = await readRound(h.source, h.mailbox, contacts, first.cursor);
      expect(quiet.entries).toEqual([]);
    });

    it('learns the default folder from a child folder when it holds no contact, and falls back to the alias only with neither', async () => {
      const empty = await readRound(h.source, h.mailbox, contacts, null);
      expect(h.sim.requestLog.list({ mailbox: h.mailbox, kind: 'contacts.delta' })[0]?.path).toMatch(/\/users\/[^/]+\/contacts\/delta/);
      expect(empty.entries).toEqual([]);
      await h.sim.control.createUser('nestor@contoso.test', 'Nestor');
      const source = h.makeSource();
      // a child folder of the default Contacts folder (§2.1: /contactFolders lists those)
      const created = await (await fetchAs(h, 'nestor@contoso.test', 'POST', '/contactFolders', { displayName: 'Suppliers' })).json();
      expect(typeof (created as { id?: unknown }).id).toBe('string');
      h.sim.requestLog.reset();
      await readRound(source, 'nestor@contoso.test', contacts, null);
      const defaultFolder = h.sim.control.folders('nestor@contoso.test').contacts;
      expect(h.sim.requestLog.list({ kind: 'contacts.delta' })[0]?.path).toContain(`/contactFolders/${encodeURIComponent(defaultFolder)}/contacts/delta`);
    });
  });

  describe('findMarkedIds pages through the $filter sweep (§3.3)', () => {
    it('follows nextLinks: 12 marked contacts at 5 per page cost exactly 3 requests', async () => {
      const props = trackingPropertyIds(h.productGuid);
      const marked: string[] = [];
      for (let i = 0; i < 12; i++) marked.push(await h.world.create('contact', 'contacts', { givenName: `M${i}`, singleValueExtendedProperties: [{ id: props.tracked, value: 'true' }] }));
      await h.world.create('contact', 'contacts', { givenName: 'Unmarked' });
      h.sim.knobs.maxPageSize = 5;
      h.sim.requestLog.reset();
      const ids = await h.source.findMarkedIds(h.mailbox, contacts);
      expect(new Set(ids)).toEqual(new Set(marked));
      expect(ids).toHaveLength(12);
      expect(h.sim.requestLog.count({ mailbox: h.mailbox })).toBe(3);
      expect(h.sim.requestLog.list({ mailbox: h.mailbox }).every((e) => /\$select=id/.test(decodeURIComponent(e.path)))).toBe(true);
    });
  });

  describe('optional app-wide concurrency cap (§5.2: one reading of the limit is per app across mailboxes)', () => {
    const load = async (overrides: { maxConcurrentPerApp?: number }) => {
      const second = 'megan@contoso.test';
      h.sim.control.createUser(second, 'Megan Bowen');
      h.sim.knobs.latencyMs = 20;
      const seen: RequestObservation[] = [];
      const source = h.makeSource({ ...overrides, onRequest: (_mailbox, o) => void seen.push(o) });
      const work: Promise<unknown>[] = [];
      for (let i = 0; i < 6; i++) for (const mailbox of [h.mailbox, second]) work.push(source.findByCrmId(mailbox, 'contact', `crm-${i}`));
      await Promise.all(work);
      return seen;
    };

    it('with maxConcurrentPerApp 2, never more than 2 requests in flight across two mailboxes', async () => {
      const seen = await load({ maxConcurrentPerApp: 2 });
      expect(seen).toHaveLength(12);
      expect(Math.max(...seen.map((o) => o.appInFlight))).toBe(2);
    });

    it('without it (the default), the two mailboxes together exceed 2 (the assertion above can fail)', async () => {
      const seen = await load({});
      expect(Math.max(...seen.map((o) => o.appInFlight))).toBeGreaterThan(2);
      expect(Math.max(...seen.map((o) => o.inFlight))).toBeLessThanOrEqual(4);
    });
  });
});

/** A plain Graph call as another user of the simulator (the world driver is bound to the harness mailbox). */
async function fetchAs(h: SimulatedHarness, mailbox: string, method: string, path: string, body?: object): Promise<Response> {
  const fetch = trustedFetch(h.sim.caCert);
  return fetch(`${h.sim.baseUrl}v1.0/users/${encodeURIComponent(mailbox)}${path}`, {
    method,
    headers: { Authorization: 'Bearer plain-user', 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}
