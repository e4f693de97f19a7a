// Time zones and recurrence for the simulated calendar (graph-behaviour.md §2.2, §7).
// Stored events keep `start`/`end` as written ({dateTime, timeZone}); responses convert to UTC or to the zone in
// `Prefer: outlook.timezone`, except all-day events, which stay in their own zone ([R] §7).
import type { Json, JsonObject } from './store';

const WINDOWS_ZONES: Record<string, string> = {
  'utc': 'UTC',
  'coordinated universal time': 'UTC',
  'tzone://microsoft/utc': 'UTC',
  'gmt standard time': 'Europe/London',
  'greenwich standard time': 'Atlantic/Reykjavik',
  'w. europe standard time': 'Europe/Berlin',
  'central europe standard time': 'Europe/Budapest',
  'central european standard time': 'Europe/Warsaw',
  'romance standard time': 'Europe/Paris',
  'e. europe standard time': 'Europe/Chisinau',
  'fle standard time': 'Europe/Kiev',
  'russian standard time': 'Europe/Moscow',
  'eastern standard time': 'America/New_York',
  'central standard time': 'America/Chicago',
  'mountain standard time': 'America/Denver',
  'us mountain standard time': 'America/Phoenix',
  'pacific standard time': 'America/Los_Angeles',
  'alaskan standard time': 'America/Anchorage',
  'hawaiian standard time': 'Pacific/Honolulu',
  'atlantic standard time': 'America/Halifax',
  'e. south america standard time': 'America/Sao_Paulo',
  'india standard time': 'Asia/Kolkata',
  'china standard time': 'Asia/Shanghai',
  'tokyo standard time': 'Asia/Tokyo',
  'singapore standard time': 'Asia/Singapore',
  'aus eastern standard time': 'Australia/Sydney',
  'new zealand standard time': 'Pacific/Auckland',
  'south africa standard time': 'Africa/Johannesburg',
};

const formatters = new Map<string, Intl.DateTimeFormat>();

/** IANA zone for a Graph time zone name (Windows or IANA), or null when unsupported. */
export function resolveZone(name: string): string | null {
  const mapped = WINDOWS_ZONES[name.trim().toLowerCase()];
  if (mapped) return mapped;
  try {
    formatter(name);
    return name;
  } catch {
    return null;
  }
}

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    formatters.set(zone, f);
  }
  return f;
}

/** Wall-clock time of instant `ms` in `zone`, as epoch ms of the same wall time in UTC. */
function wallMs(ms: number, zone: string): number {
  if (zone === 'UTC') return ms;
  const parts: Record<string, number> = {};
  for (const p of formatter(zone).formatToParts(new Date(ms))) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  return Date.UTC(parts['year'] ?? 1970, (parts['month'] ?? 1) - 1, parts['day'] ?? 1, parts['hour'] ?? 0, parts['minute'] ?? 0, parts['second'] ?? 0) + (ms % 1000 + 1000) % 1000;
}

const LOCAL = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?(Z|[+-]\d{2}:?\d{2})?$/;

/** Epoch ms of a wall time (no offset) in `zone`; an explicit offset in the text wins. */
export function localToEpoch(text: string, zone: string): number {
  const m = LOCAL.exec(text.trim());
  if (!m) return Number.NaN;
  const wall = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0), Number((m[7] ?? '0').padEnd(3, '0').slice(0, 3)));
  if (m[8]) {
    if (m[8] === 'Z') return wall;
    const sign = m[8].startsWith('-') ? -1 : 1;
    const digits = m[8].replace(/[+:-]/g, '');
    return wall - sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
  }
  let guess = wall - (wallMs(wall, zone) - wall);
  const second = wall - (wallMs(guess, zone) - guess);
  if (second !== guess) guess = second;
  return guess;
}

/** Graph's response format: 7 fractional digits, no offset (§7). */
export function epochToLocal(ms: number, zone: string): string {
  return new Date(wallMs(ms, zone)).toISOString().slice(0, 19) + '.0000000';
}

export function parseDateTimeTimeZone(value: Json | undefined): { ms: number; zone: string; name: string } | null {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return null;
  const dt = value['dateTime'];
  const tzName = typeof value['timeZone'] === 'string' ? value['timeZone'] : 'UTC';
  if (typeof dt !== 'string') return null;
  const zone = resolveZone(tzName);
  if (!zone) return null;
  const ms = localToEpoch(dt, zone);
  return Number.isNaN(ms) ? null : { ms, zone, name: tzName };
}

/** Renders an instant for a response: in the preferred zone when given (and supported), else UTC. */
export function renderDateTime(ms: number, preferredZone: string | null): JsonObject {
  const zone = preferredZone ? resolveZone(preferredZone) : null;
  return zone && preferredZone ? { dateTime: epochToLocal(ms, zone), timeZone: preferredZone } : { dateTime: epochToLocal(ms, 'UTC'), timeZone: 'UTC' };
}

// --- recurrence (daily / weekly / absoluteMonthly patterns; endDate / noEnd / numbered ranges) ---

const DAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];
const DAY_MS = 86_400_000;

export interface Occurrence {
  /** Original start instant (epoch ms): the occurrence's identity in the series. */
  originalStart: number;
  start: number;
  end: number;
}

export class RecurrenceError extends Error {}

/** Validates a patternedRecurrence; returns a message when the simulator cannot expand it. */
export function checkRecurrence(recurrence: Json | undefined): string | null {
  if (recurrence === null || recurrence === undefined) return null;
  if (typeof recurrence !== 'object' || Array.isArray(recurrence)) return 'recurrence must be an object';
  const pattern = recurrence['pattern'];
  const range = recurrence['range'];
  if (!pattern || typeof pattern !== 'object' || Array.isArray(pattern)) return 'recurrence.pattern is required';
  if (!range || typeof range !== 'object' || Array.isArray(range)) return 'recurrence.range is required';
  const type = String(pattern['type'] ?? '');
  if (!['daily', 'weekly', 'absoluteMonthly'].includes(type)) return `recurrence pattern type '${type}' is not supported by the simulator`;
  if (type === 'weekly' && (!Array.isArray(pattern['daysOfWeek']) || pattern['daysOfWeek'].length === 0)) return 'weekly recurrence needs daysOfWeek';
  const rangeType = String(range['type'] ?? '');
  if (!['endDate', 'noEnd', 'numbered'].includes(rangeType)) return `recurrence range type '${rangeType}' is not valid`;
  if (typeof range['startDate'] !== 'string') return 'recurrence.range.startDate is required';
  if (rangeType === 'endDate' && typeof range['endDate'] !== 'string') return 'recurrence.range.endDate is required';
  if (rangeType === 'numbered' && !(Number(range['numberOfOccurrences']) > 0)) return 'recurrence.range.numberOfOccurrences is required';
  return null;
}

/**
 * Occurrences of a series whose [start, end) overlaps [windowStart, windowEnd). Dates step in the series' own zone,
 * so a daily 09:00 meeting stays at 09:00 local across DST changes.
 */
export function expandSeries(start: { ms: number; zone: string }, durationMs: number, recurrence: JsonObject, windowStart: number, windowEnd: number): Occurrence[] {
  const pattern = recurrence['pattern'] as JsonObject;
  const range = recurrence['range'] as JsonObject;
  const zone = typeof range['recurrenceTimeZone'] === 'string' ? (resolveZone(range['recurrenceTimeZone']) ?? start.zone) : start.zone;
  const wallStart = wallMs(start.ms, zone);
  const timeOfDay = ((wallStart % DAY_MS) + DAY_MS) % DAY_MS;
  const rangeStart = Date.parse(`${String(range['startDate'])}T00:00:00Z`);
  const rangeEnd = range['type'] === 'endDate' ? Date.parse(`${String(range['endDate'])}T00:00:00Z`) : Number.POSITIVE_INFINITY;
  const maxCount = range['type'] === 'numbered' ? Number(range['numberOfOccurrences']) : Number.POSITIVE_INFINITY;
  const interval = Math.max(1, Number(pattern['interval'] ?? 1));
  const type = String(pattern['type']);
  const out: Occurrence[] = [];
  let count = 0;
  const consider = (dayMs: number): boolean => {
    if (dayMs < rangeStart) return true;
    if (dayMs > rangeEnd || count >= maxCount) return false;
    count += 1;
    const s = localToEpoch(new Date(dayMs + timeOfDay).toISOString().slice(0, 19), zone);
    if (s >= windowEnd) return false;
    if (s + durationMs > windowStart) out.push({ originalStart: s, start: s, end: s + durationMs });
    return true;
  };
  const guard = 200_000;
  if (type === 'daily') {
    for (let i = 0, day = rangeStart; i < guard; i++, day += interval * DAY_MS) if (!consider(day)) break;
  } else if (type === 'weekly') {
    const days = (pattern['daysOfWeek'] as Json[]).map((d) => DAYS.indexOf(String(d).toLowerCase())).filter((d) => d >= 0);
    const first = Math.max(0, DAYS.indexOf(String(pattern['firstDayOfWeek'] ?? 'sunday').toLowerCase()));
    const startDow = new Date(rangeStart).getUTCDay();
    const weekStart = rangeStart - (((startDow - first) % 7) + 7) % 7 * DAY_MS;
    const order = [...days].sort((a, b) => ((a - first + 7) % 7) - ((b - first + 7) % 7));
    outer: for (let w = 0; w < guard; w++) {
      const base = weekStart + w * interval * 7 * DAY_MS;
      for (const d of order) if (!consider(base + ((d - first + 7) % 7) * DAY_MS)) break outer;
    }
  } else {
    const dom = Number(pattern['dayOfMonth'] ?? new Date(rangeStart).getUTCDate());
    const s = new Date(rangeStart);
    for (let i = 0; i < guard; i++) {
      const y = s.getUTCFullYear();
      const m = s.getUTCMonth() + i * interval;
      const day = Date.UTC(y, m, dom);
      if (new Date(day).getUTCDate() !== dom) continue; // months without that day have no occurrence
      if (!consider(day)) break;
    }
  }
  return out;
}
