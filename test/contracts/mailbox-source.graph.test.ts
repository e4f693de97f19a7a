// The MailboxSource contract against the real Graph adapter: msal-node and the Graph SDK over HTTPS to the simulator.
import { startSimulatedHarness } from '../adapters/graph/simulator-harness';
import { describeMailboxSourceContract } from './mailbox-source.contract';

describeMailboxSourceContract('Graph adapter on the Graph simulator', () => startSimulatedHarness());
