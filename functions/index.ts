// The Functions host loads package.json "main" (dist/functions/index.js); each import registers one trigger.
import './timer-fan-out';
import './mailbox-sync';
import './sync-now';
import './status';
