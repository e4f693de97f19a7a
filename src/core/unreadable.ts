// A value one side holds but the core cannot interpret (DESIGN.md §5: "empty ≡ missing" must not swallow it). A field
// read as unreadable is left out of the merge: it keeps its baseline value and neither side is written, because
// writing null (or the other side's value) over a value we could not read would destroy it.
import type { ReasonCode } from './model';

/** Returned by a mapping's `read` in place of a value it cannot interpret; never stored or written. */
export class UnreadableValue {
  constructor(readonly reason: ReasonCode) {}
}

/** A field left out of a plan because one side's value could not be read (the plan's `unreadable` list). */
export interface UnreadableField {
  field: string;
  side: 'outlook' | 'crm';
  /** e.g. `unknown-time-zone`. */
  reason: ReasonCode;
}

export const UNKNOWN_TIME_ZONE: ReasonCode = 'unknown-time-zone';
