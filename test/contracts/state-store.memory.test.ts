import { MemoryStateStore } from '../../src/adapters/memory/state-store';
import { describeStateStoreContract } from './state-store.contract';

describeStateStoreContract('in-memory', async () => {
  const store = new MemoryStateStore();
  return { store, transactions: () => store.transactions };
});
