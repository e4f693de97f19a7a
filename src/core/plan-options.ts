// Former side types for PlanContext/Plan extensions, now fields of the contracts in plan.ts (`skewToleranceMs`,
// `ownerAddress` on PlanContext; `unreadable` on Plan). Kept as aliases for code that imports them.
import type { Plan, PlanContext } from './plan';

export type PlanContextExtras = Pick<PlanContext, 'skewToleranceMs' | 'ownerAddress'>;

export type ExtendedPlanContext = PlanContext;

export type PlanNotes = Pick<Plan, 'unreadable'>;

export type PlanWithNotes = Plan;

export function skewToleranceOf(context: PlanContext): number | undefined {
  const value = context.skewToleranceMs;
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}
