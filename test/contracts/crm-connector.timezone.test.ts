// The user's time zone through both CRM connectors (the contract block at the end of crm-connector.contract.ts).
import { InMemoryCrmConnector } from '../../src/adapters/memory/crm-connector';
import { TIME_ZONE_CODES } from '../../src/simulators/dataverse';
import { startHarness } from '../adapters/dataverse/harness';
import { describeCrmTimeZoneContract, type ContractTimeZone } from './crm-connector.contract';

/** TimeZoneDefinition codes of the simulator's rows (src/simulators/dataverse/schema.ts). */
const CODES: Record<ContractTimeZone, number> = {
  UTC: TIME_ZONE_CODES.utc,
  'Eastern Standard Time': TIME_ZONE_CODES.eastern,
  'AUS Eastern Standard Time': TIME_ZONE_CODES.ausEastern,
  'India Standard Time': TIME_ZONE_CODES.india,
};

describeCrmTimeZoneContract('in-memory CRM', async () => {
  const connector = new InMemoryCrmConnector({ pageSize: 2 });
  connector.addUser({ address: 'megan@contoso.example' });
  const other = connector.addUser({ address: 'otto@contoso.example' });
  const unsupported = async (): Promise<never> => {
    throw new Error('not used by the time-zone contract');
  };
  return {
    connector,
    world: {
      meAddress: 'megan@contoso.example',
      otherUserId: other.id,
      pageSize: 2,
      createRecord: unsupported,
      editRecord: unsupported,
      deleteRecord: unsupported,
      reassign: unsupported,
      expireCursors: unsupported,
    },
    setMyTimeZone: async (zone) => connector.setUserTimeZone('megan@contoso.example', zone),
    close: async () => undefined,
  };
});

describeCrmTimeZoneContract('Dataverse on the simulator', async () => {
  const harness = await startHarness();
  return {
    ...harness,
    setMyTimeZone: async (zone) => harness.simulator.control.setUserTimeZoneCode(harness.me.id, CODES[zone]),
  };
});
