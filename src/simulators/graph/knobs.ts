// Behaviour knobs of the Graph simulator. Documented behaviour is always on; each fault and each UNCONFIRMED
// behaviour (graph-behaviour.md) is a knob. All injected faults are off by default; the documented per-mailbox
// concurrency limit (§5.2, §10.10) is on. `simulator.knobs` is the live object:
// tests mutate it between requests, and the counters (`…Next`) count down as the simulator uses them.
//
// Paging and delta (graph-behaviour.md §1)
//   defaultPageSize            10     page size when no `Prefer: odata.maxpagesize` (§1.3); links don't remember it.
//   maxPageSize                1000   cap on `odata.maxpagesize` / `$top` (UNCONFIRMED for delta).
//   tokenGenerationsKept       3      delta/skip tokens older than this many generations of their collection → 410
//                                     SyncStateNotFound (§1.6). Every page served advances the collection's generation.
//   partialUpdates             false  false: updated items carry the full ($select) representation, as Outlook
//                                     samples show; true: only id, etag and the changed properties (§1.4 contract).
//   emptyPagesBeforeData       0      each delta round starts with this many empty pages that carry a nextLink (§1.1).
//   repeatEntry                false  the last entry of every non-final delta page is repeated on the next page (§1.5).
//   dropNextRemoval            0      the next n removals are left out of delta (a lost change; reconciliation must
//                                     catch it).
//   pageSizeOvershoot          0      every delta page carries this many entries beyond the page size (§1.3).
//   evictTokensAfterPages      null   after n more delta pages are served, all tokens of every mailbox are evicted
//                                     (the (n+1)th page request, e.g. a nextLink mid-round, gets 410).
//   removedReason              'deleted'  or 'changed' (§1.4).
// Throttling and faults (§5)
//   throttleNext               0      the next n Graph requests (batch sub-requests included) get 429.
//   retryAfterSeconds          1      Retry-After on 429s; may be fractional (e.g. 0.01) (§5.1).
//   requestBudget              null   {limit, windowSeconds}: per-mailbox request budget (Outlook: 10000 / 600 s);
//                                     over it → 429 TooManyRequests with Retry-After until the window frees up. Off by
//                                     default: bench/incremental (default size, 2,000 tracked items) sends more than
//                                     10,000 requests to one mailbox within two minutes and fails on the ~500 s pause,
//                                     and bench/ starts the simulator with defaults.
//   concurrencyLimit           4      max in-flight requests per mailbox → 429 "Application is over its
//                                     MailboxConcurrency limit." (§5.2, §10.10); null disables. Requests overlap only
//                                     while something awaits (latencyMs > 0), since handlers are synchronous.
//   latencyMs                  0      artificial service time of every Graph request.
//   serverErrorNext            0      the next n Graph requests fail with serverErrorStatus.
//   serverErrorStatus          503    503 or 504 (§5.1).
//   serverErrorRetryAfter      null   Retry-After seconds on those, or null for none.
//   failAfterCommitNext        0      the next n writes (POST/PATCH/PUT/DELETE, batch sub-requests included) that
//                                     succeed are applied, but the client gets failAfterCommitStatus instead of the
//                                     answer: the server acted, the client saw an error (§9.2: retried creates can
//                                     duplicate). Retry-After as serverErrorRetryAfter.
//   failAfterCommitStatus      504    503 or 504 (§5.1).
//   conflictNextPatch          0      the next n PATCHes get 412 ErrorIrresolvableConflict even without If-Match (§8 [R]).
// Authentication (graph-behaviour.md §9.4 error shape)
//   acceptAnyBearer            true   bearer tokens that are not in the identity routes' `simtok.` format are accepted
//                                     unchecked. On by default because plain-fetch callers that start the simulator
//                                     with defaults send made-up tokens ("Outlook on the web" in test/e2e and
//                                     test/functions, test/adapters/graph's plain-user edits, bench/). Tokens in that
//                                     format must have been issued by this simulator, be unexpired and carry this
//                                     simulator's `.default` scope (or Graph's app id); otherwise, and for any other
//                                     token when false, 401 InvalidAuthenticationToken (§9.4 error shape). The adapter
//                                     path (msal-node against the identity routes) passes with it off.
//   tokenLifetimeSeconds       3599   `expires_in` of tokens issued by the identity routes (Entra: about an hour).
// Writes and ids (§2.2, §8)
//   enforceIfMatch             true   If-Match that differs from the current etag → 412 ErrorIrresolvableConflict
//                                     (UNCONFIRMED for Outlook; on by default as graph-behaviour.md §8 asks).
//   transactionIdDedup         true   a second event POST with the same transactionId returns the existing event
//                                     (201) instead of a duplicate: documented intent of `transactionId` (§2.2), exact
//                                     server behaviour UNCONFIRMED.
//   autoCreateUsers            false  unknown users are created on first use instead of 404 ErrorInvalidUser.
//   linkedResourcesFilter      false  To Do task lists accept $filter=linkedResources/any(r: r/externalId eq '…')
//                                     (UNCONFIRMED, §3.5); off → 400 like any unsupported filter.
// Batching (§5.3)
//   batchShuffle               false  sub-responses come back in a shuffled order.
//   batchThrottleNext          0      the next n batch sub-requests get 429 with Retry-After in their headers.
//   batchParallelism           4      sub-requests without dependsOn run at most this many at a time.

export interface RequestBudget {
  limit: number;
  windowSeconds: number;
}

export interface GraphKnobs {
  defaultPageSize: number;
  maxPageSize: number;
  tokenGenerationsKept: number;
  partialUpdates: boolean;
  emptyPagesBeforeData: number;
  repeatEntry: boolean;
  dropNextRemoval: number;
  pageSizeOvershoot: number;
  evictTokensAfterPages: number | null;
  removedReason: 'deleted' | 'changed';
  throttleNext: number;
  retryAfterSeconds: number;
  requestBudget: RequestBudget | null;
  concurrencyLimit: number | null;
  latencyMs: number;
  serverErrorNext: number;
  serverErrorStatus: 503 | 504;
  serverErrorRetryAfter: number | null;
  failAfterCommitNext: number;
  failAfterCommitStatus: 503 | 504;
  conflictNextPatch: number;
  acceptAnyBearer: boolean;
  tokenLifetimeSeconds: number;
  enforceIfMatch: boolean;
  transactionIdDedup: boolean;
  autoCreateUsers: boolean;
  linkedResourcesFilter: boolean;
  batchShuffle: boolean;
  batchThrottleNext: number;
  batchParallelism: number;
}

export function defaultKnobs(): GraphKnobs {
  return {
    defaultPageSize: 10,
    maxPageSize: 1000,
    tokenGenerationsKept: 3,
    partialUpdates: false,
    emptyPagesBeforeData: 0,
    repeatEntry: false,
    dropNextRemoval: 0,
    pageSizeOvershoot: 0,
    evictTokensAfterPages: null,
    removedReason: 'deleted',
    throttleNext: 0,
    retryAfterSeconds: 1,
    requestBudget: null,
    concurrencyLimit: 4,
    latencyMs: 0,
    serverErrorNext: 0,
    serverErrorStatus: 503,
    serverErrorRetryAfter: null,
    failAfterCommitNext: 0,
    failAfterCommitStatus: 504,
    conflictNextPatch: 0,
    acceptAnyBearer: true,
    tokenLifetimeSeconds: 3599,
    enforceIfMatch: true,
    transactionIdDedup: true,
    autoCreateUsers: false,
    linkedResourcesFilter: false,
    batchShuffle: false,
    batchThrottleNext: 0,
    batchParallelism: 4,
  };
}
