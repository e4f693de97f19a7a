// The sandbox `npm start` runs when nothing is configured: Azurite, the Graph and Dataverse simulators in-process,
// a demo mailbox and its CRM user seeded with a little of everything, and the settings (in the same form as the app
// settings of a real deployment) that point the worker at them. The worker then runs through the ordinary
// configuration loader and composition root, so the sandbox exercises the production code path end to end.
import type { AddressInfo } from 'node:net';
import { serveDataverseControl } from '../simulators/cli';
import { startDataverseSimulator, type DataverseSimulator } from '../simulators/dataverse';
import { startGraphSimulator, type GraphSimulator } from '../simulators/graph';
import { startAzurite, type AzuriteProcess } from './azurite';
import { seedDemo, type DemoSeed } from './seed';

export const SANDBOX_MAILBOX = 'demo@contoso.test';
/** Every 30 seconds, so a person watching sees cycles; a deployment defaults to every 15 minutes. */
export const SANDBOX_SCHEDULE = '*/30 * * * * *';

export interface Sandbox {
  /** App settings for the worker, as a deployment would have them. Only simulator values: nothing here is secret. */
  env: Record<string, string>;
  /** The Dataverse simulator issues its own tokens (see BuildOptions.crmAuthorityHost). */
  crmAuthorityHost: string;
  mailbox: string;
  graph: GraphSimulator;
  dataverse: DataverseSimulator;
  azurite: AzuriteProcess;
  /** The Dataverse simulator's control routes over plain HTTP (`/_sim/...`, see src/simulators/cli.ts). */
  dataverseControlUrl: string;
  seed: DemoSeed;
  /** What runs where, for people. */
  describe(): string[];
  stop(): Promise<void>;
}

export async function startSandbox(options: { schedule?: string } = {}): Promise<Sandbox> {
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  };
  try {
    const azurite = await startAzurite();
    stops.push(() => azurite.stop());
    const graph = await startGraphSimulator();
    stops.push(() => graph.stop());
    const dataverse = await startDataverseSimulator();
    stops.push(() => dataverse.stop());
    const control = await serveDataverseControl(dataverse, 0);
    stops.push(async () => {
      control.closeAllConnections();
      await new Promise<void>((resolve) => control.close(() => resolve()));
    });
    const dataverseControlUrl = `http://127.0.0.1:${(control.address() as AddressInfo).port}/`;
    const seed = seedDemo(graph, dataverse, SANDBOX_MAILBOX);
    const env: Record<string, string> = {
      OCS_TENANT_ID: 'sandbox.onmicrosoft.com',
      OCS_CLIENT_ID: '5a4d0b7e-0000-4000-8000-00000000c11e',
      OCS_CLIENT_SECRET: 'sandbox-client-secret',
      OCS_GRAPH_BASE_URL: graph.baseUrl,
      OCS_AUTHORITY_HOST: graph.baseUrl,
      OCS_EXTRA_CA_PEM: graph.caCert,
      AzureWebJobsStorage: azurite.connectionString,
      OCS_CRM_URL: dataverse.baseUrl,
      OCS_MAILBOXES: SANDBOX_MAILBOX,
      OCS_SCHEDULE: options.schedule ?? SANDBOX_SCHEDULE,
    };
    return {
      env,
      crmAuthorityHost: dataverse.baseUrl,
      mailbox: SANDBOX_MAILBOX,
      graph,
      dataverse,
      azurite,
      dataverseControlUrl,
      seed,
      describe: () => [
        `Graph simulator:     ${graph.baseUrl}  (control: ${graph.baseUrl}_sim/users, _sim/users/${SANDBOX_MAILBOX}/items?kind=contact, _sim/requests, _sim/knobs)`,
        `Dataverse simulator: ${dataverse.apiUrl}`,
        `Azurite:             tables ${azurite.tableUrl}, queues ${azurite.queueUrl}`,
        `Demo mailbox:        ${SANDBOX_MAILBOX} (${seed.outlook.contacts} contacts, ${seed.outlook.events} events, ${seed.outlook.tasks} tasks, ${seed.outlook.messages} messages; ${seed.outlook.tracked} tracked)`,
        `Demo CRM user:       ${seed.crm.userId} (${seed.crm.contacts} contacts, ${seed.crm.appointments} appointments, ${seed.crm.tasks} tasks it owns)`,
        'Try it while cycles run (the simulators accept any bearer token):',
        `  edit in "Outlook": curl -sk -X PATCH -H 'Authorization: Bearer demo' -H 'Content-Type: application/json' ${graph.baseUrl}v1.0/users/${SANDBOX_MAILBOX}/contacts/${encodeURIComponent(seed.outlook.sampleContactId)} -d '{"jobTitle":"Head of Retail"}'`,
        `  edit in the CRM:   curl -s -X PATCH ${dataverseControlUrl}_sim/tables/contacts/${seed.crm.sampleContactId} -d '{"jobtitle":"Head of Buying"}'`,
        `  look:              curl -sk '${graph.baseUrl}_sim/users/${SANDBOX_MAILBOX}/items?kind=contact'   ·   curl -s ${dataverseControlUrl}_sim/tables/contacts`,
      ],
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
