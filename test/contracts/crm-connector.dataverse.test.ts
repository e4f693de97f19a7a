import { TIME_ZONE_CODES } from '../../src/simulators/dataverse';
import { ENTITY_SETS, startHarness } from '../adapters/dataverse/harness';
import {
  describeCrmConnectorContract,
  describeCrmDeletedRecordsContract,
  describeCrmTimeZoneContract,
  type ContractTimeZone,
} from './crm-connector.contract';

// The Dataverse connector against the Dataverse simulator (dataverse-behaviour.md §7 checklist), through msal-node,
// HTTPS and the Web API exactly as production uses them.
describeCrmConnectorContract('Dataverse on the simulator', () => startHarness());

// The recycle bin per table (knob `recycleBin`): on for the kinds kept, and no bin configured at all when none is.
describeCrmDeletedRecordsContract('Dataverse on the simulator', ({ keepDeleted }) =>
  startHarness({ knobs: { recycleBin: Object.fromEntries(keepDeleted.map((kind) => [ENTITY_SETS[kind], true])) } }),
);

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
