import { TIME_ZONE_CODES } from '../../src/simulators/dataverse';
import { startHarness } from '../adapters/dataverse/harness';
import { describeCrmConnectorContract, describeCrmTimeZoneContract, type ContractTimeZone } from './crm-connector.contract';

// The Dataverse connector against the Dataverse simulator (dataverse-behaviour.md §7 checklist), through msal-node,
// HTTPS and the Web API exactly as production uses them.
describeCrmConnectorContract('Dataverse on the simulator', () => startHarness());

/** TimeZoneDefinition codes of the simulator's rows (src/simulators/dataverse/schema.ts). */
const CODES: Record<ContractTimeZone, number> = {
  UTC: TIME_ZONE_CODES.utc,
  'Eastern Standard Time': TIME_ZONE_CODES.eastern,
  'AUS Eastern Standard Time': TIME_ZONE_CODES.ausEastern,
  'India Standard Time': TIME_ZONE_CODES.india,
};

describeCrmTimeZoneContract('Dataverse on the simulator', async () => {
  const harness = await startHarness();
  return { ...harness, setMyTimeZone: async (zone) => harness.simulator.control.setUserTimeZoneCode(harness.me.id, CODES[zone]) };
});
