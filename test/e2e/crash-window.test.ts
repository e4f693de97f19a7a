// The CRM side of the window between a create's answer and the Table write that records it (docs/architecture.md
// "Crash windows"), on Azurite and both simulators through the real adapters: the crash follows the CRM create of a
// tracked Outlook contact, the user deletes the new record, and the CRM cursor expires, so the full re-read lists no
// deletion (dataverse-behaviour.md §1.5, §1.3). With the recycle bin on for contacts (restore-deleted-records;
// src/adapters/dataverse/recycle-bin.ts), the deleted record proves the create happened: it is not created again
// (DESIGN.md §6: the owner's contact is unlinked). With it off, nothing can tell, and the record is created again with
// the same id, once, and the run says so. Each case starts its own world: the connector caches a table's bin setting.
import { contactProps, crmIdsWhere, startWorld, type World } from './harness';

jest.setTimeout(90_000);

describe('e2e: a crash right after a CRM create, then the record is deleted while the CRM cursor expires', () => {
  let world: World | undefined;

  afterEach(async () => {
    await world?.stop();
    world = undefined;
  });

  async function crashDeleteExpire(binOn: boolean) {
    const w = await startWorld();
    world = w;
    w.dataverse.knobs.recycleBin = binOn ? { contacts: true } : {};
    const id = await w.outlook.create('contact', contactProps('Del', 'Binned'));
    const { deps, writes } = w.crashingDeps('crm.create');
    await w.cycle({ deps });
    expect(writes.dead).toBe(true);
    const created = crmIdsWhere(w, 'contact', 'lastname', 'Binned');
    expect(created).toHaveLength(1);
    w.crm.remove('contact', created[0] ?? '');
    w.dataverse.control.expireDeltaTokens();
    // The dead process never released its lease: the rerun waits until it expires (DESIGN.md §4.1, 10 minutes).
    w.clock.advance(11 * 60_000);
    const rerun = await w.cycle();
    expect(rerun.summary.failures).toEqual([]);
    const quiet = await w.cycle();
    expect(quiet.writes).toEqual({ graph: 0, crm: 0 });
    return { w, id, crmId: created[0] ?? '', rerun };
  }

  it('recycle bin on: the record is not created again, the contact is unlinked', async () => {
    const { w, id, crmId } = await crashDeleteExpire(true);
    expect(crmIdsWhere(w, 'contact', 'lastname', 'Binned')).toEqual([]);
    expect(await w.mappingByCrmId('contact', crmId)).toBeNull();
    expect(w.outlook.read(id)?.props['categories']).toEqual([]);
  });

  it('recycle bin off: the record is created again with the same id, once, and the run counts it', async () => {
    const { w, id, crmId, rerun } = await crashDeleteExpire(false);
    expect(crmIdsWhere(w, 'contact', 'lastname', 'Binned')).toEqual([crmId]);
    expect(rerun.summary.counts['pendingCreate.unproven']).toBe(1);
    expect(await w.mappingByCrmId('contact', crmId)).toMatchObject({ state: 'linked', outlookId: id });
  });
});
