// MailboxSource.updateItems on the Graph adapter against the simulator: what it costs (DESIGN.md §10 counts
// ⌈Outlook writes / 20⌉ requests) and how each `$batch` sub-request is shaped, retried and mapped
// (graph-behaviour.md §5.3 JSON batching, §8 If-Match, §3.2 read-back). The per-item semantics are in the contract
// suite (test/contracts/mailbox-source.contract.ts); this file asserts exact request counts from the simulator's log.
import { trustedFetch, type Fetch } from '../../../src/adapters/http/trusted-fetch';
import type { GraphMailboxSource } from '../../../src/adapters/graph/graph-mailbox-source';
import { AuthError, ConcurrencyError, ItemRejectedError, TransientError } from '../../../src/ports/errors';
import type { ItemRef, OutlookUpdate, OutlookUpdateResult } from '../../../src/ports/mailbox-source';
import { startSimulatedHarness, type SimulatedHarness } from './simulator-harness';

const contactRef = (id: string): ItemRef => ({ kind: 'contact', id, container: 'contacts' });

interface SentSubRequest {
  id: string;
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: unknown;
  dependsOn?: string[];
}

describe('Graph adapter: updateItems in $batch (graph-behaviour.md §5.3)', () => {
  let h: SimulatedHarness;
  beforeEach(async () => {
    h = await startSimulatedHarness({ retry: { maxAttempts: 3, maxDelayMs: 5_000, baseDelayMs: 100 } });
  });
  afterEach(async () => {
    await h.close();
  });

  const seedContacts = async (n: number, data: Record<string, unknown> = {}): Promise<string[]> => {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) ids.push(await h.world.create('contact', 'contacts', { givenName: `C${i}`, ...data } as never));
    return ids;
  };
  const stamp = (crmId: string) => ({ marker: true, category: true, crmId, categoryName: h.categoryName });
  const log = () => h.sim.requestLog;
  const allOk = (results: OutlookUpdateResult[]) => results.every((r) => r.ok);

  /** A source whose fetch keeps the sub-requests of every `$batch` it sends. */
  const recordingBatches = (): { source: GraphMailboxSource; batches: SentSubRequest[][] } => {
    const base = trustedFetch(h.sim.caCert);
    const batches: SentSubRequest[][] = [];
    const source = h.makeSource({
      fetch: (async (input: Parameters<Fetch>[0], init?: Parameters<Fetch>[1]) => {
        const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
        if (/\/\$batch$/.test(new URL(url).pathname) && typeof init?.body === 'string') {
          batches.push((JSON.parse(init.body) as { requests: SentSubRequest[] }).requests);
        }
        return base(input, init);
      }) as Fetch,
    });
    return { source, batches };
  };

  it('10 stamp updates cost 3 $batch requests: the upkeep reads, the PATCHes, the read-backs (one updateItem costs 3)', async () => {
    const ids = await seedContacts(11, { categories: ['VIP'] });
    log().reset();
    const results = await h.source.updateItems(
      h.mailbox,
      ids.slice(0, 10).map((id, i) => ({ ref: contactRef(id), write: null, tracking: stamp(`crm-${i}`) })),
    );
    expect(allOk(results)).toBe(true);
    expect(log().count({ mailbox: h.mailbox, viaBatch: false })).toBe(0);
    expect(log().count({ kind: '$batch' })).toBe(3);
    expect(log().count({ mailbox: h.mailbox, viaBatch: true, method: 'GET' })).toBe(20);
    expect(log().count({ mailbox: h.mailbox, viaBatch: true, method: 'PATCH', status: 200 })).toBe(10);
    expect(results.map((r) => (r.ok ? r.item.crmId : null))).toEqual(ids.slice(0, 10).map((_, i) => `crm-${i}`));

    // The same update alone: upkeep GET + PATCH + read-back GET (src/adapters/graph/README.md).
    log().reset();
    await h.source.updateItem(h.mailbox, contactRef(ids[10] as string), null, stamp('crm-10'));
    expect(log().count({ mailbox: h.mailbox })).toBe(3);
    // Every request, each sub-request of every $batch included, fits the OpenAPI subset (requests-openapi.test.ts).
    expect(h.requestViolations).toEqual([]);
  });

  it('45 conditional field writes: ⌈45/20⌉ PATCH batches and ⌈45/20⌉ read-back batches, each PATCH with its own If-Match', async () => {
    const { source, batches } = recordingBatches();
    const ids = await seedContacts(45);
    const read = await source.getItems(h.mailbox, ids.map(contactRef));
    log().reset();
    batches.length = 0;
    const updates: OutlookUpdate[] = ids.map((id, i) => ({ ref: contactRef(id), write: { data: { jobTitle: `Role ${i}` } }, tracking: null, ifMatch: read.get(id)?.changeKey ?? null }));
    const results = await source.updateItems(h.mailbox, updates);
    expect(allOk(results)).toBe(true);
    expect(log().count({ kind: '$batch' })).toBe(6);
    expect(log().count({ mailbox: h.mailbox, viaBatch: false })).toBe(0);
    expect(batches.map((b) => b.length)).toEqual([20, 20, 5, 20, 20, 5]);
    const patches = batches.flat().filter((r) => r.method === 'PATCH');
    expect(patches).toHaveLength(45);
    for (const [i, id] of ids.entries()) {
      const sub = patches.find((r) => r.url.endsWith(`/contacts/${encodeURIComponent(id)}`));
      // §5.3: a sub-request with a body names its Content-Type; §8: the version as W/"<changeKey>"; no dependsOn, so
      // each runs and fails on its own (a failed parent would 424 its dependents).
      expect(sub?.headers).toMatchObject({ 'Content-Type': 'application/json', 'If-Match': `W/"${read.get(id)?.changeKey}"` });
      expect(sub?.body).toEqual({ jobTitle: `Role ${i}` });
      expect(sub?.dependsOn).toBeUndefined();
      expect(sub?.url.startsWith('/users/')).toBe(true);
    }
    expect(results.map((r) => (r.ok ? r.item.data.jobTitle : null))).toEqual(ids.map((_, i) => `Role ${i}`));
  });

  it('a throttled PATCH sub-request is retried by the batch loop, and only it (§5.3: the SDK does not retry them)', async () => {
    const ids = await seedContacts(5);
    log().reset();
    h.sim.knobs.retryAfterSeconds = 0.5;
    h.sim.knobs.batchThrottleNext = 2;
    const results = await h.source.updateItems(h.mailbox, ids.map((id) => ({ ref: contactRef(id), write: { data: { jobTitle: 'CEO' } }, tracking: null })));
    expect(allOk(results)).toBe(true);
    // Two PATCH batches (5, then the 2 throttled) and one read-back batch.
    expect(log().count({ kind: '$batch' })).toBe(3);
    expect(log().count({ mailbox: h.mailbox, viaBatch: true, method: 'PATCH' })).toBe(7);
    expect(log().count({ mailbox: h.mailbox, viaBatch: true, method: 'PATCH', status: 429 })).toBe(2);
    expect(h.sleeps).toEqual([500]);
  });

  it('a 503 PATCH sub-request is retried alone; a 503 envelope is sent again whole (PATCH is idempotent, §5.1, §5.3)', async () => {
    const ids = await seedContacts(3);
    log().reset();
    h.sim.knobs.serverErrorNext = 1;
    h.sim.knobs.serverErrorRetryAfter = 1;
    const first = await h.source.updateItems(h.mailbox, ids.map((id) => ({ ref: contactRef(id), write: { data: { jobTitle: 'CEO' } }, tracking: null })));
    expect(allOk(first)).toBe(true);
    expect(log().count({ kind: '$batch' })).toBe(3);
    expect(log().count({ mailbox: h.mailbox, viaBatch: true, method: 'PATCH' })).toBe(4);
    expect(log().count({ mailbox: h.mailbox, viaBatch: true, method: 'PATCH', status: 503 })).toBe(1);
    expect(h.sleeps).toEqual([1000]);

    // The envelope of the first PATCH batch answered 503 before reaching Graph's items.
    const base = trustedFetch(h.sim.caCert);
    let refused = false;
    const source = h.makeSource({
      fetch: (async (input: Parameters<Fetch>[0], init?: Parameters<Fetch>[1]) => {
        if (!refused && typeof init?.body === 'string' && init.body.includes('"PATCH"')) {
          refused = true;
          const body = JSON.stringify({ error: { code: 'ServiceUnavailable', message: 'The service is temporarily unavailable.', innerError: {} } });
          return new Response(body, { status: 503, headers: { 'Content-Type': 'application/json', 'Retry-After': '2' } });
        }
        return base(input, init);
      }) as Fetch,
    });
    log().reset();
    h.sleeps.length = 0;
    const second = await source.updateItems(h.mailbox, ids.map((id) => ({ ref: contactRef(id), write: { data: { jobTitle: 'CFO' } }, tracking: null })));
    expect(second.map((r) => (r.ok ? r.item.data.jobTitle : null))).toEqual(['CFO', 'CFO', 'CFO']);
    expect(refused).toBe(true);
    expect(log().count({ kind: '$batch' })).toBe(2);
    expect(log().count({ mailbox: h.mailbox, viaBatch: true, method: 'PATCH' })).toBe(3);
    expect(h.sleeps).toEqual([2000]);
  });

  it('a batch whose envelope is refused fails its own items alone; the other batch’s writes keep their results', async () => {
    const ids = await seedContacts(25);
    const base = trustedFetch(h.sim.caCert);
    let patchBatches = 0;
    const source = h.makeSource({
      fetch: (async (input: Parameters<Fetch>[0], init?: Parameters<Fetch>[1]) => {
        if (typeof init?.body === 'string' && init.body.includes('"PATCH"') && ++patchBatches === 2) {
          const body = JSON.stringify({ error: { code: 'BadRequest', message: 'Invalid batch payload format.', innerError: {} } });
          return new Response(body, { status: 400, headers: { 'Content-Type': 'application/json' } });
        }
        return base(input, init);
      }) as Fetch,
    });
    log().reset();
    const results = await source.updateItems(h.mailbox, ids.map((id) => ({ ref: contactRef(id), write: { data: { jobTitle: 'CEO' } }, tracking: null })));
    expect(results.slice(0, 20).every((r) => r.ok)).toBe(true);
    const refused = results.slice(20).map((r) => (r.ok ? null : r.error));
    expect(refused).toHaveLength(5);
    for (const error of refused) expect((error as ItemRejectedError).reason).toBe('graph-400-BadRequest');
    // Only the written items are read back: PATCH batch 1, read-back batch 1 (the refused envelope never reached it).
    expect(log().count({ kind: '$batch' })).toBe(2);
    expect(log().count({ mailbox: h.mailbox, viaBatch: true, method: 'GET' })).toBe(20);
  });

  it('a 403 sub-response fails the whole call with AuthError, as in getItems', async () => {
    const ids = await seedContacts(2);
    const base = trustedFetch(h.sim.caCert);
    const source = h.makeSource({
      fetch: (async (input: Parameters<Fetch>[0], init?: Parameters<Fetch>[1]) => {
        if (typeof init?.body === 'string' && init.body.includes('"PATCH"')) {
          const responses = (JSON.parse(init.body) as { requests: SentSubRequest[] }).requests.map((r) => ({
            id: r.id,
            status: 403,
            headers: { 'Content-Type': 'application/json' },
            body: { error: { code: 'ErrorAccessDenied', message: 'Access is denied. Check credentials and try again.' } },
          }));
          return new Response(JSON.stringify({ responses }), { status: 200, headers: { 'Content-Type': 'application/json' } });
        }
        return base(input, init);
      }) as Fetch,
    });
    await expect(source.updateItems(h.mailbox, ids.map((id) => ({ ref: contactRef(id), write: { data: { jobTitle: 'CEO' } }, tracking: null })))).rejects.toBeInstanceOf(AuthError);
  });

  it('a sub-request still throttled after the retries fails alone with TransientError; the others land', async () => {
    const ids = await seedContacts(4);
    h.sim.knobs.retryAfterSeconds = 0.5;
    // Every PATCH batch gets its first sub-request throttled: the first item on every attempt (maxAttempts 3).
    const base = trustedFetch(h.sim.caCert);
    const source = h.makeSource({
      fetch: (async (input: Parameters<Fetch>[0], init?: Parameters<Fetch>[1]) => {
        if (typeof init?.body === 'string' && init.body.includes('"PATCH"')) h.sim.knobs.batchThrottleNext = 1;
        return base(input, init);
      }) as Fetch,
    });
    log().reset();
    const results = await source.updateItems(h.mailbox, ids.map((id) => ({ ref: contactRef(id), write: { data: { jobTitle: 'CEO' } }, tracking: null })));
    expect(results.map((r) => r.ok)).toEqual([false, true, true, true]);
    const error = results[0]?.ok === false ? results[0].error : null;
    expect(error).toBeInstanceOf(TransientError);
    expect((error as TransientError).retryAfterInMs).toBe(500);
    // Three PATCH batches (4, 1, 1 sub-requests), one read-back batch.
    expect(log().count({ kind: '$batch' })).toBe(4);
    expect(log().count({ mailbox: h.mailbox, viaBatch: true, method: 'PATCH', status: 429 })).toBe(3);
    expect(log().count({ mailbox: h.mailbox, viaBatch: true, method: 'PATCH', status: 200 })).toBe(3);
    // The unwritten item is not read back; the written ones are.
    expect(log().count({ mailbox: h.mailbox, viaBatch: true, method: 'GET' })).toBe(3);
    expect((await h.source.getItems(h.mailbox, [contactRef(ids[0] as string)])).get(ids[0] as string)?.data.jobTitle ?? null).toBeNull();
  });

  it('a 412 on one PATCH sub-request → ConcurrencyError for that item alone (§8)', async () => {
    const ids = await seedContacts(3);
    log().reset();
    h.sim.knobs.conflictNextPatch = 1;
    const results = await h.source.updateItems(h.mailbox, ids.map((id) => ({ ref: contactRef(id), write: { data: { jobTitle: 'CEO' } }, tracking: null })));
    expect(results.filter((r) => !r.ok).map((r) => (r.ok ? null : r.error))).toEqual([expect.any(ConcurrencyError)]);
    expect(results.filter((r) => r.ok)).toHaveLength(2);
    expect(log().count({ mailbox: h.mailbox, viaBatch: true, method: 'PATCH', status: 412 })).toBe(1);
    // A refused write is not read back.
    expect(log().count({ mailbox: h.mailbox, viaBatch: true, method: 'GET' })).toBe(2);
  });

  it('a To Do task with tracking upkeep takes the single path (linkedResources); the contacts beside it batch', async () => {
    const ids = await seedContacts(3);
    const task = await h.world.create('task', h.world.todoListId, { title: 'Call back' });
    const taskRef: ItemRef = { kind: 'task', id: task, container: h.world.todoListId };
    log().reset();
    const results = await h.source.updateItems(h.mailbox, [
      ...ids.map((id, i) => ({ ref: contactRef(id), write: null, tracking: stamp(`crm-${i}`) })),
      { ref: taskRef, write: null, tracking: stamp('crm-task') },
    ]);
    expect(allOk(results)).toBe(true);
    expect(results[3]).toMatchObject({ ok: true, item: { crmId: 'crm-task' } });
    expect(log().count({ kind: '$batch' })).toBe(3);
    // The task alone: upkeep GET, PATCH (categories), POST linkedResources, read-back GET.
    expect(log().count({ mailbox: h.mailbox, viaBatch: false })).toBe(4);
    expect(log().count({ mailbox: h.mailbox, viaBatch: false, method: 'POST' })).toBe(1);
  });

  it('an update without anything to write only reads the item back', async () => {
    const ids = await seedContacts(2);
    log().reset();
    const results = await h.source.updateItems(h.mailbox, ids.map((id) => ({ ref: contactRef(id), write: null, tracking: null })));
    expect(allOk(results)).toBe(true);
    expect(log().count({ kind: '$batch' })).toBe(1);
    expect(log().count({ mailbox: h.mailbox, method: 'PATCH' })).toBe(0);
  });
});
