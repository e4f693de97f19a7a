// One benchmark world: Azurite (tables + queues), the Graph and Dataverse simulators, and the worker built through the
// ordinary configuration loader and composition root, exactly as the sandbox and a deployment build it. Everything
// started here is stopped by `stop()`. Request counts come from the simulators' own request logs (requests.ts).
import { randomUUID } from 'node:crypto';
import { TableStateStore } from '../src/adapters/tables/state-store';
import { buildRuntime, runtimeOf, type Runtime } from '../src/composition';
import { loadConfigOrThrow } from '../src/config';
import { DEFAULT_CATEGORY_NAME } from '../src/config/settings';
import type { Logger } from '../src/ports/logger';
import { startAzurite, type AzuriteProcess } from '../src/sandbox/azurite';
import { startDataverseSimulator, type DataverseSimulator } from '../src/simulators/dataverse';
import { startGraphSimulator, type GraphSimulator } from '../src/simulators/graph';

export const CATEGORY = DEFAULT_CATEGORY_NAME;
/** Production default of the composition root (`Prefer: odata.maxpagesize` on delta). */
export const GRAPH_PAGE_SIZE = 100;

export interface BenchWorld {
  graph: GraphSimulator;
  dataverse: DataverseSimulator;
  azurite: AzuriteProcess;
  runtime: Runtime;
  /** The CRM systemuser id of each mailbox. */
  crmUsers: Map<string, string>;
  /** Table Storage HTTP requests (attempts) made by the worker's state store so far, in total and by kind. */
  tableRequests(): number;
  tableRequestsByKind(): Record<string, number>;
  stop(): Promise<void>;
}

/** Warnings and errors only, counted; the benchmarks report them rather than flooding the table. */
export class QuietLogger implements Logger {
  warnings = 0;
  errors = 0;
  readonly samples: string[] = [];
  debug(): void {}
  info(): void {}
  warn(message: string): void {
    this.warnings += 1;
    this.keep(`warn: ${message}`);
  }
  error(message: string): void {
    this.errors += 1;
    this.keep(`error: ${message}`);
  }
  private keep(line: string): void {
    if (this.samples.length < 5 && !this.samples.includes(line)) this.samples.push(line);
  }
}

/** `BENCH_AZURITE_KEYED_LOOKUPS=0` runs Azurite as shipped (every point operation scans the partition). */
export function azuriteKeyedLookups(): boolean {
  return process.env.BENCH_AZURITE_KEYED_LOOKUPS !== '0';
}

export async function startWorld(mailboxes: readonly string[], options: { logger?: Logger; env?: Record<string, string> } = {}): Promise<BenchWorld> {
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
  };
  try {
    // Azurite finds an entity by scanning its partition (src/sandbox/azurite.ts); Azure looks it up by key. With the
    // keyed lookups the emulator's time no longer grows with the mailbox's partition; the requests are the same.
    const azurite = await startAzurite({ keyedPointLookups: azuriteKeyedLookups() });
    stops.push(() => azurite.stop());
    // Throttling is off: the benchmarks count what the worker asks for. A 429 would add retries (and the adapter's
    // pause) to the counts, and under a loaded machine the simulator's in-flight count can trail the client's.
    const graph = await startGraphSimulator({ knobs: { concurrencyLimit: null, requestBudget: null } });
    stops.push(() => graph.stop());
    const dataverse = await startDataverseSimulator();
    stops.push(() => dataverse.stop());

    const crmUsers = new Map<string, string>();
    for (const mailbox of mailboxes) {
      graph.control.createUser(mailbox, mailbox.split('@')[0]);
      crmUsers.set(mailbox, dataverse.control.createUser({ fullname: mailbox.split('@')[0] ?? mailbox, internalemailaddress: mailbox, azureactivedirectoryobjectid: randomUUID() }));
    }
    const config = loadConfigOrThrow({
      OCS_TENANT_ID: 'bench.onmicrosoft.com',
      OCS_CLIENT_ID: '5a4d0b7e-0000-4000-8000-00000000be9c',
      OCS_CLIENT_SECRET: 'bench-client-secret',
      OCS_GRAPH_BASE_URL: graph.baseUrl,
      OCS_AUTHORITY_HOST: graph.baseUrl,
      OCS_EXTRA_CA_PEM: graph.caCert,
      AzureWebJobsStorage: azurite.connectionString,
      OCS_CRM_URL: dataverse.baseUrl,
      OCS_MAILBOXES: mailboxes.join(','),
      ...options.env,
    });
    const built = buildRuntime(config, {
      crmAuthorityHost: dataverse.baseUrl,
      logger: options.logger ?? new QuietLogger(),
      graphPageSize: GRAPH_PAGE_SIZE,
      owner: `bench:${process.pid}`,
    });
    stops.push(() => built.close());
    // The same state store the composition root builds, plus a pipeline policy that counts every HTTP attempt, so
    // the reports can show Table Storage transactions next to the Graph and CRM requests.
    let tableRequests = 0;
    const tableByKind: Record<string, number> = {};
    const store = new TableStateStore({
      connection: { connectionString: azurite.connectionString },
      tablePrefix: config.storage.tablePrefix,
      clientOptions: {
        additionalPolicies: [
          {
            position: 'perRetry',
            policy: {
              name: 'benchTableRequestCounter',
              sendRequest: (request, next) => {
                tableRequests += 1;
                const kind = tableRequestKind(request.method, request.url);
                tableByKind[kind] = (tableByKind[kind] ?? 0) + 1;
                return next(request);
              },
            },
          },
        ],
      },
    });
    const runtime = runtimeOf(config, { ...built.deps, store }, built.queue);
    return { graph, dataverse, azurite, runtime, crmUsers, tableRequests: () => tableRequests, tableRequestsByKind: () => ({ ...tableByKind }), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** `GET SyncState point read`, `GET SyncState query`, `POST $batch`, `PUT SyncLeases`…: what a Table request did. */
export function tableRequestKind(method: string, url: string): string {
  const path = decodeURIComponent(new URL(url).pathname).split('/').filter(Boolean).pop() ?? '';
  if (path === '$batch') return `${method} $batch`;
  const table = path.replace(/\(.*$/, '');
  const shape = /\(PartitionKey=/.test(path) ? ' point' : method === 'GET' ? ' query' : '';
  return `${method} ${table}${shape}`;
}
