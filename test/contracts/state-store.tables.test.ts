import { TableClient, type TableServiceClientOptions } from '@azure/data-tables';
import { mailboxPartitionKey } from '../../src/adapters/tables/rules';
import { changeKey, mappingKey, outlookIndexKey } from '../../src/adapters/tables/rows';
import { TableStateStore } from '../../src/adapters/tables/state-store';
import { startAzuriteServices } from '../../src/sandbox/azurite';
import { startAzurite, type AzuriteInstance } from '../support/azurite';
import { describeStateStoreContract } from './state-store.contract';

type PipelinePolicy = NonNullable<TableServiceClientOptions['additionalPolicies']>[number]['policy'];

let azurite: AzuriteInstance;
/** Azurite with the keyed point lookups the benchmarks use (src/sandbox/azurite.ts): it must change nothing observable. */
let keyedAzurite: AzuriteInstance;
let suite = 0;

beforeAll(async () => {
  [azurite, keyedAzurite] = await Promise.all([startAzurite({ table: true }), startAzuriteServices({ table: true, queue: false }, { keyedPointLookups: true })]);
});

afterAll(async () => {
  await Promise.all([azurite?.stop(), keyedAzurite?.stop()]);
});

describeStateStoreContract('Azure Table Storage (Azurite)', () => tableFixture(azurite));
describeStateStoreContract('Azure Table Storage (Azurite with keyed point lookups, as the benchmarks run it)', () => tableFixture(keyedAzurite));

async function tableFixture(emulator: AzuriteInstance) {
  let transactions = 0;
  // Counts entity group transactions as they go over the wire (POST .../$batch).
  const countBatches: PipelinePolicy = {
    name: 'countBatches',
    sendRequest: (request, next) => {
      if (request.method === 'POST' && request.url.endsWith('$batch')) transactions += 1;
      return next(request);
    },
  };
  suite += 1;
  const store = new TableStateStore({
    connection: { connectionString: emulator.connectionString },
    tablePrefix: `T${suite}`,
    clientOptions: { additionalPolicies: [{ policy: countBatches, position: 'perCall' }] },
  });
  return { store, transactions: () => transactions };
}

describe('TableStateStore tombstones', () => {
  // commit.ts: conditional deletes are written as tombstones inside the transaction and removed afterwards; one left
  // behind (a crash between the two) must read as absent and must not block a later insert or change.
  it('a leftover tombstone reads as absent and is stepped over by inserts and new changes', async () => {
    const mailbox = 'alice@contoso.example';
    const store = new TableStateStore({ connection: { connectionString: azurite.connectionString }, tablePrefix: 'Tomb' });
    await store.countChanges(mailbox); // creates the tables
    const table = TableClient.fromConnectionString(azurite.connectionString, 'TombSyncState', { allowInsecureConnection: true });
    const partitionKey = mailboxPartitionKey(mailbox);
    for (const rowKey of [mappingKey('m1'), changeKey('k1'), changeKey('k2')]) await table.createEntity({ partitionKey, rowKey, deleted: true });

    expect(await store.getMapping(mailbox, 'm1')).toBeNull();
    expect(await store.getChange(mailbox, 'k1')).toBeNull();
    expect(await store.countChanges(mailbox)).toBe(0);
    const listed: unknown[] = [];
    for await (const row of store.listMappings(mailbox)) listed.push(row);
    expect(listed).toEqual([]);

    const [inserted, deletedNothing] = await store.commit(mailbox, [
      { mapping: { put: { mapId: 'm1', kind: 'contact', outlookId: 'o1', outlookContainer: 'contacts', crmId: 'c1', state: 'linked', trackedVia: 'crm', baseline: {}, baselineHash: 'h', outlookVersion: null, crmVersion: null, visitedEpoch: 3, verifiedAt: null } } },
      { deleteChange: { key: 'k2' } },
    ]);
    expect(inserted?.ok).toBe(true);
    expect(deletedNothing?.ok).toBe(true);
    expect((await store.findMappingByOutlookId(mailbox, 'contact', 'o1'))?.visitedEpoch).toBe(3);

    await store.recordChanges(mailbox, [{ key: 'k1', kind: 'contact', mapId: null, side: 'crm', change: 'deleted', at: '2026-01-01T00:00:00Z' }]);
    expect(await store.getChange(mailbox, 'k1')).toMatchObject({ crmChange: 'deleted', outlookChange: null, attempts: 0 });
    expect(await store.countChanges(mailbox)).toBe(1);
  });
});

describe('TableStateStore rows written before a column existed', () => {
  it('a mapping row without outlookContainer reads as null, and the next put stores one', async () => {
    const mailbox = 'alice@contoso.example';
    const store = new TableStateStore({ connection: { connectionString: azurite.connectionString }, tablePrefix: 'Old' });
    await store.countChanges(mailbox); // creates the tables
    const table = TableClient.fromConnectionString(azurite.connectionString, 'OldSyncState', { allowInsecureConnection: true });
    const partitionKey = mailboxPartitionKey(mailbox);
    // The shape mappingEntity wrote before the column existed (no outlookContainer property at all).
    await table.createEntity({
      partitionKey,
      rowKey: mappingKey('m1'),
      mapId: 'm1',
      kind: 'task',
      outlookId: 'o1',
      crmId: 'c1',
      state: 'linked',
      trackedVia: 'outlook',
      baselineHash: 'h',
      visitedEpoch: BigInt(2),
      baseline: '{}',
    });
    await table.createEntity({ partitionKey, rowKey: outlookIndexKey('task', 'o1'), mapId: 'm1' });

    const old = await store.findMappingByOutlookId(mailbox, 'task', 'o1');
    expect(old).toMatchObject({ mapId: 'm1', outlookContainer: null, outlookVersion: null, visitedEpoch: 2 });
    const [updated] = await store.commit(mailbox, [{ mapping: { put: { ...(old as NonNullable<typeof old>), outlookContainer: 'list-a' } } }]);
    expect(updated?.ok).toBe(true);
    expect((await store.getMapping(mailbox, 'm1'))?.outlookContainer).toBe('list-a');
  });
});
