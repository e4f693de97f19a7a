import { startHarness } from '../adapters/dataverse/harness';
import { describeCrmConnectorContract } from './crm-connector.contract';

// The Dataverse connector against the Dataverse simulator (dataverse-behaviour.md §7 checklist), through msal-node,
// HTTPS and the Web API exactly as production uses them.
describeCrmConnectorContract('Dataverse on the simulator', () => startHarness());
