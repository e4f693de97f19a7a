// Validation of the timer schedule: the 6-field NCRONTAB form Azure Functions uses,
// `{second} {minute} {hour} {day} {month} {day-of-week}` (service-limits.md §3, timer trigger table).

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
