import { performance } from 'node:perf_hooks';
import { runMailboxCycle } from '../src/app/cycle';
import { startWorld } from './env';
import { seedMailbox } from './seed';

async function main(): Promise<void> {
  const mailbox = 'proto@contoso.test';
  const n = Number(process.env.N ?? 200);
  const world = await startWorld([mailbox]);
  try {
    seedMailbox(world, mailbox, { contacts: n, events: n / 2, tasks: n / 5, messages: n * 2, trackedMessages: n / 10, trackedShare: 1 });
    for (let c = 0; c < 3; c++) {
      world.graph.requestLog.reset();
      world.dataverse.requestLog.reset();
      const t = performance.now();
      const s = await runMailboxCycle(world.runtime.depsFor(`c${c}`), world.runtime.settingsFor(mailbox), { ...world.runtime.cycleOptions, maxChangesPerRun: 100000 });
      console.log(c, Math.round(performance.now() - t), 'ms', s.outcome, JSON.stringify(s.counts), JSON.stringify(s.requests), s.failures.slice(0, 3));
      console.log(JSON.stringify(world.graph.requestLog.summary()));
    }
  } finally {
    await world.stop();
  }
}
void main();
