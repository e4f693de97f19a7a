// Graph `dateTimeTimeZone` values carry a wall-clock time and a zone name but no offset (graph-behaviour.md §7). The
// worker asks for UTC, but values written by clients in other zones (and To Do dates) can still arrive zoned, so the
// core converts them to UTC instants. It uses the runtime's Intl time-zone data: a pure computation, no I/O.
import { UNKNOWN_TIME_ZONE, UnreadableValue } from './unreadable';

/**
 * Windows zone names → IANA: the complete "001" (golden zone) rows of CLDR common/supplemental/windowsZones.xml
 * (typeVersion 2021a+, the file Graph's and .NET's conversions follow), kept as data. Older Exchange servers still
 * write a few retired Windows names; they are listed after it. IANA names are taken as CLDR spells them (e.g.
 * Asia/Calcutta): ICU accepts both spellings. Lookups ignore case.
 */
const CLDR_WINDOWS_ZONES: readonly (readonly [windows: string, iana: string])[] = [
  ['Dateline Standard Time', 'Etc/GMT+12'],
  ['UTC-11', 'Etc/GMT+11'],
  ['Aleutian Standard Time', 'America/Adak'],
  ['Hawaiian Standard Time', 'Pacific/Honolulu'],
  ['Marquesas Standard Time', 'Pacific/Marquesas'],
  ['Alaskan Standard Time', 'America/Anchorage'],
  ['UTC-09', 'Etc/GMT+9'],
  ['Pacific Standard Time (Mexico)', 'America/Tijuana'],
  ['UTC-08', 'Etc/GMT+8'],
  ['Pacific Standard Time', 'America/Los_Angeles'],
  ['US Mountain Standard Time', 'America/Phoenix'],
  ['Mountain Standard Time (Mexico)', 'America/Mazatlan'],
  ['Mountain Standard Time', 'America/Denver'],
  ['Yukon Standard Time', 'America/Whitehorse'],
  ['Central America Standard Time', 'America/Guatemala'],
  ['Central Standard Time', 'America/Chicago'],
  ['Easter Island Standard Time', 'Pacific/Easter'],
  ['Central Standard Time (Mexico)', 'America/Mexico_City'],
  ['Canada Central Standard Time', 'America/Regina'],
  ['SA Pacific Standard Time', 'America/Bogota'],
  ['Eastern Standard Time (Mexico)', 'America/Cancun'],
  ['Eastern Standard Time', 'America/New_York'],
  ['Haiti Standard Time', 'America/Port-au-Prince'],
  ['Cuba Standard Time', 'America/Havana'],
  ['US Eastern Standard Time', 'America/Indianapolis'],
  ['Turks And Caicos Standard Time', 'America/Grand_Turk'],
  ['Paraguay Standard Time', 'America/Asuncion'],
  ['Atlantic Standard Time', 'America/Halifax'],
  ['Venezuela Standard Time', 'America/Caracas'],
  ['Central Brazilian Standard Time', 'America/Cuiaba'],
  ['SA Western Standard Time', 'America/La_Paz'],
  ['Pacific SA Standard Time', 'America/Santiago'],
  ['Newfoundland Standard Time', 'America/St_Johns'],
  ['Tocantins Standard Time', 'America/Araguaina'],
  ['E. South America Standard Time', 'America/Sao_Paulo'],
  ['SA Eastern Standard Time', 'America/Cayenne'],
  ['Argentina Standard Time', 'America/Buenos_Aires'],
  ['Greenland Standard Time', 'America/Godthab'],
  ['Montevideo Standard Time', 'America/Montevideo'],
  ['Magallanes Standard Time', 'America/Punta_Arenas'],
  ['Saint Pierre Standard Time', 'America/Miquelon'],
  ['Bahia Standard Time', 'America/Bahia'],
  ['UTC-02', 'Etc/GMT+2'],
  ['Azores Standard Time', 'Atlantic/Azores'],
  ['Cape Verde Standard Time', 'Atlantic/Cape_Verde'],
  ['UTC', 'Etc/UTC'],
  ['GMT Standard Time', 'Europe/London'],
  ['Greenwich Standard Time', 'Atlantic/Reykjavik'],
  ['Sao Tome Standard Time', 'Africa/Sao_Tome'],
  ['Morocco Standard Time', 'Africa/Casablanca'],
  ['W. Europe Standard Time', 'Europe/Berlin'],
  ['Central Europe Standard Time', 'Europe/Budapest'],
  ['Romance Standard Time', 'Europe/Paris'],
  ['Central European Standard Time', 'Europe/Warsaw'],
  ['W. Central Africa Standard Time', 'Africa/Lagos'],
  ['Jordan Standard Time', 'Asia/Amman'],
  ['GTB Standard Time', 'Europe/Bucharest'],
  ['Middle East Standard Time', 'Asia/Beirut'],
  ['Egypt Standard Time', 'Africa/Cairo'],
  ['E. Europe Standard Time', 'Europe/Chisinau'],
  ['Syria Standard Time', 'Asia/Damascus'],
  ['West Bank Standard Time', 'Asia/Hebron'],
  ['South Africa Standard Time', 'Africa/Johannesburg'],
  ['FLE Standard Time', 'Europe/Kiev'],
  ['Israel Standard Time', 'Asia/Jerusalem'],
  ['South Sudan Standard Time', 'Africa/Juba'],
  ['Kaliningrad Standard Time', 'Europe/Kaliningrad'],
  ['Sudan Standard Time', 'Africa/Khartoum'],
  ['Libya Standard Time', 'Africa/Tripoli'],
  ['Namibia Standard Time', 'Africa/Windhoek'],
  ['Arabic Standard Time', 'Asia/Baghdad'],
  ['Turkey Standard Time', 'Europe/Istanbul'],
  ['Arab Standard Time', 'Asia/Riyadh'],
  ['Belarus Standard Time', 'Europe/Minsk'],
  ['Russian Standard Time', 'Europe/Moscow'],
  ['E. Africa Standard Time', 'Africa/Nairobi'],
  ['Iran Standard Time', 'Asia/Tehran'],
  ['Arabian Standard Time', 'Asia/Dubai'],
  ['Astrakhan Standard Time', 'Europe/Astrakhan'],
  ['Azerbaijan Standard Time', 'Asia/Baku'],
  ['Russia Time Zone 3', 'Europe/Samara'],
  ['Mauritius Standard Time', 'Indian/Mauritius'],
  ['Saratov Standard Time', 'Europe/Saratov'],
  ['Georgian Standard Time', 'Asia/Tbilisi'],
  ['Volgograd Standard Time', 'Europe/Volgograd'],
  ['Caucasus Standard Time', 'Asia/Yerevan'],
  ['Afghanistan Standard Time', 'Asia/Kabul'],
  ['West Asia Standard Time', 'Asia/Tashkent'],
  ['Ekaterinburg Standard Time', 'Asia/Yekaterinburg'],
  ['Pakistan Standard Time', 'Asia/Karachi'],
  ['Qyzylorda Standard Time', 'Asia/Qyzylorda'],
  ['India Standard Time', 'Asia/Calcutta'],
  ['Sri Lanka Standard Time', 'Asia/Colombo'],
  ['Nepal Standard Time', 'Asia/Katmandu'],
  ['Central Asia Standard Time', 'Asia/Bishkek'],
  ['Bangladesh Standard Time', 'Asia/Dhaka'],
  ['Omsk Standard Time', 'Asia/Omsk'],
  ['Myanmar Standard Time', 'Asia/Rangoon'],
  ['SE Asia Standard Time', 'Asia/Bangkok'],
  ['Altai Standard Time', 'Asia/Barnaul'],
  ['W. Mongolia Standard Time', 'Asia/Hovd'],
  ['North Asia Standard Time', 'Asia/Krasnoyarsk'],
  ['N. Central Asia Standard Time', 'Asia/Novosibirsk'],
  ['Tomsk Standard Time', 'Asia/Tomsk'],
  ['China Standard Time', 'Asia/Shanghai'],
  ['North Asia East Standard Time', 'Asia/Irkutsk'],
  ['Singapore Standard Time', 'Asia/Singapore'],
  ['W. Australia Standard Time', 'Australia/Perth'],
  ['Taipei Standard Time', 'Asia/Taipei'],
  ['Ulaanbaatar Standard Time', 'Asia/Ulaanbaatar'],
  ['Aus Central W. Standard Time', 'Australia/Eucla'],
  ['Transbaikal Standard Time', 'Asia/Chita'],
  ['Tokyo Standard Time', 'Asia/Tokyo'],
  ['North Korea Standard Time', 'Asia/Pyongyang'],
  ['Korea Standard Time', 'Asia/Seoul'],
  ['Yakutsk Standard Time', 'Asia/Yakutsk'],
  ['Cen. Australia Standard Time', 'Australia/Adelaide'],
  ['AUS Central Standard Time', 'Australia/Darwin'],
  ['E. Australia Standard Time', 'Australia/Brisbane'],
  ['AUS Eastern Standard Time', 'Australia/Sydney'],
  ['West Pacific Standard Time', 'Pacific/Port_Moresby'],
  ['Tasmania Standard Time', 'Australia/Hobart'],
  ['Vladivostok Standard Time', 'Asia/Vladivostok'],
  ['Lord Howe Standard Time', 'Australia/Lord_Howe'],
  ['Bougainville Standard Time', 'Pacific/Bougainville'],
  ['Russia Time Zone 10', 'Asia/Srednekolymsk'],
  ['Magadan Standard Time', 'Asia/Magadan'],
  ['Norfolk Standard Time', 'Pacific/Norfolk'],
  ['Sakhalin Standard Time', 'Asia/Sakhalin'],
  ['Central Pacific Standard Time', 'Pacific/Guadalcanal'],
  ['Russia Time Zone 11', 'Asia/Kamchatka'],
  ['New Zealand Standard Time', 'Pacific/Auckland'],
  ['UTC+12', 'Etc/GMT-12'],
  ['Fiji Standard Time', 'Pacific/Fiji'],
  ['Chatham Islands Standard Time', 'Pacific/Chatham'],
  ['UTC+13', 'Etc/GMT-13'],
  ['Tonga Standard Time', 'Pacific/Tongatapu'],
  ['Samoa Standard Time', 'Pacific/Apia'],
  ['Line Islands Standard Time', 'Pacific/Kiritimati'],
];

/** Retired Windows names (no longer in CLDR) that items written by older servers and clients still carry. */
const LEGACY_WINDOWS_ZONES: readonly (readonly [windows: string, iana: string])[] = [
  ['Coordinated Universal Time', 'UTC'],
  ['Mid-Atlantic Standard Time', 'Etc/GMT+2'],
  ['Kamchatka Standard Time', 'Asia/Kamchatka'],
  ['Armenian Standard Time', 'Asia/Yerevan'],
];

const WINDOWS_TO_IANA: Readonly<Record<string, string>> = Object.fromEntries([...CLDR_WINDOWS_ZONES, ...LEGACY_WINDOWS_ZONES]);
const WINDOWS_BY_LOWER_NAME = new Map([...CLDR_WINDOWS_ZONES, ...LEGACY_WINDOWS_ZONES].map(([windows, iana]) => [windows.toLowerCase(), iana]));

/** How many Windows zones of CLDR the table holds (tests check it is the whole file). */
export const WINDOWS_ZONE_COUNT = CLDR_WINDOWS_ZONES.length;

/** The Windows → IANA table (CLDR plus the retired names), for tests and diagnostics. */
export function windowsZoneTable(): Readonly<Record<string, string>> {
  return WINDOWS_TO_IANA;
}

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
  const iana = WINDOWS_BY_LOWER_NAME.get(trimmed.toLowerCase()) ?? trimmed;
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

// ---- DateTime UserLocal dates (dataverse-behaviour.md §4.4/§4.5) ------------------------------------------------------
// `zone` null below means "the CRM user's zone is unknown" (see src/core/mappings/user-local.ts).
// Dataverse stores a UserLocal column in UTC and shows it in the CRM user's zone ("DateTimeBehavior UserLocal: dates
// stored as UTC"), so the CRM date D of an all-day appointment or a task is the instant "D 00:00 in the user's zone".
// Outlook's all-day boundaries and To Do dates are floating dates (graph-behaviour.md §7). The functions below are the
// conversion, both ways; the zone is an IANA or Windows id (resolveZone) and must resolve (callers check first).

/** The UTC instant (ms) of midnight starting `date` (`YYYY-MM-DD`) in the zone, DST-correct; null when either is bad. */
export function localMidnightEpochMs(date: string, zoneName: string): number | null {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) return null;
  // A zone whose clocks jump at midnight has no 00:00 that day: zonedToEpochMs gives the first instant after the gap.
  return zonedToEpochMs(`${date}T00:00:00`, zoneName);
}

/** Whether an instant (ms) is exactly midnight UTC. */
export function isUtcMidnight(epochMs: number): boolean {
  return epochMs % 86_400_000 === 0;
}

/** The UTC date (`YYYY-MM-DD`) of an instant (ms). */
export function utcDateOf(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 10);
}

/**
 * For an all-day appointment's reader: the CRM date of a UserLocal boundary (ms). Two instants have a certain date:
 * - the local midnight of a date in the user's zone (DST-correct: where the clocks jump at midnight, the first instant
 *   after the gap, as localMidnightEpochMs writes it): what the CRM stores for an all-day date entered there;
 * - exactly UTC midnight: how earlier versions of this worker (and integrations that write floating dates) stored date
 *   D. West of UTC its local date would be the day before, but a CRM user cannot enter that instant for an all-day
 *   appointment outside UTC (the CRM stores local midnights), so it is never a local date's boundary.
 * Any other instant is `UnreadableValue('unknown-time-zone')`: it was written in another zone (the CRM user changed
 * zone since, or an integration wrote it), and reading it in this one would move the day. So is every instant but UTC
 * midnight when the zone is unknown (null) or cannot be resolved. Unreadable values are left out of the merge.
 */
export function readAllDayDate(epochMs: number, zone: string | null): string | UnreadableValue {
  const local = zone === null ? null : epochMsToZoned(epochMs, zone);
  if (local !== null && zone !== null) {
    const localDate = local.slice(0, 10);
    if (localMidnightEpochMs(localDate, zone) === epochMs) return localDate;
  }
  return isUtcMidnight(epochMs) ? utcDateOf(epochMs) : new UnreadableValue(UNKNOWN_TIME_ZONE);
}

/**
 * The local date of an instant in the user's zone for a reader (a task date: the CRM shows it with its time of day, so
 * its date is the local one whatever the time, UTC midnight included); unreadable when the zone is unknown or bad.
 */
export function readLocalDate(epochMs: number, zone: string | null): string | UnreadableValue {
  const local = zone === null ? null : epochMsToZoned(epochMs, zone);
  return local === null ? new UnreadableValue(UNKNOWN_TIME_ZONE) : local.slice(0, 10);
}
