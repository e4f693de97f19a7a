// The calendarView window moves with time. A delta link keeps the window its first round was asked for
// (graph-behaviour.md §2.2), so the worker stores the window beside the cursor and, once half its future has passed,
// reads a fresh round with a new window under a sweep epoch: events that left the window are only out of view and are
// never deleted on that evidence (DESIGN.md §6, last row).
import { windowKey } from '../../src/app/collect';
import { taggedEvent } from './support/fixtures';
import { MAILBOX, START, World } from './support/world';

const DAY = 24 * 60 * 60_000;
const at = (days: number): string => new Date(Date.parse(START) + days * DAY).toISOString();

describe('the calendar window', () => {
  it('moves after 200 days: a meeting beyond the first window syncs, one that left the window stays in the CRM', async () => {
    const world = new World();
    world.settings = { ...world.settings, calendarWindow: { pastDays: 30, futureDays: 365 } };
    world.outlook.userCreate(MAILBOX, 'appointment', 'calendar', taggedEvent('Kick-off', at(10)));
    await world.cycle();
    await world.cycle();
    expect(world.crm.all('appointment').map((a) => a.data.subject)).toEqual(['Kick-off']);
    const firstWindow = JSON.parse((await world.store.getCursor(MAILBOX, windowKey('calendar'))) ?? 'null') as { end: string };
    expect(Date.parse(firstWindow.end)).toBe(Date.parse(START) + 365 * DAY);

    world.clock.advance(200 * DAY);
    // 300 days ahead of now: past the end of the first window (day 365), inside a window taken now.
    world.outlook.userCreate(MAILBOX, 'appointment', 'calendar', taggedEvent('Launch', at(500)));

    const movedAt = world.clock.now().getTime();
    const moved = await world.cycle();

    expect(moved.counts['streams.newWindow']).toBe(1);
    expect(moved.failures).toEqual([]);
    expect(world.crm.all('appointment').map((a) => a.data.subject).sort()).toEqual(['Kick-off', 'Launch']);
    // Kick-off (day 10) is 190 days in the past now, outside the new window: a candidate, read directly, out of view.
    expect(moved.counts['sweep.candidates']).toBe(1);
    expect(world.writes.serviceWrites()).toEqual({ 'crm.create': 1, 'outlook.update': 1 });
    const mappings = await world.mappings('appointment');
    expect(mappings.map((m) => m.state)).toEqual(['linked', 'linked']);
    // Read directly, the candidate is settled: no row is left to retry forever.
    expect(await world.store.countChanges(MAILBOX)).toBe(0);
    const window = JSON.parse((await world.store.getCursor(MAILBOX, windowKey('calendar'))) ?? 'null') as { start: string; end: string };
    expect(window).toEqual({ start: new Date(movedAt - 30 * DAY).toISOString(), end: new Date(movedAt + 365 * DAY).toISOString() });

    // The new window holds until half its future has passed again.
    const quiet = await world.cycle();
    await world.cycle();
    expect(quiet.counts['streams.newWindow'] ?? 0).toBe(0);
    expect(world.writes.serviceWrites()).toEqual({});
  });

  it('unlinks an event that left the window when its CRM appointment was deleted, and clears its tracking', async () => {
    const world = new World();
    world.settings = { ...world.settings, calendarWindow: { pastDays: 30, futureDays: 365 } };
    const eventId = world.outlook.userCreate(MAILBOX, 'appointment', 'calendar', taggedEvent('Kick-off', at(10)));
    await world.cycle();
    await world.cycle();
    const [appointment] = world.crm.all('appointment');
    world.clock.advance(200 * DAY);
    world.crm.userDelete('appointment', appointment?.id ?? '');

    const summary = await world.cycle();

    // DESIGN.md §6: CRM deleted, appointment in the past → unlink. The event is out of view (left the new window),
    // read directly, and its category and marker are cleared so it no longer shows as tracked.
    expect(summary.failures).toEqual([]);
    expect(world.writes.serviceWrites()).toEqual({ 'outlook.update': 1 });
    expect(world.outlook.isTracked(MAILBOX, eventId)).toBe(false);
    expect(await world.mappings('appointment')).toEqual([]);
  });
});
