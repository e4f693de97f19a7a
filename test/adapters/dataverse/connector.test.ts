// Dataverse-only behaviour of the connector, on the Dataverse simulator: what goes over the wire.
import { ChangeTrackingDisabledError, DATAVERSE_COLUMNS } from '../../../src/adapters/dataverse';
import { PARTY_COLUMNS } from '../../../src/adapters/dataverse/schema';
import { deterministicCrmId } from '../../../src/adapters/dataverse/scope';
import { DEFAULT_MAPPINGS } from '../../../src/core/mappings';
import { ITEM_KINDS, type ItemKind } from '../../../src/core/model';
import type { CrmChange, CrmUser } from '../../../src/ports/crm-connector';
import { AuthError, ResyncRequiredError, TransientError } from '../../../src/ports/errors';
import { startHarness, type Harness } from './harness';

const THROTTLED = { status: 429, code: '0x80072322', message: 'Number of requests exceeded the limit of 6000 over time window of 300 seconds.' };

async function drain(h: Harness, kind: ItemKind, user: CrmUser, cursor: string | null): Promise<{ changes: CrmChange[]; cursor: string; failures: number }> {
  const out = { changes: [] as CrmChange[], cursor: '', failures: 0 };
  await h.connector.readChanges(kind, user, cursor, async (page) => {
    out.changes.push(...page.changes);
    out.cursor = page.cursor;
    out.failures += page.failures.length;
  });
  return out;
}

function selectOf(url: string): string[] | null {
  const select = new URL(url).searchParams.get('$select');
  return select === null ? null : select.split(',');
}

describe('Dataverse connector on the simulator', () => {
  let h: Harness;
  let me: CrmUser;

  afterEach(async () => {
    await h.close();
  });

  async function start(options: Parameters<typeof startHarness>[0] = {}): Promise<void> {
    h = await startHarness(options);
    me = (await h.connector.resolveUser(h.me.address)) as CrmUser;
  }

  it('selects exactly DATAVERSE_COLUMNS per kind on the change feed and on reads, and the simulator knows every one', async () => {
    await start();
    for (const kind of ITEM_KINDS) {
      h.requests.length = 0;
      await drain(h, kind, me, null);
      const feed = h.requests.find((r) => r.url.includes('/api/data/v9.2/') && r.method === 'GET');
      expect(selectOf(feed?.url ?? '')).toEqual([...DATAVERSE_COLUMNS[kind]]);
      // dataverse-behaviour.md §1.2/§1.4: track-changes with the page size, on every page.
      expect(feed?.headers.prefer).toMatch(/odata\.track-changes,odata\.maxpagesize=2/);
      h.requests.length = 0;
      await h.connector.read(kind, ['00000000-0000-4000-8000-000000000001'], me);
      const read = h.requests.find((r) => r.url.includes('/api/data/v9.2/'));
      expect(selectOf(read?.url ?? '')).toEqual([...DATAVERSE_COLUMNS[kind]]);
      const expand = new URL(read?.url ?? '').searchParams.get('$expand');
      if (kind === 'appointment' || kind === 'email') expect(expand).toBe(`${kind}_activity_parties($select=${PARTY_COLUMNS.join(',')})`);
      else expect(expand).toBeNull();
    }
    // Unknown columns are a 400 on the simulator (§7), so the rounds above prove each column exists.
    expect(h.simulator.requestLog.count({ status: 400 })).toBe(0);
  });

  it('an organizer known only by address is bound to the acting systemuser, and someone else\'s is left out (§4.2)', async () => {
    await start();
    const at = (hours: number) => new Date(Date.UTC(2031, 0, 6, 9 + hours)).toISOString();
    const organizer = (address: string) => ({ participationTypeMask: 7, address, party: null });
    const attendee = { participationTypeMask: 5, address: 'guest@fabrikam.example', party: null };
    const base = { attributes: { subject: 'Review', scheduledstart: at(0), scheduledend: at(1) } };
    // dataverse-behaviour.md §4.2: the organizer must be a systemuser; the simulator refuses anything else.
    const mine = await h.connector.create('appointment', { ...base, parties: [organizer(me.address.toUpperCase()), attendee] }, { actAs: me, idempotencyKey: 'org-mine' });
    const organizers = mine.parties.filter((p) => p.participationTypeMask === 7);
    expect(organizers).toEqual([{ participationTypeMask: 7, address: me.address.toUpperCase(), party: { entity: 'systemuser', id: me.id } }]);
    expect(mine.parties.some((p) => p.participationTypeMask === 5 && p.address === attendee.address)).toBe(true);
    const theirs = await h.connector.create('appointment', { ...base, parties: [organizer('someone@fabrikam.example'), attendee] }, { actAs: me, idempotencyKey: 'org-theirs' });
    expect(theirs.parties.some((p) => p.address === 'someone@fabrikam.example')).toBe(false);
  });

  it('selects every column the default field mappings read or write', () => {
    for (const kind of ITEM_KINDS) {
      const needed = DEFAULT_MAPPINGS[kind].fields
        .flatMap((field) => field.crmTargets)
        .filter((target) => !target.startsWith('party:'))
        .map((target) => (['parentcustomerid', 'regardingobjectid', 'ownerid'].includes(target) ? `_${target}_value` : target));
      expect(needed.filter((column) => !DATAVERSE_COLUMNS[kind].includes(column))).toEqual([]);
    }
  });

  it('writes act as the mailbox owner through CallerObjectId; the feed and reads run as the application user', async () => {
    await start();
    const created = await h.connector.create('contact', { attributes: { lastname: 'Acting' } }, { actAs: me, idempotencyKey: 'caller-1' });
    await h.connector.update('contact', created.id, { attributes: { jobtitle: 'x' } }, { actAs: me, ifMatch: created.version });
    await h.connector.delete('contact', created.id, { actAs: me });
    const writes = h.requests.filter((r) => ['POST', 'PATCH', 'DELETE'].includes(r.method) && r.url.includes('/contacts'));
    expect(writes.map((r) => r.method)).toEqual(['POST', 'PATCH', 'DELETE']);
    for (const write of writes) expect(write.headers.callerobjectid).toBe(h.me.azureObjectId);
    // dataverse-behaviour.md §5: the simulator resolved the header to the user, who therefore owns the record.
    expect(h.simulator.requestLog.count({ method: 'POST', entitySet: 'contacts', callerId: h.me.id })).toBe(1);
    expect(h.simulator.requestLog.count({ method: 'DELETE', entitySet: 'contacts', callerId: h.me.id })).toBe(1);
    expect(created.ownerId).toBe(h.me.id);
    const reads = h.requests.filter((r) => r.method === 'GET' && r.url.includes('/api/data/'));
    expect(reads.length).toBeGreaterThan(0);
    for (const read of reads) expect(read.headers.callerobjectid).toBeUndefined();
    for (const request of h.requests.filter((r) => r.url.includes('/api/data/'))) {
      expect(request.headers['odata-maxversion']).toBe('4.0');
      expect(request.headers['odata-version']).toBe('4.0');
      expect(request.headers.authorization).toMatch(/^Bearer simtok\./);
    }
  });

  it('honours 429 Retry-After in one retry layer, then gives up with TransientError carrying the wait', async () => {
    // dataverse-behaviour.md §3: 429 + Retry-After; keep retries bounded.
    await start({ knobs: { faults: [{ ...THROTTLED, retryAfterSeconds: 7, times: 2, match: { entitySet: 'tasks' } }] } });
    const round = await drain(h, 'task', me, null);
    expect(round.changes).toEqual([]);
    expect(h.sleeps).toEqual([7000, 7000]);
    expect(h.simulator.requestLog.count({ entitySet: 'tasks', status: 429 })).toBe(2);
    expect(h.simulator.requestLog.count({ entitySet: 'tasks', status: 200 })).toBe(1);

    h.sleeps.length = 0;
    h.simulator.knobs.faults.push({ ...THROTTLED, retryAfterSeconds: 5, times: 10, match: { entitySet: 'contacts' } });
    const failure = await drain(h, 'contact', me, null).then(() => null, (error: unknown) => error);
    expect(failure).toBeInstanceOf(TransientError);
    expect((failure as TransientError).retryAfterInMs).toBe(5000);
    expect(h.sleeps).toEqual([5000, 5000, 5000]);
    expect(h.simulator.requestLog.count({ entitySet: 'contacts', status: 429 })).toBe(4);

    // §3: giving up does not end the pause: the user's next request first sits out the last Retry-After.
    h.sleeps.length = 0;
    h.simulator.knobs.faults.length = 0;
    h.simulator.requestLog.reset();
    await drain(h, 'task', me, null);
    expect(h.sleeps).toEqual([5000]);
    expect(h.simulator.requestLog.count({ entitySet: 'tasks', status: 200 })).toBe(1);
  });

  it('does not sit out a Retry-After longer than the bound: the item is retried later instead', async () => {
    await start({ knobs: { faults: [{ ...THROTTLED, retryAfterSeconds: 300, times: 1, match: { entitySet: 'contacts' } }] } });
    const failure = await drain(h, 'contact', me, null).then(() => null, (error: unknown) => error);
    expect((failure as TransientError).retryAfterInMs).toBe(300_000);
    expect(h.sleeps).toEqual([]);
    expect(h.simulator.requestLog.count({ entitySet: 'contacts' })).toBe(1);
  });

  it('keeps every request of the user paused after giving up on a long Retry-After: later requests fail fast, unsent', async () => {
    // dataverse-behaviour.md §3: "honour Retry-After (pause all requests of that user)… Continuing to hammer lengthens
    // the Retry-After".
    await start({ knobs: { faults: [{ ...THROTTLED, retryAfterSeconds: 300, times: 1, match: { entitySet: 'contacts' } }] } });
    await expect(drain(h, 'contact', me, null)).rejects.toBeInstanceOf(TransientError);
    h.simulator.requestLog.reset();
    const apiRequests = () => h.requests.filter((r) => r.url.includes('/api/data/')).length;
    const sentBefore = apiRequests();
    const paused = await drain(h, 'task', me, null).then(() => null, (error: unknown) => error);
    expect(paused).toBeInstanceOf(TransientError);
    expect((paused as TransientError).retryAfterInMs).toBe(300_000);
    expect(apiRequests()).toBe(sentBefore);
    expect(h.simulator.requestLog.entries).toEqual([]);
    expect(h.sleeps).toEqual([]);
  });

  it('sends If-None-Match: null on $expand reads, alone and in $batch parts, and only there (§2.1)', async () => {
    await start();
    const ids = ['00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000002'];
    for (const kind of ITEM_KINDS) {
      const expands = kind === 'appointment' || kind === 'email';
      h.requests.length = 0;
      await h.connector.read(kind, ids.slice(0, 1), me);
      const single = h.requests.filter((r) => r.url.includes('/api/data/'));
      expect(single.map((r) => [r.method, r.headers['if-none-match']])).toEqual([['GET', expands ? 'null' : undefined]]);
      h.requests.length = 0;
      await h.connector.read(kind, ids, me);
      const batch = h.requests.filter((r) => r.url.includes('/api/data/'));
      expect(batch.map((r) => r.url.endsWith('$batch'))).toEqual([true]);
      const partHeaders = (batch[0]?.body ?? '').split('\r\n').filter((line) => /^If-None-Match:/i.test(line));
      expect(partHeaders).toEqual(expands ? ['If-None-Match: null', 'If-None-Match: null'] : []);
    }
  });

  it('a create whose 503 came after the service applied it is retried into the same single record (§2.2, §3)', async () => {
    await start({ knobs: { failAfterCommitNext: 1, failAfterCommitMode: 503 } });
    h.simulator.requestLog.reset();
    const created = await h.connector.create('contact', { attributes: { lastname: 'Once' } }, { actAs: me, idempotencyKey: 'after-commit' });
    expect(created.id).toBe(deterministicCrmId('contact', 'after-commit'));
    expect(h.simulator.control.count('contacts')).toBe(1);
    // The first POST was applied (its answer replaced by a 503); the retry met it as a duplicate key.
    const posts = h.simulator.requestLog.entries.filter((e) => e.method === 'POST' && e.entitySet === 'contacts');
    expect(posts.map((e) => [e.status, e.answerLost])).toEqual([[204, 503], [412, undefined]]);
  });

  it('reads the parties of changed activities with one $batch per page (no $expand on change tracking)', async () => {
    await start();
    for (let i = 0; i < 3; i += 1) {
      await h.world.createRecord('appointment', {
        attributes: { subject: `A${i}`, scheduledstart: '2030-01-01T10:00:00Z', scheduledend: '2030-01-01T11:00:00Z' },
        ownerId: h.me.id,
      });
    }
    h.simulator.requestLog.reset();
    const round = await drain(h, 'appointment', me, null);
    expect(round.changes).toHaveLength(3);
    // dataverse-behaviour.md §1.2: $expand is rejected with track-changes, so 2 pages → 2 feed GETs; the 2-id page
    // costs one $batch and the 1-id page one plain GET.
    expect(h.simulator.requestLog.count({ kind: 'trackChanges', viaBatch: false }) + h.simulator.requestLog.count({ kind: 'delta', viaBatch: false })).toBe(2);
    expect(h.simulator.requestLog.count({ kind: 'batch' })).toBe(1);
    expect(h.simulator.requestLog.count({ kind: 'retrieve', viaBatch: true })).toBe(2);
    expect(h.simulator.requestLog.count({ kind: 'retrieve', viaBatch: false })).toBe(1);
    for (const change of round.changes) expect(change.type === 'upsert' && change.record.parties.length).toBeGreaterThanOrEqual(0);
  });

  it('an ExpiredVersionStamp is recognised by its code whatever the status (§1.5 status UNCONFIRMED)', async () => {
    await start({ knobs: { expiredTokenStatus: 410 } });
    const initial = await drain(h, 'contact', me, null);
    h.simulator.control.expireDeltaTokens();
    await expect(drain(h, 'contact', me, initial.cursor)).rejects.toBeInstanceOf(ResyncRequiredError);
  });

  it('a table without change tracking is reported, not read as an empty feed (§1.1)', async () => {
    await start({ knobs: { changeTracking: { contacts: false, appointments: true, tasks: true, emails: true, systemusers: true, accounts: true } } });
    await expect(drain(h, 'contact', me, null)).rejects.toBeInstanceOf(ChangeTrackingDisabledError);
  });

  it('a refused token is refreshed once; a second refusal is an AuthError', async () => {
    await start();
    await drain(h, 'task', me, null);
    const tokensBefore = h.simulator.requestLog.count({ kind: 'identity', method: 'POST' });
    h.simulator.control.expireAccessTokens();
    await drain(h, 'task', me, null);
    expect(h.simulator.requestLog.count({ kind: 'identity', method: 'POST' })).toBe(tokensBefore + 1);
    expect(h.simulator.requestLog.count({ status: 401 })).toBe(1);

    h.simulator.knobs.faults.push({ status: 401, code: '0x80072560', message: 'no', times: 2 });
    await expect(drain(h, 'task', me, null)).rejects.toBeInstanceOf(AuthError);
  });

  it('a duplicate key on create is recognised whether it comes as 412 or as a 500 with DuplicateRecord (§2.4 UNCONFIRMED)', async () => {
    await start({ knobs: { duplicateKeyOnCreate: { status: 500, code: '0x80040237', message: 'Cannot insert duplicate key.' } } });
    const first = await h.connector.create('task', { attributes: { subject: 'Once' } }, { actAs: me, idempotencyKey: 'dup' });
    const again = await h.connector.create('task', { attributes: { subject: 'Once' } }, { actAs: me, idempotencyKey: 'dup' });
    expect(again.id).toBe(first.id);
    expect(h.simulator.control.count('tasks')).toBe(1);
  });

  it('a malformed row fails alone as an ItemFailure; the rest of the page goes through', async () => {
    await start();
    const good = await h.world.createRecord('contact', { attributes: { lastname: 'Good' }, ownerId: h.me.id });
    const bad = await h.world.createRecord('contact', { attributes: { lastname: 'Bad' }, ownerId: h.me.id });
    h.corruptRows = (row) => (String(row.contactid) === bad ? { ...row, modifiedon: 'not a date' } : row);
    const failures: string[] = [];
    const ids: string[] = [];
    await h.connector.readChanges('contact', me, null, async (page) => {
      ids.push(...page.changes.map((c) => c.id));
      failures.push(...page.failures.map((f) => `${f.id}:${f.reason}`));
    });
    expect(ids).toEqual([good]);
    expect(failures).toEqual([`${bad}:crm-invalid-record`]);
  });
});

describe('Dataverse connector: creates that need a state change', () => {
  let h: Harness;
  let me: CrmUser;
  const write = { attributes: { subject: 'Filed', statecode: 1, statuscode: 5 } };

  beforeEach(async () => {
    h = await startHarness();
    me = (await h.connector.resolveUser(h.me.address)) as CrmUser;
  });

  afterEach(async () => {
    await h.close();
  });

  it('POST and state PATCH go in one change set; a lost response is retried into the same single record', async () => {
    await h.world.loseNextCreateResponse?.();
    await expect(h.connector.create('task', write, { actAs: me, idempotencyKey: 'lost-task' })).rejects.toBeInstanceOf(TransientError);
    // dataverse-behaviour.md §2.6: the change set applied atomically although its answer was lost.
    expect(h.simulator.control.count('tasks')).toBe(1);
    expect(h.simulator.control.rows('tasks')[0]).toMatchObject({ statecode: 1, statuscode: 5 });
    const retried = await h.connector.create('task', write, { actAs: me, idempotencyKey: 'lost-task' });
    expect(h.simulator.control.count('tasks')).toBe(1);
    expect(retried.data).toMatchObject({ subject: 'Filed', statecode: 1, statuscode: 5 });
    expect(h.simulator.requestLog.count({ kind: 'batch', viaBatch: false })).toBeGreaterThanOrEqual(2);
    expect(h.simulator.requestLog.count({ method: 'POST', entitySet: 'tasks', viaBatch: true })).toBe(2);
    // The retry's change set failed on the duplicate key and rolled back before its PATCH.
    expect(h.simulator.requestLog.count({ method: 'PATCH', entitySet: 'tasks' })).toBe(1);
  });

  it('an earlier attempt that created the record but never set its state is completed by the retry', async () => {
    const id = deterministicCrmId('task', 'half-done');
    h.simulator.control.seed('tasks', { activityid: id, subject: 'Filed' }, { as: h.me.id });
    const retried = await h.connector.create('task', write, { actAs: me, idempotencyKey: 'half-done' });
    expect(retried.id).toBe(id);
    expect(retried.data).toMatchObject({ statecode: 1, statuscode: 5 });
    expect(h.simulator.control.count('tasks')).toBe(1);
  });

  it('a contact create without a state change is a single POST, no $batch', async () => {
    h.simulator.requestLog.reset();
    await h.connector.create('contact', { attributes: { lastname: 'Plain' } }, { actAs: me, idempotencyKey: 'plain' });
    expect(h.simulator.requestLog.count({ method: 'POST', entitySet: 'contacts', viaBatch: false })).toBe(1);
    expect(h.simulator.requestLog.count({ kind: 'batch' })).toBe(0);
  });
});
