// CrmConnector: the only way the worker talks to a CRM (Dataverse first; other CRMs implement the same port and pass
// the same contract suite in test/contracts).
import type { CrmRecord, CrmWrite, ItemKind } from '../core/model';
import type { ItemFailure } from './mailbox-source';

/** The CRM user a mailbox belongs to; every read of scope and every write acts as this user. */
export interface CrmUser {
  id: string;
  /** The Entra object id used to impersonate the user (`CallerObjectId`), when the CRM needs it. */
  azureObjectId: string | null;
  address: string;
  /**
   * The user's time zone in the CRM (an IANA or Windows id), in which the CRM shows DateTime UserLocal columns
   * (dataverse-behaviour.md §4.4, §4.5: appointment and task dates). Undefined: the connector does not know time zones;
   * null: the CRM has none for the user or gave one that could not be read. Either way the worker converts dates at UTC
   * midnight and logs a warning.
   */
  timeZone?: string | null;
}

export type CrmChange =
  /** Created or updated and in the user's scope. `at` is the server's modifiedon. */
  | { type: 'upsert'; id: string; record: CrmRecord; at: string }
  /** Deleted. `at` is when the connector saw the deletion (the feed carries no time for deletes). */
  | { type: 'deleted'; id: string; at: string }
  /**
   * Changed and now outside the user's scope (reassigned, no longer a party). The feed cannot know whether the
   * record was in scope before; the worker acts only on records it has mapped.
   */
  | { type: 'outOfScope'; id: string; record: CrmRecord; at: string };

export interface CrmChangePage {
  changes: CrmChange[];
  failures: ItemFailure[];
  /** Opaque cursor to resume from after this page. */
  cursor: string;
  final: boolean;
}

export interface CrmWriteOptions {
  actAs: CrmUser;
}

/** One write of a `writeBatch`: the same operations, with the same options, as the single-item methods. */
export type CrmWriteOp =
  | { type: 'create'; kind: ItemKind; write: CrmWrite; idempotencyKey: string }
  | { type: 'update'; kind: ItemKind; id: string; write: CrmWrite; ifMatch: string }
  | { type: 'delete'; kind: ItemKind; id: string };

/**
 * What one write of a batch did: the record as written (null for a delete), or the error the single-item method would
 * have thrown for it (ConcurrencyError, ItemRejectedError, …), so the caller handles each write as if made alone.
 */
export type CrmWriteResult = { ok: true; record: CrmRecord | null } | { ok: false; error: Error };

export interface CrmConnector {
  /** The CRM user for a mailbox address, or null when there is none (the mailbox cannot sync). */
  resolveUser(mailboxAddress: string): Promise<CrmUser | null>;

  /**
   * Page through the change feed of one kind for the user's scope from `cursor` (null: everything in scope now).
   * Throws ResyncRequiredError when the cursor expired; the worker then re-reads in full and sweeps.
   */
  readChanges(
    kind: ItemKind,
    user: CrmUser,
    cursor: string | null,
    onPage: (page: CrmChangePage) => Promise<void>,
  ): Promise<void>;

  /** Read records by id, in batches. Null: the record is gone. */
  read(kind: ItemKind, ids: readonly string[], user: CrmUser): Promise<Map<string, CrmRecord | null>>;

  /** Whether a record is in the user's scope (contacts owned; activities owned or attended). */
  isInScope(record: CrmRecord, user: CrmUser): boolean;

  /**
   * Create acting as the user. Idempotent on `idempotencyKey`: a retried create after a lost response returns the
   * record the first attempt made, never a second one.
   */
  create(kind: ItemKind, write: CrmWrite, options: CrmWriteOptions & { idempotencyKey: string }): Promise<CrmRecord>;

  /**
   * The id `create` will give the record for this idempotency key, when the CRM lets the client choose it (null or
   * absent: unknown before the create). The worker records it before creating, so a crash right after the create
   * leaves a mapping the change feed finds.
   */
  idForCreate?(kind: ItemKind, idempotencyKey: string): string | null;

  /**
   * Update with optimistic concurrency: `ifMatch` is a version read earlier (mismatch → ConcurrencyError) or `*`
   * (exists at all; a deleted record is never resurrected: the update fails with ItemRejectedError `crm-record-gone`).
   */
  update(kind: ItemKind, id: string, write: CrmWrite, options: CrmWriteOptions & { ifMatch: string }): Promise<CrmRecord>;

  /** Delete; a record already gone counts as deleted. */
  delete(kind: ItemKind, id: string, options: CrmWriteOptions): Promise<void>;

  /**
   * Several writes acting as one user, in as few requests as the CRM allows (Dataverse: `$batch`, one change set per
   * write, dataverse-behaviour.md §2.6). Each write succeeds or fails on its own, with exactly the semantics of the
   * single-item method (idempotent create, If-Match, no resurrection, a record already gone counts as deleted).
   * Results come in the order of `ops`. Throws only when the request as a whole failed (auth, throttling after the
   * retries, a transport error): then any of the writes may or may not have happened, as with a lost single response.
   */
  writeBatch(ops: readonly CrmWriteOp[], options: CrmWriteOptions): Promise<CrmWriteResult[]>;

  /** Contacts in the user's scope with any of these e-mail addresses (case-insensitive), for matching and parties. */
  findContactsByEmail(addresses: readonly string[], user: CrmUser): Promise<CrmRecord[]>;

  /**
   * Match before create for e-mail (DESIGN.md §4; dataverse-behaviour.md §4.6: `messageid` de-duplicates tracked
   * mail): every e-mail record whose `messageid` equals one of `messageIds` exactly, in the user's scope or not, with
   * its parties. Scope is left to the caller on purpose: a message another mailbox already tracked must not be created
   * a second time even when this user cannot see the record (the caller judges with `isInScope`). Absent: the CRM
   * cannot match, and every tracked message is created on its own, as before.
   */
  findEmailsByMessageId?(messageIds: readonly string[], user: CrmUser): Promise<CrmRecord[]>;

  /**
   * Which of `ids` the CRM holds as deleted records of `kind`: evidence, older than any change cursor, that a record
   * with that id was created and then deleted. Dataverse keeps them when an administrator enabled "Restore deleted
   * records" (the recycle bin) for the table, up to its cleanup interval (at most 30 days recommended): see
   * https://learn.microsoft.com/power-apps/developer/data-platform/restore-deleted-records. The answer holds the
   * matching ids lower-cased (ids are GUIDs, compared case-insensitively); an id that was re-created with the same
   * key after its deletion may be both live and in the answer (Dataverse keeps the deleted copy,
   * DuplicateExceptionRestoreRecycleBin). An id absent from the answer was not deleted within the retention, or never
   * existed: the CRM cannot tell those apart.
   * Null: the CRM keeps no deleted records of this kind (the bin is off for the table or the environment, not
   * supported, or the query was refused as not found or forbidden); the question cannot be answered and the caller
   * must act as without this method. Absent: the same as null for every kind. Other failures throw as reads do.
   */
  findDeleted?(kind: ItemKind, ids: readonly string[], user: CrmUser): Promise<Set<string> | null>;
}
