// Every counterexample the model-based suite (worker.model.test.ts) found, written out as the exact command sequence
// it shrank to, each run with nothing steered around (AVOID_NOTHING): product bugs since fixed, and mistakes of the
// model or of a command's precondition, kept so they stay fixed. No product bug is open. The one crash window no write
// order can close (a crash right after the Outlook create, then the user deletes the new item before the rerun: it is
// created again, once) is steered around by the property test (KnownIssues.crashAfterOutlookCreate) and its outcome is
// asserted in test/app/cycle-pending-create.test.ts.
import {
  ConfirmHeldDeletes,
  CreateInCrm,
  CreateInOutlook,
  Cycle,
  DeleteInCrm,
  DeleteInOutlook,
  EditCrm,
  EditOutlook,
  EvictGraphCursors,
  ExpireCrmCursors,
  MoveMessage,
  MoveTask,
  Reassign,
  Reconcile,
  RejectNextCrmWrite,
  SkewClock,
  StoreWritesFail,
  ThrottleBurst,
  Track,
  Untrack,
  runSequence,
} from './support/commands';
import { MAILBOX } from './support/model-world';
import { AVOID_NOTHING } from './support/reference';

describe('crash after the CRM create, record deleted in the CRM, cursor expired (issue 6, fixed where the CRM keeps deleted records)', () => {
  // Was the open residue of the issue 6 fix (AVOID_KNOWN_ISSUES.pendingCreateDeletionUnseen): a crash right after the
  // CRM create, before the created mark, leaves an unmarked pendingCreate row; the user deletes the record in the CRM
  // and the CRM cursor expires, so the full re-read reports no deletion, and the create ran again with the same key:
  // the deleted record was back. Fixed (src/app/hydrate.ts settleByDeletedRecords): the CRM's deleted records
  // (Dataverse's recycle bin, CrmConnector.findDeleted; the model's CRM keeps them) prove the create happened. A CRM
  // that keeps none cannot tell, and the create runs again: test/app/cycle-pending-create.test.ts pins that outcome.
  it('the record is not created again', async () => {
    const runner = await runSequence(
      [new CreateInOutlook('contact', true, [0, 0]), new Cycle(12), new DeleteInCrm(0), new ExpireCrmCursors(), new Cycle()],
      { avoid: AVOID_NOTHING },
    );
    expect(runner.model.items[0]).toMatchObject({ c: 'gone' });
  });
});

describe('a To Do move after a crash between the CRM create and the link (fixed: the CrmId stamp comes before the create)', () => {
  // A mistake of the model (long profile, seed -1999016420): after the stamp-before-create change, a pendingCreate
  // row whose record was made and then deleted is still found by that record's id; MoveTask took it for gone.
  it('crash after the CRM create, record deleted in the CRM, task moved: the model keeps the row (no product change)', async () => {
    await runSequence(
      [new Cycle(8), new CreateInOutlook('task', true, [0, 0]), new Cycle(9), new DeleteInCrm(0), new MoveTask(0), new Cycle(1)],
      { avoid: AVOID_NOTHING },
    );
  });

  // Was a bug (found by the long profile on 2026-11-21, seed 939825182): cycle 2 died right after the CRM create of a
  // tracked To Do task, before its CrmId stamp; the record was reassigned (out of scope) and the user moved the task
  // to another list, which gives it a new id. Nothing tied the moved task to the pendingCreate row, so it was created
  // in the CRM a second time. Fixed: the stamp of the id the pendingCreate row names is written before the create
  // (src/app/execute.ts), so the moved task carries it and the move is followed. The 21st write is the create.
  it('crash after the CRM create, record reassigned, task moved to another list: one record', async () => {
    await runSequence(
      [new Cycle(), new CreateInOutlook('task', true, [0, 0]), new ExpireCrmCursors(), new Cycle(21), new Reassign(0), new MoveTask(0), new Reconcile()],
      { avoid: AVOID_NOTHING },
    );
  });

  // Same root (seed 368438015): the task was untracked after the crash, then moved; the unlinked pair read as deleted.
  it('crash after the CRM create, task untracked then moved to another list: the pair stays unlinked', async () => {
    await runSequence(
      [
        new CreateInCrm('contact', [0, 0]),
        new Cycle(),
        new DeleteInOutlook(0, true),
        new CreateInOutlook('task', true, [0, 0]),
        new ExpireCrmCursors(),
        new Cycle(23),
        new Untrack(0),
        new Cycle(),
        new MoveTask(0),
        new Cycle(),
      ],
      { avoid: AVOID_NOTHING },
    );
  });
});

describe('an untrack seen only through a sweep (fixed, found by the long profile on 2026-11-21)', () => {
  // Was a bug (present before this session) src/core/planner.ts planLinked `outOfView`: cycle 1 could not store the
  // contacts cursor (a Table write failed), so cycle 3 read the stream from no cursor; that round lists tracked items
  // only, so its sweep reported the contact the user had just untracked as removed, and the direct read found it in
  // place. The planner deferred it as "out of view" and the untrack was never applied (the pair stayed linked).
  // Fixed: an item read directly that is no longer tracked is planned as untracked, wherever it is.
  it('a contact untracked while its stream reads from no cursor is unlinked', async () => {
    await runSequence(
      [
        new CreateInCrm('contact', [0, 0]),
        new CreateInOutlook('contact', false, [0, 0]),
        new CreateInCrm('contact', [0, 0]),
        new CreateInOutlook('contact', false, [0, 0]),
        new StoreWritesFail(1),
        new Cycle(),
        new Cycle(5),
        new Untrack(13),
        new Cycle(),
      ],
      { avoid: AVOID_NOTHING },
    );
  });
});

describe('a re-track whose link commit is lost (fixed: the re-stamp carries LinkId = the row mapId)', () => {
  // Was a bug (found by the long profile on 2026-11-21, present before this session) src/core/planner.ts planDetached:
  // the user re-tracks an untracked e-mail (unlinked row); the cycle re-stamps it (marker true, category, CrmId) and
  // dies before the link commit. The user removes the category again: the marker the worker wrote made the item read
  // as tracked by an add-in (the CrmId stamp, kept by the unlink, cannot tell), so the next cycle re-stamped it and the
  // category came back. Fixed: the re-stamp also writes LinkId = the row's mapId, an item carrying it is judged as a
  // linked pair's (isStillTracked), and a marker without the category withdraws the re-track (`retrack-withdrawn`).
  it('crash after re-stamping a re-tracked e-mail, then the user untracks it: it stays untracked and unlinked', async () => {
    const runner = await runSequence(
      [
        new CreateInCrm('contact', [0, 0]),
        new CreateInOutlook('email', true, [0, 0]),
        new Cycle(),
        new Untrack(0),
        new Untrack(0),
        new Cycle(14),
        new CreateInCrm('contact', [0, 0]),
        new Track(7),
        new Cycle(13),
        new Untrack(0),
        new Reconcile(),
      ],
      { avoid: AVOID_NOTHING },
    );
    const email = runner.model.items.find((item) => item.kind === 'email');
    expect(email).toMatchObject({ o: 'live', tracked: false, c: 'live', link: 'unlinked' });
    const [stored] = runner.world.liveByTag().outlook.get(email?.tag ?? '') ?? [];
    if (!stored) throw new Error('the e-mail is not in the mailbox');
    const hydrated = (await runner.world.outlook.getItems(MAILBOX, [{ kind: 'email', id: stored.id, container: stored.container }])).get(stored.id);
    // The worker's own marker and LinkId are cleared; the CrmId stamp stays as the unlink left it (it helps re-linking).
    expect(hydrated).toMatchObject({ tracking: { marker: false, category: false }, linkId: null, crmId: email?.crmId });
  });
});

describe('crash between the CRM create and the link commit (issue 6, fixed: a pendingCreate row before the create)', () => {
  // The narrower case of the open bug above, fixed: the crash comes after the created mark (the 13th write: pending
  // row, stamp, create, mark), which is committed only once the create returned. The mark proves the create happened
  // even after the CRM cursor expired and its re-read lost the delete (src/app/hydrate.ts settlePendingCreate).
  it('crash after the created mark, record deleted in the CRM, cursor expired: the record is not created again', async () => {
    const runner = await runSequence(
      [new CreateInOutlook('contact', true, [0, 0]), new Cycle(13), new DeleteInCrm(0), new ExpireCrmCursors(), new Cycle()],
      { avoid: AVOID_NOTHING },
    );
    expect(runner.model.items[0]).toMatchObject({ c: 'gone' });
  });

  // Was a bug (src/app/execute.ts executePlan + src/app/hydrate.ts findOutlookItemsOfNewCrmRecords + src/core/planner.ts
  // planUnmapped `createInOutlook`): cycle 1 died right after `crm.create` for a tracked Outlook contact (10th write),
  // before the CrmId stamp and the mapping commit; the user then deleted the Outlook contact, and cycle 2 read the new
  // CRM record from the feed as an unmapped in-scope record and created the deleted contact in Outlook again. Fixed:
  // execute.ts commits a `pendingCreate` row with the id the idempotency key determines (CrmConnector.idForCreate)
  // before the create, so the feed finds the pair and the planner applies the linked pair's Outlook-deleted rule.
  it('crash after the CRM create, then the Outlook contact is deleted: it is not re-created in Outlook', async () => {
    const runner = await runSequence(
      // The 11th write is the CRM create (the 10th is the pendingCreate row committed before it).
      [new CreateInOutlook('contact', true, [0, 0]), new Cycle(12), new DeleteInOutlook(0, false), new Reconcile()],
      { avoid: AVOID_NOTHING },
    );
    expect(runner.model.items[0]).toMatchObject({ o: 'gone', c: 'live', link: 'deletedLocally' });
  });

  // The crash one write earlier: the pendingCreate row is committed, the record never created. The Outlook delete then
  // removes the row, and no record is created for the deleted contact.
  it('crash between the pendingCreate commit and the CRM create, then the Outlook contact is deleted: nothing is created', async () => {
    const runner = await runSequence(
      [new CreateInOutlook('contact', true, [0, 0]), new Cycle(10), new DeleteInOutlook(0, false), new Reconcile()],
      { avoid: AVOID_NOTHING },
    );
    expect(runner.model.items[0]).toMatchObject({ o: 'gone', c: 'none', link: 'none' });
  });

  // Was a bug, same root, with no user action: cycle 1 died after 19 writes with the tracked To Do task's CRM record
  // created but neither stamped nor mapped; in cycle 2 the CRM rejected the `o:` row's retried create, then the `c:` row
  // of the new record created the task in Outlook: two copies. Fixed as above: the `c:` row finds the pendingCreate row.
  it('crash after CRM creates, then one rejected CRM write: a To Do task is not duplicated in Outlook', async () => {
    await runSequence(
      [
        new CreateInOutlook('task', false, [0, 0]),
        new CreateInCrm('contact', [0, 0]),
        new CreateInOutlook('email', true, [0, 0]),
        new CreateInOutlook('contact', true, [0, 0]),
        new Track(0),
        // The 22nd write is the task's CRM create (each Outlook-originated create now commits a pendingCreate row first).
        new Cycle(23),
        new RejectNextCrmWrite(),
        new Reconcile(),
      ],
      { avoid: AVOID_NOTHING },
    );
  });

  // Was a bug, same root, third face: the user untracked the contact instead of deleting it; cycle 2's `c:` row of the
  // new record (unmapped, no stamped item) created the contact in Outlook, a second copy next to the untracked one.
  // Fixed as above: the untrack is planned by the linked pair's rule on the pendingCreate row.
  it('crash after the CRM create, then the Outlook contact is untracked: no second copy appears in Outlook', async () => {
    const runner = await runSequence([new CreateInOutlook('contact', true, [0, 0]), new Cycle(12), new Untrack(0), new Cycle()], {
      avoid: AVOID_NOTHING,
    });
    expect(runner.model.items[0]).toMatchObject({ o: 'live', tracked: false, c: 'live', link: 'unlinked' });
  });
});

describe('pendingCreate rows (issue 6): long-profile counterexamples of the fix', () => {
  // A crash right after the CRM create (cycle 7), then the user deletes the record in the CRM: the pendingCreate row
  // reads its record as gone, which alone would mean "not created yet" and create it again. The feed's deletion of
  // that id proves the create happened (src/app/hydrate.ts settlePendingCreate): the linked pair's CRM-deleted rule.
  it('a record created before a crash and deleted in the CRM is not created again', async () => {
    await runSequence(
      [
        new ThrottleBurst('graph', 1),
        new CreateInOutlook('contact', true, [0, 0]),
        new Reconcile(),
        new RejectNextCrmWrite(),
        new Cycle(),
        new ThrottleBurst('graph', 4),
        new Cycle(),
        new Cycle(),
        new StoreWritesFail(1),
        new Cycle(),
        new Cycle(),
        new Cycle(9),
        new DeleteInCrm(0),
        new Cycle(1),
      ],
      { avoid: AVOID_NOTHING },
    );
  });

  // The create rejected after the pendingCreate commit, then the user moves the task to another list (a new id): the
  // row names the old id only (no record, no stamp), so the moved task is created as a new unmapped one.
  it('a task moved after its create was rejected is created once, under its new id', async () => {
    await runSequence(
      [
        new StoreWritesFail(2),
        new CreateInOutlook('task', false, [0, 0]),
        new Track(0),
        new Cycle(),
        new RejectNextCrmWrite(),
        new Reconcile(),
        new MoveTask(0),
        new RejectNextCrmWrite(),
      ],
      { avoid: AVOID_NOTHING },
    );
  });
});

describe('product bugs found by the suite and fixed since (kept fixed)', () => {
  // Was a bug (src/app/reconcile.ts outlookFindings: `untracked = !marker && !category`, while the planner's
  // isStillTracked calls a linked item untracked when its category is gone and the worker's upkeep had landed): the
  // linked message moved out of the Inbox (no stream reads its folder), then untracked, stayed linked forever.
  // Fixed: reconciliation uses isStillTracked (src/app/core-api.ts).
  it('an untrack of a linked message out of the Inbox is found by reconciliation', async () => {
    const runner = await runSequence(
      [new CreateInOutlook('email', true, [0, 0]), new Cycle(), new MoveMessage(0), new Cycle(), new Untrack(0), new Cycle()],
      { avoid: AVOID_NOTHING },
    );
    expect(runner.model.items[0]).toMatchObject({ o: 'live', tracked: false, link: 'unlinked' });
  });

  // Was a bug (src/app/reconcile.ts outlookFindings), found by the long profile (seed -923222501): a contact tracked
  // from Outlook and reassigned in the CRM is kept (DESIGN.md §6), so nothing syncs to the record; an Outlook edit then
  // stays away from the baseline for good, and reconciliation re-recorded the pair at every verification (the change
  // row never settled). Fixed: contents are not compared for a pair whose record is out of scope.
  it('an Outlook edit of a contact kept out of scope is not re-recorded by every reconciliation', async () => {
    const runner = await runSequence(
      [new CreateInOutlook('contact', true, [0, 0]), new Cycle(), new Reassign(0), new EditOutlook(0, 0, 1), new ConfirmHeldDeletes()],
      { avoid: AVOID_NOTHING },
    );
    expect(runner.model.items[0]).toMatchObject({ o: 'live', c: 'live', link: 'linked' });
  });

  // Was a bug (src/app/reconcile.ts crmFindings): a mapped record out of scope, kept because the user tracked it from
  // Outlook (DESIGN.md §6), was recorded as `outOfScope` at every verification and its change row never went away.
  // Fixed: recorded only when the record's version differs from the one the mapping stored when the planner kept it.
  it('a contact reassigned in the CRM but tracked from Outlook is not re-recorded by reconciliation', async () => {
    const runner = await runSequence([new CreateInOutlook('contact', true, [0, 0]), new Cycle(), new Reassign(0), new ExpireCrmCursors()], {
      avoid: AVOID_NOTHING,
    });
    expect(runner.model.items[0]).toMatchObject({ o: 'live', c: 'live', link: 'linked' });
  });

  // Was a bug (src/core/planner.ts crmOutOfScope, keep branch): the row was rewritten only when the CRM owner or version
  // changed, so a kept task moved to another To Do list (new id, graph-behaviour.md §1.4) kept the old task id.
  // Fixed: the keep branch also rewrites the row when the item's id or list changed, as syncPair does.
  it('a reassigned task tracked from Outlook, moved to another list: the mapping follows the new task id', async () => {
    const runner = await runSequence(
      [new CreateInOutlook('task', true, [0, 0]), new Cycle(), new Reassign(0), new Cycle(), new MoveTask(0), new Cycle()],
      { avoid: AVOID_NOTHING },
    );
    expect(runner.model.items[0]).toMatchObject({ o: 'live', c: 'live', link: 'linked' });
  });

  // Was a bug (src/app/collect.ts collectStream): a round from no cursor (the first setCursor failed) while a mapping of
  // the stream existed reported no removals (graph-behaviour.md §1.4) and did not sweep, so a deletion waited for
  // reconciliation. Fixed: such a round opens a sweep epoch, as after an eviction (graph-behaviour.md §1.6).
  it('a deletion during a delta round from no cursor (the first setCursor failed) is found by the sweep', async () => {
    const runner = await runSequence(
      [new CreateInCrm('contact', [0, 0]), new StoreWritesFail(1), new Reconcile(), new DeleteInOutlook(0, false), new Cycle()],
      { avoid: AVOID_NOTHING },
    );
    expect(runner.model.items[0]).toMatchObject({ o: 'gone', c: 'live', link: 'deletedLocally' });
  });

  // Was a bug (src/adapters/tables/rows.ts changeColumns: `nextAttemptAt: record.at`, the source system's timestamp):
  // with the CRM clock 1 s ahead of the worker's, a record created just before the cycle was collected but not due, and
  // waited a cycle (a clock hours ahead: hours). Fixed in commit 145492a ("changes stamped ahead of the worker clock are
  // due now") while this suite was written.
  it('a CRM create stamped ahead of the worker clock is applied in the cycle that reads it', async () => {
    const runner = await runSequence([new SkewClock('crm', 2), new CreateInCrm('contact', [0, 0]), new Cycle()], { avoid: AVOID_NOTHING });
    expect(runner.model.items[0]).toMatchObject({ o: 'live', c: 'live', link: 'linked' });
  });

  it('an Outlook edit stamped 0.5 s ahead of the worker clock is applied in the cycle that reads it', async () => {
    const runner = await runSequence(
      [new CreateInCrm('contact', [0, 0]), new SkewClock('outlook', 1), new Cycle(), new EditOutlook(0, 0, 1), new Cycle()],
      { avoid: AVOID_NOTHING },
    );
    expect(runner.model.items[0]?.cv).toMatchObject({ givenName: 'Bo' });
  });

  // Was a duplicate, from the skew bug and the crash-before-link bug together: the Outlook clock 0.5 s ahead, cycle 2
  // dies right after the CRM create (9th write), the user edits the contact; in cycle 3 the re-recorded `o:` row was not
  // due (ahead), the `c:` row of the new record was, found no stamped item, and created the contact in Outlook a second
  // time. With changes due when recorded, both rows are due and the `o:` row links first (apply.ts runs `c:` rows
  // last). That ordering remains the only guard: an `o:` row in backoff next to a due `c:` row would do the same.
  it('crash after the CRM create, Outlook clock ahead, then an Outlook edit: one copy', async () => {
    await runSequence(
      [new SkewClock('outlook', 1), new CreateInOutlook('contact', true, [0, 0]), new Cycle(), new Cycle(9), new EditOutlook(0, 0, 0), new Reconcile()],
      { avoid: AVOID_NOTHING },
    );
  });

  // Was a bug (src/app/hydrate.ts outlookSideOf returned `{ state: 'outOfView' }` without the item, so planLinked's
  // crmDeleted(p, row, null) could not clear the tracking): a CRM e-mail deleted while its message was out of view
  // unlinked the pair but left category and marker on the message. Fixed in the working tree (core and app) since.
  it('a CRM e-mail deleted while its message is out of view: unlinked and untracked', async () => {
    const runner = await runSequence(
      [new CreateInOutlook('email', true, [0, 0]), new Reconcile(), new DeleteInCrm(0), new MoveMessage(0), new Cycle()],
      { avoid: AVOID_NOTHING },
    );
    expect(runner.model.items[0]).toMatchObject({ o: 'live', tracked: false, c: 'gone', link: 'none' });
  });

  // Was a bug (src/core/planner.ts planUnmapped, `outlook present & tracked, crm gone` → createInCrm): cycle 1 creates a
  // CRM contact in Outlook (stamped with its CrmId) and dies before the mapping commit (10th write); the CRM user
  // deletes the record; cycle 2 found the stamped, unmapped Outlook item and created a new CRM record: the deleted
  // contact came back in the CRM. Fixed in the working tree while this suite was written: the item is now unlinked
  // (tracking cleared) as the deletion table says for a CRM-deleted contact the user owns.
  it('crash after the Outlook create, then the CRM contact is deleted: unlinked, not re-created in the CRM', async () => {
    const runner = await runSequence([new CreateInCrm('contact', [0, 0]), new Cycle(10), new DeleteInCrm(0), new EditOutlook(0, 0, 0)], {
      avoid: AVOID_NOTHING,
    });
    expect(runner.model.items[0]).toMatchObject({ o: 'live', tracked: false, c: 'gone', link: 'none' });
  });

  // Was a bug (src/core/planner.ts syncPair KEEP + src/app/execute.ts nextMapping null for KEEP): a To Do task moved to
  // another list (new id, graph-behaviour.md §1.4) was followed and in sync, so the mapping was kept — with the old
  // task id; every reconciliation recorded the old id as removed, forever. Fixed in the working tree since.
  it('a To Do task moved to another list: the mapping follows the new task id', async () => {
    const runner = await runSequence([new CreateInCrm('task', [0, 0]), new Cycle(), new MoveTask(0), new Cycle()], { avoid: AVOID_NOTHING });
    expect(runner.model.items[0]).toMatchObject({ link: 'linked', o: 'live', c: 'live' });
  });

  // Was a bug (src/app/apply.ts commitResult, committed tree f884a3d line ~158): when the unit after the writes failed
  // (here a ConcurrencyError: the mapping was already removed) the failure was only tallied (`commit-failed`); the
  // change row kept reason null and attempts 0, against "every failure has its change row with a reason code"
  // (sync-lessons.md §5.4 invariant 5). How it got there was a second bug: the CRM deleted the task and the user moved
  // it to another list (new id) before the cycle, so the pair had a `map:` row (old id) and an `o:` row (new id,
  // matched by its stamp); both planned "delete in Outlook", both waited for the delete guard, and both ran
  // (2 outlook.delete for one item, counted twice against the guard's budget). Fixed in the working tree by the app
  // helper while this suite was written (apply.ts: `busyPairs`, `commit-failed` recorded on the row). If that change is
  // not kept, this test fails with "failure commit-failed of map:… has no change row with a reason".
  it('a task deleted in the CRM and moved in Outlook before the cycle: one delete, every failure on its row', async () => {
    const runner = await runSequence(
      [new CreateInCrm('task', [0, 0]), new Cycle(), new DeleteInCrm(0), new MoveTask(0), new CreateInCrm('contact', [0, 0]), new EvictGraphCursors()],
      { avoid: AVOID_NOTHING },
    );
    expect(runner.model.items[0]).toMatchObject({ o: 'gone', c: 'gone', link: 'none' });
  });
});

describe('counterexamples that were mistakes of the model (kept fixed)', () => {
  // The model expected a tracked contact created in Outlook and never seen by a cycle, then deleted with its removal
  // dropped, to be "found" by reconciliation; there is nothing to find (no mapping). Fixed in the model.
  it('a never-synced Outlook item deleted with a dropped removal needs nothing', async () => {
    await runSequence([new CreateInOutlook('contact', false, [0, 0]), new DeleteInOutlook(0, true), new Cycle(1)]);
  });

  // After a crashed cycle unlinked the contact, its dropped deletion concerns a detached row, which reconciliation does
  // not verify (only linked pairs). The model demanded it be found. Fixed in the model.
  it('an unlinked contact deleted with a dropped removal after a crash', async () => {
    await runSequence([new CreateInCrm('contact', [0, 0]), new Cycle(), new Untrack(0), new Cycle(11), new DeleteInOutlook(0, true)]);
  });

  // CRM deletions are stamped with the CRM's clock when the feed is read; the model first compared only the records'
  // modifiedon with the worker's clock. (The deferral itself is the open skew bug above.)
  it('a CRM delete under a CRM clock ahead of the worker, with an Outlook edit pending', async () => {
    await runSequence([new CreateInCrm('contact', [0, 0]), new Reconcile(), new SkewClock('crm', 1), new DeleteInCrm(0), new EditOutlook(0, 0, 0)]);
  });

  // A task tracked from the CRM and reassigned is unlinked; the user then deletes it in Outlook and the Graph cursors are
  // evicted before the removal was read. The full re-read sweeps linked mappings only, so the unlinked row of the
  // deleted task stays until its CRM side changes. Harmless (nothing is written); the model now lets it wait.
  it('an unlinked task deleted in Outlook right before a cursor eviction', async () => {
    await runSequence([
      new CreateInCrm('task', [0, 0]),
      new Cycle(),
      new Reassign(0),
      new Cycle(),
      new DeleteInOutlook(0, false),
      new EvictGraphCursors(),
      new ExpireCrmCursors(),
    ]);
  });

  // The planner changed while this suite was written: the Outlook item of an unlinked pair deleted while the CRM
  // record lives now turns the row into deletedLocally (was: removed, which let the next CRM change re-create the
  // item in Outlook). The model expected the removal; it now expects deletedLocally, which is what no-resurrection needs.
  it('an unlinked task (reassigned) deleted in Outlook keeps a deletedLocally row', async () => {
    const runner = await runSequence([
      new CreateInCrm('task', [0, 0]),
      new Cycle(),
      new Reassign(0),
      new Cycle(),
      new DeleteInOutlook(0, false),
      new Cycle(1),
    ]);
    expect(runner.model.items[0]).toMatchObject({ o: 'gone', c: 'live', link: 'deletedLocally' });
  });

  // Same family: the cursors are evicted, then the user deletes an unlinked contact. The full re-read reports no
  // removals and sweeps linked pairs only, so the detached row waits (nothing is written). The model now allows it.
  it('an unlinked contact deleted in Outlook after a cursor eviction', async () => {
    await runSequence([
      new CreateInOutlook('contact', true, [0, 0]),
      new Cycle(),
      new Untrack(0),
      new Reconcile(),
      new EvictGraphCursors(),
      new DeleteInOutlook(0, false),
      new Cycle(),
    ]);
  });

  // A message untracked and then moved out of the Inbox before a cycle read the untrack: the change is out of the
  // delta's view, so only reconciliation can find it (and misses it: the open reconcile bug above). The model first
  // expected the untrack to be applied by the next cycle.
  it('an untrack followed by a move out of the Inbox before the cycle read it', async () => {
    await runSequence([new CreateInOutlook('email', true, [0, 0]), new Cycle(), new Untrack(0), new MoveMessage(0), new Cycle(1)]);
  });

  // apply.ts now moves the failure of an `o:` row onto its pair's `map:` row (here the moved task's new id, matched by
  // its stamp, while the CRM rejects the write); the summary reports the `o:` key. The check first looked only under
  // the summary's key; it now accepts the pair's `map:` row.
  it('a failure recorded on the pair row of a moved task (CRM write rejected)', async () => {
    await runSequence([
      new CreateInCrm('task', [0, 0]),
      new Cycle(),
      new MoveTask(0),
      new RejectNextCrmWrite(),
      new EditOutlook(0, 0, 1),
      new EditCrm(0, 0, 0),
      new Cycle(),
    ]);
  });

  // The CRM-side twin: an unlinked task's record is deleted and the CRM cursors expire before the feed reported it;
  // the full re-read sweeps linked mappings only, so the detached row waits. The model now allows it.
  it('an unlinked task deleted in the CRM right before the CRM cursors expire', async () => {
    await runSequence([
      new CreateInCrm('task', [0, 0]),
      new Cycle(),
      new Reassign(0),
      new Cycle(),
      new DeleteInCrm(0),
      new EvictGraphCursors(),
      new MoveTask(0),
      new ExpireCrmCursors(),
      new Cycle(),
    ]);
  });

  // Crash after the worker created two CRM contacts in Outlook (no mapping committed), then one record is reassigned:
  // the model took "CRM side present but out of scope" for "CRM side deleted" and expected the item untracked. The
  // worker rightly does nothing (`crm-out-of-scope-unmapped`). Fixed in the model.
  it('a half-linked contact (crash before the link commit) whose CRM record is reassigned', async () => {
    await runSequence([new CreateInCrm('contact', [0, 0]), new CreateInCrm('contact', [0, 0]), new Cycle(12), new Reassign(3), new Cycle(1)]);
  });

  // A contact tracked from Outlook, reassigned (kept: DESIGN.md §6), then deleted in the CRM by its new owner: the
  // deletion table's "CRM deleted contact → deleted in Outlook unless the mailbox owner is the CRM owner" applies with
  // the owner the worker last saw, which the core now remembers when it keeps the pair. The model assumed every
  // contact stays owned by the mailbox owner; it now tracks whether the worker saw the reassignment.
  it('a reassigned contact tracked from Outlook, then deleted in the CRM, is deleted in Outlook', async () => {
    const runner = await runSequence([new CreateInOutlook('contact', true, [0, 0]), new Cycle(), new Reassign(0), new Reconcile(), new DeleteInCrm(0)]);
    expect(runner.model.items[0]).toMatchObject({ o: 'gone', c: 'gone', link: 'none' });
  });

  // The deletion missed by a round from no cursor stays missed after that round (the cursor now exists): the model
  // tolerated the wait only in the round itself; it now marks the deletion as one only reconciliation finds.
  it('a deletion missed by a round from no cursor is found by reconciliation later', async () => {
    await runSequence([
      new StoreWritesFail(1),
      new CreateInCrm('contact', [0, 0]),
      new Cycle(11),
      new CreateInCrm('contact', [0, 0]),
      new DeleteInOutlook(0, false),
      new CreateInCrm('contact', [0, 0]),
      new Cycle(),
    ]);
  });

  // Held deletes an admin confirmed, then a cycle that dies before running them: the next cycle runs both, outside the
  // guard's budget as it should. The model counted the confirmation for one cycle only. Fixed in the model (the budget
  // is the guard's count plus the rows still marked delete-confirmed).
  it('confirmed held deletes that a crash postponed run in the next cycle, outside the budget', async () => {
    await runSequence([
      new CreateInCrm('task', [0, 0]),
      new CreateInCrm('task', [0, 0]),
      new Cycle(),
      new DeleteInOutlook(0, false),
      new DeleteInOutlook(0, false),
      new Reconcile(),
      new ConfirmHeldDeletes(),
      new Cycle(1),
    ]);
  });

  // Half-linked by a crash (the CRM contact exists, no stamp, only the pendingCreate row), then the record is reassigned: the retried
  // create is idempotent and returns the reassigned record, so the pair is linked as tracked from Outlook and kept out
  // of scope, as if the reassignment had come after the link. The model expected it to stay unlinked; both are right.
  it('a half-linked contact whose record is reassigned before the retry is linked and kept', async () => {
    await runSequence([
      new CreateInOutlook('contact', false, [0, 0]),
      new ThrottleBurst('graph', 3),
      new ThrottleBurst('graph', 1),
      new Track(0),
      new Cycle(),
      new Cycle(),
      new Cycle(1),
      new Cycle(),
      // The 12th write is the CRM create: the 10th is the pendingCreate row committed before it (issue 6), the 11th the
      // CrmId stamp of the id that row names.
      new Cycle(12),
      new Reassign(0),
      new Cycle(),
    ]);
  });

  // The same unreported removal through a To Do move: the task list's cursor was never stored (store writes failed),
  // the user untracks the task and moves it (new id), the cursors are evicted. The list is read from no cursor (no
  // removal of the old id, no sweep) and the new, untracked task is not recorded, so the untrack waits for
  // reconciliation (the open "round from no cursor" bug). The model now treats a move like a deletion there.
  it('an untracked task moved to another list while its list has no cursor waits for reconciliation', async () => {
    await runSequence([
      new CreateInCrm('task', [0, 0]),
      new StoreWritesFail(1),
      new StoreWritesFail(1),
      new Reconcile(),
      new Untrack(0),
      new MoveTask(0),
      new EvictGraphCursors(),
    ]);
  });

  // A message moved out of the Inbox before any cycle saw it is out of every stream's view and is never tracked;
  // MoveMessage now only moves messages the worker linked. The sequence is kept with the message moved after linking.
  it('a tracked message moved out of the Inbox after it was linked stays linked, nothing is written', async () => {
    const runner = await runSequence([new CreateInOutlook('email', true, [0, 0]), new Cycle(), new MoveMessage(0), new Cycle(1)]);
    expect(runner.model.items[0]).toMatchObject({ link: 'linked', o: 'live', c: 'live', tracked: true });
  });
});

describe('a round resumed from a mid-round cursor (a mistake of the model, found by the long profile on 2026-11-21)', () => {
  // Cycle 3 died mid-collect after storing a contacts cursor in the middle of a round (a nextLink: the round's end is
  // fixed, graph-behaviour.md §1). The user then tracked a contact; cycle 4 finished the old round, which does not hold
  // that change, and the next round does. The model took the wait for a lost track; the harness now allows it a cycle.
  it('a contact tracked after a crash mid-round is created in the CRM a round later', async () => {
    const runner = await runSequence(
      [
        new CreateInOutlook('contact', true, [0, 0]),
        new Reconcile(),
        new CreateInCrm('contact', [0, 0]),
        new CreateInOutlook('contact', false, [0, 0]),
        new CreateInCrm('contact', [0, 0]),
        new StoreWritesFail(1),
        new Reconcile(),
        new Cycle(2),
        new Track(0),
        new Cycle(),
        new Cycle(),
      ],
      { avoid: AVOID_NOTHING },
    );
    expect(runner.model.items.find((item) => item.tag === 'l3@model.example')).toMatchObject({ c: 'live', link: 'linked' });
  });
});
