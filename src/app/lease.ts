// Phase 1: one synchronizer per mailbox (DESIGN.md §4.1, §8 "Scale-out"). The lease is renewed between phases and
// batches once half its time has passed, and losing it stops the run before it writes anything more.
import type { Clock } from '../ports/clock';
import type { Lease, StateStore } from '../ports/state-store';

export class LeaseLostError extends Error {
  constructor(mailbox: string) {
    super(`lease on mailbox lost: ${mailbox}`);
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

  /** Renew when half the lease time has passed; throws LeaseLostError when another owner took it. */
  async keepAlive(): Promise<void> {
    const now = this.clock.now();
    if (now.getTime() - this.renewedAt < this.ttlMs / 2) return;
    const renewed = await this.store.renewLease(this.lease, this.ttlMs, now);
    if (!renewed) throw new LeaseLostError(this.lease.mailbox);
    this.lease = renewed;
    this.renewedAt = now.getTime();
  }

  async release(): Promise<void> {
    await this.store.releaseLease(this.lease);
  }
}
