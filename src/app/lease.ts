// Phase 1: one synchronizer per mailbox (DESIGN.md §4.1, §8 "Scale-out"). The lease is renewed between phases and
// batches once half its time has passed, and losing it stops the run before it writes anything more.
import type { Clock } from '../ports/clock';
import type { Lease, StateStore } from '../ports/state-store';

export class LeaseLostError extends Error {
  constructor(mailbox: string, cause?: unknown) {
    super(`lease on mailbox lost: ${mailbox}`, cause === undefined ? undefined : { cause });
    this.name = 'LeaseLostError';
  }
}

export class LeaseKeeper {
  private renewedAt: number;

  private constructor(
    private lease: Lease,
    private readonly store: StateStore,
    private readonly clock: Clock,
    private readonly ttlMs: number,
  ) {
    this.renewedAt = clock.now().getTime();
  }

  /** Null when another owner holds a live lease. */
  static async acquire(
    store: StateStore,
    clock: Clock,
    mailbox: string,
    owner: string,
    ttlMs: number,
  ): Promise<LeaseKeeper | null> {
    const lease = await store.acquireLease(mailbox, owner, ttlMs, clock.now());
    return lease ? new LeaseKeeper(lease, store, clock, ttlMs) : null;
  }

  /**
   * Called before every write of the run. Renews once half the lease time has passed. Throws LeaseLostError when
   * another owner took the lease, or when the renewal failed (the store unreachable) and the lease is about to expire:
   * past `expiresAt - margin` another instance may take it any moment, and two writers must never run (DESIGN.md §4.1).
   * A failed renewal well before that point is retried at the next call.
   */
  async keepAlive(): Promise<void> {
    const now = this.clock.now();
    if (now.getTime() - this.renewedAt < this.ttlMs / 2) return;
    let renewed: Lease | null;
    try {
      renewed = await this.store.renewLease(this.lease, this.ttlMs, now);
    } catch (error) {
      if (now.getTime() > Date.parse(this.lease.expiresAt) - this.marginMs()) throw new LeaseLostError(this.lease.mailbox, error);
      return;
    }
    if (!renewed) throw new LeaseLostError(this.lease.mailbox);
    this.lease = renewed;
    this.renewedAt = now.getTime();
  }

  /** How close to expiry a lease that could not be renewed is given up: a tenth of its time, at most a minute. */
  private marginMs(): number {
    return Math.min(this.ttlMs / 10, 60_000);
  }

  async release(): Promise<void> {
    await this.store.releaseLease(this.lease);
  }
}
