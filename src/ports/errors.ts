// Error types exist only where the caller acts differently (DESIGN.md §8). Adapters translate service errors into
// these; the app branches on them with `instanceof`.

/** A transient failure (throttling, 503/504, network) that the single retry layer gave up on; retry the item later. */
export class TransientError extends Error {
  constructor(message: string, readonly retryAfterInMs: number | null = null, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TransientError';
  }
}

/** Credentials were refused or a token could not be obtained: stop the mailbox, alert the admin. */
export class AuthError extends Error {
  /** The HTTP status that refused the request (401: no valid token; 403: a missing privilege), when one did. */
  readonly status: number | null;
  constructor(message: string, options?: { cause?: unknown; status?: number }) {
    super(message, options);
    this.name = 'AuthError';
    this.status = options?.status ?? null;
  }
}

/** A change cursor (Graph delta link, Dataverse delta token) is no longer valid: full re-read under a new epoch. */
export class ResyncRequiredError extends Error {
  constructor(readonly stream: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ResyncRequiredError';
  }
}

/** Optimistic concurrency lost: the row or record changed since it was read (412, ETag mismatch). Re-read, re-plan. */
export class ConcurrencyError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConcurrencyError';
  }
}

/** The service refused this one item for a reason that a retry will not fix; the item fails alone. */
export class ItemRejectedError extends Error {
  constructor(readonly reason: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ItemRejectedError';
  }
}

/** A broken internal invariant (a bug): never swallowed. */
export class InvariantError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvariantError';
  }
}
