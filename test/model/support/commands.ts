// The commands of the model-based suite (sync-lessons.md §5.4): users on both sides, service faults, and cycles. Each
// user command's `check` is a precondition on the reference model; `run` acts on both the model and the world.
import fc from 'fast-check';
import { MAILBOX } from './model-world';
import { FULL_RECONCILE_LIMIT, NORMAL_RECONCILE_LIMIT, Runner, type RunnerOptions } from './harness';
import { AVOID_KNOWN_ISSUES, FIELDS, steerAroundHalfLink, steerAroundHalfLinkDelete, type KnownIssues, type Kind, type ModelItem, type ReferenceModel, type Values } from './reference';

export const MAX_ITEMS = 7;
const USER_STEP_MS = 1_000;
/** Longer than the core's conflict skew tolerance (2 min at the time of writing). */
const APART_MS = 150_000;

export type ModelCommand = fc.AsyncCommand<ReferenceModel, Runner>;

const live = (side: 'o' | 'c') => (item: ModelItem) => item[side] === 'live';

abstract class ItemCommand implements ModelCommand {
  protected avoid: KnownIssues = AVOID_KNOWN_ISSUES;
  constructor(readonly pick: number) {}
  abstract accept(item: ModelItem): boolean;
  abstract act(item: ModelItem, runner: Runner): void;
  abstract label(): string;
  check(model: Readonly<ReferenceModel>): boolean {
    this.avoid = model.avoid;
    return (model as ReferenceModel).pick(this.pick, (item) => this.accept(item)) !== null;
  }
  async run(model: ReferenceModel, runner: Runner): Promise<void> {
    this.avoid = model.avoid;
    const item = model.pick(this.pick, (candidate) => this.accept(candidate));
    if (!item) throw new Error(`model: no item for ${this.toString()}`);
    runner.world.tick(USER_STEP_MS);
    this.act(item, runner);
    item.dirty = true;
    runner.note(`${this.toString()} on ${item.kind} ${item.tag}`);
  }
  toString(): string {
    return this.label();
  }
}

function valuesOf(kind: Kind, picks: readonly number[]): Values {
  const values: Values = {};
  FIELDS[kind].forEach((spec, index) => {
    values[spec.field] = spec.pool[(picks[index] ?? 0) % spec.pool.length] as string;
  });
  return values;
}

export class CreateInOutlook implements ModelCommand {
  constructor(readonly kind: Kind, readonly tracked: boolean, readonly picks: readonly number[]) {}
  check(model: Readonly<ReferenceModel>): boolean {
    return model.items.length < MAX_ITEMS;
  }
  async run(model: ReferenceModel, runner: Runner): Promise<void> {
    runner.world.tick(USER_STEP_MS);
    const item = model.add(this.kind, 'outlook', this.tracked, valuesOf(this.kind, this.picks));
    item.outlookId = runner.world.createInOutlook(item, this.tracked);
    runner.note(`${this.toString()} → ${item.tag}`);
  }
  toString(): string {
    return `new CreateInOutlook('${this.kind}', ${this.tracked}, [${this.picks.join(', ')}])`;
  }
}

export class CreateInCrm implements ModelCommand {
  constructor(readonly kind: 'contact' | 'task', readonly picks: readonly number[]) {}
  check(model: Readonly<ReferenceModel>): boolean {
    return model.items.length < MAX_ITEMS;
  }
  async run(model: ReferenceModel, runner: Runner): Promise<void> {
    runner.world.tick(USER_STEP_MS);
    const item = model.add(this.kind, 'crm', false, valuesOf(this.kind, this.picks));
    item.crmId = runner.world.createInCrm(item);
    runner.note(`${this.toString()} → ${item.tag}`);
  }
  toString(): string {
    return `new CreateInCrm('${this.kind}', [${this.picks.join(', ')}])`;
  }
}

export class EditOutlook extends ItemCommand {
  constructor(pick: number, readonly field: number, readonly value: number) {
    super(pick);
  }
  accept(item: ModelItem): boolean {
    return live('o')(item) && FIELDS[item.kind].length > 0 && !(steerAroundHalfLink(this.avoid, item));
  }
  act(item: ModelItem, runner: Runner): void {
    const spec = FIELDS[item.kind][this.field % FIELDS[item.kind].length];
    if (!spec) return;
    const value = spec.pool[this.value % spec.pool.length] as string;
    runner.world.editOutlook(item, spec.field, value);
    item.ov[spec.field] = value;
  }
  label(): string {
    return `new EditOutlook(${this.pick}, ${this.field}, ${this.value})`;
  }
}

export class EditCrm extends ItemCommand {
  constructor(pick: number, readonly field: number, readonly value: number) {
    super(pick);
  }
  accept(item: ModelItem): boolean {
    return live('c')(item) && FIELDS[item.kind].length > 0;
  }
  act(item: ModelItem, runner: Runner): void {
    const spec = FIELDS[item.kind][this.field % FIELDS[item.kind].length];
    if (!spec) return;
    const value = spec.pool[this.value % spec.pool.length] as string;
    runner.world.editCrm(item, spec.field, value);
    item.cv[spec.field] = value;
  }
  label(): string {
    return `new EditCrm(${this.pick}, ${this.field}, ${this.value})`;
  }
}

/** Both sides edit the same pair before a cycle: the same field (a true conflict) or different fields (no conflict). */
export class EditBoth extends ItemCommand {
  /** `apart`: the second edit comes later than the core's skew tolerance, so "the later change wins" is decidable. */
  constructor(
    pick: number,
    readonly sameField: boolean,
    readonly outlookValue: number,
    readonly crmValue: number,
    readonly crmFirst: boolean,
    readonly apart = false,
  ) {
    super(pick);
  }
  accept(item: ModelItem): boolean {
    return live('o')(item) && live('c')(item) && FIELDS[item.kind].length > 1;
  }
  act(item: ModelItem, runner: Runner): void {
    const [first, second] = FIELDS[item.kind];
    if (!first || !second) return;
    const crmSpec = this.sameField ? first : second;
    const outlookValue = first.pool[this.outlookValue % first.pool.length] as string;
    const crmValue = crmSpec.pool[this.crmValue % crmSpec.pool.length] as string;
    const editOutlook = (): void => {
      runner.world.editOutlook(item, first.field, outlookValue);
      item.ov[first.field] = outlookValue;
    };
    const editCrm = (): void => {
      runner.world.editCrm(item, crmSpec.field, crmValue);
      item.cv[crmSpec.field] = crmValue;
    };
    if (this.crmFirst) editCrm();
    else editOutlook();
    runner.world.tick(this.apart ? APART_MS : USER_STEP_MS);
    if (this.crmFirst) editOutlook();
    else editCrm();
  }
  label(): string {
    return `new EditBoth(${this.pick}, ${this.sameField}, ${this.outlookValue}, ${this.crmValue}, ${this.crmFirst}, ${this.apart})`;
  }
}

export class DeleteInOutlook extends ItemCommand {
  /** `dropRemoval`: the delta never reports this deletion (graph-behaviour.md §2.2); only reconciliation finds it. */
  constructor(pick: number, readonly dropRemoval: boolean) {
    super(pick);
  }
  accept(item: ModelItem): boolean {
    return live('o')(item) && !steerAroundHalfLinkDelete(this.avoid, item);
  }
  act(item: ModelItem, runner: Runner): void {
    runner.world.deleteInOutlook(item, this.dropRemoval);
    item.o = 'gone';
    if (this.dropRemoval || item.moved) item.silent = true;
    runner.markGone(item, 'outlook');
  }
  label(): string {
    return `new DeleteInOutlook(${this.pick}, ${this.dropRemoval})`;
  }
}

export class DeleteInCrm extends ItemCommand {
  accept(item: ModelItem): boolean {
    // Re-tracking an unlinked item whose CRM record is gone makes a new record on purpose (planner
    // `retracked-crm-gone-create-in-crm`): the model keeps that case out rather than call it a resurrection.
    return live('c')(item) && !(item.link === 'unlinked' && item.tracked && item.o === 'live') && !(steerAroundHalfLink(this.avoid, item));
  }
  act(item: ModelItem, runner: Runner): void {
    runner.world.deleteInCrm(item);
    item.c = 'gone';
    runner.markGone(item, 'crm');
  }
  label(): string {
    return `new DeleteInCrm(${this.pick})`;
  }
}

export class Untrack extends ItemCommand {
  accept(item: ModelItem): boolean {
    return live('o')(item) && item.tracked && !steerAroundHalfLink(this.avoid, item);
  }
  act(item: ModelItem, runner: Runner): void {
    runner.world.setTracked(item, false);
    item.tracked = false;
    if (item.moved) item.silent = true;
  }
  label(): string {
    return `new Untrack(${this.pick})`;
  }
}

export class Track extends ItemCommand {
  accept(item: ModelItem): boolean {
    return live('o')(item) && !item.tracked && item.c !== 'gone';
  }
  act(item: ModelItem, runner: Runner): void {
    runner.world.setTracked(item, true);
    item.tracked = true;
    if (item.moved) item.silent = true;
  }
  label(): string {
    return `new Track(${this.pick})`;
  }
}

/** To Do: a move to another list is a new id (graph-behaviour.md §1.4). */
export class MoveTask extends ItemCommand {
  accept(item: ModelItem): boolean {
    const unstampedPending =
      this.avoid.pendingCreateTaskMoveUnstamped && (item.unstampedCreate === true || (item.link === 'pendingCreate' && item.c === 'live'));
    return item.kind === 'task' && live('o')(item) && !steerAroundHalfLink(this.avoid, item) && !unstampedPending;
  }
  act(item: ModelItem, runner: Runner): void {
    item.outlookId = runner.world.moveTask(item);
    // A pendingCreate row whose record was never made is found by the old task id only (the model knows no CRM id to
    // look it up by): the moved task is a new unmapped one for the model. A record made and since deleted keeps its id,
    // by which the row is still found (and the stamp, written before the create, lets the worker follow the move).
    if (item.link === 'pendingCreate' && item.c === 'none') item.link = 'none';
  }
  label(): string {
    return `new MoveTask(${this.pick})`;
  }
}

/** A message moved out of the Inbox keeps its immutable id; the Inbox delta reports it removed (DESIGN.md §3). */
export class MoveMessage extends ItemCommand {
  accept(item: ModelItem): boolean {
    // Only messages the worker already linked: a message moved before any cycle saw it in the Inbox is out of every
    // stream's view and never tracked, which is right but not what this command is about.
    return item.kind === 'email' && live('o')(item) && !item.moved && item.link === 'linked';
  }
  act(item: ModelItem, runner: Runner): void {
    runner.world.moveMessage(item);
    item.moved = true;
    // Changes the Inbox delta has not delivered yet are now out of its view too: only reconciliation can find them.
    if (item.dirty) item.silent = true;
  }
  label(): string {
    return `new MoveMessage(${this.pick})`;
  }
}

/** The CRM record is given to another user: it leaves the mailbox owner's scope (DESIGN.md §6). */
export class Reassign extends ItemCommand {
  accept(item: ModelItem): boolean {
    return item.kind !== 'email' && live('c')(item) && item.inScope;
  }
  act(item: ModelItem, runner: Runner): void {
    runner.world.reassign(item);
    item.inScope = false;
    item.ownerKnown = false;
  }
  label(): string {
    return `new Reassign(${this.pick})`;
  }
}

abstract class WorldCommand implements ModelCommand {
  check(_model: Readonly<ReferenceModel>): boolean {
    return true;
  }
  abstract run(model: ReferenceModel, runner: Runner): Promise<void>;
  abstract toString(): string;
}

export class EvictGraphCursors extends WorldCommand {
  async run(model: ReferenceModel, runner: Runner): Promise<void> {
    runner.world.outlook.evict(MAILBOX);
    // Removals not yet read are lost with the cursor (graph-behaviour.md §1.6): only the sweep of linked mappings, or
    // reconciliation, finds those deletions now; a detached row of a deleted item may stay until its CRM side moves.
    for (const item of model.items) if (item.o === 'gone' && item.dirty) item.silent = true;
    runner.note(this.toString());
  }
  toString(): string {
    return 'new EvictGraphCursors()';
  }
}

export class ExpireCrmCursors extends WorldCommand {
  /** A full re-read loses the feed's deletion of a pendingCreate row's record: the open resurrection, steered around. */
  override check(model: Readonly<ReferenceModel>): boolean {
    return !(model.avoid.pendingCreateDeletionUnseen && model.items.some((item) => item.link === 'pendingCreate' && item.c !== 'none'));
  }
  async run(_model: ReferenceModel, runner: Runner): Promise<void> {
    runner.world.crm.expireCursors();
    runner.note(this.toString());
  }
  toString(): string {
    return 'new ExpireCrmCursors()';
  }
}

export class ThrottleBurst extends WorldCommand {
  constructor(readonly service: 'graph' | 'crm', readonly calls: number) {
    super();
  }
  /** While a crash left a pair half-linked, a failing write or read makes the open duplicate bug fire: steer around it. */
  override check(model: Readonly<ReferenceModel>): boolean {
    return !model.items.some((item) => steerAroundHalfLink(model.avoid, item));
  }
  async run(_model: ReferenceModel, runner: Runner): Promise<void> {
    (this.service === 'graph' ? runner.world.mailbox.throttle : runner.world.crmPort.throttle).burst(this.calls);
    runner.note(this.toString());
  }
  toString(): string {
    return `new ThrottleBurst('${this.service}', ${this.calls})`;
  }
}

export class RejectNextCrmWrite extends WorldCommand {
  /** While a crash left a pair half-linked, a failing write or read makes the open duplicate bug fire: steer around it. */
  override check(model: Readonly<ReferenceModel>): boolean {
    return !model.items.some((item) => steerAroundHalfLink(model.avoid, item));
  }
  async run(_model: ReferenceModel, runner: Runner): Promise<void> {
    runner.world.crm.rejectNextWrite('crm-validation-error');
    runner.world.rejectArmed = true;
    runner.note(this.toString());
  }
  toString(): string {
    return 'new RejectNextCrmWrite()';
  }
}

export class StoreWritesFail extends WorldCommand {
  constructor(readonly calls: number) {
    super();
  }
  /** While a crash left a pair half-linked, a failing write or read makes the open duplicate bug fire: steer around it. */
  override check(model: Readonly<ReferenceModel>): boolean {
    return !model.items.some((item) => steerAroundHalfLink(model.avoid, item));
  }
  async run(_model: ReferenceModel, runner: Runner): Promise<void> {
    runner.world.flaky.failWrites += this.calls;
    runner.note(this.toString());
  }
  toString(): string {
    return `new StoreWritesFail(${this.calls})`;
  }
}

export class SkewClock extends WorldCommand {
  /** Offset of that system's clock from the worker's, in half seconds (bounded by MAX_SKEW_MS). */
  constructor(readonly system: 'outlook' | 'crm', readonly halfSeconds: number) {
    super();
  }
  async run(_model: ReferenceModel, runner: Runner): Promise<void> {
    runner.world.skew(this.system, this.halfSeconds * 500);
    runner.note(this.toString());
  }
  toString(): string {
    return `new SkewClock('${this.system}', ${this.halfSeconds})`;
  }
}

export class ConfirmHeldDeletes extends WorldCommand {
  async run(_model: ReferenceModel, runner: Runner): Promise<void> {
    const confirmed = await runner.world.confirmHeld();
    runner.note(`${this.toString()} → ${confirmed}`);
  }
  toString(): string {
    return 'new ConfirmHeldDeletes()';
  }
}

export class Cycle extends WorldCommand {
  /** `crashAfter`: the process dies right after its Nth write (Graph, CRM or state store). */
  constructor(readonly crashAfter: number | null = null) {
    super();
  }
  async run(_model: ReferenceModel, runner: Runner): Promise<void> {
    runner.note(this.toString());
    await runner.runCycle(this.crashAfter, NORMAL_RECONCILE_LIMIT);
  }
  toString(): string {
    return `new Cycle(${this.crashAfter ?? ''})`;
  }
}

export class Reconcile extends WorldCommand {
  async run(_model: ReferenceModel, runner: Runner): Promise<void> {
    runner.note(this.toString());
    await runner.runCycle(null, FULL_RECONCILE_LIMIT);
  }
  toString(): string {
    return 'new Reconcile()';
  }
}

/** Time passes without a cycle (longer than the conflict skew tolerance), so later edits are clearly later. */
export class Wait extends WorldCommand {
  async run(_model: ReferenceModel, runner: Runner): Promise<void> {
    runner.world.tick(APART_MS);
    runner.note(this.toString());
  }
  toString(): string {
    return 'new Wait()';
  }
}

const pick = fc.nat({ max: 50 });
const picks = fc.array(fc.nat({ max: 5 }), { minLength: 2, maxLength: 2 });

const createInOutlook = fc
  .tuple(fc.constantFrom<Kind>('contact', 'task', 'email'), fc.boolean(), picks)
  .map(([kind, tracked, values]) => new CreateInOutlook(kind, tracked || kind === 'email', values));
const createInCrm = fc.tuple(fc.constantFrom<'contact' | 'task'>('contact', 'task'), picks).map(([kind, values]) => new CreateInCrm(kind, values));

const editBoth = fc
  .tuple(pick, fc.boolean(), fc.nat({ max: 2 }), fc.nat({ max: 2 }), fc.boolean(), fc.boolean())
  .map(([p, same, o, c, first, apart]) => new EditBoth(p, same, o, c, first, apart));

export const commandArbitraries: fc.Arbitrary<ModelCommand>[] = [
  // Creates and edits are listed more than once: fc.commands picks uniformly, and most commands need items.
  createInOutlook,
  createInOutlook,
  createInCrm,
  createInCrm,
  fc.tuple(pick, fc.nat({ max: 1 }), fc.nat({ max: 2 })).map(([p, f, v]) => new EditOutlook(p, f, v)),
  fc.tuple(pick, fc.nat({ max: 1 }), fc.nat({ max: 2 })).map(([p, f, v]) => new EditCrm(p, f, v)),
  fc.tuple(pick, fc.nat({ max: 1 }), fc.nat({ max: 2 })).map(([p, f, v]) => new EditOutlook(p, f, v)),
  fc.tuple(pick, fc.nat({ max: 1 }), fc.nat({ max: 2 })).map(([p, f, v]) => new EditCrm(p, f, v)),
  editBoth,
  editBoth,
  fc.constant(new Wait()),
  fc.tuple(pick, fc.boolean()).map(([p, drop]) => new DeleteInOutlook(p, drop)),
  pick.map((p) => new DeleteInCrm(p)),
  pick.map((p) => new Untrack(p)),
  pick.map((p) => new Track(p)),
  pick.map((p) => new MoveTask(p)),
  pick.map((p) => new MoveMessage(p)),
  pick.map((p) => new Reassign(p)),
  fc.constant(new EvictGraphCursors()),
  fc.constant(new ExpireCrmCursors()),
  fc.tuple(fc.constantFrom<'graph' | 'crm'>('graph', 'crm'), fc.integer({ min: 1, max: 4 })).map(([service, calls]) => new ThrottleBurst(service, calls)),
  fc.constant(new RejectNextCrmWrite()),
  fc.integer({ min: 1, max: 3 }).map((calls) => new StoreWritesFail(calls)),
  fc.tuple(fc.constantFrom<'outlook' | 'crm'>('outlook', 'crm'), fc.integer({ min: -6, max: 6 })).map(([system, half]) => new SkewClock(system, half)),
  fc.constant(new ConfirmHeldDeletes()),
  // Cycles are the most frequent command, so that user actions and faults interleave with them.
  fc.constant(new Cycle()),
  fc.constant(new Cycle()),
  fc.constant(new Cycle()),
  fc.integer({ min: 1, max: 25 }).map((n) => new Cycle(n)),
  fc.constant(new Reconcile()),
];

/** Run a written-out sequence (a regression): every command must be valid where it stands, then the run settles. */
export async function runSequence(commands: readonly ModelCommand[], options: RunnerOptions = {}): Promise<Runner> {
  const runner = new Runner(options);
  try {
    for (const command of commands) {
      if (!command.check(runner.model)) throw new Error(`precondition failed: ${command.toString()}`);
      await command.run(runner.model, runner);
    }
    await runner.settle();
  } catch (error) {
    if (error instanceof Error) error.message += `\ntrace:\n${runner.trace.join('\n')}`;
    throw error;
  }
  return runner;
}
