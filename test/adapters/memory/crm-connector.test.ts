// The in-memory CRM's writeBatch beyond the contract: how tests tell a batch from single calls, and its faults.
import { InMemoryCrmConnector } from '../../../src/adapters/memory/crm-connector';
import type { CrmUser, CrmWriteOp } from '../../../src/ports/crm-connector';
import { ItemRejectedError, TransientError } from '../../../src/ports/errors';

describe('InMemoryCrmConnector.writeBatch', () => {
  let crm: InMemoryCrmConnector;
  let me: CrmUser;
  const create = (n: number): CrmWriteOp => ({ type: 'create', kind: 'contact', write: { attributes: { lastname: `C${n}` } }, idempotencyKey: `k${n}` });

  beforeEach(() => {
    crm = new InMemoryCrmConnector();
    me = crm.addUser({ address: 'megan@contoso.example' });
  });

  it('counts one batch and its writes, and the writes among creates/updates/deletes', async () => {
    const made = await crm.create('contact', { attributes: { lastname: 'Single' } }, { actAs: me, idempotencyKey: 'single' });
    await crm.writeBatch([create(1), create(2), { type: 'update', kind: 'contact', id: made.id, write: { attributes: { jobtitle: 'x' } }, ifMatch: '*' }, { type: 'delete', kind: 'contact', id: made.id }], { actAs: me });
    expect(crm.counters).toMatchObject({ batch: 1, batchedWrites: 4, create: 3, update: 1, delete: 1 });
  });

  it('rejectNextWrite fails the first write of the batch alone and changes nothing for it', async () => {
    crm.rejectNextWrite('crm-validation-failed');
    const results = await crm.writeBatch([create(1), create(2)], { actAs: me });
    expect(results[0]?.ok).toBe(false);
    expect(!results[0]?.ok && results[0]?.error).toBeInstanceOf(ItemRejectedError);
    expect(results[1]?.ok).toBe(true);
    expect(crm.all('contact').map((r) => r.data.lastname)).toEqual(['C2']);
  });

  it('a lost create response loses the whole answer after every write was applied; the retry finds them', async () => {
    crm.loseNextCreateResponse();
    await expect(crm.writeBatch([create(1), create(2)], { actAs: me })).rejects.toBeInstanceOf(TransientError);
    expect(crm.all('contact')).toHaveLength(2);
    const retried = await crm.writeBatch([create(1), create(2)], { actAs: me });
    expect(retried.every((r) => r.ok)).toBe(true);
    expect(crm.all('contact')).toHaveLength(2);
  });

  it('a write with a read-only attribute fails alone and leaves its record as it was', async () => {
    const made = await crm.create('contact', { attributes: { lastname: 'Kept' } }, { actAs: me, idempotencyKey: 'kept' });
    const results = await crm.writeBatch(
      [{ type: 'update', kind: 'contact', id: made.id, write: { attributes: { jobtitle: 'Changed', _ownerid_value: 'x' } }, ifMatch: made.version }],
      { actAs: me },
    );
    expect(!results[0]?.ok && results[0]?.error).toBeInstanceOf(ItemRejectedError);
    expect(crm.peek('contact', made.id)).toEqual(made);
  });
});
