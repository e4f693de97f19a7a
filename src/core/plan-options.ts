// Inputs and outputs of the planner that the shared contracts in plan.ts (owned elsewhere) do not carry yet. Both are
// optional extensions: a PlanContext without them plans as before, and a Plan without `unreadable` has nothing to say.
// Proposed for plan.ts: add `skewToleranceMs?: number` to PlanContext and `unreadable?: UnreadableField[]` to Plan.
import type { Plan, PlanContext } from './plan';
import type { UnreadableField } from './unreadable';

export interface PlanContextExtras {
  /**
   * `latest` conflicts: Graph and CRM timestamps closer than this count as equal and go to the tie-break
   * (sync-lessons.md §1.3). Default DEFAULT_SKEW_TOLERANCE_MS (src/core/merge.ts), two minutes.
   */
  skewToleranceMs?: number;
}

export type ExtendedPlanContext = PlanContext & PlanContextExtras;

export interface PlanNotes {
  /**
   * Fields left out of this plan because one side's value could not be read (e.g. `unknown-time-zone`): neither side
   * was written for them and the baseline keeps its value. Present only when non-empty; the app should log it.
   */
  unreadable?: UnreadableField[];
}

export type PlanWithNotes = Plan & PlanNotes;

export function skewToleranceOf(context: PlanContext): number | undefined {
  const value = (context as ExtendedPlanContext).skewToleranceMs;
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}
