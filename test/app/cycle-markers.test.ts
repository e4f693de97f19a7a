// Items tracked only by an add-in's `Tracked` marker (no category). Delta payloads never carry extended properties
// (graph-behaviour.md §3.4), so the worker asks MailboxSource.findMarkedIds (a `$filter` on the marker) every
// `markerSweepEvery` cycles and after every full round of a stream, except To Do lists (no extended properties, §3.5),
// and records an Outlook change for each marked item not yet mapped; hydration reads the marker, the planner decides.
import { DEFAULT_PRODUCT_GUID } from '../../src/core/mappings/extended-properties';
import { trackingPropertyIds } from '../../src/adapters/graph/extended-properties';
import type { JsonObject } from '../../src/core/model';
import { MAILBOX, World } from './support/world';

const TRACKED = trackingPropertyIds(DEFAULT_PRODUCT_GUID).tracked;

/** A contact an add-in marked: the marker set, no category (the user has none on it). */
function markedContact(given: string, email: string): JsonObject {
  return {
    givenName: given,
    surname: 'Example',
    emailAddresses: [{ address: email, name: given }],
    categories: [],
    singleValueExtendedProperties: [{ id: TRACKED, value: 'true' }],
  };
}

const MARKED_STREAMS = ['contacts', 'calendar', 'inbox', 'sentitems'];

describe('items marked only by an add-in', () => {
  it('are found by the marker search after the first full round and then every markerSweepEvery cycles', async () => {
    const world = new World();
    world.outlook.userCreate(MAILBOX, 'contact', 'contacts', markedContact('Ada', 'ada@example.org'));

    const first = await world.cycle({ markerSweepEvery: 4 });

    expect(world.mailboxSource.markerSearches).toEqual(MARKED_STREAMS);
    expect(first.counts['markers.found']).toBe(1);
    expect(world.crm.all('contact').map((c) => c.data.firstname)).toEqual(['Ada']);

    world.outlook.userCreate(MAILBOX, 'contact', 'contacts', markedContact('Grace', 'grace@example.org'));
    for (let cycle = 2; cycle <= 4; cycle += 1) {
      await world.cycle({ markerSweepEvery: 4 });
      expect([cycle, world.mailboxSource.markerSearches]).toEqual([cycle, []]);
    }
    // The delta reported Grace, but without the marker or a category nothing was recorded.
    expect(world.crm.all('contact')).toHaveLength(1);

    const fifth = await world.cycle({ markerSweepEvery: 4 });
    expect(world.mailboxSource.markerSearches).toEqual(MARKED_STREAMS);
    // Ada is mapped: only Grace is new.
    expect(fifth.counts['markers.found']).toBe(1);
    expect(world.crm.all('contact').map((c) => c.data.firstname).sort()).toEqual(['Ada', 'Grace']);
  });

  it('are searched for in a stream read in full after its cursor was evicted, whatever the count', async () => {
    const world = new World();
    await world.cycle({ markerSweepEvery: 100 });
    await world.cycle({ markerSweepEvery: 100 });
    expect(world.mailboxSource.markerSearches).toEqual([]);
    world.outlook.userCreate(MAILBOX, 'contact', 'contacts', markedContact('Ada', 'ada@example.org'));
    // graph-behaviour.md §1.6: every delta link of the mailbox answers 410 SyncStateNotFound.
    world.outlook.evict(MAILBOX);

    const resync = await world.cycle({ markerSweepEvery: 100 });

    expect(resync.counts['streams.resync']).toBeGreaterThan(0);
    expect(world.mailboxSource.markerSearches).toEqual(MARKED_STREAMS);
    expect(world.crm.all('contact').map((c) => c.data.firstname)).toEqual(['Ada']);
  });
});
