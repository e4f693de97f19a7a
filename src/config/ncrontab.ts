// The timer schedule: the 6-field NCRONTAB form Azure Functions uses,
// `{second} {minute} {hour} {day} {month} {day-of-week}` (service-limits.md §3, timer trigger table). One module
// validates it (the config schema reports every problem in plain words) and evaluates it (the local worker's loop,
// the timer's per-mailbox schedules), in UTC like the host without WEBSITE_TIME_ZONE. As in NCrontab, a day must
// match BOTH the day-of-month and the day-of-week fields.

interface FieldRule {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

const FIELDS: readonly FieldRule[] = [
  { name: 'second', min: 0, max: 59 },
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTHS },
  { name: 'day-of-week', min: 0, max: 6, names: DAYS },
];

/** Problems with a schedule expression, in plain words; empty when it is valid. */
export function ncrontabProblems(expression: string): string[] {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 6) {
    return [`needs 6 fields ({second} {minute} {hour} {day} {month} {day-of-week}), found ${fields.length}`];
  }
  return fields.flatMap((field, i) => fieldProblems(field, FIELDS[i] as FieldRule));
}

function fieldProblems(field: string, rule: FieldRule): string[] {
  return field.split(',').flatMap((part) => partProblems(part, rule));
}

function partProblems(part: string, rule: FieldRule): string[] {
  const [range = '', step, extra] = part.split('/');
  if (extra !== undefined) return [`${rule.name} field "${part}" has more than one "/"`];
  if (step !== undefined && !(/^\d+$/.test(step) && Number(step) >= 1)) return [`${rule.name} field "${part}" has an invalid step`];
  if (range === '*') return [];
  const [from = '', to, more] = range.split('-');
  if (more !== undefined) return [`${rule.name} field "${part}" is not a valid range`];
  const low = value(from, rule);
  const high = to === undefined ? low : value(to, rule);
  if (low === null || high === null) return [`${rule.name} field "${part}" must be * or numbers from ${rule.min} to ${rule.max}${rule.names ? ` or names (${rule.names[0]}…)` : ''}`];
  if (low > high) return [`${rule.name} field "${part}" has a range that runs backwards`];
  return [];
}

function value(text: string, rule: FieldRule): number | null {
  const byName = rule.names?.indexOf(text.toUpperCase()) ?? -1;
  if (byName >= 0) return rule.names === MONTHS ? byName + 1 : byName;
  if (!/^\d+$/.test(text)) return null;
  const n = Number(text);
  return n >= rule.min && n <= rule.max ? n : null;
}

export interface Schedule {
  expression: string;
  seconds: number[];
  minutes: number[];
  hours: number[];
  days: ReadonlySet<number>;
  months: ReadonlySet<number>;
  weekdays: ReadonlySet<number>;
}

/** Parses a schedule for evaluation; throws with the same plain-words problems the config reports. */
export function parseSchedule(expression: string): Schedule {
  const problems = ncrontabProblems(expression);
  if (problems.length > 0) throw new Error(`invalid schedule: ${problems.join('; ')}`);
  const fields = expression.trim().split(/\s+/);
  const sets = fields.map((field, i) => fieldValues(field, FIELDS[i] as FieldRule));
  const [seconds, minutes, hours, days, months, weekdays] = sets as [number[], number[], number[], number[], number[], number[]];
  return { expression, seconds, minutes, hours, days: new Set(days), months: new Set(months), weekdays: new Set(weekdays) };
}

/** The values a validated field selects; `a/n` runs from a to the end of the range, as in NCrontab. */
function fieldValues(field: string, rule: FieldRule): number[] {
  const values = new Set<number>();
  for (const part of field.split(',')) {
    const [range = '*', stepText] = part.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    let from = rule.min;
    let to = rule.max;
    if (range !== '*') {
      const [low = '', high] = range.split('-');
      from = value(low, rule) as number;
      to = high !== undefined ? (value(high, rule) as number) : stepText !== undefined ? rule.max : from;
    }
    for (let v = from; v <= to; v += step) values.add(v);
  }
  return [...values].sort((a, b) => a - b);
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
