// The Dataverse connector wired to a fresh Dataverse simulator through the real auth path (msal-node client
// credentials against the simulator's identity routes) and a recording fetch.
import { DataverseCrmConnector, dataverseTokenProvider } from '../../../src/adapters/dataverse';
import type { DataverseConnectorOptions } from '../../../src/adapters/dataverse';
import { trustedFetch, type Fetch } from '../../../src/adapters/http/trusted-fetch';
import type { CrmParty, ItemKind, JsonObject } from '../../../src/core/model';
import { startDataverseSimulator, type DataverseKnobs, type DataverseSimulator } from '../../../src/simulators/dataverse';
import type { CrmContractSetup, CrmWorld } from '../../contracts/crm-connector.contract';

export const ENTITY_SETS: Record<ItemKind, string> = { contact: 'contacts', appointment: 'appointments', task: 'tasks', email: 'emails' };

export interface RecordedRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string | null;
}

export interface Harness extends CrmContractSetup {
  simulator: DataverseSimulator;
  connector: DataverseCrmConnector;
  requests: RecordedRequest[];
  me: { id: string; azureObjectId: string; address: string };
  other: { id: string; azureObjectId: string };
  sleeps: number[];
  /** A wire fault: rewrite rows of collection responses on their way to the connector. */
  corruptRows: ((row: Record<string, unknown>) => Record<string, unknown>) | null;
}

export async function startHarness(
  options: { knobs?: Partial<DataverseKnobs>; pageSize?: number; connector?: Partial<DataverseConnectorOptions> } = {},
): Promise<Harness> {
  const simulator = await startDataverseSimulator({ knobs: options.knobs ?? {} });
  const { control } = simulator;
  const me = { id: '', azureObjectId: 'a1b2c3d4-0000-4000-8000-00000000000a', address: 'megan@contoso.example' };
  me.id = control.createUser({ fullname: 'Megan Bowen', internalemailaddress: me.address, azureactivedirectoryobjectid: me.azureObjectId });
  const other = { id: '', azureObjectId: 'a1b2c3d4-0000-4000-8000-00000000000b' };
  other.id = control.createUser({ fullname: 'Otto Other', internalemailaddress: 'otto@contoso.example', azureactivedirectoryobjectid: other.azureObjectId });

  const requests: RecordedRequest[] = [];
  let harness: Harness | null = null;
  const base = trustedFetch(simulator.caCert ?? undefined);
  const recording: Fetch = async (input, init) => {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries((init?.headers ?? {}) as Record<string, string>)) headers[name.toLowerCase()] = value;
    const url = String(input);
    requests.push({ method: init?.method ?? 'GET', url, headers, body: typeof init?.body === 'string' ? init.body : null });
    const response = await base(input, init);
    const corrupt = harness?.corruptRows;
    if (corrupt && (response.headers.get('content-type') ?? '').includes('json')) {
      const body = (await response.json()) as { value?: Record<string, unknown>[] };
      if (Array.isArray(body.value)) body.value = body.value.map(corrupt);
      return new Response(JSON.stringify(body), { status: response.status, headers: response.headers });
    }
    return response;
  };
  const sleeps: number[] = [];
  // Throttling waits advance a fake clock instead of the test's time, so they can be counted exactly.
  let clock = Date.now();
  const pageSize = options.pageSize ?? 2;
  const connector = new DataverseCrmConnector({
    environmentUrl: simulator.baseUrl,
    getToken: dataverseTokenProvider({
      authorityHost: simulator.baseUrl,
      tenantId: 'contoso',
      clientId: '11111111-1111-4111-8111-111111111111',
      credential: { secret: 'secret' },
      environmentUrl: simulator.baseUrl,
      extraCaPem: simulator.caCert ?? undefined,
    }),
    fetch: recording,
    pageSize,
    readBatchSize: 2,
    sleep: async (ms) => {
      sleeps.push(ms);
      clock += ms;
    },
    now: () => clock,
    ...options.connector,
  });

  const world: CrmWorld = {
    meAddress: me.address,
    otherUserId: other.id,
    pageSize,
    createRecord: async (kind, record) =>
      control.seed(ENTITY_SETS[kind], { ...record.attributes, ...partiesBody(kind, record.parties) }, { as: record.ownerId }),
    editRecord: async (kind, id, attributes) => control.update(ENTITY_SETS[kind], id, attributes),
    deleteRecord: async (kind, id) => {
      control.remove(ENTITY_SETS[kind], id);
    },
    reassign: async (kind, id, ownerId) => control.reassign(ENTITY_SETS[kind], id, ownerId),
    // dataverse-behaviour.md §1.5: tokens older than the retention fail with ExpiredVersionStamp.
    expireCursors: async () => control.expireDeltaTokens(),
    // The simulator applies the next write and drops the connection instead of answering.
    loseNextCreateResponse: async () => {
      simulator.knobs.failAfterCommitNext += 1;
      simulator.knobs.failAfterCommitMode = 'drop';
    },
  };
  harness = { simulator, connector, world, requests, me, other, sleeps, corruptRows: null, close: () => simulator.stop() };
  return harness;
}

/** dataverse-behaviour.md §4.2: parties are written through the activity's party navigation property. */
function partiesBody(kind: ItemKind, parties: CrmParty[] | undefined): JsonObject {
  if (!parties || parties.length === 0) return {};
  return {
    [`${kind}_activity_parties`]: parties.map((party) => {
      const row: JsonObject = { participationtypemask: party.participationTypeMask };
      if (party.party) row[`partyid_${party.party.entity}@odata.bind`] = `/${party.party.entity}s(${party.party.id})`;
      if (party.address) row.addressused = party.address;
      return row;
    }),
  };
}
