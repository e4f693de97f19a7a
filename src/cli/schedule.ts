// When the local worker runs next: the 6-field NCRONTAB form of the Functions timer
// (`{second} {minute} {hour} {day} {month} {day-of-week}`, service-limits.md §3), evaluated in UTC like the host does
// without WEBSITE_TIME_ZONE. As in NCrontab, a day must match BOTH the day-of-month and the day-of-week fields.
// The expression was validated by the config schema (src/config/ncrontab.ts); this only evaluates it.

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

interface FieldSpec {
  min: number;
  max: number;
  names?: readonly string[];
  nameOffset?: number;
}

const SPECS: readonly FieldSpec[] = [
  { min: 0, max: 59 },
  { min: 0, max: 59 },
  { min: 0, max: 23 },
  { min: 1, max: 31 },
  { min: 1, max: 12, names: MONTHS, nameOffset: 1 },
  { min: 0, max: 6, names: DAYS, nameOffset: 0 },
];

export interface Schedule {
  expression: string;
  seconds: number[];
  minutes: number[];
  hours: number[];
  days: ReadonlySet<number>;
  months: ReadonlySet<number>;
  weekdays: ReadonlySet<number>;
}

export function parseSchedule(expression: string): Schedule {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 6) throw new Error(`schedule needs 6 fields, found ${fields.length}`);
  const sets = fields.map((field, i) => parseField(field, SPECS[i] as FieldSpec));
  const [seconds, minutes, hours, days, months, weekdays] = sets as [number[], number[], number[], number[], number[], number[]];
  return { expression, seconds, minutes, hours, days: new Set(days), months: new Set(months), weekdays: new Set(weekdays) };
}

function parseField(field: string, spec: FieldSpec): number[] {
  const values = new Set<number>();
  for (const part of field.split(',')) {
    const [range = '*', stepText] = part.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    let from = spec.min;
    let to = spec.max;
    if (range !== '*') {
      const [low = '', high] = range.split('-');
      from = valueOf(low, spec);
      // `a/n` runs from a to the end of the range, as in NCrontab.
      to = high !== undefined ? valueOf(high, spec) : stepText !== undefined ? spec.max : from;
    }
    if (!Number.isInteger(step) || step < 1 || from > to) throw new Error(`invalid schedule field "${part}"`);
    for (let v = from; v <= to; v += step) values.add(v);
  }
  return [...values].sort((a, b) => a - b);
}

function valueOf(text: string, spec: FieldSpec): number {
  const byName = spec.names?.indexOf(text.toUpperCase()) ?? -1;
  if (byName >= 0) return byName + (spec.nameOffset ?? 0);
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < spec.min || n > spec.max) throw new Error(`invalid schedule value "${text}"`);
  return n;
}

const DAY_MS = 86_400_000;
/** Far enough for any valid expression (29 February on a given weekday recurs within 28 years). */
const SEARCH_DAYS = 366 * 30;

/** The first occurrence strictly after `after` (to the second), or null when there is none. */
export function nextOccurrence(schedule: Schedule, after: Date): Date | null {
  const start = Math.floor(after.getTime() / 1000) * 1000 + 1000;
  const startDay = Math.floor(start / DAY_MS) * DAY_MS;
  for (let d = 0; d < SEARCH_DAYS; d++) {
    const dayStart = startDay + d * DAY_MS;
    const date = new Date(dayStart);
    if (!schedule.months.has(date.getUTCMonth() + 1) || !schedule.days.has(date.getUTCDate()) || !schedule.weekdays.has(date.getUTCDay())) continue;
    for (const hour of schedule.hours) {
      const hourStart = dayStart + hour * 3_600_000;
      if (hourStart + 3_600_000 <= start) continue;
      for (const minute of schedule.minutes) {
        const minuteStart = hourStart + minute * 60_000;
        if (minuteStart + 60_000 <= start) continue;
        for (const second of schedule.seconds) {
          const at = minuteStart + second * 1000;
          if (at >= start) return new Date(at);
        }
      }
    }
  }
  return null;
}

/** The last occurrence at or before `at` (to the second), or null when there is none in the search range. */
export function previousOccurrence(schedule: Schedule, at: Date): Date | null {
  const end = Math.floor(at.getTime() / 1000) * 1000;
  const endDay = Math.floor(end / DAY_MS) * DAY_MS;
  const descending = (values: readonly number[]) => [...values].reverse();
  for (let d = 0; d < SEARCH_DAYS; d++) {
    const dayStart = endDay - d * DAY_MS;
    const date = new Date(dayStart);
    if (!schedule.months.has(date.getUTCMonth() + 1) || !schedule.days.has(date.getUTCDate()) || !schedule.weekdays.has(date.getUTCDay())) continue;
    for (const hour of descending(schedule.hours)) {
      const hourStart = dayStart + hour * 3_600_000;
      if (hourStart > end) continue;
      for (const minute of descending(schedule.minutes)) {
        const minuteStart = hourStart + minute * 60_000;
        if (minuteStart > end) continue;
        for (const second of descending(schedule.seconds)) {
          const candidate = minuteStart + second * 1000;
          if (candidate <= end) return new Date(candidate);
        }
      }
    }
  }
  return null;
}

/**
 * Whether a mailbox whose own schedule differs from the timer's is due at this timer tick: its schedule has an
 * occurrence since the timer's previous tick. The timer cannot fire more often than its own schedule, so a mailbox
 * schedule finer than the tenant's runs at the tenant's pace.
 */
export function dueAtTick(timerSchedule: Schedule, mailboxSchedule: Schedule, now: Date): boolean {
  // A late firing (isPastDue, a slow start) still belongs to the tick that last passed.
  const tick = previousOccurrence(timerSchedule, now);
  if (tick === null) return true;
  const previousTick = previousOccurrence(timerSchedule, new Date(tick.getTime() - 1000));
  if (previousTick === null) return true;
  const next = nextOccurrence(mailboxSchedule, previousTick);
  return next !== null && next.getTime() <= tick.getTime();
}
