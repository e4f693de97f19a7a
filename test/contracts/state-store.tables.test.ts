import type { TableServiceClientOptions } from '@azure/data-tables';
import { TableStateStore } from '../../src/adapters/tables/state-store';
import { startAzurite, type AzuriteInstance } from '../support/azurite';
import { describeStateStoreContract } from './state-store.contract';

type PipelinePolicy = NonNullable<TableServiceClientOptions['additionalPolicies']>[number]['policy'];

let azurite: AzuriteInstance;
let suite = 0;

beforeAll(async () => {
  azurite = await startAzurite({ table: true });
});

afterAll(async () => {
  await azurite?.stop();
});

describeStateStoreContract('Azure Table Storage (Azurite)', async () => {
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
    connection: { connectionString: azurite.connectionString },
    tablePrefix: `T${suite}`,
    clientOptions: { additionalPolicies: [{ policy: countBatches, position: 'perCall' }] },
  });
  return { store, transactions: () => transactions };
});
