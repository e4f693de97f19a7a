// The in-memory mailbox's updateItems beyond the contract: how it counts requests (as the Graph adapter's `$batch`es
// would, graph-behaviour.md §5.3) and how injected faults fall on single updates or on the whole call.
import { MemoryMailboxSource } from '../../../src/adapters/memory/mailbox-source';
import { AuthError, ItemRejectedError, TransientError } from '../../../src/ports/errors';
import type { ItemRef, OutlookUpdate } from '../../../src/ports/mailbox-source';

const MAILBOX = 'ada@contoso.test';

describe('MemoryMailboxSource.updateItems', () => {
  let source: MemoryMailboxSource;
  const contact = (givenName: string): ItemRef => ({ kind: 'contact', id: source.userCreate(MAILBOX, 'contact', 'contacts', { givenName }), container: 'contacts' });
  const write = (ref: ItemRef, jobTitle: string): OutlookUpdate => ({ ref, write: { data: { jobTitle } }, tracking: null });
  const jobTitles = () => source.snapshot(MAILBOX, 'contact').map((i) => i.data.jobTitle ?? null);

  beforeEach(() => {
    source = new MemoryMailboxSource({ productGuid: '6d3c1f9e-2b7a-4c55-9a0e-5f1d2c3b4a99' });
  });

  it('counts one request per 20 updates (updateItem counts one per update), and none for an empty call', async () => {
    const refs = Array.from({ length: 45 }, (_, i) => contact(`C${i}`));
    const before = source.requestCount(MAILBOX);
    await source.updateItems(MAILBOX, []);
    expect(source.requestCount(MAILBOX)).toBe(before);
    const results = await source.updateItems(MAILBOX, refs.map((ref) => write(ref, 'CEO')));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(source.requestCount(MAILBOX) - before).toBe(3);
    await source.updateItem(MAILBOX, refs[0] as ItemRef, { data: { jobTitle: 'CTO' } }, null);
    expect(source.requestCount(MAILBOX) - before).toBe(4);
  });

  it('a second update of an item goes in a later batch, applied after the first', async () => {
    const [a, b] = [contact('A'), contact('B')];
    const before = source.requestCount(MAILBOX);
    const results = await source.updateItems(MAILBOX, [write(a, 'first'), write(b, 'other'), { ref: a, write: { data: { department: 'second' } }, tracking: null }]);
    expect(source.requestCount(MAILBOX) - before).toBe(2);
    expect(results[2]).toMatchObject({ ok: true, item: { data: { jobTitle: 'first', department: 'second' } } });
  });

  it("a fault injected for updateItem fails the update it falls on, alone; the others are written", async () => {
    const refs = [contact('A'), contact('B'), contact('C')];
    source.injectFault(MAILBOX, 'updateItem', new TransientError('throttled', 1_000));
    source.injectFault(MAILBOX, 'updateItem', new ItemRejectedError('graph-400-ErrorInvalidProperty', 'refused'));
    const results = await source.updateItems(MAILBOX, refs.map((ref) => write(ref, 'CEO')));
    expect(results.map((r) => (r.ok ? 'ok' : r.error.name))).toEqual(['TransientError', 'ItemRejectedError', 'ok']);
    expect(jobTitles()).toEqual([null, null, 'CEO']);
  });

  it('an AuthError, or a fault injected for updateItems, fails the whole call', async () => {
    const refs = [contact('A'), contact('B')];
    source.injectFault(MAILBOX, 'updateItems', new TransientError('envelope throttled', 5_000));
    await expect(source.updateItems(MAILBOX, refs.map((ref) => write(ref, 'CEO')))).rejects.toBeInstanceOf(TransientError);
    expect(jobTitles()).toEqual([null, null]);
    source.injectFault(MAILBOX, 'updateItem', new AuthError('403 ErrorAccessDenied'));
    await expect(source.updateItems(MAILBOX, refs.map((ref) => write(ref, 'CEO')))).rejects.toBeInstanceOf(AuthError);
    // The fault fell on the first update, before anything was written.
    expect(jobTitles()).toEqual([null, null]);
  });
});
