// The CrmConnector contract (src/ports/crm-connector.ts), run against every adapter: the in-memory CRM and the
// Dataverse connector on the Dataverse simulator. The world driver plays people editing records in the CRM itself.
import type { CrmParty, CrmRecord, ItemKind, JsonObject } from '../../src/core/model';
import type { CrmChange, CrmConnector, CrmUser, CrmWriteOp, CrmWriteResult } from '../../src/ports/crm-connector';
import { ConcurrencyError, ItemRejectedError, ResyncRequiredError } from '../../src/ports/errors';
import { resolveZone } from '../../src/core/timezone';

export interface CrmWorldRecord {
  attributes: JsonObject;
  ownerId: string;
  parties?: CrmParty[];
}

/** CRM-side changes made by people, not through the connector. */
export interface CrmWorld {
  /** The mailbox owner's address (a CRM user exists for it) and another CRM user's id. */
  meAddress: string;
  otherUserId: string;
  /** Changes per page the connector was configured with (so the suite can make a round span pages). */
  pageSize: number;
  createRecord(kind: ItemKind, record: CrmWorldRecord): Promise<string>;
  editRecord(kind: ItemKind, id: string, attributes: JsonObject): Promise<void>;
  deleteRecord(kind: ItemKind, id: string): Promise<void>;
  reassign(kind: ItemKind, id: string, ownerId: string): Promise<void>;
  /** Make every cursor handed out so far expire (dataverse-behaviour.md §1.5). */
  expireCursors(): Promise<void>;
  /** Optional: the next create is applied but its response never reaches the connector. */
  loseNextCreateResponse?(): Promise<void>;
}

export interface CrmContractSetup {
  connector: CrmConnector;
  world: CrmWorld;
  close(): Promise<void>;
}

interface Round {
  changes: CrmChange[];
  cursor: string;
  pages: number;
  failures: number;
}

async function readRound(connector: CrmConnector, kind: ItemKind, user: CrmUser, cursor: string | null): Promise<Round> {
  const round: Round = { changes: [], cursor: '', pages: 0, failures: 0 };
  let sawFinal = false;
  await connector.readChanges(kind, user, cursor, async (page) => {
    expect(sawFinal).toBe(false);
    round.pages += 1;
    round.changes.push(...page.changes);
    round.failures += page.failures.length;
    round.cursor = page.cursor;
    sawFinal = page.final;
  });
  expect(sawFinal).toBe(true);
  return round;
}

function idsOf(changes: CrmChange[], type: CrmChange['type']): string[] {
  return changes.filter((c) => c.type === type).map((c) => c.id.toLowerCase()).sort();
}

/** The record a batched write returned; fails the test with the write's error otherwise. */
function written(result: CrmWriteResult | undefined): CrmRecord {
  if (!result?.ok) throw result?.error ?? new Error('no result');
  if (result.record === null) throw new Error('the write returned no record');
  return result.record;
}

function failedWith(result: CrmWriteResult | undefined): Error {
  if (!result || result.ok) throw new Error(`expected the write to fail, got ${JSON.stringify(result)}`);
  return result.error;
}

function sorted(ids: string[]): string[] {
  return ids.map((id) => id.toLowerCase()).sort();
}

/** Parties a writer controls: the platform adds an Owner row (mask 9) of its own on Dataverse. */
function writtenParties(parties: CrmParty[]): string[] {
  return parties.filter((party) => party.participationTypeMask !== 9).map(partyKey).sort();
}

function partyKey(party: CrmParty): string {
  // Dataverse fills `addressused` for resolved parties itself, so the address only identifies unresolved ones.
  const who = party.party ? `${party.party.entity}:${party.party.id.toLowerCase()}` : `address:${party.address?.toLowerCase()}`;
  return `${party.participationTypeMask}|${who}`;
}

export function describeCrmConnectorContract(name: string, setup: () => Promise<CrmContractSetup>): void {
  describe(`CrmConnector contract: ${name}`, () => {
    let connector: CrmConnector;
    let world: CrmWorld;
    let close: () => Promise<void>;
    let me: CrmUser;

    beforeEach(async () => {
      ({ connector, world, close } = await setup());
      const resolved = await connector.resolveUser(world.meAddress);
      if (!resolved) throw new Error('the mailbox owner must resolve');
      me = resolved;
    });

    afterEach(async () => {
      await close();
    });

    it('resolves a CRM user by mailbox address, case-insensitively, and null for an unknown one', async () => {
      const again = await connector.resolveUser(world.meAddress.toUpperCase());
      expect(again?.id.toLowerCase()).toBe(me.id.toLowerCase());
      expect(me.azureObjectId).toEqual(expect.any(String));
      expect(await connector.resolveUser('nobody@unknown.example')).toBeNull();
    });

    it('an initial round returns exactly the records in scope; an idle round returns nothing', async () => {
      const mine = await world.createRecord('contact', { attributes: { firstname: 'Mine', lastname: 'Own' }, ownerId: me.id });
      await world.createRecord('contact', { attributes: { firstname: 'Not', lastname: 'Mine' }, ownerId: world.otherUserId });
      const attending = await world.createRecord('appointment', {
        attributes: { subject: 'Invited', scheduledstart: '2030-01-01T10:00:00Z', scheduledend: '2030-01-01T11:00:00Z' },
        ownerId: world.otherUserId,
        parties: [{ participationTypeMask: 5, address: null, party: { entity: 'systemuser', id: me.id } }],
      });
      const owned = await world.createRecord('appointment', {
        attributes: { subject: 'Mine', scheduledstart: '2030-01-02T10:00:00Z', scheduledend: '2030-01-02T11:00:00Z' },
        ownerId: me.id,
      });
      await world.createRecord('appointment', {
        attributes: { subject: 'Theirs', scheduledstart: '2030-01-03T10:00:00Z', scheduledend: '2030-01-03T11:00:00Z' },
        ownerId: world.otherUserId,
      });
      const myTask = await world.createRecord('task', { attributes: { subject: 'Do it' }, ownerId: me.id });
      await world.createRecord('task', { attributes: { subject: 'Not mine' }, ownerId: world.otherUserId });

      const contacts = await readRound(connector, 'contact', me, null);
      expect(idsOf(contacts.changes, 'upsert')).toEqual(sorted([mine]));
      expect(contacts.changes).toHaveLength(1);
      const record = contacts.changes[0]?.type === 'upsert' ? contacts.changes[0].record : null;
      expect(record?.data.firstname).toBe('Mine');
      expect(record?.ownerId?.toLowerCase()).toBe(me.id.toLowerCase());
      expect(record?.version).toEqual(expect.any(String));

      const appointments = await readRound(connector, 'appointment', me, null);
      expect(idsOf(appointments.changes, 'upsert')).toEqual(sorted([attending, owned]));
      expect(appointments.changes).toHaveLength(2);
      const invited = appointments.changes.find((c) => c.id.toLowerCase() === attending.toLowerCase());
      expect(invited?.type === 'upsert' && connector.isInScope(invited.record, me)).toBe(true);

      const tasks = await readRound(connector, 'task', me, null);
      expect(idsOf(tasks.changes, 'upsert')).toEqual(sorted([myTask]));

      const idle = await readRound(connector, 'contact', me, contacts.cursor);
      expect(idle.changes).toEqual([]);
      const idleAppointments = await readRound(connector, 'appointment', me, appointments.cursor);
      expect(idleAppointments.changes).toEqual([]);
    });

    it('a round larger than a page spans pages, every page but the last not final', async () => {
      const ids: string[] = [];
      for (let i = 0; i < world.pageSize * 2 + 1; i += 1) {
        ids.push(await world.createRecord('contact', { attributes: { lastname: `Paged ${i}` }, ownerId: me.id }));
      }
      const round = await readRound(connector, 'contact', me, null);
      expect(round.pages).toBe(3);
      expect(idsOf(round.changes, 'upsert')).toEqual(sorted(ids));
    });

    it('a round interrupted after a page resumes from that page\'s cursor without losing a change', async () => {
      const ids: string[] = [];
      for (let i = 0; i < world.pageSize * 2 + 1; i += 1) {
        ids.push(await world.createRecord('contact', { attributes: { lastname: `Resumed ${i}` }, ownerId: me.id }));
      }
      const seen = new Set<string>();
      let resumeFrom = '';
      const stop = new Error('worker crashed after the first page');
      await expect(
        connector.readChanges('contact', me, null, async (page) => {
          page.changes.forEach((c) => seen.add(c.id.toLowerCase()));
          resumeFrom = page.cursor;
          expect(page.final).toBe(false);
          throw stop;
        }),
      ).rejects.toBe(stop);
      const rest = await readRound(connector, 'contact', me, resumeFrom);
      rest.changes.forEach((c) => seen.add(c.id.toLowerCase()));
      expect([...seen].sort()).toEqual(sorted(ids));
      const idle = await readRound(connector, 'contact', me, rest.cursor);
      expect(idle.changes).toEqual([]);
    });

    it('updates, deletes and reassignments made in the CRM show up in the next round', async () => {
      const edited = await world.createRecord('contact', { attributes: { lastname: 'Before' }, ownerId: me.id });
      const deleted = await world.createRecord('contact', { attributes: { lastname: 'Doomed' }, ownerId: me.id });
      const reassigned = await world.createRecord('contact', { attributes: { lastname: 'Leaving' }, ownerId: me.id });
      const initial = await readRound(connector, 'contact', me, null);
      expect(initial.changes).toHaveLength(3);

      await world.editRecord('contact', edited, { lastname: 'After' });
      await world.deleteRecord('contact', deleted);
      await world.reassign('contact', reassigned, world.otherUserId);

      const delta = await readRound(connector, 'contact', me, initial.cursor);
      expect(idsOf(delta.changes, 'upsert')).toEqual(sorted([edited]));
      expect(idsOf(delta.changes, 'deleted')).toEqual(sorted([deleted]));
      expect(idsOf(delta.changes, 'outOfScope')).toEqual(sorted([reassigned]));
      const update = delta.changes.find((c) => c.type === 'upsert');
      expect(update?.type === 'upsert' ? update.record.data.lastname : null).toBe('After');
      // dataverse-behaviour.md §1.3: upserts come before deletes.
      expect(delta.changes[delta.changes.length - 1]?.type).toBe('deleted');

      const idle = await readRound(connector, 'contact', me, delta.cursor);
      expect(idle.changes).toEqual([]);
    });

    it('an expired cursor throws ResyncRequiredError and a fresh round works', async () => {
      const id = await world.createRecord('task', { attributes: { subject: 'Survivor' }, ownerId: me.id });
      const initial = await readRound(connector, 'task', me, null);
      await world.expireCursors();
      await expect(readRound(connector, 'task', me, initial.cursor)).rejects.toBeInstanceOf(ResyncRequiredError);
      const fresh = await readRound(connector, 'task', me, null);
      expect(idsOf(fresh.changes, 'upsert')).toEqual(sorted([id]));
    });

    it('creates as the user, in scope, with the state pair applied after the create', async () => {
      const created = await connector.create(
        'task',
        { attributes: { subject: 'Finished', statecode: 1, statuscode: 5, percentcomplete: 100 } },
        { actAs: me, idempotencyKey: 'task-created-complete' },
      );
      expect(created.ownerId?.toLowerCase()).toBe(me.id.toLowerCase());
      expect(connector.isInScope(created, me)).toBe(true);
      const [read] = [...(await connector.read('task', [created.id], me)).values()];
      expect(read?.data).toMatchObject({ subject: 'Finished', statecode: 1, statuscode: 5, percentcomplete: 100 });
    });

    it('a retried create after a lost response yields one record, not two', async () => {
      const write = { attributes: { firstname: 'Once', lastname: 'Only', emailaddress1: 'once@example.com' } };
      const options = { actAs: me, idempotencyKey: 'outlook-contact-42' };
      if (world.loseNextCreateResponse) {
        await world.loseNextCreateResponse();
        await expect(connector.create('contact', write, options)).rejects.toThrow();
      }
      const first = await connector.create('contact', write, options);
      const second = await connector.create('contact', write, options);
      expect(second.id).toBe(first.id);
      const found = await connector.findContactsByEmail(['once@example.com'], me);
      expect(found.map((r) => r.id)).toEqual([first.id]);
      const round = await readRound(connector, 'contact', me, null);
      expect(round.changes.filter((c) => c.type === 'upsert' && c.record.data.lastname === 'Only')).toHaveLength(1);
      const other = await connector.create('contact', write, { actAs: me, idempotencyKey: 'outlook-contact-43' });
      expect(other.id).not.toBe(first.id);
    });

    it('idForCreate names, before the create, the id the create gives the record for the same key', async () => {
      if (!connector.idForCreate) return; // optional: a CRM that picks ids itself keeps the create-then-link order
      const announced = connector.idForCreate('task', 'outlook-task-7');
      expect(announced).not.toBeNull();
      expect(connector.idForCreate('task', 'outlook-task-8')).not.toBe(announced);
      const created = await connector.create('task', { attributes: { subject: 'Announced' } }, { actAs: me, idempotencyKey: 'outlook-task-7' });
      expect(created.id).toBe(announced);
    });

    it('an update with a stale version fails with ConcurrencyError; the current version succeeds', async () => {
      const created = await connector.create('contact', { attributes: { lastname: 'Versioned' } }, { actAs: me, idempotencyKey: 'v1' });
      const updated = await connector.update('contact', created.id, { attributes: { jobtitle: 'Chef' } }, { actAs: me, ifMatch: created.version });
      expect(updated.version).not.toBe(created.version);
      expect(updated.data.jobtitle).toBe('Chef');
      await expect(
        connector.update('contact', created.id, { attributes: { jobtitle: 'Cook' } }, { actAs: me, ifMatch: created.version }),
      ).rejects.toBeInstanceOf(ConcurrencyError);
      await world.editRecord('contact', created.id, { department: 'Kitchen' });
      await expect(
        connector.update('contact', created.id, { attributes: { jobtitle: 'Cook' } }, { actAs: me, ifMatch: updated.version }),
      ).rejects.toBeInstanceOf(ConcurrencyError);
      const [current] = [...(await connector.read('contact', [created.id], me)).values()];
      expect(current?.data).toMatchObject({ jobtitle: 'Chef', department: 'Kitchen' });
    });

    it('an update with `*` of a record deleted in the CRM fails crm-record-gone and never resurrects it', async () => {
      const id = await world.createRecord('contact', { attributes: { lastname: 'Gone' }, ownerId: me.id });
      const initial = await readRound(connector, 'contact', me, null);
      await world.deleteRecord('contact', id);
      const failure = await connector
        .update('contact', id, { attributes: { lastname: 'Back?' } }, { actAs: me, ifMatch: '*' })
        .then(() => null, (error: unknown) => error);
      expect(failure).toBeInstanceOf(ItemRejectedError);
      expect((failure as ItemRejectedError).reason).toBe('crm-record-gone');
      expect((await connector.read('contact', [id], me)).get(id)).toBeNull();
      const delta = await readRound(connector, 'contact', me, initial.cursor);
      expect(idsOf(delta.changes, 'upsert')).toEqual([]);
    });

    it('deleting a record that is already gone succeeds', async () => {
      const created = await connector.create('task', { attributes: { subject: 'Short-lived' } }, { actAs: me, idempotencyKey: 'del-1' });
      await connector.delete('task', created.id, { actAs: me });
      await connector.delete('task', created.id, { actAs: me });
      expect((await connector.read('task', [created.id], me)).get(created.id)).toBeNull();
    });

    it('reads by id in batches, null for missing ids', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 3; i += 1) ids.push(await world.createRecord('task', { attributes: { subject: `Read ${i}` }, ownerId: me.id }));
      const missing = '00000000-0000-4000-8000-00000000dead';
      const result = await connector.read('task', [...ids, missing], me);
      expect(result.size).toBe(4);
      expect(result.get(missing)).toBeNull();
      expect(ids.map((id) => result.get(id)?.data.subject)).toEqual(['Read 0', 'Read 1', 'Read 2']);
    });

    it('finds the user\'s contacts by any e-mail address, case-insensitively', async () => {
      const mine = await world.createRecord('contact', { attributes: { lastname: 'Ann', emailaddress2: 'Ann@Example.com' }, ownerId: me.id });
      await world.createRecord('contact', { attributes: { lastname: 'Ann elsewhere', emailaddress1: 'ann@example.com' }, ownerId: world.otherUserId });
      await world.createRecord('contact', { attributes: { lastname: "O'Brien", emailaddress3: "o'brien@example.com" }, ownerId: me.id });
      const found = await connector.findContactsByEmail(['ann@EXAMPLE.com', 'nobody@example.com'], me);
      expect(found.map((r) => r.id.toLowerCase())).toEqual([mine.toLowerCase()]);
      const quoted = await connector.findContactsByEmail(["O'Brien@example.com"], me);
      expect(quoted).toHaveLength(1);
      expect(await connector.findContactsByEmail([], me)).toEqual([]);
    });

    it('activity parties and regarding round-trip through create, read and update', async () => {
      const contact = await connector.create('contact', { attributes: { lastname: 'Attendee' } }, { actAs: me, idempotencyKey: 'party-contact' });
      const parties: CrmParty[] = [
        { participationTypeMask: 7, address: null, party: { entity: 'systemuser', id: me.id } },
        { participationTypeMask: 5, address: null, party: { entity: 'contact', id: contact.id } },
        { participationTypeMask: 6, address: 'guest@external.example', party: null },
      ];
      const created = await connector.create(
        'appointment',
        {
          attributes: { subject: 'QBR', scheduledstart: '2030-03-04T14:00:00Z', scheduledend: '2030-03-04T15:00:00Z' },
          parties,
          regarding: { entity: 'contact', id: contact.id },
        },
        { actAs: me, idempotencyKey: 'party-appointment' },
      );
      const read = (await connector.read('appointment', [created.id], me)).get(created.id) as CrmRecord;
      expect(writtenParties(read.parties)).toEqual(writtenParties(parties));
      expect(String(read.data._regardingobjectid_value).toLowerCase()).toBe(contact.id.toLowerCase());

      const replaced: CrmParty[] = [parties[0] as CrmParty, { participationTypeMask: 6, address: 'other@external.example', party: null }];
      const updated = await connector.update('appointment', created.id, { attributes: {}, parties: replaced }, { actAs: me, ifMatch: read.version });
      expect(writtenParties(updated.parties)).toEqual(writtenParties(replaced));
      expect(String(updated.data._regardingobjectid_value).toLowerCase()).toBe(contact.id.toLowerCase());

      const cleared = await connector.update('appointment', created.id, { attributes: { location: 'Room 1' }, regarding: null }, { actAs: me, ifMatch: updated.version });
      expect(cleared.data._regardingobjectid_value).toBeNull();
      expect(cleared.data.location).toBe('Room 1');
      expect(writtenParties(cleared.parties)).toEqual(writtenParties(replaced));

      await expect(
        connector.create('task', { attributes: { subject: 'x' }, parties }, { actAs: me, idempotencyKey: 'task-with-parties' }),
      ).rejects.toBeInstanceOf(ItemRejectedError);
    });

    it('a record where the user is only a party stays in scope through edits by its owner', async () => {
      const id = await world.createRecord('appointment', {
        attributes: { subject: 'Party', scheduledstart: '2030-01-01T10:00:00Z', scheduledend: '2030-01-01T11:00:00Z' },
        ownerId: world.otherUserId,
        parties: [{ participationTypeMask: 6, address: null, party: { entity: 'systemuser', id: me.id } }],
      });
      const initial = await readRound(connector, 'appointment', me, null);
      expect(idsOf(initial.changes, 'upsert')).toEqual(sorted([id]));
      await world.reassign('appointment', id, world.otherUserId);
      const stillIn = await readRound(connector, 'appointment', me, initial.cursor);
      expect(idsOf(stillIn.changes, 'upsert')).toEqual(sorted([id]));
    });

    describe('writeBatch', () => {
      it('applies creates, updates and deletes in one call, answering in the order of the writes', async () => {
        const kept = await connector.create('contact', { attributes: { lastname: 'Kept' } }, { actAs: me, idempotencyKey: 'batch-kept' });
        const doomed = await connector.create('task', { attributes: { subject: 'Doomed' } }, { actAs: me, idempotencyKey: 'batch-doomed' });
        const results = await connector.writeBatch(
          [
            { type: 'create', kind: 'contact', write: { attributes: { lastname: 'Fresh', emailaddress1: 'fresh@example.com' } }, idempotencyKey: 'batch-fresh' },
            { type: 'update', kind: 'contact', id: kept.id, write: { attributes: { jobtitle: 'Baker' } }, ifMatch: kept.version },
            { type: 'delete', kind: 'task', id: doomed.id },
            { type: 'create', kind: 'task', write: { attributes: { subject: 'Filed', statecode: 1, statuscode: 5 } }, idempotencyKey: 'batch-filed' },
            { type: 'create', kind: 'task', write: { attributes: { subject: 'No parties' }, parties: [{ participationTypeMask: 5, address: 'a@b.example', party: null }] }, idempotencyKey: 'batch-bad' },
          ],
          { actAs: me },
        );
        expect(results).toHaveLength(5);
        const fresh = written(results[0]);
        expect(fresh.data.lastname).toBe('Fresh');
        expect(fresh.ownerId?.toLowerCase()).toBe(me.id.toLowerCase());
        expect(connector.isInScope(fresh, me)).toBe(true);
        if (connector.idForCreate) expect(fresh.id).toBe(connector.idForCreate('contact', 'batch-fresh'));
        const updated = written(results[1]);
        expect(updated.id.toLowerCase()).toBe(kept.id.toLowerCase());
        expect(updated.version).not.toBe(kept.version);
        expect(updated.data).toMatchObject({ lastname: 'Kept', jobtitle: 'Baker' });
        expect(results[2]).toEqual({ ok: true, record: null });
        expect(written(results[3]).data).toMatchObject({ subject: 'Filed', statecode: 1, statuscode: 5 });
        // A write refused before it is sent fails alone, with the error the single-item method throws.
        expect(failedWith(results[4])).toBeInstanceOf(ItemRejectedError);

        expect((await connector.read('task', [doomed.id], me)).get(doomed.id)).toBeNull();
        const [readBack] = [...(await connector.read('contact', [kept.id], me)).values()];
        expect(readBack?.data.jobtitle).toBe('Baker');
        expect((await connector.findContactsByEmail(['fresh@example.com'], me)).map((r) => r.id)).toEqual([fresh.id]);
        expect(await connector.writeBatch([], { actAs: me })).toEqual([]);
      });

      it('a stale If-Match fails alone with ConcurrencyError while the other writes land', async () => {
        const first = await connector.create('contact', { attributes: { lastname: 'Raced' } }, { actAs: me, idempotencyKey: 'batch-raced' });
        const other = await connector.create('contact', { attributes: { lastname: 'Calm' } }, { actAs: me, idempotencyKey: 'batch-calm' });
        await world.editRecord('contact', first.id, { department: 'Edited in the CRM' });
        const results = await connector.writeBatch(
          [
            { type: 'update', kind: 'contact', id: other.id, write: { attributes: { jobtitle: 'Before' } }, ifMatch: other.version },
            { type: 'update', kind: 'contact', id: first.id, write: { attributes: { jobtitle: 'Lost' } }, ifMatch: first.version },
            { type: 'update', kind: 'contact', id: first.id, write: { attributes: {} }, ifMatch: first.version },
            { type: 'create', kind: 'contact', write: { attributes: { lastname: 'After' } }, idempotencyKey: 'batch-after' },
          ],
          { actAs: me },
        );
        expect(written(results[0]).data.jobtitle).toBe('Before');
        expect(failedWith(results[1])).toBeInstanceOf(ConcurrencyError);
        // An update with nothing to write still checks its version, as update() does.
        expect(failedWith(results[2])).toBeInstanceOf(ConcurrencyError);
        expect(written(results[3]).data.lastname).toBe('After');
        const [current] = [...(await connector.read('contact', [first.id], me)).values()];
        expect(current?.data).toMatchObject({ department: 'Edited in the CRM', jobtitle: null });
      });

      it('an update of a record deleted in the CRM fails alone with crm-record-gone and never resurrects it', async () => {
        const id = await world.createRecord('contact', { attributes: { lastname: 'Gone' }, ownerId: me.id });
        const initial = await readRound(connector, 'contact', me, null);
        await world.deleteRecord('contact', id);
        const results = await connector.writeBatch(
          [
            { type: 'update', kind: 'contact', id, write: { attributes: { lastname: 'Back?' } }, ifMatch: '*' },
            { type: 'create', kind: 'contact', write: { attributes: { lastname: 'Bystander' } }, idempotencyKey: 'batch-bystander' },
          ],
          { actAs: me },
        );
        const failure = failedWith(results[0]);
        expect(failure).toBeInstanceOf(ItemRejectedError);
        expect((failure as ItemRejectedError).reason).toBe('crm-record-gone');
        const bystander = written(results[1]);
        expect((await connector.read('contact', [id], me)).get(id)).toBeNull();
        const delta = await readRound(connector, 'contact', me, initial.cursor);
        expect(idsOf(delta.changes, 'upsert')).toEqual(sorted([bystander.id]));
        expect(idsOf(delta.changes, 'deleted')).toEqual(sorted([id]));
      });

      it('a batch retried with the same idempotency keys after a lost response yields one record each', async () => {
        const contact = { attributes: { lastname: 'Batched once', emailaddress1: 'batched@example.com' } };
        const ops: CrmWriteOp[] = [
          { type: 'create', kind: 'contact', write: contact, idempotencyKey: 'batch-lost-1' },
          { type: 'create', kind: 'task', write: { attributes: { subject: 'Batched once', statecode: 1, statuscode: 5 } }, idempotencyKey: 'batch-lost-2' },
        ];
        if (world.loseNextCreateResponse) {
          await world.loseNextCreateResponse();
          await expect(connector.writeBatch(ops, { actAs: me })).rejects.toThrow();
        }
        const first = await connector.writeBatch(ops, { actAs: me });
        const second = await connector.writeBatch(ops, { actAs: me });
        expect(second.map((r) => written(r).id)).toEqual(first.map((r) => written(r).id));
        expect(written(first[1]).data).toMatchObject({ subject: 'Batched once', statecode: 1, statuscode: 5 });
        expect((await connector.findContactsByEmail(['batched@example.com'], me)).map((r) => r.id)).toEqual([written(first[0]).id]);
        const tasks = await readRound(connector, 'task', me, null);
        expect(tasks.changes.filter((c) => c.type === 'upsert' && c.record.data.subject === 'Batched once')).toHaveLength(1);
        // Alone or batched, the same key names the same record.
        const single = await connector.create('contact', contact, { actAs: me, idempotencyKey: 'batch-lost-1' });
        expect(single.id).toBe(written(first[0]).id);
      });

      it('deleting a record already gone, or never there, is ok', async () => {
        const created = await connector.create('task', { attributes: { subject: 'Short-lived' } }, { actAs: me, idempotencyKey: 'batch-del' });
        await world.deleteRecord('task', created.id);
        const never = '00000000-0000-4000-8000-00000000beef';
        const results = await connector.writeBatch(
          [
            { type: 'delete', kind: 'task', id: created.id },
            { type: 'delete', kind: 'contact', id: never },
          ],
          { actAs: me },
        );
        expect(results).toEqual([
          { ok: true, record: null },
          { ok: true, record: null },
        ]);
        expect((await connector.read('task', [created.id], me)).get(created.id)).toBeNull();
      });
    });

    // Match before create for e-mail (DESIGN.md §4; dataverse-behaviour.md §4.6: `messageid` de-duplicates tracked mail).
    describe('findEmailsByMessageId', () => {
      function find(messageIds: readonly string[]): Promise<CrmRecord[]> {
        if (!connector.findEmailsByMessageId) throw new Error('the connector cannot match e-mail by Message-ID');
        return connector.findEmailsByMessageId(messageIds, me);
      }

      const received = (messageId: string, subject: string): JsonObject => ({ subject, messageid: messageId, directioncode: false });

      it('finds e-mails by exact Message-ID whoever owns them, with their parties, and nothing else', async () => {
        const others = await world.createRecord('email', {
          attributes: received('<a.1@fabrikam.example>', 'Tracked by a colleague'),
          ownerId: world.otherUserId,
          parties: [
            { participationTypeMask: 1, address: 'ann@fabrikam.example', party: null },
            { participationTypeMask: 2, address: null, party: { entity: 'systemuser', id: me.id } },
          ],
        });
        const mine = await world.createRecord('email', { attributes: received("<o'brien.2@fabrikam.example>", 'Mine'), ownerId: me.id });
        await world.createRecord('email', { attributes: received('<a.3@fabrikam.example>', 'Another message'), ownerId: me.id });
        await world.createRecord('email', { attributes: received('<A.1@FABRIKAM.EXAMPLE>', 'Differs in case only'), ownerId: me.id });

        const found = await find(['<a.1@fabrikam.example>', "<o'brien.2@fabrikam.example>", '<missing@fabrikam.example>']);
        expect(sorted(found.map((r) => r.id))).toEqual(sorted([others, mine]));
        const colleague = found.find((r) => r.id.toLowerCase() === others.toLowerCase()) as CrmRecord;
        expect(colleague.ownerId?.toLowerCase()).toBe(world.otherUserId.toLowerCase());
        expect(colleague.data.messageid).toBe('<a.1@fabrikam.example>');
        // The parties come with the record: the caller judges scope (DESIGN.md §2: a party is in scope).
        expect(writtenParties(colleague.parties)).toEqual(
          writtenParties([
            { participationTypeMask: 1, address: 'ann@fabrikam.example', party: null },
            { participationTypeMask: 2, address: null, party: { entity: 'systemuser', id: me.id } },
          ]),
        );
        expect(connector.isInScope(colleague, me)).toBe(true);
        expect(await find([])).toEqual([]);
      });

      it('finds a record the connector created and no longer one deleted since; long lists are split', async () => {
        const created = await connector.create('email', { attributes: received('<created@contoso.example>', 'Created') }, { actAs: me, idempotencyKey: 'mid-1' });
        expect((await find(['<created@contoso.example>'])).map((r) => r.id.toLowerCase())).toEqual([created.id.toLowerCase()]);
        await world.deleteRecord('email', created.id);
        expect(await find(['<created@contoso.example>'])).toEqual([]);

        const ids: string[] = [];
        for (let i = 0; i < 12; i += 1) ids.push(await world.createRecord('email', { attributes: received(`<bulk.${i}@contoso.example>`, `Bulk ${i}`), ownerId: me.id }));
        const wanted = Array.from({ length: 12 }, (_, i) => `<bulk.${i}@contoso.example>`);
        expect(sorted((await find(wanted)).map((r) => r.id))).toEqual(sorted(ids));
      });
    });
  });
}

// The CRM user's time zone (CrmUser.timeZone): Dataverse appointment and task dates are DateTime UserLocal, shown in
// the user's zone (dataverse-behaviour.md §4.4, §4.5); the worker converts all-day and task dates in it.
export type ContractTimeZone = 'UTC' | 'Eastern Standard Time' | 'AUS Eastern Standard Time' | 'India Standard Time';

export interface CrmTimeZoneSetup extends CrmContractSetup {
  /** Sets the mailbox owner's time zone in the CRM, as a user would in their personal settings. */
  setMyTimeZone(zone: ContractTimeZone): Promise<void>;
}

export function describeCrmTimeZoneContract(name: string, setup: () => Promise<CrmTimeZoneSetup>): void {
  describe(`CrmConnector contract: ${name}: the user's time zone`, () => {
    let h: CrmTimeZoneSetup;

    beforeEach(async () => {
      h = await setup();
    });

    afterEach(async () => {
      await h.close();
    });

    async function zoneOfMe(): Promise<string | null> {
      const user = await h.connector.resolveUser(h.world.meAddress);
      if (!user) throw new Error('the mailbox owner must resolve');
      return typeof user.timeZone === 'string' ? resolveZone(user.timeZone) : null;
    }

    it('a user whose settings were never changed is in UTC', async () => {
      expect(await zoneOfMe()).toBe('UTC');
    });

    it.each([
      ['Eastern Standard Time', 'America/New_York'],
      ['AUS Eastern Standard Time', 'Australia/Sydney'],
      ['India Standard Time', 'Asia/Calcutta'],
    ] as const)('resolveUser gives the zone the user set (%s), as an id the core resolves', async (zone, iana) => {
      await h.setMyTimeZone(zone);
      expect(await zoneOfMe()).toBe(iana);
    });

    it('a change of zone in the CRM shows at the next resolveUser (the worker resolves it once per cycle)', async () => {
      await h.setMyTimeZone('Eastern Standard Time');
      expect(await zoneOfMe()).toBe('America/New_York');
      await h.setMyTimeZone('AUS Eastern Standard Time');
      expect(await zoneOfMe()).toBe('Australia/Sydney');
      await h.setMyTimeZone('UTC');
      expect(await zoneOfMe()).toBe('UTC');
    });
  });
}

// findDeleted (src/ports/crm-connector.ts): the CRM's deleted-record keeping ("Restore deleted records", the Dataverse
// recycle bin, https://learn.microsoft.com/power-apps/developer/data-platform/restore-deleted-records) as evidence that
// a record was created and deleted, which survives an expired change cursor.
export interface CrmDeletedRecordsSetupOptions {
  /** The kinds whose deleted records the CRM keeps (none: the feature is off). */
  keepDeleted: readonly ItemKind[];
}

export function describeCrmDeletedRecordsContract(name: string, setup: (options: CrmDeletedRecordsSetupOptions) => Promise<CrmContractSetup>): void {
  describe(`CrmConnector contract: ${name}: findDeleted`, () => {
    let h: CrmContractSetup;
    let me: CrmUser;

    async function start(keepDeleted: readonly ItemKind[]): Promise<void> {
      h = await setup({ keepDeleted });
      const resolved = await h.connector.resolveUser(h.world.meAddress);
      if (!resolved) throw new Error('the mailbox owner must resolve');
      me = resolved;
    }

    afterEach(async () => {
      await h.close();
    });

    function findDeleted(kind: ItemKind, ids: readonly string[]): Promise<Set<string> | null> {
      if (!h.connector.findDeleted) throw new Error('the connector cannot look for deleted records');
      return h.connector.findDeleted(kind, ids, me);
    }

    function idFor(kind: ItemKind, key: string): string {
      const id = h.connector.idForCreate?.(kind, key);
      if (!id) throw new Error('the connector must choose ids before the create');
      return id;
    }

    it('answers null when the CRM keeps no deleted records, even for a record created and deleted', async () => {
      await start([]);
      const created = await h.connector.create('contact', { attributes: { lastname: 'Gone' } }, { actAs: me, idempotencyKey: 'bin-off-1' });
      await h.world.deleteRecord('contact', created.id);
      expect(await findDeleted('contact', [created.id])).toBeNull();
      expect(await findDeleted('task', [created.id])).toBeNull();
    });

    it('reports a record created and then deleted, not one never created nor a live one; ids match in any case', async () => {
      await start(['contact', 'task']);
      const deleted = await h.connector.create('contact', { attributes: { lastname: 'Deleted' } }, { actAs: me, idempotencyKey: 'bin-1' });
      const live = await h.connector.create('contact', { attributes: { lastname: 'Live' } }, { actAs: me, idempotencyKey: 'bin-2' });
      await h.world.deleteRecord('contact', deleted.id);
      const neverCreated = idFor('contact', 'bin-never');

      const found = await findDeleted('contact', [deleted.id.toUpperCase(), live.id, neverCreated]);
      expect(found).toEqual(new Set([deleted.id.toLowerCase()]));
      expect(await findDeleted('contact', [])).toEqual(new Set());
      // A deletion through the connector counts the same, and activities are looked up by their own table.
      const task = await h.connector.create('task', { attributes: { subject: 'Deleted task' } }, { actAs: me, idempotencyKey: 'bin-3' });
      await h.connector.delete('task', task.id, { actAs: me });
      expect(await findDeleted('task', [task.id, deleted.id])).toEqual(new Set([task.id.toLowerCase()]));
      expect(await findDeleted('contact', [task.id])).toEqual(new Set());
    });

    it('answers null for a kind whose deleted records are not kept while another kind keeps them', async () => {
      await start(['contact']);
      const appointment = await h.connector.create(
        'appointment',
        { attributes: { subject: 'Gone', scheduledstart: '2030-01-01T10:00:00Z', scheduledend: '2030-01-01T11:00:00Z' } },
        { actAs: me, idempotencyKey: 'bin-4' },
      );
      await h.world.deleteRecord('appointment', appointment.id);
      expect(await findDeleted('appointment', [appointment.id])).toBeNull();
      expect(await findDeleted('contact', [appointment.id])).toEqual(new Set());
    });

    it('still reports a record re-created with the same id after its deletion (the deleted copy stays in the bin)', async () => {
      // restore-deleted-records, DuplicateExceptionRestoreRecycleBin: a record created with the key of a deleted one
      // prevents that one's restore, so the deleted copy is still held.
      await start(['contact']);
      const first = await h.connector.create('contact', { attributes: { lastname: 'Twice' } }, { actAs: me, idempotencyKey: 'bin-5' });
      await h.world.deleteRecord('contact', first.id);
      const again = await h.connector.create('contact', { attributes: { lastname: 'Twice' } }, { actAs: me, idempotencyKey: 'bin-5' });
      expect(again.id.toLowerCase()).toBe(first.id.toLowerCase());
      expect((await h.connector.read('contact', [again.id], me)).get(again.id)).not.toBeNull();
      expect(await findDeleted('contact', [first.id])).toEqual(new Set([first.id.toLowerCase()]));
    });

    it('splits long lists and reports every deleted id among them', async () => {
      await start(['task']);
      const deletedIds: string[] = [];
      const asked: string[] = [];
      for (let i = 0; i < 25; i += 1) {
        const task = await h.connector.create('task', { attributes: { subject: `Task ${i}` } }, { actAs: me, idempotencyKey: `bin-many-${i}` });
        asked.push(task.id);
        if (i % 3 === 0) {
          await h.world.deleteRecord('task', task.id);
          deletedIds.push(task.id.toLowerCase());
        }
      }
      expect(await findDeleted('task', asked)).toEqual(new Set(deletedIds));
    });
  });
}
