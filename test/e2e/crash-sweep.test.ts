// A crash after EVERY write of a busy cycle, one run per write index (DESIGN.md §4: idempotent creates, the cursor
// invariant; DESIGN.md §9.4 "crash at every write and rerun"), on Azurite and both simulators through the real adapters.
// Each run uses items of its own in the shared world: creates from both sides, an edit on each side and a delete on
// each side are pending when the process dies after its nth write (service writes and state writes alike).
// The clean run makes about 32 writes (9 cursors, 4 change-row records, 9 commits, 10 service writes). LONG_PROPERTY_RUNS=1
// crashes after every one of them (about 50 s); by default after every fifth one (1, 6, 11, …), to keep the suite fast.
import type { CycleDeps } from '../../src/app/deps';
import { CountingCrm, CountingMailboxSource, FaultyStore, Writes } from '../app/support/world';
import { contactProps, crmIdsWhere, startWorld, taskProps, type World } from './harness';

jest.setTimeout(180_000);

const STRIDE = process.env.LONG_PROPERTY_RUNS === '1' ? 1 : 5;

describe('e2e: a crash after any write of a cycle, then a rerun', () => {
  let world: World;

  beforeAll(async () => {
    world = await startWorld();
  });

  afterAll(async () => {
    await world?.stop();
  });

  function crashingAfter(n: number | null, run: number): { deps: CycleDeps; writes: Writes } {
    const writes = new Writes(n);
    const base = world.runtime.deps;
    return {
      writes,
      deps: {
        ...base,
        owner: `sweep-${run}`,
        mailboxSource: new CountingMailboxSource(base.mailboxSource, writes),
        crm: new CountingCrm(base.crm, writes),
        store: new FaultyStore(base.store, writes),
      },
    };
  }

  /** Synced items of run `tag`, then the user's pending work: 2 creates per side, an edit and a delete per side. */
  async function prepare(tag: string): Promise<{ outlookEdited: string; crmEdited: string; outlookDeleted: string; crmDeleted: string }> {
    const { outlook, crm } = world;
    const outlookEdited = await outlook.create('contact', contactProps('Oedit', tag, { jobTitle: 'before' }));
    const outlookDeleted = await outlook.create('task', taskProps(`Odelete ${tag}`));
    const crmEdited = crm.create('contact', { firstname: 'Cedit', lastname: tag, emailaddress1: `cedit.${tag}@contoso.test`, jobtitle: 'before' });
    const crmDeleted = crm.create('task', { subject: `Cdelete ${tag}` });
    const settled = await world.cycle();
    expect(settled.summary.failures).toEqual([]);
    // Pending when the crash comes:
    await outlook.create('contact', contactProps('Onew', tag));
    await outlook.create('task', taskProps(`Onew ${tag}`));
    crm.create('contact', { firstname: 'Cnew', lastname: tag, emailaddress1: `cnew.${tag}@contoso.test` });
    crm.create('task', { subject: `Cnew ${tag}` });
    await outlook.patch('contact', outlookEdited, { jobTitle: `edited in Outlook ${tag}` });
    crm.update('contact', crmEdited, { jobtitle: `edited in the CRM ${tag}` });
    await outlook.remove('task', outlookDeleted);
    crm.remove('task', crmDeleted);
    return { outlookEdited, crmEdited, outlookDeleted, crmDeleted };
  }

  async function expectConverged(tag: string, items: Awaited<ReturnType<typeof prepare>>): Promise<void> {
    const { outlook, crm } = world;
    const label = (what: string) => `${tag}: ${what}`;
    const pairs = [
      ['contact', 'Onew', 'surname', 'lastname'],
      ['contact', 'Cnew', 'surname', 'lastname'],
      ['contact', 'Oedit', 'surname', 'lastname'],
      ['contact', 'Cedit', 'surname', 'lastname'],
    ] as const;
    for (const [kind, first, outlookColumn, crmColumn] of pairs) {
      const inOutlook = outlook.list(kind).filter((item) => item.props[outlookColumn] === tag && item.props['givenName'] === first);
      const inCrm = crm.rows(kind).filter((row) => row[crmColumn] === tag && row['firstname'] === first);
      expect([label(`${first} in Outlook`), inOutlook.length]).toEqual([label(`${first} in Outlook`), 1]);
      expect([label(`${first} in the CRM`), inCrm.length]).toEqual([label(`${first} in the CRM`), 1]);
      expect([label(`${first} stamped`), inOutlook[0]?.crmId]).toEqual([label(`${first} stamped`), inCrm[0]?.['contactid']]);
    }
    for (const title of [`Onew ${tag}`, `Cnew ${tag}`]) {
      expect([label(title), outlook.list('task').filter((item) => item.props['title'] === title).length]).toEqual([label(title), 1]);
      expect([label(title), crmIdsWhere(world, 'task', 'subject', title).length]).toEqual([label(title), 1]);
    }
    // The deletes went through on the other side, and nothing came back (DESIGN.md §6: open tasks).
    for (const title of [`Odelete ${tag}`, `Cdelete ${tag}`]) {
      expect([label(title), outlook.list('task').filter((item) => item.props['title'] === title).length]).toEqual([label(title), 0]);
      expect([label(title), crmIdsWhere(world, 'task', 'subject', title).length]).toEqual([label(title), 0]);
    }
    // No lost edit, on either side.
    const crmOf = async (id: string) => crm.read('contact', (await world.mappingByOutlookId('contact', id))?.crmId ?? '');
    expect([label('Outlook edit'), (await crmOf(items.outlookEdited))?.['jobtitle']]).toEqual([label('Outlook edit'), `edited in Outlook ${tag}`]);
    expect([label('Outlook edit'), outlook.read(items.outlookEdited)?.props['jobTitle']]).toEqual([label('Outlook edit'), `edited in Outlook ${tag}`]);
    const crmEditedItem = (await world.mappingByCrmId('contact', items.crmEdited))?.outlookId ?? '';
    expect([label('CRM edit'), outlook.read(crmEditedItem)?.props['jobTitle']]).toEqual([label('CRM edit'), `edited in the CRM ${tag}`]);
  }

  it('converges with no duplicate and no lost edit, whichever write the crash followed', async () => {
    // The clean run of the same work: how many writes a crash can follow.
    const clean = crashingAfter(null, 0);
    const reference = await prepare('r0');
    const cleanRun = await world.cycle({ deps: clean.deps });
    expect(cleanRun.summary.failures).toEqual([]);
    await expectConverged('r0', reference);
    const total = clean.writes.total;
    // The state writes around them (cursors, change rows, commits) are counted too; their exact number is the app's.
    expect(total).toBeGreaterThanOrEqual(30);
    expect(clean.writes.serviceWrites()).toEqual({ 'crm.create': 2, 'outlook.create': 2, 'outlook.update': 3, 'crm.update': 1, 'crm.delete': 1, 'outlook.delete': 1 });

    for (let n = 1; n <= total; n += STRIDE) {
      const tag = `r${n}`;
      const items = await prepare(tag);
      const { deps, writes } = crashingAfter(n, n);
      await world.cycle({ deps });
      expect([tag, writes.dead]).toEqual([tag, true]);
      world.clock.advance(11 * 60_000);
      const rerun = await world.cycle();
      expect([tag, rerun.summary.failures]).toEqual([tag, []]);
      await expectConverged(tag, items);
    }
    // Converged for good: a cycle with no edits writes nothing.
    expect((await world.cycle()).writes).toEqual({ graph: 0, crm: 0 });
  });
});
