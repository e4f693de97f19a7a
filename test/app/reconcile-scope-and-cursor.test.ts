// Reconciliation and collection bugs the model-based suite found (test/model/regressions.test.ts, "fixed since"):
// an untrack seen only by reconciliation, a pair kept out of scope re-recorded at every verification, and a delta
// round from no cursor while pairs are linked (DESIGN.md §2, §4.4, §6; graph-behaviour.md §1.4, §1.6).
import type { CycleDeps } from '../../src/app/deps';
import { crmContact, taggedContact } from './support/fixtures';
import { MAILBOX, World } from './support/world';

/** A process whose delta rounds never report `hiddenId` (graph-behaviour.md §1.4 / sync-lessons.md §4.11). */
function depsHiding(world: World, hiddenId: string): CycleDeps {
  const deps = world.deps();
  const readDelta = deps.mailboxSource.readDelta.bind(deps.mailboxSource);
  deps.mailboxSource.readDelta = (mailbox, stream, cursor, onPage, window) =>
    readDelta(mailbox, stream, cursor, (page) => onPage({ ...page, entries: page.entries.filter((entry) => entry.id !== hiddenId) }), window);
  return deps;
}

describe('reconciliation applies the planner\'s tracking rule', () => {
  it('finds a linked contact whose category the user removed (the marker stays), and the next cycle unlinks it', async () => {
    const world = new World();
    const id = world.outlook.userCreate(MAILBOX, 'contact', 'contacts', taggedContact('Ada', 'Lovelace', 'ada@example.org'));
    await world.cycle();
    await world.cycle();
    expect(await world.mappings('contact')).toEqual([expect.objectContaining({ state: 'linked' })]);

    // DESIGN.md §2: removing the category is an untrack; only the worker clears the marker property.
    world.outlook.userEdit(MAILBOX, id, { categories: [] });
    const missed = await world.cycle({ deps: depsHiding(world, id) });

    expect(missed.counts['reconcile.changes']).toBe(1);
    await world.cycle({ deps: depsHiding(world, id) });
    expect(await world.mappings('contact')).toEqual([expect.objectContaining({ state: 'unlinked' })]);
    expect(world.crm.all('contact')).toHaveLength(1);
  });
});

describe('reconciliation of a pair kept out of scope (tracked from Outlook, DESIGN.md §6)', () => {
  it('records the reassigned record once; later verifications of the unchanged record record nothing', async () => {
    const world = new World();
    world.outlook.userCreate(MAILBOX, 'contact', 'contacts', taggedContact('Ada', 'Lovelace', 'ada@example.org'));
    await world.cycle();
    await world.cycle();
    const crmId = world.crm.all('contact')[0]?.id ?? '';
    world.crm.reassign('contact', crmId, 'another-user');

    await world.cycle();
    const [kept] = await world.mappings('contact');
    expect(kept).toMatchObject({ state: 'linked' });
    expect(kept?.crmVersion).toBe(world.crm.all('contact')[0]?.version);

    for (let i = 0; i < 3; i += 1) {
      const summary = await world.cycle();
      expect(summary.counts['reconcile.verified']).toBe(1);
      expect(summary.counts['reconcile.changes'] ?? 0).toBe(0);
    }
    expect(await world.store.countChanges(MAILBOX)).toBe(0);
    expect(world.writes.serviceWrites()).toEqual({});
    expect(world.outlook.snapshot(MAILBOX, 'contact')).toHaveLength(1);
  });
});

describe('a delta round from no cursor while pairs are linked', () => {
  it('sweeps like a re-read after an eviction, so a deletion it cannot report is found in the same cycle', async () => {
    const world = new World();
    crmContact(world, 'Grace', 'Hopper', 'grace@example.org');
    crmContact(world, 'Ada', 'Lovelace', 'ada@example.org');
    const first = await world.cycle();
    // A first round in an empty mailbox has nothing to sweep and opens no sweep epoch.
    expect(first.counts['streams.uncursoredResync'] ?? 0).toBe(0);
    await world.cycle();
    const [deleted, kept] = world.outlook.snapshot(MAILBOX, 'contact');
    expect(kept).toBeDefined();

    // The contacts cursor was lost (its setCursor failed); the user deletes a contact before the next round.
    await world.store.setCursor(MAILBOX, 'contacts', null);
    world.outlook.userDelete(MAILBOX, deleted?.id ?? '');
    const summary = await world.cycle({ reconcileLimit: 0 });

    // graph-behaviour.md §1.4: the initial round lists no removals; the sweep candidate is confirmed by a direct read.
    expect(summary.counts['streams.uncursoredResync']).toBe(1);
    expect(summary.counts['sweep.candidates']).toBe(1);
    const states = (await world.mappings('contact')).map((m) => [m.outlookId, m.state]);
    expect(states).toEqual(expect.arrayContaining([[deleted?.id, 'deletedLocally'], [kept?.id, 'linked']]));
    expect(world.crm.all('contact')).toHaveLength(2);
    const cursors = await world.store.listCursors(MAILBOX);
    expect([...cursors.keys()].filter((key) => key.startsWith('sweep:'))).toEqual([]);
    expect(cursors.get('contacts')).toBeDefined();
  });
});
