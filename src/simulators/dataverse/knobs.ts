// Everything the reference leaves UNCONFIRMED, and every fault, is a knob (brief: "Unconfirmed behaviour becomes a
// knob"). Defaults reproduce the documented behaviour with faults off.

export interface FaultSpec {
  status: number;
  code: string;
  message: string;
  retryAfterSeconds?: number;
  /** How many matching requests fail; decremented as they do. */
  times: number;
  match?: { method?: string; entitySet?: string };
}

export interface DataverseKnobs {
  /** Per entity set: `ChangeTrackingEnabled` (§1.1; defaults vary by environment, here all sync tables on). */
  changeTracking: Record<string, boolean>;
  /** `organization.expirechangetrackingindays` (§1.5: default 7; seen 30 in the wild). */
  changeTrackingRetentionDays: number;
  /** HTTP status of ExpiredVersionStamp (§1.5: UNCONFIRMED, assume 400). */
  expiredTokenStatus: number;
  /** `Prefer: odata.track-changes` on an untracked table: ignore it (no deltaLink, §1.1 UNCONFIRMED) or reject. */
  trackChangesOnUntrackedTable: 'ignore' | 'reject';
  /** Upper bound for `odata.maxpagesize` and the default page size (§1.4: 5,000). */
  maxPageSize: number;
  /** Code in the 412 body for an If-Match mismatch (§2.4: doc shows "", live services return 0x80060882). */
  concurrencyMismatchCode: string;
  /**
   * POST with a primary key that exists. Code and message as a live Dataverse returned them for a create with an
   * existing id (microsoft/coe-starter-kit#1334: 0x80040237 "A record with matching key values already exists.");
   * the status is UNCONFIRMED: 412, which §2.4 lists for DuplicateRecord.
   */
  duplicateKeyOnCreate: { status: number; code: string; message: string };
  /** Columns that are read-only or not valid for create (statecode on activities, §4, §7.11) in a body. */
  invalidColumnWrite: 'reject' | 'ignore';
  /** PATCH with a party navigation: replace the whole list or append (§4.2 UNCONFIRMED). */
  partyListUpdate: 'replace' | 'append';
  /** Activities get an Owner party (participationtypemask 9) like the platform adds (not in the reference). */
  ownerPartyRows: boolean;
  /** State of a new appointment: Open (statuscode default Free) or Scheduled (Busy) (§4.4: UNCONFIRMED). */
  appointmentInitialState: 'open' | 'scheduled';
  /** Parties with only an address (`addressused`, no partyid) are accepted (§4.2 UNCONFIRMED). */
  allowUnresolvedParties: boolean;
  /** Duplicate detection enabled for the org and contacts/accounts with OOB rules (§2.7); fires only on opt-in. */
  duplicateDetection: boolean;
  /** Max requests in a `$batch` (§2.6), counting each request inside a change set. */
  batchMaxRequests: number;
  /**
   * Status of the `$batch` response itself when a request or change set in it failed (§2.6: "Exact status of the
   * failing part/envelope: UNCONFIRMED"): `stopped` when processing stopped at the failure (no
   * `odata.continue-on-error`), `continued` when it went on. The body is the multipart answer either way, the failing
   * part carrying its own status. Defaults 400 and 200 are a choice; the connector reads the parts under any status.
   */
  batchFailureStatus: { stopped: number; continued: number };
  /** Service protection (§3): requests per sliding window per user; null disables. */
  requestLimit: { requests: number; windowSeconds: number } | null;
  /** Seconds added to the Retry-After for each request sent before the previous Retry-After elapsed (§3). */
  hammerPenaltySeconds: number;
  /** Whose budget an impersonated request consumes (§5: UNCONFIRMED): the authenticated principal or the caller. */
  throttleBudgetPer: 'principal' | 'caller';
  /** Concurrent requests before 0x80072326 (§3: 52); null disables. */
  maxConcurrentRequests: number | null;
  /** Retry-After for injected 429s and the concurrency limit; the request limit computes its own. */
  retryAfterSeconds: number;
  /**
   * Change-feed faults a robust client must absorb (off by default; not documented behaviour): empty pages with a
   * nextLink before the first real page of every tracked read, and the last entry of each page repeated at the start
   * of the next (at-least-once delivery; only with page sizes of 2 or more, so paging still advances).
   */
  trackingFaults: { emptyPagesFirst: number; repeatPageBoundary: boolean };
  /** One-shot faults applied to top-level requests in order, before the request runs (nothing is applied). */
  faults: FaultSpec[];
  /**
   * The next n top-level writes (any method but GET; a `$batch` with a write part) that succeed are applied, but
   * the client does not get the answer: a 503 (`failAfterCommitMode: 503`) or a connection dropped without a
   * response (`'drop'`). "The server acted but the client saw an error": retried creates meet their own first attempt.
   */
  failAfterCommitNext: number;
  failAfterCommitMode: 503 | 'drop';
  /** Artificial latency per top-level request (lets concurrency build up). */
  latencyMs: number;
  /** Require `Authorization: Bearer …` (401 otherwise). */
  requireBearer: boolean;
  /**
   * Accept any bearer token that is not in the identity simulator's `simtok.` format (plain-fetch tests). Tokens
   * issued by this simulator's identity routes are always checked for expiry and audience.
   */
  acceptAnyBearer: boolean;
  /** `expires_in` of tokens issued by the identity routes (Entra: about 3599 s, §5 "~60 minutes"). */
  tokenLifetimeSeconds: number;
  /**
   * `usersettings.timezonecode` of a new user (UNCONFIRMED: a new user takes the organization's default zone; the
   * simulator's default is 92, UTC). Set a user's own with DataverseControl.setUserTimeZoneCode.
   */
  defaultTimeZoneCode: number;
  /**
   * "Restore deleted records" (the recycle bin) per entity set: true keeps deleted rows in the bin and serves them to a
   * FetchXml query with `datasource='bin'`; the table then has an active `recyclebinconfig` row with
   * `isreadyforrecyclebin` true, false an inactive row (statecode 1, statuscode 2: the table was disabled), absent no
   * row. With no table named the environment has the feature off and `recyclebinconfigs` has no rows
   * (restore-deleted-records: "Before the recycle bin feature is enabled, the RecycleBinConfig table has no rows").
   */
  recycleBin: Record<string, boolean>;
  /** `recyclebinconfig.cleanupintervalindays` of the organization row: days a deleted row stays restorable (≤ 30). */
  recycleBinCleanupIntervalDays: number;
  /**
   * A `datasource='bin'` query on a table whose bin is off. restore-deleted-records: "If the recycle bin isn't
   * enabled for a table, you won't find any records eligible to be restored" (read: an empty result); the HTTP form
   * is UNCONFIRMED, so an error (400) is the alternative.
   */
  binQueryOnDisabledTable: 'empty' | 'error';
}

export function defaultKnobs(): DataverseKnobs {
  return {
    changeTracking: {
      systemusers: true, contacts: true, accounts: true, appointments: true, tasks: true, emails: true,
      activityparties: false, organizations: false,
    },
    changeTrackingRetentionDays: 7,
    expiredTokenStatus: 400,
    trackChangesOnUntrackedTable: 'ignore',
    maxPageSize: 5000,
    concurrencyMismatchCode: '0x80060882',
    duplicateKeyOnCreate: { status: 412, code: '0x80040237', message: 'A record with matching key values already exists.' },
    invalidColumnWrite: 'reject',
    partyListUpdate: 'replace',
    ownerPartyRows: true,
    appointmentInitialState: 'open',
    allowUnresolvedParties: true,
    duplicateDetection: true,
    batchMaxRequests: 1000,
    batchFailureStatus: { stopped: 400, continued: 200 },
    requestLimit: null,
    hammerPenaltySeconds: 5,
    throttleBudgetPer: 'principal',
    maxConcurrentRequests: 52,
    retryAfterSeconds: 1,
    trackingFaults: { emptyPagesFirst: 0, repeatPageBoundary: false },
    faults: [],
    failAfterCommitNext: 0,
    failAfterCommitMode: 503,
    latencyMs: 0,
    requireBearer: true,
    acceptAnyBearer: true,
    tokenLifetimeSeconds: 3599,
    defaultTimeZoneCode: 92,
    recycleBin: {},
    recycleBinCleanupIntervalDays: 30,
    binQueryOnDisabledTable: 'empty',
  };
}
