// CrmConnector.writeBatch on the Dataverse simulator: what goes over the wire (the contract suite covers what it does).
import { deterministicCrmId } from '../../../src/adapters/dataverse/scope';
import type { CrmUser, CrmWriteOp, CrmWriteResult } from '../../../src/ports/crm-connector';
import { AuthError, ConcurrencyError, ItemRejectedError } from '../../../src/ports/errors';
import type { RequestLogEntry } from '../../../src/simulators/dataverse';
import { startHarness, type Harness } from './harness';

function createContact(n: number): CrmWriteOp {
  return { type: 'create', kind: 'contact', write: { attributes: { lastname: `Batch ${n}` } }, idempotencyKey: `wb-${n}` };
}

function ok(result: CrmWriteResult | undefined) {
  if (!result?.ok || result.record === null) throw result && !result.ok ? result.error : new Error('no record');
  return result.record;
}

function error(result: CrmWriteResult | undefined): Error {
  if (!result || result.ok) throw new Error('expected a failed write');
  return result.error;
}

describe('Dataverse connector: writeBatch', () => {
  let h: Harness;
  let me: CrmUser;

  afterEach(async () => {
    await h.close();
  });

  async function start(options: Parameters<typeof startHarness>[0] = {}): Promise<void> {
    h = await startHarness({ ...options, connector: { readBatchSize: 50, ...options.connector } });
    me = (await h.connector.resolveUser(h.me.address)) as CrmUser;
    h.simulator.requestLog.reset();
    h.requests.length = 0;
  }

  /** Requests as the service counts them (§2.6: a $batch is one), token requests left out. */
  const topLevel = (): RequestLogEntry[] => h.simulator.requestLog.entries.filter((e) => !e.viaBatch && e.kind !== 'identity');

  it('10 creates cost exactly one $batch of 10 change sets and one batched read-back', async () => {
    await start();
    const results = await h.connector.writeBatch(Array.from({ length: 10 }, (_, n) => createContact(n)), { actAs: me });
    expect(results.map((r) => ok(r).data.lastname)).toEqual(Array.from({ length: 10 }, (_, n) => `Batch ${n}`));
    const requests = topLevel();
    expect(requests.map((e) => [e.method, e.kind, e.status])).toEqual([
      ['POST', 'batch', 200],
      ['POST', 'batch', 200],
    ]);
    // dataverse-behaviour.md §2.6: one change set per write; §5: each part acts as the mailbox owner.
    const writes = requests[0]?.parts ?? [];
    expect(writes.map((p) => [p.method, p.entitySet, p.status, p.changeSet, p.callerId])).toEqual(
      Array.from({ length: 10 }, (_, n) => ['POST', 'contacts', 204, n, h.me.id]),
    );
    expect(requests[1]?.parts?.map((p) => [p.method, p.kind, p.status])).toEqual(Array.from({ length: 10 }, () => ['GET', 'retrieve', 200]));
    const batch = h.requests.find((r) => r.url.endsWith('$batch'));
    expect(batch?.headers.prefer).toBe('odata.continue-on-error');
    expect(batch?.headers.callerobjectid).toBe(h.me.azureObjectId);
    expect((batch?.body ?? '').match(/^CallerObjectId: /gm)).toHaveLength(10);
    expect(h.simulator.control.count('contacts')).toBe(10);
  });

  it('splits writes into $batch requests of writeBatchSize change sets', async () => {
    await start({ connector: { writeBatchSize: 4 } });
    const results = await h.connector.writeBatch(Array.from({ length: 10 }, (_, n) => createContact(n)), { actAs: me });
    expect(results.every((r) => r.ok)).toBe(true);
    expect(topLevel().map((e) => e.parts?.length)).toEqual([4, 4, 2, 10]);
  });

  it('never puts more than 1,000 requests in one $batch (§2.6), whatever writeBatchSize says', async () => {
    await start({ connector: { writeBatchSize: 5000 } });
    const ops: CrmWriteOp[] = Array.from({ length: 400 }, (_, n) => ({
      type: 'delete',
      kind: 'task',
      id: deterministicCrmId('task', `never-${n}`),
    }));
    const results = await h.connector.writeBatch(ops, { actAs: me });
    expect(results.every((r) => r.ok && r.record === null)).toBe(true);
    // A write is at most 3 requests, so at most 333 writes go in a batch.
    expect(topLevel().map((e) => e.parts?.length)).toEqual([333, 67]);
  });

  it("an update's PATCH steps share one change set: the caller's If-Match first, then `*`; a failing step undoes them all", async () => {
    await start();
    const task = await h.connector.create('task', { attributes: { subject: 'Open' } }, { actAs: me, idempotencyKey: 'steps' });
    const other = await h.connector.create('task', { attributes: { subject: 'Other' } }, { actAs: me, idempotencyKey: 'steps-other' });
    h.requests.length = 0;
    h.simulator.requestLog.reset();
    const results = await h.connector.writeBatch(
      [
        { type: 'update', kind: 'task', id: task.id, write: { attributes: { subject: 'Done', statecode: 1, statuscode: 5 } }, ifMatch: task.version },
        // 6 is a status of state 2 (Canceled), so the close step is refused (§4.5) and the edit before it rolls back.
        { type: 'update', kind: 'task', id: other.id, write: { attributes: { subject: 'Half', statecode: 1, statuscode: 6 } }, ifMatch: other.version },
      ],
      { actAs: me },
    );
    expect(ok(results[0]).data).toMatchObject({ subject: 'Done', statecode: 1, statuscode: 5 });
    expect(error(results[1])).toBeInstanceOf(ItemRejectedError);
    expect(h.simulator.control.get('tasks', other.id)).toMatchObject({ subject: 'Other', statecode: 0 });
    const body = h.requests.find((r) => r.url.endsWith('$batch'))?.body ?? '';
    expect(body.match(/^If-Match: .*$/gm)).toEqual([`If-Match: ${task.version}`, 'If-Match: *', `If-Match: ${other.version}`, 'If-Match: *']);
    const [writes] = topLevel();
    expect(writes?.parts?.map((p) => [p.method, p.status, p.changeSet])).toEqual([
      ['PATCH', 204, 0],
      ['PATCH', 204, 0],
      ['PATCH', 204, 1],
      ['PATCH', 400, 1],
    ]);
  });

  it('reads once before the writes for updates that clear regarding, and clears it', async () => {
    await start();
    const contact = await h.world.createRecord('contact', { attributes: { lastname: 'About' }, ownerId: h.me.id });
    const ids: string[] = [];
    for (const n of [1, 2]) {
      ids.push(
        await h.world.createRecord('task', {
          attributes: { subject: `About ${n}`, [`regardingobjectid_contact_task@odata.bind`]: `/contacts(${contact})` },
          ownerId: h.me.id,
        }),
      );
    }
    const before = await h.connector.read('task', ids, me);
    h.simulator.requestLog.reset();
    const results = await h.connector.writeBatch(
      ids.map((id): CrmWriteOp => ({ type: 'update', kind: 'task', id, write: { attributes: {}, regarding: null }, ifMatch: before.get(id)?.version ?? '*' })),
      { actAs: me },
    );
    expect(results.map((r) => ok(r).data._regardingobjectid_value)).toEqual([null, null]);
    expect(topLevel().map((e) => e.parts?.map((p) => p.method).join(','))).toEqual(['GET,GET', 'PATCH,PATCH', 'GET,GET']);
  });

  it('a create that meets an earlier attempt made without its state sets the state, as create() does', async () => {
    await start();
    const id = deterministicCrmId('task', 'half-done');
    h.simulator.control.seed('tasks', { activityid: id, subject: 'Filed' }, { as: h.me.id });
    const results = await h.connector.writeBatch(
      [{ type: 'create', kind: 'task', write: { attributes: { subject: 'Filed', statecode: 1, statuscode: 5 } }, idempotencyKey: 'half-done' }],
      { actAs: me },
    );
    expect(ok(results[0])).toMatchObject({ id, data: expect.objectContaining({ statecode: 1, statuscode: 5 }) });
    expect(h.simulator.control.count('tasks')).toBe(1);
    // The change set failed on the duplicate key (§2.2/§2.4) and rolled back; one PATCH then set the state.
    expect(topLevel().map((e) => [e.method, e.kind, e.status])).toEqual([
      ['POST', 'batch', 200],
      ['GET', 'retrieve', 200],
      ['PATCH', 'update', 200],
      ['GET', 'retrieve', 200],
    ]);
  });

  it('reads the parts whatever the status of the $batch response after a failure (§2.6 UNCONFIRMED)', async () => {
    // 503 and 429 too: a `$batch` answered with its parts ran them, so it is read, never re-sent (a resend would apply
    // the creates twice over and turn the applied update into a ConcurrencyError).
    for (const status of [200, 400, 503, 429]) {
      await start({ knobs: { batchFailureStatus: { stopped: status, continued: status } } });
      const stale = await h.connector.create('contact', { attributes: { lastname: 'Stale' } }, { actAs: me, idempotencyKey: `stale-${status}` });
      await h.world.editRecord('contact', stale.id, { jobtitle: 'Moved on' });
      const results = await h.connector.writeBatch(
        [
          createContact(1),
          { type: 'update', kind: 'contact', id: stale.id, write: { attributes: { jobtitle: 'Mine' } }, ifMatch: stale.version },
          createContact(2),
        ],
        { actAs: me },
      );
      expect(results.map((r) => (r.ok ? 'ok' : r.error.name))).toEqual(['ok', 'ConcurrencyError', 'ok']);
      expect(error(results[1])).toBeInstanceOf(ConcurrencyError);
      // The write batch once, then the batched read-back of the two records written.
      expect(h.simulator.requestLog.entries.filter((e) => e.kind === 'batch').map((e) => e.status)).toEqual([status, 200]);
      await h.close();
    }
    h = await startHarness();
  });

  it('a $batch refused as a whole throws: AuthError for 403', async () => {
    await start({ knobs: { faults: [{ status: 403, code: '0x80040220', message: 'Principal user is missing prvCreateContact privilege.', times: 1, match: { method: 'POST' } }] } });
    await expect(h.connector.writeBatch([createContact(1)], { actAs: me })).rejects.toBeInstanceOf(AuthError);
    expect(h.simulator.control.count('contacts')).toBe(0);
  });
});
