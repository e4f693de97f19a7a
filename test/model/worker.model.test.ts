// Model-based test of the whole worker (issue 7, sync-lessons.md §5.4): random sequences of user edits on both sides,
// service faults, crashes and cycles, run against the real cycle on the in-memory adapters and a reference model.
// Invariants are checked after every cycle; convergence, the merge oracle and quiescence at the end.
//
// Profiles: the fast one runs in `npm test`; `MODEL_RUNS=long` runs many more and longer sequences.
// Replay a failure with what fast-check prints, in the same profile and on the same code:
//   MODEL_SEED=<seed> MODEL_PATH=<path> MODEL_REPLAY_PATH=<replayPath from the counterexample> npx jest test/model/worker
// MODEL_AVOID=none also walks into the open bugs pinned in regressions.test.ts (by default the run steers around them).
import fc from 'fast-check';
import { commandArbitraries, type ModelCommand } from './support/commands';
import { Runner } from './support/harness';
import { AVOID_KNOWN_ISSUES, AVOID_NOTHING } from './support/reference';

const long = process.env.MODEL_RUNS === 'long';
const numRuns = Number(process.env.MODEL_NUM_RUNS ?? (long ? 2_000 : 100));
const maxCommands = long ? 80 : 30;
const seed = process.env.MODEL_SEED === undefined ? undefined : Number(process.env.MODEL_SEED);
const path = process.env.MODEL_PATH;
const replayPath = process.env.MODEL_REPLAY_PATH;
const avoid = process.env.MODEL_AVOID === 'none' ? AVOID_NOTHING : AVOID_KNOWN_ISSUES;

const executed = { commands: 0, cycles: 0, faulty: 0, crashed: 0, heldDeletes: 0, conflicts: 0, deletes: 0 };

async function runCommands(commands: Iterable<ModelCommand>): Promise<void> {
  const runner = new Runner({ avoid });
  try {
    await fc.asyncModelRun(() => ({ model: runner.model, real: runner }), commands);
    await runner.settle();
    executed.commands += runner.trace.filter((line) => !line.startsWith(' ')).length;
    executed.cycles += runner.stats.cycles;
    executed.faulty += runner.stats.faulty;
    executed.crashed += runner.stats.crashed;
    executed.heldDeletes += runner.stats.heldDeletes;
    executed.conflicts += runner.stats.conflicts;
    executed.deletes += runner.stats.deletes;
  } catch (error) {
    // The trace shows what each command did and each cycle's outcome, next to fast-check's seed and path.
    if (error instanceof Error) error.message += `\ntrace:\n${runner.trace.join('\n')}`;
    throw error;
  }
}

describe('the worker against the reference model', () => {
  it(
    `keeps every invariant and converges (${numRuns} runs of ≤ ${maxCommands} commands${long ? ', long profile' : ''})`,
    async () => {
      const started = Date.now();
      let runs = 0;
      await fc.assert(
        fc.asyncProperty(fc.commands(commandArbitraries, { maxCommands, size: 'max', ...(replayPath !== undefined ? { replayPath } : {}) }), async (cmds) => {
          runs += 1;
          await runCommands(cmds);
        }),
        {
          numRuns,
          ...(seed !== undefined ? { seed } : {}),
          ...(path !== undefined ? { path, endOnFailure: true } : {}),
          // The failure message carries the seed, the path and the shrunk sequence (written as code, for regressions).
          verbose: fc.VerbosityLevel.Verbose,
        },
      );
      if (long || process.env.MODEL_STATS) {
        console.log(`model runs: ${runs} (incl. shrinking); passing runs: ${JSON.stringify(executed)}; ${Math.round((Date.now() - started) / 1000)} s`);
      }
    },
    long ? 4 * 60 * 60_000 : 120_000,
  );
});
