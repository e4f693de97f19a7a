// Service faults during real cycles (DESIGN.md §9.3 faults: 429 + Retry-After, 503, repeated entries, empty pages,
// dropped removals, 412), and two workers on one mailbox (DESIGN.md §4.1 lease). Every fault is one of the simulators'
// knobs; the worker must converge with no duplicate, no lost edit and nothing deleted that exists.
import { confirmHeldDeletes } from '../../src/app/delete-guard';
import { CATEGORY, contactProps, crmIdsWhere, startWorld, taskProps, type World } from './harness';

jest.setTimeout(60_000);

describe('e2e: faults and concurrency', () => {
  let world: World;

  beforeAll(async () => {
    world = await startWorld();
  });

  afterEach(() => {
    world.graph.control.resetKnobs();
    world.dataverse.knobs.faults.length = 0;
  });

  afterAll(async () => {
    await world?.stop();
  });

  async function settle(): Promise<void> {
    for (let i = 0; i < 3; i++) {
      const { summary, writes } = await world.cycle();
      if (summary.failures.length === 0 && writes.graph === 0 && writes.crm === 0) return;
    }
    throw new Error('the world did not settle in three cycles');
  }

  it('Graph 429s and 503s (also inside $batch) are retried after Retry-After, with no duplicate (graph-behaviour.md §5.1, §5.3)', async () => {
    await world.outlook.create('contact', contactProps('Throttled', 'Person'));
    world.crm.create('task', { subject: 'Throttled CRM task' });
    Object.assign(world.graph.knobs, { retryAfterSeconds: 0.01, throttleNext: 2, batchThrottleNext: 2, serverErrorNext: 1, serverErrorRetryAfter: 0.01 });

    const { summary } = await world.cycle();

    expect(summary.failures).toEqual([]);
    expect(world.graph.knobs.throttleNext + world.graph.knobs.batchThrottleNext + world.graph.knobs.serverErrorNext).toBe(0);
    expect(world.graph.requestLog.count({ mailbox: world.mailbox, status: 429 })).toBeGreaterThanOrEqual(3);
    expect(crmIdsWhere(world, 'contact', 'lastname', 'Person')).toHaveLength(1);
    expect(world.outlook.list('task').filter((item) => item.props['title'] === 'Throttled CRM task')).toHaveLength(1);
    await settle();
  });

  it('Dataverse 429 and 503 on writes: retried or rescheduled, never duplicated (dataverse-behaviour.md §3)', async () => {
    await world.outlook.create('contact', contactProps('Dv', 'Throttle'));
    await world.outlook.create('task', taskProps('Dv throttled task'));
    world.dataverse.knobs.faults.push(
      { status: 429, code: '0x80072321', message: 'Number of requests exceeded the limit of 6000 over time window of 300 seconds.', retryAfterSeconds: 0, times: 1, match: { method: 'POST' } },
      { status: 503, code: '0x80040216', message: 'Service unavailable', times: 1, match: { method: 'POST' } },
    );

    const first = await world.cycle();
    // A failed item keeps its change row with a backoff (DESIGN.md §4.3); the next cycle after it finishes the job.
    world.clock.advance(first.summary.failures.length > 0 ? 7 * 60 * 60_000 : 0);
    await settle();

    expect(crmIdsWhere(world, 'contact', 'lastname', 'Throttle')).toHaveLength(1);
    expect(crmIdsWhere(world, 'task', 'subject', 'Dv throttled task')).toHaveLength(1);
    expect(world.outlook.list('contact').filter((item) => item.props['surname'] === 'Throttle')).toHaveLength(1);
  });

  it('repeated entries, empty pages and over-full pages in Graph delta: no duplicate (graph-behaviour.md §1.1, §1.3, §1.5)', async () => {
    Object.assign(world.graph.knobs, { repeatEntry: true, emptyPagesBeforeData: 2, pageSizeOvershoot: 1, partialUpdates: true });
    for (const name of ['One', 'Two', 'Three']) await world.outlook.create('contact', contactProps('Paged', name));

    const { summary } = await world.cycle();

    expect(summary.failures).toEqual([]);
    for (const name of ['One', 'Two', 'Three']) expect(crmIdsWhere(world, 'contact', 'lastname', name)).toHaveLength(1);
    await settle();
  });

  it('a removal delta dropped: reconciliation finds the deleted item and the deletion table applies (sync-lessons.md §4.11)', async () => {
    const id = await world.outlook.create('task', taskProps('Dropped removal'));
    await world.cycle();
    const crmId = (await world.mappingByOutlookId('task', id))?.crmId ?? '';
    world.graph.knobs.dropNextRemoval = 1;
    await world.outlook.remove('task', id);

    // Reconciliation verifies 20 mappings per cycle, oldest first: within a few cycles it reads this one directly.
    for (let i = 0; i < 5 && world.crm.read('task', crmId) !== null; i++) await world.cycle();

    expect(world.graph.knobs.dropNextRemoval).toBe(0);
    expect(world.crm.read('task', crmId)).toBeNull();
  });

  it('a 412 on an Outlook update: re-read and retried, no lost edit (graph-behaviour.md §8)', async () => {
    const crmId = world.crm.create('contact', { firstname: 'Con', lastname: 'Flict', emailaddress1: 'con.flict@contoso.test', jobtitle: 'v1' });
    await world.cycle();
    await world.cycle();
    const id = (await world.mappingByCrmId('contact', crmId))?.outlookId ?? '';
    world.crm.update('contact', crmId, { jobtitle: 'v2 (CRM)' });
    world.graph.knobs.conflictNextPatch = 1;

    const { summary } = await world.cycle();

    expect(world.graph.knobs.conflictNextPatch).toBe(0);
    expect(summary.counts['retries.concurrency']).toBe(1);
    expect(summary.failures).toEqual([]);
    expect(world.outlook.read(id)?.props['jobTitle']).toBe('v2 (CRM)');
  });

  it('two workers on one mailbox at once: one syncs, the other skips (DESIGN.md §4.1)', async () => {
    await world.outlook.create('contact', contactProps('Two', 'Workers'));
    world.crm.create('task', { subject: 'Two workers task' });
    const other = { ...world.runtime.deps, owner: 'another-instance' };

    const [a, b] = await Promise.all([world.cycle(), world.cycle({ deps: other })]);

    expect([a.summary.outcome, b.summary.outcome].sort()).toEqual(['ok', 'skipped']);
    expect(crmIdsWhere(world, 'contact', 'lastname', 'Workers')).toHaveLength(1);
    expect(world.outlook.list('task').filter((item) => item.props['title'] === 'Two workers task')).toHaveLength(1);
    await settle();
  });

  it('a dry run writes nothing to either service (request logs), and the real run then does the work', async () => {
    await world.outlook.create('contact', contactProps('Dry', 'Run'));
    world.crm.create('task', { subject: 'Dry run task' });

    const dry = await world.cycle({ settings: { dryRun: true } });

    expect(dry.summary.dryRun).toBe(true);
    expect(dry.writes).toEqual({ graph: 0, crm: 0 });
    expect(dry.summary.counts).toMatchObject({ 'crm.create': 1, 'outlook.create': 1 });
    expect(crmIdsWhere(world, 'contact', 'lastname', 'Run')).toEqual([]);
    const real = await world.cycle();
    expect(real.summary.failures).toEqual([]);
    expect(crmIdsWhere(world, 'contact', 'lastname', 'Run')).toHaveLength(1);
    expect(world.outlook.list('task').filter((item) => item.props['title'] === 'Dry run task')).toHaveLength(1);
  });

  it('the delete guard holds a mass delete until an admin confirms (DESIGN.md §4 "Guards")', async () => {
    const ids: string[] = [];
    for (const title of ['Guard 1', 'Guard 2', 'Guard 3']) ids.push(await world.outlook.create('task', taskProps(title)));
    await world.cycle();
    const crmIds = await Promise.all(ids.map(async (id) => (await world.mappingByOutlookId('task', id))?.crmId ?? ''));
    for (const id of ids) await world.outlook.remove('task', id);
    const guard = { deleteGuard: { maxCount: 2, maxShare: 1 } };

    const held = await world.cycle({ settings: guard });

    expect(held.summary.heldDeletes).toBe(3);
    expect(held.summary.outcome).toBe('partial');
    expect(held.writes).toEqual({ graph: 0, crm: 0 });
    for (const crmId of crmIds) expect(world.crm.read('task', crmId)).not.toBeNull();
    expect(await confirmHeldDeletes(world.runtime.store, world.mailbox)).toBe(3);
    const confirmed = await world.cycle({ settings: guard });
    expect(confirmed.summary.heldDeletes).toBe(0);
    expect(confirmed.writes.crm).toBe(3);
    for (const crmId of crmIds) expect(world.crm.read('task', crmId)).toBeNull();
  });

  it('re-creates the tracking category a user deleted from the master list (DESIGN.md §2 "Category provisioning")', async () => {
    const categories = await world.outlook.masterCategories();
    const tracked = categories.find((c) => c.displayName === CATEGORY);
    expect(tracked).toBeDefined();
    await world.outlook.deleteMasterCategory(tracked?.id ?? '');
    expect((await world.outlook.masterCategories()).map((c) => c.displayName)).not.toContain(CATEGORY);

    const { writes } = await world.cycle();

    expect(writes.graph).toBe(1);
    expect((await world.outlook.masterCategories()).filter((c) => c.displayName === CATEGORY)).toHaveLength(1);
  });
});
