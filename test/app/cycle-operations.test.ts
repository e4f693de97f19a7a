// Leases, progress, match before create, partial executions, concurrency retries, fatal errors, fan-out and status
// (DESIGN.md §4, §8; sync-lessons.md §4.1, §4.13, §4.14).
import { fanOut } from '../../src/app/fan-out';
import { mailboxStatus } from '../../src/app/status';
import type { ProgressEvent } from '../../src/app/deps';
import { AuthError, ConcurrencyError, ItemRejectedError, TransientError } from '../../src/ports/errors';
import type { MailboxSyncRequest, ReceivedMessage, WorkQueue } from '../../src/ports/work-queue';
import { crmContact, taggedContact } from './support/fixtures';
import { crmIdPropertyId, DEFAULT_PRODUCT_GUID, trackedPropertyId } from '../../src/core/mappings/extended-properties';
import { CATEGORY, MAILBOX, World } from './support/world';

describe('lease', () => {
  it('skips the mailbox while another instance holds the lease, and records the skipped run', async () => {
    const world = new World();
    world.outlook.userCreate(MAILBOX, 'contact', 'contacts', taggedContact('Ada', 'Lovelace', 'ada@example.org'));
    await world.store.acquireLease(MAILBOX, 'other-instance', 10 * 60_000, world.clock.now());

    const summary = await world.cycle();

    expect(summary.outcome).toBe('skipped');
    expect(world.writes.total).toBe(0);
    expect(world.crm.all('contact')).toHaveLength(0);
    expect((await world.store.listRuns(MAILBOX, 5)).map((run) => run.outcome)).toEqual(['skipped']);
  });

  it('releases the lease at the end, also after a fatal error', async () => {
    const world = new World();
    world.outlook.injectFault(MAILBOX, 'readDelta', new AuthError('AADSTS7000215: invalid client secret'));

    const summary = await world.cycle();

    expect(summary.outcome).toBe('failed');
    expect(summary.alerts).toEqual([expect.stringContaining('credentials refused')]);
    expect(await world.store.acquireLease(MAILBOX, 'next-instance', 60_000, world.clock.now())).not.toBeNull();
  });

  it('renews a long run and stops writing when the lease was lost', async () => {
    const world = new World();
    world.outlook.userCreate(MAILBOX, 'contact', 'contacts', taggedContact('Ada', 'Lovelace', 'ada@example.org'));
    const ttl = 60_000;
    let stolen = false;
    const onProgress = (event: ProgressEvent): void => {
      if (event.phase === 'collect' && event.stream === 'crm:contact' && !stolen) {
        stolen = true;
        world.clock.advance(ttl + 1);
        void world.store.acquireLease(MAILBOX, 'intruder', ttl, world.clock.now());
      }
    };

    const summary = await world.cycle({ leaseTtlMs: ttl, onProgress });

    expect(summary.outcome).toBe('failed');
    expect(summary.failures).toEqual([expect.objectContaining({ key: 'cycle', reason: 'lease-lost' })]);
    expect(world.writes.serviceWrites()).toEqual({});
  });
});

describe('progress', () => {
  it('reports phases, and pages and items per stream', async () => {
    const world = new World();
    for (let i = 0; i < 7; i += 1) {
      world.outlook.userCreate(MAILBOX, 'contact', 'contacts', taggedContact(`P${i}`, 'Person', `p${i}@example.org`));
    }
    const events: ProgressEvent[] = [];
    await world.cycle({ onProgress: (event) => events.push(event) });

    const phases = [...new Set(events.map((event) => event.phase))];
    expect(phases).toEqual(['lease', 'provision', 'collect', 'apply', 'reconcile', 'summarize']);
    // Three entries per page in the test mailbox: seven contacts come in three pages.
    const contactPages = events.filter((event) => event.stream === 'contacts');
    expect(contactPages.map((event) => [event.pages, event.items])).toEqual([[1, 3], [2, 6], [3, 7]]);
  });
});

describe('match before create', () => {
  it('links a tagged Outlook contact to the unmapped CRM contact with its e-mail address', async () => {
    const world = new World();
    const crmId = crmContact(world, 'Grace', 'Hopper', 'grace@example.org');
    const outlookId = world.outlook.userCreate(MAILBOX, 'contact', 'contacts', taggedContact('Grace', 'Hopper', 'Grace@Example.org'));

    const summary = await world.cycle();

    expect(summary.counts['matched.email']).toBe(1);
    expect(world.crm.all('contact').map((c) => c.id)).toEqual([crmId]);
    expect(world.outlook.snapshot(MAILBOX, 'contact')).toHaveLength(1);
    expect(await world.mappings('contact')).toEqual([expect.objectContaining({ outlookId, crmId, state: 'linked' })]);
    expect(world.writes.serviceWrites()).toEqual({ 'outlook.update': 1 });
  });

  it('a CrmId stamp that fails stops the CRM create: nothing is created, and the retry creates the record once', async () => {
    const world = new World();
    const outlookId = world.outlook.userCreate(MAILBOX, 'contact', 'contacts', taggedContact('Ada', 'Lovelace', 'ada@example.org'));
    world.outlook.injectFault(MAILBOX, 'updateItem', new TransientError('503 Service Unavailable'));

    const failed = await world.cycle();

    // The stamp comes before the create (execute.ts): the pendingCreate row names the record, none exists yet.
    expect(failed.failures).toEqual([expect.objectContaining({ key: `o:contact:${outlookId}`, reason: 'transient' })]);
    expect(world.crm.all('contact')).toHaveLength(0);
    expect(await world.mappings('contact')).toEqual([expect.objectContaining({ outlookId, state: 'pendingCreate', crmVersion: null })]);
    world.clock.advance(60 * 60_000);
    await world.cycle();
    await world.cycle();
    expect(world.crm.all('contact')).toHaveLength(1);
    expect(world.outlook.snapshot(MAILBOX, 'contact')).toHaveLength(1);
    expect(await world.store.countChanges(MAILBOX)).toBe(0);
  });
});

describe('bijection', () => {
  it('links one of two items stamped with the same CRM id and treats the other as a new item (a copy)', async () => {
    const world = new World();
    const crmId = crmContact(world, 'Grace', 'Hopper', 'grace@example.org');
    const stamped = (given: string) => ({
      givenName: given,
      surname: 'Hopper',
      singleValueExtendedProperties: [
        { id: trackedPropertyId(DEFAULT_PRODUCT_GUID), value: 'true' },
        { id: crmIdPropertyId(DEFAULT_PRODUCT_GUID), value: crmId },
      ],
      categories: [CATEGORY],
    });
    const original = world.outlook.userCreate(MAILBOX, 'contact', 'contacts', stamped('Grace'));
    const copy = world.outlook.userCreate(MAILBOX, 'contact', 'contacts', stamped('Grace (copy)'));
    world.settings = { ...world.settings, kinds: { ...world.settings.kinds, contact: { ...world.settings.kinds.contact, syncFromCrm: false } } };

    const summary = await world.cycle();

    expect(summary.failures).toEqual([]);
    expect(summary.counts['outlook.copiesOfLinkedItems']).toBe(1);
    const mappings = await world.mappings('contact');
    expect(mappings.find((m) => m.outlookId === original)?.crmId).toBe(crmId);
    const copyCrmId = mappings.find((m) => m.outlookId === copy)?.crmId;
    expect(copyCrmId).toBeDefined();
    expect(copyCrmId).not.toBe(crmId);
    expect(world.crm.all('contact')).toHaveLength(2);
    expect(world.outlook.snapshot(MAILBOX, 'contact')).toHaveLength(2);
  });
});

describe('concurrency', () => {
  it('re-reads and re-plans an item whose CRM update lost an optimistic-concurrency race, in the same cycle', async () => {
    const world = new World();
    const id = world.outlook.userCreate(MAILBOX, 'contact', 'contacts', taggedContact('Ada', 'Lovelace', 'ada@example.org'));
    await world.cycle();
    await world.cycle();
    world.outlook.userEdit(MAILBOX, id, { jobTitle: 'Analyst' });
    const deps = world.deps();
    const update = deps.crm.update.bind(deps.crm);
    let raced = false;
    deps.crm.update = async (kind, crmId, write, options) => {
      if (!raced) {
        raced = true;
        throw new ConcurrencyError('412 Precondition Failed');
      }
      return update(kind, crmId, write, options);
    };

    const summary = await world.cycle({ deps });

    expect(summary.failures).toEqual([]);
    expect(summary.counts['retries.concurrency']).toBe(1);
    expect(world.crm.all('contact')[0]?.data.jobtitle).toBe('Analyst');
  });
});

describe('fan-out and status', () => {
  class ArrayQueue implements WorkQueue {
    readonly sent: MailboxSyncRequest[] = [];
    async send(request: MailboxSyncRequest): Promise<void> {
      if (request.mailbox.startsWith('broken')) throw new Error('queue unavailable');
      this.sent.push(request);
    }
    async receive(): Promise<ReceivedMessage[]> {
      return [];
    }
    async complete(): Promise<void> {}
  }

  it('sends one message per enrolled mailbox', async () => {
    const world = new World();
    const queue = new ArrayQueue();
    const result = await fanOut(queue, ['a@contoso.example', 'b@contoso.example', 'A@contoso.example', 'broken@contoso.example'], {
      clock: world.clock,
    });
    expect(queue.sent).toEqual([
      { mailbox: 'a@contoso.example', reason: 'schedule', requestedAt: world.clock.iso() },
      { mailbox: 'b@contoso.example', reason: 'schedule', requestedAt: world.clock.iso() },
    ]);
    expect(result).toEqual({ sent: 2, failed: [{ mailbox: 'broken@contoso.example', detail: 'Error' }] });
  });

  it('shows the last runs and the failing rows with their reason codes', async () => {
    const world = new World();
    world.outlook.userCreate(MAILBOX, 'contact', 'contacts', taggedContact('Ada', 'Lovelace', 'ada@example.org'));
    const deps = world.deps();
    deps.crm.create = async () => {
      throw new ItemRejectedError(
        'crm-duplicate-detected',
        'Duplicate of contact with emailaddress1 ada@example.org (request Authorization: Bearer eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.abc)',
      );
    };
    const backoff = { baseMs: 30 * 60_000 };
    await world.cycle({ backoff, deps });
    await world.cycle({ backoff });

    const status = await mailboxStatus(world.store, MAILBOX);

    // Newest first: the failed row was not due yet in the second run.
    expect(status.lastRuns.map((run) => run.outcome)).toEqual(['ok', 'partial']);
    expect(status.pendingChanges).toBe(1);
    expect(status.failing).toEqual([expect.objectContaining({ reason: 'crm-duplicate-detected', attempts: 1 })]);
    // DESIGN.md §8: no addresses or tokens in stored errors.
    expect(status.failing[0]?.lastError).toContain('Duplicate of contact');
    expect(status.failing[0]?.lastError).not.toContain('ada@example.org');
    expect(status.failing[0]?.lastError).not.toContain('eyJ0eXAi');
  });
});
