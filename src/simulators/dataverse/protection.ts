// Service protection (dataverse-behaviour.md §3): the per-user request budget over a sliding window with
// Retry-After, and one-shot injected faults (execution-time limit, 503 …). The concurrency limit lives in the HTTP
// layer, where requests are in flight.
import { CODES, DataverseError, MESSAGES } from './errors';
import type { DataverseKnobs, FaultSpec } from './knobs';
import type { Actor } from './records';

export class ServiceProtection {
  /** Accepted request times per budget holder. */
  private readonly windows = new Map<string, { times: number[]; head: number; blockedUntil: number }>();

  constructor(
    private readonly knobs: () => DataverseKnobs,
    private readonly now: () => number,
  ) {}

  /** One-shot injected faults (knob `faults`), matched on method and entity set. */
  checkFaults(method: string, entitySet: string | null): void {
    const faults = this.knobs().faults;
    const index = faults.findIndex(
      (f) =>
        f.times > 0 &&
        (!f.match?.method || f.match.method.toUpperCase() === method.toUpperCase()) &&
        (!f.match?.entitySet || f.match.entitySet === entitySet),
    );
    if (index < 0) return;
    const fault = faults[index] as FaultSpec;
    fault.times--;
    if (fault.times <= 0) faults.splice(index, 1);
    const headers: Record<string, string> = {};
    if (fault.retryAfterSeconds !== undefined) headers['Retry-After'] = String(fault.retryAfterSeconds);
    else if (fault.status === 429) headers['Retry-After'] = String(this.knobs().retryAfterSeconds);
    throw new DataverseError(fault.status, fault.code, fault.message, headers);
  }

  /**
   * §3: requests per sliding window per user; a `$batch` counts once. Rejected requests do not consume the budget.
   * Returns the debug header with the remaining budget (§3 `x-ms-ratelimit-burst-remaining-xrm-requests`).
   */
  checkRequestLimit(actor: Actor): Record<string, string> {
    const limit = this.knobs().requestLimit;
    if (!limit) return {};
    // Which user's budget an impersonated call consumes is UNCONFIRMED (§5): knob.
    const key = this.knobs().throttleBudgetPer === 'caller' ? actor.callerId : actor.realCallerId;
    let window = this.windows.get(key);
    if (!window) {
      window = { times: [], head: 0, blockedUntil: 0 };
      this.windows.set(key, window);
    }
    const now = this.now();
    if (now < window.blockedUntil) {
      // §3: "Continuing to hammer lengthens the Retry-After" (by how much is UNCONFIRMED: knob).
      window.blockedUntil += this.knobs().hammerPenaltySeconds * 1000;
      const retryAfter = Math.max(1, Math.ceil((window.blockedUntil - now) / 1000));
      throw new DataverseError(429, CODES.requestsExceeded, MESSAGES.requestsExceeded, { 'Retry-After': String(retryAfter) });
    }
    const windowMs = limit.windowSeconds * 1000;
    while (window.head < window.times.length && (window.times[window.head] as number) <= now - windowMs) window.head++;
    if (window.head > 4096) {
      window.times.splice(0, window.head);
      window.head = 0;
    }
    const inWindow = window.times.length - window.head;
    if (inWindow >= limit.requests) {
      const oldest = window.times[window.head] as number;
      const retryAfter = Math.max(1, Math.ceil((oldest + windowMs - now) / 1000));
      window.blockedUntil = now + retryAfter * 1000;
      throw new DataverseError(429, CODES.requestsExceeded, MESSAGES.requestsExceeded, { 'Retry-After': String(retryAfter) });
    }
    window.times.push(now);
    return { 'x-ms-ratelimit-burst-remaining-xrm-requests': String(limit.requests - inWindow - 1) };
  }
}
