// Graph `dateTimeTimeZone` values carry a wall-clock time and a zone name but no offset (graph-behaviour.md §7). The
// worker asks for UTC, but values written by clients in other zones (and To Do dates) can still arrive zoned, so the
// core converts them to UTC instants. It uses the runtime's Intl time-zone data: a pure computation, no I/O.

/** Windows zone names Graph uses, mapped to IANA (the common ones; an unknown name is reported as null). */
const WINDOWS_TO_IANA: Readonly<Record<string, string>> = {
  'UTC': 'UTC',
  'Coordinated Universal Time': 'UTC',
  'GMT Standard Time': 'Europe/London',
  'Greenwich Standard Time': 'Atlantic/Reykjavik',
  'W. Europe Standard Time': 'Europe/Berlin',
  'Central Europe Standard Time': 'Europe/Budapest',
  'Romance Standard Time': 'Europe/Paris',
  'Central European Standard Time': 'Europe/Warsaw',
  'E. Europe Standard Time': 'Europe/Chisinau',
  'FLE Standard Time': 'Europe/Kiev',
  'GTB Standard Time': 'Europe/Bucharest',
  'Russian Standard Time': 'Europe/Moscow',
  'Eastern Standard Time': 'America/New_York',
  'Central Standard Time': 'America/Chicago',
  'Mountain Standard Time': 'America/Denver',
  'US Mountain Standard Time': 'America/Phoenix',
  'Pacific Standard Time': 'America/Los_Angeles',
  'Alaskan Standard Time': 'America/Anchorage',
  'Hawaiian Standard Time': 'Pacific/Honolulu',
  'Atlantic Standard Time': 'America/Halifax',
  'Newfoundland Standard Time': 'America/St_Johns',
  'E. South America Standard Time': 'America/Sao_Paulo',
  'India Standard Time': 'Asia/Kolkata',
  'China Standard Time': 'Asia/Shanghai',
  'Tokyo Standard Time': 'Asia/Tokyo',
  'Korea Standard Time': 'Asia/Seoul',
  'Singapore Standard Time': 'Asia/Singapore',
  'AUS Eastern Standard Time': 'Australia/Sydney',
  'Cen. Australia Standard Time': 'Australia/Adelaide',
  'New Zealand Standard Time': 'Pacific/Auckland',
  'South Africa Standard Time': 'Africa/Johannesburg',
  'Arabian Standard Time': 'Asia/Dubai',
  'Israel Standard Time': 'Asia/Jerusalem',
  'Nepal Standard Time': 'Asia/Kathmandu',
  'Iran Standard Time': 'Asia/Tehran',
};

const UTC_NAMES = new Set(['utc', 'etc/utc', 'gmt', 'etc/gmt', 'z', 'coordinated universal time', 'tzone://microsoft/utc']);

const formatters = new Map<string, Intl.DateTimeFormat | null>();

function formatterFor(zone: string): Intl.DateTimeFormat | null {
  const cached = formatters.get(zone);
  if (cached !== undefined) return cached;
  let created: Intl.DateTimeFormat | null;
  try {
    created = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
  } catch {
    created = null;
  }
  formatters.set(zone, created);
  return created;
}

/** The IANA zone for a Graph zone name, 'UTC' for the UTC aliases, or null when unknown. */
export function resolveZone(name: string): string | null {
  const trimmed = name.trim();
  if (UTC_NAMES.has(trimmed.toLowerCase())) return 'UTC';
  const iana = WINDOWS_TO_IANA[trimmed] ?? trimmed;
  return formatterFor(iana) ? iana : null;
}

/** Wall-clock fields of an instant (ms since epoch) in a zone, as ms since epoch of the same wall clock in UTC. */
function wallClockMs(epochMs: number, zone: string): number {
  const formatter = formatterFor(zone);
  if (!formatter) return epochMs;
  const parts: Record<string, number> = {};
  for (const part of formatter.formatToParts(new Date(epochMs))) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value);
  }
  return Date.UTC(parts.year ?? 1970, (parts.month ?? 1) - 1, parts.day ?? 1, parts.hour ?? 0, parts.minute ?? 0, parts.second ?? 0);
}

const LOCAL = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?$/;

/**
 * Converts a wall-clock time in a zone to a UTC epoch (ms). In a DST fall-back hour the earlier instant is taken; a time
 * in a spring-forward gap is shifted forward by the gap (what calendar clients do). Null when the input is malformed or
 * the zone unknown.
 */
export function zonedToEpochMs(localDateTime: string, zoneName: string): number | null {
  const match = LOCAL.exec(localDateTime.trim());
  if (!match) return null;
  const zone = resolveZone(zoneName);
  if (zone === null) return null;
  const [, y, mo, d, h, mi, s] = match;
  const wall = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s ?? '0'));
  if (zone === 'UTC') return wall;
  // Offsets in force a day either side cover every transition; try both and keep the earliest that maps back.
  const offsets = new Set<number>();
  for (const probe of [wall - 86_400_000, wall, wall + 86_400_000]) offsets.add(wallClockMs(probe, zone) - probe);
  const candidates = [...offsets].map((offset) => wall - offset).filter((epoch) => wallClockMs(epoch, zone) === wall);
  if (candidates.length > 0) return Math.min(...candidates);
  // In a gap: interpret with the offset before the transition, which lands after the gap.
  const before = wallClockMs(wall - 86_400_000, zone) - (wall - 86_400_000);
  return wall - before;
}

/** The wall clock of an instant in a zone, `YYYY-MM-DDTHH:MM:SS` (tests and writers that must address a zone). */
export function epochMsToZoned(epochMs: number, zoneName: string): string | null {
  const zone = resolveZone(zoneName);
  if (zone === null) return null;
  return new Date(wallClockMs(epochMs, zone)).toISOString().slice(0, 19);
}
