// The MailboxSource contract (src/ports/mailbox-source.ts), run against the in-memory fake and against the Graph
// adapter talking to the Graph simulator over HTTPS. The world driver plays the user: for the simulator through plain
// Graph calls (as Outlook on the web would) or its control API; for the fake through its controls.
import type { ItemKind, JsonObject, OutlookItem } from '../../src/core/model';
import { ConcurrencyError, InvariantError, ItemRejectedError, ResyncRequiredError } from '../../src/ports/errors';
import type { DeltaEntry, DeltaPage, ItemFailure, ItemRef, MailboxSource, OutlookUpdateResult, StreamRef } from '../../src/ports/mailbox-source';
import { trackingPropertyIds } from '../../src/adapters/graph/extended-properties';

export interface MailboxWorld {
  /** A user creates an item; `data` is Graph JSON (categories, singleValueExtendedProperties, linkedResources allowed). */
  create(kind: ItemKind, container: string, data: JsonObject): Promise<string>;
  /** A user edits an item (PATCH semantics). */
  edit(ref: ItemRef, patch: JsonObject): Promise<void>;
  /** A user deletes an item. */
  remove(ref: ItemRef): Promise<void>;
  /** Every delta cursor of the mailbox is evicted (graph-behaviour.md §1.6). */
  evictCursors(): Promise<void>;
  /** Make the next delta round of a mail stream carry an entry whose `categories` is not a list of strings. */
  injectMalformedEntry(stream: StreamRef): Promise<void>;
  masterCategoryNames(): Promise<string[]>;
  deleteMasterCategory(name: string): Promise<void>;
  /** Live items of a kind in a container, as the service sees them. */
  countItems(kind: ItemKind, container: string): Promise<number>;
  /** Requests the service has served for this mailbox so far; null when the world cannot count. */
  requestCount: (() => number) | null;
  /** The To Do list the tests put tasks in. */
  todoListId: string;
  /** A user creates another To Do list; returns its id. */
  createTodoList(displayName: string): Promise<string>;
}

export interface MailboxSourceHarness {
  source: MailboxSource;
  world: MailboxWorld;
  mailbox: string;
  productGuid: string;
  productName: string;
  categoryName: string;
  /** The calendar window of initial calendar rounds; test events are created inside it. */
  window: { start: string; end: string };
  close(): Promise<void>;
}

interface Round {
  entries: DeltaEntry[];
  failures: ItemFailure[];
  pages: DeltaPage[];
  cursor: string;
}

export async function readRound(
  source: MailboxSource,
  mailbox: string,
  stream: StreamRef,
  cursor: string | null,
  window?: { start: string; end: string },
): Promise<Round> {
  const pages: DeltaPage[] = [];
  await source.readDelta(mailbox, stream, cursor, async (page) => {
    pages.push(page);
  }, window);
  const last = pages[pages.length - 1];
  if (!last) throw new Error('readDelta served no page');
  return { entries: pages.flatMap((p) => p.entries), failures: pages.flatMap((p) => p.failures), pages, cursor: last.cursor };
}

export function describeMailboxSourceContract(name: string, setup: () => Promise<MailboxSourceHarness>): void {
  describe(`MailboxSource contract: ${name}`, () => {
    let h: MailboxSourceHarness;
    let props: ReturnType<typeof trackingPropertyIds>;

    beforeEach(async () => {
      h = await setup();
      props = trackingPropertyIds(h.productGuid);
    });
    afterEach(async () => {
      await h.close();
    });

    const stream = async (id: string): Promise<StreamRef> => {
      const found = (await h.source.listStreams(h.mailbox)).find((s) => s.id === id);
      if (!found) throw new Error(`no stream ${id}`);
      return found;
    };
    const contactsStream = () => stream('contacts');
    const contactRef = (id: string): ItemRef => ({ kind: 'contact', id, container: 'contacts' });
    const stamped = (crmId: string | null, tracked: boolean): JsonObject => ({
      singleValueExtendedProperties: [
        { id: props.tracked, value: tracked ? 'true' : 'false' },
        ...(crmId === null ? [] : [{ id: props.crmId, value: crmId }]),
      ],
    });
    const event = (subject: string, dayOffset: number): JsonObject => {
      const start = new Date(Date.parse(h.window.start) + (dayOffset + 1) * 86_400_000);
      const end = new Date(start.getTime() + 3_600_000);
      const fmt = (d: Date) => d.toISOString().replace('Z', '').replace(/\.\d+$/, '.0000000');
      return { subject, start: { dateTime: fmt(start), timeZone: 'UTC' }, end: { dateTime: fmt(end), timeZone: 'UTC' } };
    };
    const initialCursor = async (s: StreamRef): Promise<string> => (await readRound(h.source, h.mailbox, s, null, h.window)).cursor;

    it('lists the fixed streams plus one per To Do list, with cursor-key ids', async () => {
      const streams = await h.source.listStreams(h.mailbox);
      const byId = new Map(streams.map((s) => [s.id, s]));
      expect(byId.get('contacts')).toMatchObject({ kind: 'contact' });
      expect(byId.get('calendar')).toMatchObject({ kind: 'appointment', container: 'calendar' });
      expect(byId.get('inbox')).toMatchObject({ kind: 'email' });
      expect(byId.get('sentitems')).toMatchObject({ kind: 'email' });
      expect(byId.get(`todo:${h.world.todoListId}`)).toMatchObject({ kind: 'task', container: h.world.todoListId });
      // graph-behaviour.md §2.4: the flaggedEmails list mirrors mail flags and is not a task stream.
      expect(streams.filter((s) => s.kind === 'task').every((s) => s.id === `todo:${s.container}`)).toBe(true);
      expect(new Set(streams.map((s) => s.id)).size).toBe(streams.length);
    });

    it('an initial round returns the items that exist, ends on a final page, and a quiet round returns nothing', async () => {
      const a = await h.world.create('contact', 'contacts', { givenName: 'Ada', surname: 'Lovelace' });
      const b = await h.world.create('contact', 'contacts', { givenName: 'Bob', surname: 'Babbage' });
      const gone = await h.world.create('contact', 'contacts', { givenName: 'Gone' });
      await h.world.remove(contactRef(gone));
      const ev = await h.world.create('appointment', 'calendar', event('Kick-off', 1));
      const task = await h.world.create('task', h.world.todoListId, { title: 'Call back' });
      const streams = await h.source.listStreams(h.mailbox);

      const cursors = new Map<string, string>();
      const seen = new Map<string, string[]>();
      for (const s of streams) {
        const round = await readRound(h.source, h.mailbox, s, null, h.window);
        expect(round.pages[round.pages.length - 1]?.final).toBe(true);
        expect(round.pages.slice(0, -1).every((p) => !p.final)).toBe(true);
        cursors.set(s.id, round.cursor);
        seen.set(s.id, round.entries.filter((e) => !e.removed).map((e) => e.id));
      }
      // graph-behaviour.md §1.1(1): items created and deleted before the initial round are not returned.
      expect(new Set(seen.get('contacts'))).toEqual(new Set([a, b]));
      expect(seen.get('calendar')).toContain(ev);
      expect(seen.get(`todo:${h.world.todoListId}`)).toContain(task);

      // The floor of a cycle (DESIGN.md §10): one delta request per stream when nothing changed.
      const before = h.world.requestCount?.() ?? 0;
      for (const s of streams) {
        const round = await readRound(h.source, h.mailbox, s, cursors.get(s.id) ?? null);
        expect(round.entries).toEqual([]);
        expect(round.pages).toHaveLength(1);
        expect(round.pages[0]?.final).toBe(true);
      }
      if (h.world.requestCount) expect(h.world.requestCount() - before).toBe(streams.length);
    });

    it('pages a larger round, each page resumable from its cursor', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 12; i++) ids.push(await h.world.create('contact', 'contacts', { givenName: `P${i}` }));
      const s = await contactsStream();
      const round = await readRound(h.source, h.mailbox, s, null);
      expect(new Set(round.entries.map((e) => e.id))).toEqual(new Set(ids));
      // Resuming from a mid-round cursor finishes the same round (a crash between pages, §9.3).
      const midRound = round.pages.find((p) => !p.final);
      if (midRound) {
        const rest = await readRound(h.source, h.mailbox, s, midRound.cursor);
        expect(rest.pages[rest.pages.length - 1]?.final).toBe(true);
        const after = round.pages.slice(round.pages.indexOf(midRound) + 1).flatMap((p) => p.entries.map((e) => e.id));
        expect(new Set(rest.entries.map((e) => e.id))).toEqual(new Set(after));
      }
    });

    it('an edit appears in the next round with its categories; a deletion appears as removed', async () => {
      const a = await h.world.create('contact', 'contacts', { givenName: 'Ada', categories: [] });
      const b = await h.world.create('contact', 'contacts', { givenName: 'Bob' });
      const s = await contactsStream();
      const cursor = await initialCursor(s);

      await h.world.edit(contactRef(a), { categories: ['Customer'] });
      await h.world.remove(contactRef(b));
      const round = await readRound(h.source, h.mailbox, s, cursor);
      // §1.5: entries may repeat; the last one per id wins.
      const last = new Map(round.entries.map((e) => [e.id, e]));
      expect(last.get(a)).toMatchObject({ removed: false, categories: ['Customer'] });
      expect(last.get(b)).toMatchObject({ removed: true, data: null });
      expect([...last.keys()].sort()).toEqual([a, b].sort());
    });

    it('the calendar stream tracks its window: outside events are not listed, an event moved out comes as removed', async () => {
      const inside = await h.world.create('appointment', 'calendar', event('Inside', 2));
      const outside = await h.world.create('appointment', 'calendar', event('Outside', -60));
      const calendar = await stream('calendar');
      // graph-behaviour.md §2.2: the window is fixed by the initial request; without one there is no calendarView.
      await expect(readRound(h.source, h.mailbox, calendar, null)).rejects.toBeInstanceOf(InvariantError);
      const first = await readRound(h.source, h.mailbox, calendar, null, h.window);
      const listed = first.entries.filter((e) => !e.removed).map((e) => e.id);
      expect(listed).toContain(inside);
      expect(listed).not.toContain(outside);

      await h.world.edit({ kind: 'appointment', id: inside, container: 'calendar' }, { start: event('x', -90).start ?? null, end: event('x', -90).end ?? null });
      const next = await readRound(h.source, h.mailbox, calendar, first.cursor);
      // §2.2: "Events that are outside the date range and that have been … updated" arrive under @removed.
      const last = new Map(next.entries.map((e) => [e.id, e]));
      expect(last.get(inside)).toMatchObject({ removed: true });
    });

    it('an evicted cursor throws ResyncRequiredError and a fresh round recovers the full set', async () => {
      const a = await h.world.create('contact', 'contacts', { givenName: 'Ada' });
      const s = await contactsStream();
      const cursor = await initialCursor(s);
      await h.world.evictCursors();
      // graph-behaviour.md §1.6: 410 Gone + SyncStateNotFound.
      await expect(readRound(h.source, h.mailbox, s, cursor)).rejects.toBeInstanceOf(ResyncRequiredError);
      const fresh = await readRound(h.source, h.mailbox, s, null);
      expect(fresh.entries.map((e) => e.id)).toEqual([a]);
      const quiet = await readRound(h.source, h.mailbox, s, fresh.cursor);
      expect(quiet.entries).toEqual([]);
    });

    it('a malformed delta entry fails alone with a reason code', async () => {
      const good = await h.world.create('email', 'inbox', { subject: 'Fine', isDraft: false });
      const inbox = await stream('inbox');
      await h.world.injectMalformedEntry(inbox);
      const round = await readRound(h.source, h.mailbox, inbox, null);
      expect(round.entries.map((e) => e.id)).toContain(good);
      expect(round.failures).toHaveLength(1);
      expect(round.failures[0]?.reason).toBe('graph-invalid-delta-entry');
      expect(round.failures[0]?.detail).toMatch(/categories/);
    });

    it('an item marked only by an add-in is found by findMarkedIds, and delta alone cannot tell (§3.3, §3.4)', async () => {
      const findMarkedIds = h.source.findMarkedIds?.bind(h.source);
      if (!findMarkedIds) throw new Error('findMarkedIds is part of this contract');
      const marked = await h.world.create('contact', 'contacts', { givenName: 'Ada' });
      const plain = await h.world.create('contact', 'contacts', { givenName: 'Bob' });
      const untracked = await h.world.create('contact', 'contacts', { givenName: 'Cy', ...stamped(null, false) });
      const s = await contactsStream();
      const cursor = await initialCursor(s);

      // An add-in (Office.js, §3.6) writes the extended property and nothing else: no category.
      await h.world.edit(contactRef(marked), { singleValueExtendedProperties: [{ id: props.tracked, value: 'true' }] });
      const round = await readRound(h.source, h.mailbox, s, cursor);
      const entry = round.entries.filter((e) => e.id === marked).pop();
      expect(entry).toMatchObject({ removed: false });
      // §3.4: delta payloads carry no extended properties; the category does not say it either.
      expect(entry?.data?.singleValueExtendedProperties).toBeUndefined();
      expect(JSON.stringify(entry?.data)).not.toContain(props.tracked);
      expect((entry?.categories ?? []).map((c) => c.toLowerCase())).not.toContain(h.categoryName.toLowerCase());

      expect(await findMarkedIds(h.mailbox, s)).toEqual([marked]);
      // Marker values compare case-insensitively (§3.3); false is not marked.
      await h.world.edit(contactRef(plain), { singleValueExtendedProperties: [{ id: props.tracked, value: 'TRUE' }] });
      expect(new Set(await findMarkedIds(h.mailbox, s))).toEqual(new Set([marked, plain]));
      expect(await findMarkedIds(h.mailbox, s)).not.toContain(untracked);

      // The other streams: `/events` for the calendar, the mail folder for mail, nothing for To Do (§3.5).
      const ev = await h.world.create('appointment', 'calendar', { ...event('Marked', 2), singleValueExtendedProperties: [{ id: props.tracked, value: 'true' }] });
      await h.world.create('appointment', 'calendar', event('Plain', 3));
      const mail = await h.world.create('email', 'inbox', { subject: 'Marked', isDraft: false, singleValueExtendedProperties: [{ id: props.tracked, value: 'true' }] });
      await h.world.create('email', 'sentitems', { subject: 'Elsewhere', isDraft: false, singleValueExtendedProperties: [{ id: props.tracked, value: 'true' }] });
      expect(await findMarkedIds(h.mailbox, await stream('calendar'))).toEqual([ev]);
      expect(await findMarkedIds(h.mailbox, await stream('inbox'))).toEqual([mail]);
      const initialCalendar = await readRound(h.source, h.mailbox, await stream('calendar'), null, h.window);
      expect(initialCalendar.entries.find((e) => e.id === ev)?.data?.singleValueExtendedProperties).toBeUndefined();
      await h.world.create('task', h.world.todoListId, { title: 'T', linkedResources: [{ applicationName: h.productName, externalId: 'crm-t', displayName: 'CRM' }] });
      expect(await findMarkedIds(h.mailbox, await stream(`todo:${h.world.todoListId}`))).toEqual([]);
    });

    it('hydration reads the marker, the CrmId, the category (any casing) and RegardingId; a missing item is null', async () => {
      const tracked = await h.world.create('contact', 'contacts', {
        givenName: 'Ada',
        categories: ['Personal', h.categoryName.toUpperCase()],
        singleValueExtendedProperties: [
          { id: props.tracked, value: 'true' },
          { id: props.crmId, value: 'crm-1' },
          // DESIGN.md §7: business fax travels as a MAPI property; someone else's property is not expanded.
          { id: 'String 0x3A24', value: '+49 30 1234' },
          { id: 'String {00020329-0000-0000-C000-000000000046} Name Unrelated', value: 'x' },
        ],
      });
      const plain = await h.world.create('contact', 'contacts', { givenName: 'Bob', categories: ['Personal'] });
      const ev = await h.world.create('appointment', 'calendar', { ...event('Review', 2), ...stamped('crm-2', true) });
      const task = await h.world.create('task', h.world.todoListId, {
        title: 'Follow up',
        categories: [h.categoryName],
        linkedResources: [{ applicationName: h.productName, externalId: 'crm-3', displayName: 'CRM' }],
      });
      const mail = await h.world.create('email', 'inbox', {
        subject: 'Order',
        isDraft: false,
        categories: [h.categoryName],
        singleValueExtendedProperties: [{ id: props.regardingId, value: 'opp-9' }],
      });
      const removed = await h.world.create('contact', 'contacts', { givenName: 'Gone' });
      await h.world.remove(contactRef(removed));

      const refs: ItemRef[] = [
        contactRef(tracked),
        contactRef(plain),
        { kind: 'appointment', id: ev, container: 'calendar' },
        { kind: 'task', id: task, container: h.world.todoListId },
        { kind: 'email', id: mail, container: 'inbox' },
        contactRef(removed),
      ];
      const items = await h.source.getItems(h.mailbox, refs);
      expect(items.get(tracked)).toMatchObject({ kind: 'contact', tracking: { marker: true, category: true }, crmId: 'crm-1', container: 'contacts' });
      expect(items.get(plain)).toMatchObject({ tracking: { marker: false, category: false }, crmId: null });
      expect(items.get(ev)).toMatchObject({ kind: 'appointment', tracking: { marker: true, category: false }, crmId: 'crm-2' });
      expect(items.get(task)).toMatchObject({ kind: 'task', tracking: { category: true }, crmId: 'crm-3' });
      expect(items.get(mail)).toMatchObject({ kind: 'email', tracking: { marker: false, category: true }, regardingId: 'opp-9', isDraft: false });
      expect(items.get(removed)).toBeNull();
      const ada = items.get(tracked) as OutlookItem;
      expect(ada.data.givenName).toBe('Ada');
      const expanded = (ada.data.singleValueExtendedProperties as { id: string; value: string }[]).map((p) => p.value).sort();
      expect(expanded).toEqual(['+49 30 1234', 'crm-1', 'true']);
      expect(typeof ada.lastModified).toBe('string');
      expect(ada.changeKey).not.toBeNull();
    });

    it('an item that does not validate on hydration fails alone: left out of the result, the others hydrate', async () => {
      const good = await h.world.create('email', 'inbox', { subject: 'Fine', isDraft: false });
      const bad = await h.world.create('email', 'inbox', { subject: 'Bad', isDraft: false, categories: 'Customer' });
      const items = await h.source.getItems(h.mailbox, [
        { kind: 'email', id: good, container: 'inbox' },
        { kind: 'email', id: bad, container: 'inbox' },
      ]);
      expect(items.get(good)).toMatchObject({ id: good, kind: 'email' });
      // Not null: null means "gone" and would unlink or delete; a missing key means "not read this time".
      expect(items.has(bad)).toBe(false);
    });

    it('findByCrmId finds the stamped item of each kind and nothing else', async () => {
      const c = await h.world.create('contact', 'contacts', { givenName: 'Ada', ...stamped('crm-c', true) });
      const t = await h.world.create('task', h.world.todoListId, {
        title: 'T',
        linkedResources: [{ applicationName: h.productName, externalId: 'crm-t', displayName: 'CRM' }],
      });
      expect((await h.source.findByCrmId(h.mailbox, 'contact', 'crm-c'))?.id).toBe(c);
      expect((await h.source.findByCrmId(h.mailbox, 'task', 'crm-t'))?.id).toBe(t);
      expect(await h.source.findByCrmId(h.mailbox, 'contact', 'crm-none')).toBeNull();
      expect(await h.source.findByCrmId(h.mailbox, 'appointment', 'crm-c')).toBeNull();
    });

    it.each<[ItemKind, string]>([
      ['contact', 'contacts'],
      ['appointment', 'calendar'],
      ['task', ''],
    ])('create of a %s is idempotent on crmId and stamps marker, CrmId and category', async (kind, containerOrEmpty) => {
      const container = containerOrEmpty || h.world.todoListId;
      const data: JsonObject =
        kind === 'contact' ? { givenName: 'Cy', categories: ['Personal'] } : kind === 'appointment' ? event('Demo', 3) : { title: 'Quote' };
      const before = await h.world.countItems(kind, container);
      const first = await h.source.createItem(h.mailbox, kind, container, { data }, { crmId: `crm-${kind}`, categoryName: h.categoryName });
      // A retried create (its response lost) returns the first item instead of a second one (DESIGN.md §4).
      const second = await h.source.createItem(h.mailbox, kind, container, { data }, { crmId: `crm-${kind}`, categoryName: h.categoryName });
      expect(second.id).toBe(first.id);
      expect(await h.world.countItems(kind, container)).toBe(before + 1);
      expect(first).toMatchObject({ kind, crmId: `crm-${kind}`, tracking: { marker: true, category: true } });
      const [hydrated] = (await h.source.getItems(h.mailbox, [{ kind, id: first.id, container }])).values();
      expect(hydrated).toMatchObject({ crmId: `crm-${kind}`, tracking: { marker: true, category: true } });
      // LinkId = the record's id: the worker made this item (src/core/planner.ts createdForRecord). To Do has none.
      expect(hydrated?.linkId ?? null).toBe(kind === 'task' ? null : `crm-${kind}`);
      if (kind === 'contact') expect(hydrated?.data.categories).toEqual(['Personal', h.categoryName]);
    });

    it('update with tracking upkeep keeps the user’s other categories, and untracking unlinks', async () => {
      const id = await h.world.create('contact', 'contacts', { givenName: 'Dee', categories: ['Personal', 'VIP'] });
      const ref = contactRef(id);
      const tracked = await h.source.updateItem(h.mailbox, ref, { data: { jobTitle: 'CTO' } }, { marker: true, category: true, crmId: 'crm-d', categoryName: h.categoryName });
      expect(tracked).toMatchObject({ tracking: { marker: true, category: true }, crmId: 'crm-d' });
      expect(tracked.data.categories).toEqual(['Personal', 'VIP', h.categoryName]);
      expect(tracked.data.jobTitle).toBe('CTO');

      await h.world.edit(ref, { categories: ['VIP', h.categoryName, 'Golf'] });
      const untracked = await h.source.updateItem(h.mailbox, ref, null, { marker: false, category: false, crmId: null, categoryName: h.categoryName });
      expect(untracked).toMatchObject({ tracking: { marker: false, category: false }, crmId: null });
      expect(untracked.data.categories).toEqual(['VIP', 'Golf']);
      expect(untracked.data.jobTitle).toBe('CTO');
      expect(await h.source.findByCrmId(h.mailbox, 'contact', 'crm-d')).toBeNull();
    });

    it('LinkId (the re-link stamp): read on hydration, written by an upkeep that names it, left alone by one that does not, cleared', async () => {
      const contact = await h.world.create('contact', 'contacts', { givenName: 'Lin', singleValueExtendedProperties: [{ id: props.linkId, value: 'map-0' }] });
      const ev = await h.world.create('appointment', 'calendar', event('Relink', 2));
      const mail = await h.world.create('email', 'inbox', { subject: 'Relink', isDraft: false });
      const task = await h.world.create('task', h.world.todoListId, { title: 'Relink' });
      const refs: ItemRef[] = [contactRef(contact), { kind: 'appointment', id: ev, container: 'calendar' }, { kind: 'email', id: mail, container: 'inbox' }];
      const taskRef: ItemRef = { kind: 'task', id: task, container: h.world.todoListId };
      const hydrated = await h.source.getItems(h.mailbox, [...refs, taskRef]);
      expect([...hydrated.values()].map((item) => item?.linkId)).toEqual(['map-0', null, null, null]);

      const restamp = (i: number) => ({ marker: true, category: true, crmId: `crm-${i}`, linkId: `map-${i}`, categoryName: h.categoryName });
      for (const [i, ref] of refs.entries()) {
        expect(await h.source.updateItem(h.mailbox, ref, null, restamp(i))).toMatchObject({ linkId: `map-${i}`, crmId: `crm-${i}`, tracking: { marker: true, category: true } });
      }
      // To Do has no extended properties (§3.5): a LinkId in the upkeep is not written anywhere.
      expect(await h.source.updateItem(h.mailbox, taskRef, null, { ...restamp(3), linkId: 'map-3' })).toMatchObject({ linkId: null, crmId: 'crm-3' });

      // An upkeep without linkId (a linked pair's) leaves it; the untrack clears it and keeps the CrmId stamp.
      const kept = await h.source.updateItem(h.mailbox, refs[0] as ItemRef, { data: { jobTitle: 'CFO' } }, { marker: true, category: true, crmId: 'crm-0', categoryName: h.categoryName });
      expect(kept).toMatchObject({ linkId: 'map-0', crmId: 'crm-0' });
      for (const [i, ref] of refs.entries()) {
        const cleared = await h.source.updateItem(h.mailbox, ref, null, { marker: false, category: false, crmId: `crm-${i}`, linkId: null, categoryName: h.categoryName });
        expect(cleared).toMatchObject({ linkId: null, crmId: `crm-${i}`, tracking: { marker: false, category: false } });
      }
      const reread = await h.source.getItems(h.mailbox, refs);
      expect([...reread.values()].map((item) => [item?.linkId, item?.crmId])).toEqual([
        [null, 'crm-0'],
        [null, 'crm-1'],
        [null, 'crm-2'],
      ]);
    });

    it('tracking upkeep on a task sets and clears the category and the linked resource', async () => {
      const id = await h.world.create('task', h.world.todoListId, { title: 'Plan', categories: ['Errand'] });
      const ref: ItemRef = { kind: 'task', id, container: h.world.todoListId };
      const linked = await h.source.updateItem(h.mailbox, ref, null, { marker: true, category: true, crmId: 'crm-k', categoryName: h.categoryName });
      expect(linked).toMatchObject({ crmId: 'crm-k', tracking: { category: true } });
      expect(linked.data.categories).toEqual(['Errand', h.categoryName]);
      const unlinked = await h.source.updateItem(h.mailbox, ref, null, { marker: false, category: false, crmId: null, categoryName: h.categoryName });
      expect(unlinked).toMatchObject({ crmId: null, tracking: { category: false } });
      expect(unlinked.data.categories).toEqual(['Errand']);
    });

    it('a conditional update writes on the version read at hydration; after a user edit it is refused and the edit survives', async () => {
      // graph-behaviour.md §8: If-Match W/"<changeKey>" → 412 ErrorIrresolvableConflict on a mismatch → ConcurrencyError.
      const id = await h.world.create('contact', 'contacts', { givenName: 'Fay', jobTitle: 'Engineer', categories: [h.categoryName] });
      const ref = contactRef(id);
      const read = (await h.source.getItems(h.mailbox, [ref])).get(id);
      expect(read?.changeKey).toEqual(expect.any(String));
      await h.world.edit(ref, { jobTitle: 'Architect' });

      await expect(h.source.updateItem(h.mailbox, ref, { data: { jobTitle: 'Manager' } }, null, read?.changeKey)).rejects.toBeInstanceOf(ConcurrencyError);
      // With tracking upkeep as well (the adapter's own read-modify-write must not replace the caller's version).
      const upkeep = { marker: true, category: true, crmId: 'crm-f', categoryName: h.categoryName };
      await expect(h.source.updateItem(h.mailbox, ref, { data: { jobTitle: 'Manager' } }, upkeep, read?.changeKey)).rejects.toBeInstanceOf(ConcurrencyError);
      const after = (await h.source.getItems(h.mailbox, [ref])).get(id);
      expect(after).toMatchObject({ crmId: null, data: { jobTitle: 'Architect' } });

      // The current version writes, and the write gives the item a new one.
      const written = await h.source.updateItem(h.mailbox, ref, { data: { jobTitle: 'Manager' } }, upkeep, after?.changeKey);
      expect(written).toMatchObject({ crmId: 'crm-f', data: { jobTitle: 'Manager' } });
      expect(written.changeKey).not.toBe(after?.changeKey);
    });

    it('a conditional update of a To Do task uses its etag as the version', async () => {
      // graph-behaviour.md §8: todoTask has @odata.etag but no changeKey; OutlookItem.changeKey carries the etag's value.
      const id = await h.world.create('task', h.world.todoListId, { title: 'Plan', categories: [h.categoryName] });
      const ref: ItemRef = { kind: 'task', id, container: h.world.todoListId };
      const read = (await h.source.getItems(h.mailbox, [ref])).get(id);
      expect(read?.changeKey).toEqual(expect.any(String));
      const written = await h.source.updateItem(h.mailbox, ref, { data: { title: 'Plan A' } }, null, read?.changeKey);
      expect(written.data.title).toBe('Plan A');
      await h.world.edit(ref, { title: 'Plan B' });
      await expect(h.source.updateItem(h.mailbox, ref, { data: { title: 'Plan C' } }, null, written.changeKey)).rejects.toBeInstanceOf(ConcurrencyError);
      expect((await h.source.getItems(h.mailbox, [ref])).get(id)?.data.title).toBe('Plan B');
    });

    it('a To Do task is addressed inside its own list: in another list it reads as missing and is not written', async () => {
      // graph-behaviour.md §2.5: /todo/lists/{listId}/tasks/{taskId}; the mapping remembers the list (DESIGN.md §3).
      const otherList = await h.world.createTodoList('Errands');
      expect((await h.source.listStreams(h.mailbox)).map((s) => s.id)).toContain(`todo:${otherList}`);
      const id = await h.world.create('task', h.world.todoListId, { title: 'Here' });
      const own: ItemRef = { kind: 'task', id, container: h.world.todoListId };
      expect((await h.source.getItems(h.mailbox, [own])).get(id)?.container).toBe(h.world.todoListId);
      const elsewhere: ItemRef = { ...own, container: otherList };
      expect((await h.source.getItems(h.mailbox, [elsewhere])).get(id)).toBeNull();
      await expect(h.source.updateItem(h.mailbox, elsewhere, { data: { title: 'There' } }, null)).rejects.toBeInstanceOf(ItemRejectedError);
      await h.source.deleteItem(h.mailbox, elsewhere);
      expect((await h.source.getItems(h.mailbox, [own])).get(id)?.data.title).toBe('Here');
    });

    describe('updateItems (several updateItem calls in one, graph-behaviour.md §5.3)', () => {
      const upkeep = (crmId: string | null, tracked = true) => ({ marker: tracked, category: tracked, crmId, categoryName: h.categoryName });
      const okItem = (result: OutlookUpdateResult | undefined): OutlookItem => {
        if (!result?.ok) throw new Error(`expected a written item, got ${result ? String(result.error) : 'nothing'}`);
        return result.item;
      };
      const failure = (result: OutlookUpdateResult | undefined): Error => {
        if (!result || result.ok) throw new Error('expected a failed update');
        return result.error;
      };

      it('an empty call writes nothing and returns nothing', async () => {
        await expect(h.source.updateItems(h.mailbox, [])).resolves.toEqual([]);
      });

      it('several updates of different kinds land, results in the order of the updates', async () => {
        const a = await h.world.create('contact', 'contacts', { givenName: 'Ada', jobTitle: 'Engineer' });
        const b = await h.world.create('contact', 'contacts', { givenName: 'Bob', categories: ['VIP'] });
        const ev = await h.world.create('appointment', 'calendar', event('Review', 2));
        const task = await h.world.create('task', h.world.todoListId, { title: 'Plan' });
        const refs: ItemRef[] = [contactRef(a), contactRef(b), { kind: 'appointment', id: ev, container: 'calendar' }, { kind: 'task', id: task, container: h.world.todoListId }];
        const results = await h.source.updateItems(h.mailbox, [
          { ref: refs[2] as ItemRef, write: { data: { subject: 'Review (moved)' } }, tracking: null },
          { ref: refs[0] as ItemRef, write: { data: { jobTitle: 'Architect' } }, tracking: null },
          { ref: refs[3] as ItemRef, write: { data: { title: 'Plan A' } }, tracking: null },
          { ref: refs[1] as ItemRef, write: null, tracking: upkeep('crm-b') },
        ]);
        expect(results.map((r) => (r.ok ? r.item.id : null))).toEqual([ev, a, task, b]);
        expect(okItem(results[0]).data.subject).toBe('Review (moved)');
        expect(okItem(results[1]).data.jobTitle).toBe('Architect');
        expect(okItem(results[2]).data.title).toBe('Plan A');
        expect(okItem(results[3])).toMatchObject({ crmId: 'crm-b', tracking: { marker: true, category: true } });
        // What the results say is what is stored.
        const stored = await h.source.getItems(h.mailbox, refs);
        expect(stored.get(a)?.data.jobTitle).toBe('Architect');
        expect(stored.get(b)).toMatchObject({ crmId: 'crm-b', data: { categories: ['VIP', h.categoryName] } });
        expect(stored.get(ev)?.data.subject).toBe('Review (moved)');
        expect(stored.get(task)?.data.title).toBe('Plan A');
      });

      it('tracking upkeep in a batch: the CrmId and the category stamped, the user’s other categories kept, untracking unlinks', async () => {
        const ids = [
          await h.world.create('contact', 'contacts', { givenName: 'Cy', categories: ['Personal', 'VIP'] }),
          await h.world.create('contact', 'contacts', { givenName: 'Di' }),
          await h.world.create('contact', 'contacts', { givenName: 'Ed', categories: ['Golf'] }),
        ];
        const task = await h.world.create('task', h.world.todoListId, { title: 'Quote', categories: ['Errand'] });
        const taskRef: ItemRef = { kind: 'task', id: task, container: h.world.todoListId };
        // The writes carry fields but not the categories: the upkeep reads them first (§4 read-modify-write).
        const results = await h.source.updateItems(h.mailbox, [
          ...ids.map((id, i) => ({ ref: contactRef(id), write: { data: { jobTitle: `Title ${i}` } }, tracking: upkeep(`crm-${i}`) })),
          { ref: taskRef, write: null, tracking: upkeep('crm-task') },
        ]);
        expect(results.every((r) => r.ok)).toBe(true);
        expect(okItem(results[0])).toMatchObject({ crmId: 'crm-0', tracking: { marker: true, category: true }, data: { jobTitle: 'Title 0', categories: ['Personal', 'VIP', h.categoryName] } });
        expect(okItem(results[1]).data.categories).toEqual([h.categoryName]);
        expect(okItem(results[2]).data.categories).toEqual(['Golf', h.categoryName]);
        expect(okItem(results[3])).toMatchObject({ crmId: 'crm-task', tracking: { category: true }, data: { categories: ['Errand', h.categoryName] } });
        for (const [i, id] of ids.entries()) expect((await h.source.findByCrmId(h.mailbox, 'contact', `crm-${i}`))?.id).toBe(id);
        expect((await h.source.findByCrmId(h.mailbox, 'task', 'crm-task'))?.id).toBe(task);

        await h.world.edit(contactRef(ids[0] as string), { categories: ['VIP', h.categoryName, 'Golf'] });
        const untracked = await h.source.updateItems(h.mailbox, [
          { ref: contactRef(ids[0] as string), write: null, tracking: upkeep(null, false) },
          { ref: taskRef, write: null, tracking: upkeep(null, false) },
        ]);
        expect(okItem(untracked[0])).toMatchObject({ crmId: null, tracking: { marker: false, category: false }, data: { categories: ['VIP', 'Golf'], jobTitle: 'Title 0' } });
        expect(okItem(untracked[1])).toMatchObject({ crmId: null, tracking: { category: false }, data: { categories: ['Errand'] } });
        expect(await h.source.findByCrmId(h.mailbox, 'contact', 'crm-0')).toBeNull();
      });

      it('LinkId in a batch: written with the re-stamp, cleared with the untrack', async () => {
        const ids = [await h.world.create('contact', 'contacts', { givenName: 'Fay' }), await h.world.create('contact', 'contacts', { givenName: 'Gil' })];
        const written = await h.source.updateItems(
          h.mailbox,
          ids.map((id, i) => ({ ref: contactRef(id), write: null, tracking: { ...upkeep(`crm-${i}`), linkId: `map-${i}` } })),
        );
        expect(written.map((r) => okItem(r).linkId)).toEqual(['map-0', 'map-1']);
        const cleared = await h.source.updateItems(h.mailbox, [
          { ref: contactRef(ids[0] as string), write: null, tracking: { ...upkeep('crm-0', false), linkId: null } },
          { ref: contactRef(ids[1] as string), write: { data: { jobTitle: 'Buyer' } }, tracking: upkeep('crm-1') },
        ]);
        expect(okItem(cleared[0])).toMatchObject({ linkId: null, crmId: 'crm-0', tracking: { marker: false, category: false } });
        expect(okItem(cleared[1])).toMatchObject({ linkId: 'map-1', crmId: 'crm-1', data: { jobTitle: 'Buyer' } });
      });

      it('a stale ifMatch fails alone with ConcurrencyError and the user’s edit survives, while the others land', async () => {
        // graph-behaviour.md §8: If-Match W/"<changeKey>" → 412 ErrorIrresolvableConflict → ConcurrencyError.
        const ids = await Promise.all(['Fay', 'Gus', 'Hal', 'Ivy'].map((givenName) => h.world.create('contact', 'contacts', { givenName, jobTitle: 'Engineer' })));
        const refs = ids.map(contactRef);
        const read = await h.source.getItems(h.mailbox, refs);
        // Gus is edited after our read (a field write: the PATCH is refused); Ivy too (tracking upkeep: its own read
        // sees the newer version).
        await h.world.edit(refs[1] as ItemRef, { jobTitle: 'Architect' });
        await h.world.edit(refs[3] as ItemRef, { jobTitle: 'Designer' });
        const results = await h.source.updateItems(
          h.mailbox,
          refs.map((ref, i) => ({ ref, write: { data: { jobTitle: 'Manager' } }, tracking: i >= 2 ? upkeep(`crm-${i}`) : null, ifMatch: read.get(ref.id)?.changeKey ?? null })),
        );
        expect(results.map((r) => r.ok)).toEqual([true, false, true, false]);
        expect(failure(results[1])).toBeInstanceOf(ConcurrencyError);
        expect(failure(results[3])).toBeInstanceOf(ConcurrencyError);
        expect(okItem(results[0]).data.jobTitle).toBe('Manager');
        expect(okItem(results[2])).toMatchObject({ crmId: 'crm-2', data: { jobTitle: 'Manager' } });
        const after = await h.source.getItems(h.mailbox, refs);
        expect(after.get(ids[1] as string)).toMatchObject({ data: { jobTitle: 'Architect' } });
        expect(after.get(ids[3] as string)).toMatchObject({ crmId: null, data: { jobTitle: 'Designer' } });
      });

      it('an item deleted meanwhile fails alone, with the error updateItem gives for it', async () => {
        const ids = await Promise.all(['Jo', 'Kim', 'Lee', 'Max'].map((givenName) => h.world.create('contact', 'contacts', { givenName })));
        const refs = ids.map(contactRef);
        await h.world.remove(refs[1] as ItemRef);
        await h.world.remove(refs[2] as ItemRef);
        const updates = refs.map((ref, i) => ({ ref, write: { data: { jobTitle: `Role ${i}` } }, tracking: i % 2 === 0 ? upkeep(`crm-${i}`) : null }));
        const results = await h.source.updateItems(h.mailbox, updates);
        expect(results.map((r) => r.ok)).toEqual([true, false, false, true]);
        for (const i of [1, 2]) {
          const update = updates[i] as (typeof updates)[number];
          const alone = await h.source.updateItem(h.mailbox, update.ref, update.write, update.tracking).catch((e: unknown) => e);
          expect(alone).toBeInstanceOf(ItemRejectedError);
          const batched = failure(results[i]);
          expect(batched).toBeInstanceOf(ItemRejectedError);
          expect((batched as ItemRejectedError).reason).toBe((alone as ItemRejectedError).reason);
          expect((batched as ItemRejectedError).reason).toMatch(/^graph-404-/);
        }
        expect(okItem(results[0])).toMatchObject({ crmId: 'crm-0', data: { jobTitle: 'Role 0' } });
        expect(okItem(results[3]).data.jobTitle).toBe('Role 3');
        expect(await h.world.countItems('contact', 'contacts')).toBe(2);
      });

      it('two updates of one item in one call apply in order, the second on top of the first', async () => {
        const id = await h.world.create('contact', 'contacts', { givenName: 'Ned', categories: ['VIP'] });
        const other = await h.world.create('contact', 'contacts', { givenName: 'Ola' });
        const read = (await h.source.getItems(h.mailbox, [contactRef(id)])).get(id);
        const results = await h.source.updateItems(h.mailbox, [
          { ref: contactRef(id), write: { data: { jobTitle: 'First' } }, tracking: null, ifMatch: read?.changeKey ?? null },
          { ref: contactRef(other), write: { data: { jobTitle: 'Other' } }, tracking: null },
          { ref: contactRef(id), write: { data: { department: 'Second' } }, tracking: upkeep('crm-n') },
          // The version read before the first update is stale by now, as for two updateItem calls in a row.
          { ref: contactRef(id), write: { data: { jobTitle: 'Third' } }, tracking: null, ifMatch: read?.changeKey ?? null },
        ]);
        expect(results.map((r) => r.ok)).toEqual([true, true, true, false]);
        expect(failure(results[3])).toBeInstanceOf(ConcurrencyError);
        expect(okItem(results[2])).toMatchObject({ crmId: 'crm-n', data: { jobTitle: 'First', department: 'Second', categories: ['VIP', h.categoryName] } });
        expect(okItem(results[0]).changeKey).not.toBe(okItem(results[2]).changeKey);
      });
    });

    it('delete removes the item and deleting a missing item succeeds', async () => {
      const id = await h.world.create('contact', 'contacts', { givenName: 'Eve' });
      await h.source.deleteItem(h.mailbox, contactRef(id));
      expect(await h.world.countItems('contact', 'contacts')).toBe(0);
      await expect(h.source.deleteItem(h.mailbox, contactRef(id))).resolves.toBeUndefined();
    });

    it('ensureCategory creates the category once and re-creates it after a user deleted it', async () => {
      await h.source.ensureCategory(h.mailbox, h.categoryName);
      await h.source.ensureCategory(h.mailbox, h.categoryName);
      const count = (names: string[]) => names.filter((n) => n.toLowerCase() === h.categoryName.toLowerCase()).length;
      expect(count(await h.world.masterCategoryNames())).toBe(1);
      await h.world.deleteMasterCategory(h.categoryName);
      expect(count(await h.world.masterCategoryNames())).toBe(0);
      await h.source.ensureCategory(h.mailbox, h.categoryName);
      expect(count(await h.world.masterCategoryNames())).toBe(1);
    });
  });
}
