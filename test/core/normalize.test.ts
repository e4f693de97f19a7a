// Normalization (DESIGN.md §5) and time zones (graph-behaviour.md §7), plus the content hash.
import fc from 'fast-check';
import { canonicalJson, fnv1a64 } from '../../src/core/hash';
import { hashFields } from '../../src/core/fields';
import { normalizeValue, normBody, normDate, normDateTimeTimeZone, normInstant, normStreet, normText, sameValue } from '../../src/core/normalize';
import { epochMsToZoned, resolveZone, zonedToEpochMs } from '../../src/core/timezone';
import { NUM_RUNS } from './support';

describe('strings', () => {
  test('trimmed; empty ≡ missing → null', () => {
    expect(normText('  Ann  ')).toBe('Ann');
    expect(normText('')).toBeNull();
    expect(normText(' \u00a0\t ')).toBeNull();
    expect(normText(undefined)).toBeNull();
    expect(normText(null)).toBeNull();
    expect(normText(42)).toBeNull();
  });

  test('astral and combining characters survive; a cut never splits a surrogate pair', () => {
    expect(normText(' e\u0301clair 😀 ')).toBe('e\u0301clair 😀');
    expect(normText('ab😀', 3)).toBe('ab');
    expect(normText('ab😀', 4)).toBe('ab😀');
  });

  test('bodies: CRLF/CR → LF, trailing whitespace of lines and of the whole removed, leading indentation kept', () => {
    expect(normBody('Hi Ann,  \r\n\r\n  indented\t\rlast line \r\n\r\n  ')).toBe('Hi Ann,\n\n  indented\nlast line');
    expect(normBody('\r\n \r\n')).toBeNull();
    expect(normBody('x'.repeat(2100), 2000)).toHaveLength(2000);
  });

  test('street: lines trimmed, blank lines dropped, more than three lines folded into the third', () => {
    expect(normStreet(' 1 Main St \r\n\r\n Suite 5 ')).toBe('1 Main St\nSuite 5');
    expect(normStreet('a\nb\nc\nd\ne')).toBe('a\nb\nc, d, e');
    expect(normStreet('\n \n')).toBeNull();
  });

  test('e-mail addresses keep their spelling but compare without case', () => {
    expect(normalizeValue({ type: 'email' }, ' Max@Contoso.COM ')).toBe('Max@Contoso.COM');
    expect(sameValue('email', 'Max@Contoso.COM', 'max@contoso.com')).toBe(true);
    expect(sameValue('emailList', ['A@x.com', 'b@x.com'], ['a@x.com', 'B@X.com'])).toBe(true);
    expect(sameValue('emailList', ['a@x.com', 'b@x.com'], ['b@x.com', 'a@x.com'])).toBe(false); // ordered
    expect(sameValue('text', 'Ann', 'ann')).toBe(false);
  });

  test('lists: ordered, empties dropped, capped; an empty list is missing; party sets sorted and lower-cased', () => {
    expect(normalizeValue({ type: 'phoneList', maxItems: 2 }, [' 1 ', '', '2', '3'])).toEqual(['1', '2']);
    expect(normalizeValue({ type: 'textList' }, [])).toBeNull();
    expect(normalizeValue({ type: 'emailList', maxItems: 3 }, ['a@x.com', 'A@X.com', 'b@x.com'])).toEqual(['a@x.com', 'b@x.com']);
    expect(normalizeValue({ type: 'addressSet' }, ['B@x.com', 'a@x.com', 'b@X.com'])).toEqual(['a@x.com', 'b@x.com']);
    expect(normalizeValue({ type: 'textList', splitOn: /[,;\n]/ }, ['Anna, Ben', 'Carl'])).toEqual(['Anna', 'Ben', 'Carl']);
  });

  test('choices: unknown or missing values take the default', () => {
    const spec = { type: 'choice' as const, choices: ['low', 'normal', 'high'], default: 'normal' };
    expect(normalizeValue(spec, 'high')).toBe('high');
    expect(normalizeValue(spec, 'urgent')).toBe('normal');
    expect(normalizeValue(spec, null)).toBe('normal');
  });
});

describe('instants and dates', () => {
  test('UTC instants with Z at second precision, from any ISO form Graph or Dataverse sends', () => {
    expect(normInstant('2016-12-09T20:30:00.0000000')).toBe('2016-12-09T20:30:00Z'); // Graph: 7 digits, no offset = UTC
    expect(normInstant('2016-12-09T20:30:59.999Z')).toBe('2016-12-09T20:30:59Z');
    expect(normInstant('2016-12-09T22:30:00+02:00')).toBe('2016-12-09T20:30:00Z');
    expect(normInstant('2016-12-09T15:00:00-05:30')).toBe('2016-12-09T20:30:00Z');
    expect(normInstant('0099-01-01T00:00:00Z')).toBe('0099-01-01T00:00:00Z');
    expect(normInstant('2016-02-30T00:00:00Z')).toBeNull();
    expect(normInstant('yesterday')).toBeNull();
  });

  test('all-day and DateOnly values are floating dates: the date as written, the zone ignored', () => {
    expect(normDate('2026-03-29T00:00:00.0000000')).toBe('2026-03-29');
    expect(normDate('2026-03-29')).toBe('2026-03-29');
    expect(normDate('2026-03-29T23:30:00-05:00')).toBe('2026-03-29');
    expect(normDate('2026-13-01')).toBeNull();
  });

  test('dateTimeTimeZone in Windows and IANA zones converts to UTC, across DST', () => {
    expect(normDateTimeTimeZone({ dateTime: '2017-08-29T04:00:00.0000000', timeZone: 'Pacific Standard Time' })).toBe('2017-08-29T11:00:00Z');
    expect(normDateTimeTimeZone({ dateTime: '2017-01-29T04:00:00.0000000', timeZone: 'Pacific Standard Time' })).toBe('2017-01-29T12:00:00Z');
    expect(normDateTimeTimeZone({ dateTime: '2026-07-01T14:00:00', timeZone: 'Europe/Berlin' })).toBe('2026-07-01T12:00:00Z');
    expect(normDateTimeTimeZone({ dateTime: '2026-07-01T14:00:00.0000000', timeZone: 'UTC' })).toBe('2026-07-01T14:00:00Z');
    // Spring forward in Berlin (2026-03-29 02:00 → 03:00): a time in the gap moves forward by the gap.
    expect(normDateTimeTimeZone({ dateTime: '2026-03-29T02:30:00', timeZone: 'W. Europe Standard Time' })).toBe('2026-03-29T01:30:00Z');
    // Fall back (2026-10-25 03:00 → 02:00): the ambiguous hour takes the earlier instant.
    expect(normDateTimeTimeZone({ dateTime: '2026-10-25T02:30:00', timeZone: 'Europe/Berlin' })).toBe('2026-10-25T00:30:00Z');
    expect(normDateTimeTimeZone({ dateTime: '2026-07-01T14:00:00', timeZone: 'Mars/Olympus_Mons' })).toBeNull();
    expect(resolveZone('tzone://Microsoft/Utc')).toBe('UTC');
  });

  const zones = ['Europe/Berlin', 'America/New_York', 'Pacific Standard Time', 'Australia/Sydney', 'Asia/Kathmandu', 'America/St_Johns', 'UTC'];
  // Instants near the 2020–2030 DST transitions of the zones above (Mar/Apr and Oct/Nov), and anywhere else.
  const nearTransitions = fc.oneof(
    fc.tuple(fc.integer({ min: 2020, max: 2030 }), fc.constantFrom(2, 3, 9, 10), fc.integer({ min: 0, max: 31 * 24 * 4 })).map(([y, m, q]) => Date.UTC(y, m, 1) + q * 15 * 60_000),
    fc.integer({ min: Date.UTC(1971, 0, 1), max: Date.UTC(2090, 0, 1) }).map((ms) => Math.floor(ms / 1000) * 1000),
  );

  test('property: a wall clock read in its zone is the instant it shows (the earlier one in a fall-back hour)', () => {
    fc.assert(
      fc.property(nearTransitions, fc.constantFrom(...zones), (epoch, zone) => {
        const local = epochMsToZoned(epoch, zone)!;
        const back = zonedToEpochMs(local, zone)!;
        expect(epochMsToZoned(back, zone)).toBe(local);
        expect(back).toBeLessThanOrEqual(epoch);
        expect(epoch - back).toBeLessThanOrEqual(3_600_000);
        expect(normDateTimeTimeZone({ dateTime: `${local}.0000000`, timeZone: zone })).toBe(new Date(back).toISOString().replace('.000Z', 'Z'));
      }),
      { numRuns: NUM_RUNS },
    );
  });

  test('property: instant normalization is idempotent and agrees with Date for every offset form', () => {
    fc.assert(
      fc.property(fc.integer({ min: Date.UTC(1900, 0, 1), max: Date.UTC(2100, 0, 1) }), fc.integer({ min: -14 * 4, max: 14 * 4 }), (ms, quarter) => {
        const offsetMin = quarter * 15;
        const local = new Date(ms + offsetMin * 60_000).toISOString().slice(0, 23);
        const sign = offsetMin < 0 ? '-' : '+';
        const abs = Math.abs(offsetMin);
        const text = `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
        const once = normInstant(text)!;
        expect(normInstant(once)).toBe(once);
        expect(Date.parse(once)).toBe(Math.floor(ms / 1000) * 1000);
      }),
      { numRuns: NUM_RUNS },
    );
  });
});

describe('hash', () => {
  test('FNV-1a 64-bit matches the published test vectors', () => {
    expect(fnv1a64('')).toBe('cbf29ce484222325');
    expect(fnv1a64('a')).toBe('af63dc4c8601ec8c');
    expect(fnv1a64('foobar')).toBe('85944171f73967e8');
  });

  test('canonical JSON sorts keys at every level, so key order never changes the hash', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[2,{"y":2,"z":1}]},"b":1}');
    expect(hashFields({ b: 'x', a: 'y' })).toBe(hashFields({ a: 'y', b: 'x' }));
    expect(hashFields({ a: 'y' })).not.toBe(hashFields({ a: 'z' }));
  });

  test('bookkeeping keys (@…) are not content', () => {
    expect(hashFields({ a: 'y', '@crmOwnerId': 'u1' })).toBe(hashFields({ a: 'y' }));
  });
});
