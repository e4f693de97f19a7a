// Azurite for one test suite: the project's one launcher (src/sandbox/azurite.ts), in memory on free loopback ports.
// Each jest worker runs its own instances, so suites run in parallel without sharing state.
import { startAzuriteServices, type AzuriteServices } from '../../src/sandbox/azurite';

export { DEV_ACCOUNT, DEV_ACCOUNT_KEY } from '../../src/sandbox/azurite';

export type AzuriteInstance = AzuriteServices;

export function startAzurite(options: { table?: boolean; queue?: boolean } = {}): Promise<AzuriteInstance> {
  return startAzuriteServices({ table: options.table === true, queue: options.queue === true });
}
