// A Runtime for the Functions handlers on the in-memory adapters (the same ports the composition root wires to
// Graph, Dataverse and Azure Storage), with the configuration loaded by the real config module.
import { InMemoryCrmConnector } from '../../src/adapters/memory/crm-connector';
import { MemoryMailboxSource } from '../../src/adapters/memory/mailbox-source';
import { MemoryStateStore } from '../../src/adapters/memory/state-store';
import { MemoryWorkQueue } from '../../src/adapters/memory/work-queue';
import { runtimeOf, type Runtime } from '../../src/composition';
import { loadConfigOrThrow } from '../../src/config';
import type { JsonObject } from '../../src/core/model';
import type { ReceivedMessage, WorkQueue } from '../../src/ports/work-queue';
import { InvocationContext } from '@azure/functions';
import { RecordingLogger } from '../app/support/world';

export const ALICE = 'alice@contoso.example';
export const BOB = 'bob@contoso.example';
export const CATEGORY = 'Tracked to CRM';

export const TEST_ENV = {
  OCS_TENANT_ID: 'contoso.onmicrosoft.com',
  OCS_CLIENT_ID: '11111111-2222-4333-8444-555555555555',
  OCS_CLIENT_SECRET: 'not-a-real-secret-value',
  AzureWebJobsStorage: 'UseDevelopmentStorage=true',
  OCS_CRM_URL: 'https://contoso.crm.dynamics.com',
  OCS_MAILBOXES: `${ALICE};${BOB}`,
};

export class TestClock {
  at = Date.parse('2026-03-02T09:00:00.000Z');
  now(): Date {
    return new Date(this.at);
  }
}

/** Keeps the worker's log lines for assertions (one recording logger for every test harness). */
export const SilentLogger = RecordingLogger;
export type SilentLogger = RecordingLogger;

export interface MemoryWorld {
  runtime: Runtime;
  outlook: MemoryMailboxSource;
  crm: InMemoryCrmConnector;
  store: MemoryStateStore;
  queue: MemoryWorkQueue;
  clock: TestClock;
  /** Every message on the queue (received and completed, so the queue is empty afterwards). */
  drain(): Promise<ReceivedMessage[]>;
}

/** Alice has a CRM user; Bob does not (his cycle fails with `no-crm-user`). */
export function memoryWorld(options: { queue?: WorkQueue; env?: Record<string, string> } = {}): MemoryWorld {
  const config = loadConfigOrThrow({ ...TEST_ENV, ...options.env });
  const clock = new TestClock();
  const outlook = new MemoryMailboxSource({ productGuid: config.productGuid, categoryName: CATEGORY, now: () => clock.now().toISOString() });
  const crm = new InMemoryCrmConnector({ now: () => clock.now() });
  crm.addUser({ address: ALICE });
  const store = new MemoryStateStore();
  const queue = new MemoryWorkQueue(() => clock.at);
  let next = 0;
  const runtime = runtimeOf(
    config,
    { mailboxSource: outlook, crm, store, clock, logger: new SilentLogger(), ids: () => `id-${(next += 1)}`, owner: 'test-worker' },
    options.queue ?? queue,
  );
  return {
    runtime,
    outlook,
    crm,
    store,
    queue,
    clock,
    drain: async () => {
      const messages = await queue.receive(32, 30);
      for (const message of messages) await queue.complete(message);
      return messages;
    },
  };
}

export function trackedContact(given: string, surname: string, email: string): JsonObject {
  return { givenName: given, surname, emailAddresses: [{ address: email, name: `${given} ${surname}` }], categories: [CATEGORY] };
}

/** An InvocationContext as the host would build it, with the log lines captured. */
export function invocation(functionName: string, triggerMetadata: Record<string, unknown> = {}): { context: InvocationContext; logs: string[] } {
  const logs: string[] = [];
  const context = new InvocationContext({
    invocationId: `inv-${functionName}`,
    functionName,
    triggerMetadata,
    logHandler: (level, ...args) => logs.push(`${level}: ${args.map(String).join(' ')}`),
  });
  return { context, logs };
}
