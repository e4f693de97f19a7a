// Events, calendarView and calendarView delta (graph-behaviour.md §2.2, §7, §1.3).
import { deltaRound, values, type JsonRecord, useSimulatorMailbox } from './harness';

const WINDOW = 'startDateTime=2026-03-01T00:00:00Z&endDateTime=2026-04-01T00:00:00Z';

describe('Graph simulator: events', () => {
  const mailbox = useSimulatorMailbox('cal');

  const createEvent = async (body: JsonRecord, headers: Record<string, string> = {}) => mailbox.t.call('POST', `users/${mailbox.upn}/events`, { body, headers });

  it('returns start/end in UTC by default and in Prefer: outlook.timezone when asked; all-day events keep their zone (§7)', async () => {
    const ev = await createEvent({ subject: 'Standup', start: { dateTime: '2026-03-10T09:00:00', timeZone: 'Pacific Standard Time' }, end: { dateTime: '2026-03-10T09:30:00', timeZone: 'Pacific Standard Time' } });
    expect(ev.status).toBe(201);
    expect(ev.body['start']).toEqual({ dateTime: '2026-03-10T16:00:00.0000000', timeZone: 'UTC' });
    expect(ev.body['originalStartTimeZone']).toBe('Pacific Standard Time');
    expect(ev.body['type']).toBe('singleInstance');
    const id = encodeURIComponent(String(ev.body['id']));
    const eastern = await mailbox.t.call('GET', `users/${mailbox.upn}/events/${id}`, { headers: { Prefer: 'outlook.timezone="Eastern Standard Time"' } });
    expect(eastern.body['start']).toEqual({ dateTime: '2026-03-10T12:00:00.0000000', timeZone: 'Eastern Standard Time' });
    expect(eastern.headers.get('preference-applied')).toBe('outlook.timezone="Eastern Standard Time"');
    const allDay = await createEvent({ subject: 'Holiday', isAllDay: true, start: { dateTime: '2026-03-12T00:00:00', timeZone: 'W. Europe Standard Time' }, end: { dateTime: '2026-03-13T00:00:00', timeZone: 'W. Europe Standard Time' } }, { Prefer: 'outlook.timezone="Pacific Standard Time"' });
    expect(allDay.body['start']).toEqual({ dateTime: '2026-03-12T00:00:00', timeZone: 'W. Europe Standard Time' });
  });

  it('deduplicates creates by transactionId (§2.2, §9.2); the knob turns it off', async () => {
    const body = { subject: 'Retry me', transactionId: 'tx-1', start: { dateTime: '2026-03-02T10:00:00', timeZone: 'UTC' }, end: { dateTime: '2026-03-02T11:00:00', timeZone: 'UTC' } };
    const first = await createEvent(body);
    const second = await createEvent(body);
    expect(second.status).toBe(201);
    expect(second.body['id']).toBe(first.body['id']);
    expect(values((await mailbox.t.call('GET', `users/${mailbox.upn}/events`)).body)).toHaveLength(1);
    mailbox.t.sim.knobs.transactionIdDedup = false;
    const third = await createEvent(body);
    expect(third.body['id']).not.toBe(first.body['id']);
  });

  it('expands a weekly series in calendarView; an occurrence can become an exception or be deleted (§2.2)', async () => {
    const series = await createEvent({
      subject: 'Weekly sync',
      start: { dateTime: '2026-03-02T09:00:00', timeZone: 'W. Europe Standard Time' },
      end: { dateTime: '2026-03-02T10:00:00', timeZone: 'W. Europe Standard Time' },
      recurrence: { pattern: { type: 'weekly', interval: 1, daysOfWeek: ['monday', 'wednesday'], firstDayOfWeek: 'monday' }, range: { type: 'numbered', startDate: '2026-03-02', numberOfOccurrences: 6 } },
    });
    expect(series.body['type']).toBe('seriesMaster');
    const view = await mailbox.t.call('GET', `users/${mailbox.upn}/calendarView?${WINDOW}`, { headers: { Prefer: 'odata.maxpagesize=50' } });
    const occ = values(view.body);
    expect(occ.map((o) => (o['start'] as JsonRecord)['dateTime'])).toEqual([
      '2026-03-02T08:00:00.0000000', '2026-03-04T08:00:00.0000000', '2026-03-09T08:00:00.0000000',
      '2026-03-11T08:00:00.0000000', '2026-03-16T08:00:00.0000000', '2026-03-18T08:00:00.0000000',
    ]);
    expect(occ.every((o) => o['type'] === 'occurrence' && o['seriesMasterId'] === series.body['id'] && o['subject'] === 'Weekly sync')).toBe(true);
    const second = encodeURIComponent(String(occ[1]?.['id']));
    const moved = await mailbox.t.call('PATCH', `users/${mailbox.upn}/events/${second}`, { body: { subject: 'Moved sync', start: { dateTime: '2026-03-05T09:00:00', timeZone: 'UTC' }, end: { dateTime: '2026-03-05T10:00:00', timeZone: 'UTC' } } });
    expect(moved.status).toBe(200);
    expect(moved.body).toMatchObject({ type: 'exception', subject: 'Moved sync', id: occ[1]?.['id'] });
    expect((await mailbox.t.call('DELETE', `users/${mailbox.upn}/events/${encodeURIComponent(String(occ[2]?.['id']))}`)).status).toBe(204);
    const after = values((await mailbox.t.call('GET', `users/${mailbox.upn}/calendarView?${WINDOW}`, { headers: { Prefer: 'odata.maxpagesize=50' } })).body);
    expect(after.map((o) => [o['type'], (o['start'] as JsonRecord)['dateTime']])).toEqual([
      ['occurrence', '2026-03-02T08:00:00.0000000'], ['exception', '2026-03-05T09:00:00.0000000'],
      ['occurrence', '2026-03-11T08:00:00.0000000'], ['occurrence', '2026-03-16T08:00:00.0000000'], ['occurrence', '2026-03-18T08:00:00.0000000'],
    ]);
    // /events lists the master, not the occurrences
    expect(values((await mailbox.t.call('GET', `users/${mailbox.upn}/events`)).body).map((e) => e['type'])).toEqual(['seriesMaster']);
  });

  it('calendarView delta: skeletal occurrences, full exceptions, no master, the whole series in one page (§2.2, §1.3)', async () => {
    await createEvent({ subject: 'Single', start: { dateTime: '2026-03-20T10:00:00', timeZone: 'UTC' }, end: { dateTime: '2026-03-20T11:00:00', timeZone: 'UTC' } });
    const series = await createEvent({
      subject: 'Daily', start: { dateTime: '2026-03-09T08:00:00', timeZone: 'UTC' }, end: { dateTime: '2026-03-09T08:15:00', timeZone: 'UTC' },
      recurrence: { pattern: { type: 'daily', interval: 1 }, range: { type: 'endDate', startDate: '2026-03-09', endDate: '2026-03-13' } },
    });
    const first = values((await mailbox.t.call('GET', `users/${mailbox.upn}/calendarView?${WINDOW}`, { headers: { Prefer: 'odata.maxpagesize=50' } })).body).find((e) => e['type'] === 'occurrence');
    await mailbox.t.call('PATCH', `users/${mailbox.upn}/events/${encodeURIComponent(String(first?.['id']))}`, { body: { subject: 'Daily (long)' } });
    const round = await deltaRound(mailbox.t, `users/${mailbox.upn}/calendarView/delta?${WINDOW}`, { Prefer: 'odata.maxpagesize=2' });
    const items = round.items;
    expect(items.some((i) => i['id'] === series.body['id'])).toBe(false);
    const occurrences = items.filter((i) => i['type'] === 'occurrence');
    expect(occurrences).toHaveLength(4);
    expect(Object.keys(occurrences[0] ?? {}).sort()).toEqual(['@odata.etag', '@odata.type', 'end', 'id', 'seriesMasterId', 'start', 'type']);
    const exception = items.find((i) => i['type'] === 'exception');
    expect(exception).toMatchObject({ subject: 'Daily (long)', seriesMasterId: series.body['id'] });
    // the five instances arrived on one page, beyond maxpagesize=2
    const seriesPages = round.pages.filter((p) => values(p).some((i) => i['seriesMasterId'] === series.body['id']));
    expect(seriesPages).toHaveLength(1);
    expect(values(seriesPages[0] ?? {}).filter((i) => i['seriesMasterId'] === series.body['id'])).toHaveLength(5);
    expect(values(seriesPages[0] ?? {}).length).toBeGreaterThan(2);
  });

  it('calendarView delta reports events that left the window or were deleted as @removed (§2.2)', async () => {
    const a = await createEvent({ subject: 'A', start: { dateTime: '2026-03-03T10:00:00', timeZone: 'UTC' }, end: { dateTime: '2026-03-03T11:00:00', timeZone: 'UTC' } });
    const b = await createEvent({ subject: 'B', start: { dateTime: '2026-03-04T10:00:00', timeZone: 'UTC' }, end: { dateTime: '2026-03-04T11:00:00', timeZone: 'UTC' } });
    const initial = await deltaRound(mailbox.t, `users/${mailbox.upn}/calendarView/delta?${WINDOW}`);
    expect(initial.items.map((i) => i['subject'])).toEqual(['A', 'B']);
    await mailbox.t.call('PATCH', `users/${mailbox.upn}/events/${encodeURIComponent(String(a.body['id']))}`, { body: { start: { dateTime: '2026-05-03T10:00:00', timeZone: 'UTC' }, end: { dateTime: '2026-05-03T11:00:00', timeZone: 'UTC' } } });
    await mailbox.t.call('DELETE', `users/${mailbox.upn}/events/${encodeURIComponent(String(b.body['id']))}`);
    const outside = await createEvent({ subject: 'Outside', start: { dateTime: '2026-06-01T10:00:00', timeZone: 'UTC' }, end: { dateTime: '2026-06-01T11:00:00', timeZone: 'UTC' } });
    const next = await deltaRound(mailbox.t, initial.deltaLink);
    const removed = { reason: 'deleted' };
    expect(next.items).toEqual([
      { '@odata.type': '#microsoft.graph.event', id: a.body['id'], '@removed': removed },
      { '@odata.type': '#microsoft.graph.event', id: b.body['id'], '@removed': removed },
      { '@odata.type': '#microsoft.graph.event', id: outside.body['id'], '@removed': removed },
    ]);
  });

  it('deleting a series reports each instance in the window and the series id as @removed; /instances lists the occurrences (§2.2)', async () => {
    const series = await createEvent({
      subject: 'Gone soon', start: { dateTime: '2026-03-09T08:00:00', timeZone: 'UTC' }, end: { dateTime: '2026-03-09T08:15:00', timeZone: 'UTC' },
      recurrence: { pattern: { type: 'daily', interval: 2 }, range: { type: 'numbered', startDate: '2026-03-09', numberOfOccurrences: 3 } },
    });
    const sid = encodeURIComponent(String(series.body['id']));
    const instances = values((await mailbox.t.call('GET', `users/${mailbox.upn}/events/${sid}/instances?${WINDOW}`)).body);
    expect(instances.map((i) => (i['start'] as JsonRecord)['dateTime'])).toEqual(['2026-03-09T08:00:00.0000000', '2026-03-11T08:00:00.0000000', '2026-03-13T08:00:00.0000000']);
    const initial = await deltaRound(mailbox.t, `users/${mailbox.upn}/calendarView/delta?${WINDOW}`);
    expect(initial.items.map((i) => i['id'])).toEqual(instances.map((i) => i['id']));
    await mailbox.t.call('DELETE', `users/${mailbox.upn}/events/${sid}`);
    const next = await deltaRound(mailbox.t, initial.deltaLink);
    expect(next.items.map((i) => [i['id'], i['@removed']])).toEqual([...instances.map((i) => i['id']), series.body['id']].map((id) => [id, { reason: 'deleted' }]));
  });

  it('an unknown time zone in start/end or in Prefer: outlook.timezone is rejected ([R] §7)', async () => {
    const bad = await createEvent({ subject: 'x', start: { dateTime: '2026-03-10T09:00:00', timeZone: 'Mars Standard Time' }, end: { dateTime: '2026-03-10T10:00:00', timeZone: 'UTC' } });
    expect([bad.status, (bad.body['error'] as JsonRecord)['code']]).toEqual([400, 'TimeZoneNotSupportedException']);
    expect((await mailbox.t.call('GET', `users/${mailbox.upn}/events`, { headers: { Prefer: 'outlook.timezone="Mars Standard Time"' } })).status).toBe(400);
    expect((await mailbox.t.call('GET', `users/${mailbox.upn}/events`, { headers: { Prefer: 'outlook.timezone="Europe/Berlin"' } })).status).toBe(200);
  });

  it('calendarView delta rejects $select/$filter (400) and $expand (the documented 500) (§2.2, §3.4)', async () => {
    expect((await mailbox.t.call('GET', `users/${mailbox.upn}/calendarView/delta?${WINDOW}&$select=subject`)).status).toBe(400);
    expect((await mailbox.t.call('GET', `users/${mailbox.upn}/calendarView/delta?${WINDOW}&$filter=subject eq 'x'`)).status).toBe(400);
    const expand = await mailbox.t.call('GET', `users/${mailbox.upn}/calendarView/delta?${WINDOW}&$expand=singleValueExtendedProperties($filter=id eq 'String {66f5a359-4659-4830-9070-00047ec6ac6e} Name Color')`);
    expect(expand.status).toBe(500);
    expect((expand.body['error'] as JsonRecord)['message']).toBe('Value cannot be null.\r\nParameter name: type');
    // missing window → 400
    expect((await mailbox.t.call('GET', `users/${mailbox.upn}/calendarView/delta`)).status).toBe(400);
    // the default calendar by id is the same collection; /me is delegated-only
    const calendarId = mailbox.t.sim.control.folders(mailbox.upn).calendar;
    expect((await mailbox.t.call('GET', `users/${mailbox.upn}/calendars/${encodeURIComponent(calendarId)}/calendarView/delta?${WINDOW}`)).status).toBe(200);
    expect((await mailbox.t.call('GET', `users/${mailbox.upn}/calendars/other/calendarView/delta?${WINDOW}`)).status).toBe(404);
    expect((await mailbox.t.call('GET', `me/calendarView/delta?${WINDOW}`)).status).toBe(400);
    // lower-case parameter names work too (§1.1)
    expect((await mailbox.t.call('GET', `users/${mailbox.upn}/calendarview/delta?startdatetime=2026-03-01T00:00:00Z&enddatetime=2026-04-01T00:00:00Z`)).status).toBe(200);
  });
});
