// The local worker's NCRONTAB evaluator (service-limits.md §3: 6-field `{second} {minute} {hour} {day} {month}
// {day-of-week}`, UTC without WEBSITE_TIME_ZONE).
import { throttledProgress } from '../../src/cli/format';
import { dueAtTick, nextOccurrence, parseSchedule, previousOccurrence } from '../../src/config/ncrontab';

const next = (expression: string, afterIso: string) => nextOccurrence(parseSchedule(expression), new Date(afterIso))?.toISOString() ?? null;

describe('NCRONTAB next occurrence', () => {
  it.each([
    // [expression, after, expected]
    ['0 */15 * * * *', '2026-03-02T09:00:00.000Z', '2026-03-02T09:15:00.000Z'],
    ['0 */15 * * * *', '2026-03-02T09:14:59.400Z', '2026-03-02T09:15:00.000Z'],
    ['0 */15 * * * *', '2026-03-02T23:59:00.000Z', '2026-03-03T00:00:00.000Z'],
    ['*/30 * * * * *', '2026-03-02T09:00:10.000Z', '2026-03-02T09:00:30.000Z'],
    ['0 30 9 * * MON-FRI', '2026-03-06T10:00:00.000Z', '2026-03-09T09:30:00.000Z'], // Friday after 09:30 → Monday
    ['0 0 0 1 JAN *', '2026-03-02T00:00:00.000Z', '2027-01-01T00:00:00.000Z'],
    ['0 0 12 29 2 *', '2026-03-02T00:00:00.000Z', '2028-02-29T12:00:00.000Z'],
    ['15,45 5/20 * * * *', '2026-03-02T09:05:15.000Z', '2026-03-02T09:05:45.000Z'],
    ['15,45 5/20 * * * *', '2026-03-02T09:05:45.000Z', '2026-03-02T09:25:15.000Z'],
    // NCrontab ANDs the day and weekday fields: the 13th that is a Friday.
    ['0 0 0 13 * FRI', '2026-03-01T00:00:00.000Z', '2026-03-13T00:00:00.000Z'],
    ['0 0 0 13 * FRI', '2026-03-14T00:00:00.000Z', '2026-11-13T00:00:00.000Z'],
  ])('%s after %s → %s', (expression, after, expected) => {
    expect(next(expression, after)).toBe(expected);
  });

  it('never returns the instant it was asked from', () => {
    expect(next('* * * * * *', '2026-03-02T09:00:00.000Z')).toBe('2026-03-02T09:00:01.000Z');
  });

  it('rejects expressions without six fields', () => {
    expect(() => parseSchedule('*/5 * * * *')).toThrow(/6 fields/);
  });
});

describe('progress printing', () => {
  it('prints phase changes at once and the rest at most every interval', () => {
    const lines: string[] = [];
    let now = 0;
    const progress = throttledProgress((line) => lines.push(line), 'm@x.test', 1000, () => now);
    progress({ phase: 'lease' });
    progress({ phase: 'collect', stream: 'contacts', pages: 1, items: 100 });
    now = 400;
    progress({ phase: 'collect', stream: 'contacts', pages: 2, items: 200 });
    now = 1100;
    progress({ phase: 'collect', stream: 'contacts', pages: 3, items: 300 });
    now = 1200;
    progress({ phase: 'apply', items: 10 });
    progress({ phase: 'summarize' });
    expect(lines).toEqual([
      '  … m@x.test: collect contacts (1 pages, 100 items)',
      '  … m@x.test: collect contacts (3 pages, 300 items)',
      '  … m@x.test: apply (10 items)',
    ]);
  });
});

describe('previous occurrence and per-mailbox schedules at a timer tick', () => {
  const prev = (expression: string, atIso: string) => previousOccurrence(parseSchedule(expression), new Date(atIso))?.toISOString() ?? null;

  it.each([
    ['0 */15 * * * *', '2026-03-02T09:15:00.000Z', '2026-03-02T09:15:00.000Z'],
    ['0 */15 * * * *', '2026-03-02T09:14:59.999Z', '2026-03-02T09:00:00.000Z'],
    ['0 0 6 * * MON', '2026-03-04T00:00:00.000Z', '2026-03-02T06:00:00.000Z'],
    ['0 0 0 1 JAN *', '2026-03-02T00:00:00.000Z', '2026-01-01T00:00:00.000Z'],
  ])('%s at or before %s → %s', (expression, at, expected) => {
    expect(prev(expression, at)).toBe(expected);
  });

  const tenant = parseSchedule('0 */15 * * * *');
  it.each([
    // [mailbox schedule, timer firing time, due]
    ['0 0 * * * *', '2026-03-02T10:00:00.000Z', true],
    ['0 0 * * * *', '2026-03-02T10:15:00.000Z', false],
    ['0 0 * * * *', '2026-03-02T10:00:07.000Z', true], // fired a little late: still the 10:00 tick
    ['0 5 * * * *', '2026-03-02T10:15:00.000Z', true], // 10:05 fell between the 10:00 and 10:15 ticks
    ['0 5 * * * *', '2026-03-02T10:30:00.000Z', false],
    ['0 */5 * * * *', '2026-03-02T10:30:00.000Z', true], // finer than the timer: runs at the timer's pace
  ])('mailbox schedule %s at %s → due %s', (expression, at, due) => {
    expect(dueAtTick(tenant, parseSchedule(expression), new Date(at))).toBe(due);
  });
});
