// Round trip of every mapped field of every kind, on both sides (DESIGN.md §5 "Normalization makes values round-trip"):
// normalize(read(write(v))) == normalize(v), with realistic values (Unicode incl. astral and combining characters, empty
// vs missing, long bodies, odd instant formats, all-day events).
import fc from 'fast-check';
import { buildCrmWrite, buildOutlookWrite, normalizeValues, readCrmValues, readOutlookValues } from '../../src/core/fields';
import { activeFields, directionOf, DEFAULT_MAPPINGS, type FieldDescriptor } from '../../src/core/mappings';
import { withCrmTimeZone } from '../../src/core/mappings/user-local';
import { ITEM_KINDS, type JsonObject, type JsonValue } from '../../src/core/model';
import { sameValue } from '../../src/core/normalize';
import { applyCrmWrite, applyOutlookWrite, GUID, item, NUM_RUNS, rawValues, record, settings } from './support';

const allSettings = settings({ updateCompanyField: true });

/** Properties Outlook owns and the worker never writes (one-way to the CRM) but that other fields derive from. */
function outlookNative(kind: string, v: Record<string, JsonValue | undefined>): JsonObject {
  return kind === 'appointment' ? { isCancelled: v.isCancelled === true } : {};
}

/**
 * Fields Outlook holds: not one-way to the CRM, and with an Outlook target. The task's `dueTime` (the CRM due instant
 * that only times the reminder written with a due date, DESIGN.md §7) has none: Outlook never reads it back.
 */
function readFromOutlook(field: FieldDescriptor): boolean {
  return directionOf(field) !== 'outlook-to-crm' && field.outlookTargets.length > 0;
}

describe.each(ITEM_KINDS)('%s mapping round trip', (kind) => {
  const mapping = DEFAULT_MAPPINGS[kind];
  const fields = activeFields(mapping, allSettings);
  const toOutlook = fields.filter(readFromOutlook);
  const toCrm = fields.filter((f) => directionOf(f) !== 'crm-to-outlook');

  function expectSame(actual: Record<string, JsonValue | undefined>, expected: Record<string, JsonValue | undefined>, names: string[]) {
    for (const f of fields.filter((d) => names.includes(d.field))) {
      if (!sameValue(f.spec.type, actual[f.field], expected[f.field])) {
        throw new Error(`${kind}.${f.field}: wrote ${JSON.stringify(expected[f.field])}, read back ${JSON.stringify(actual[f.field])}`);
      }
    }
  }

  test('normalization is idempotent', () => {
    fc.assert(
      fc.property(rawValues(kind, fields), (raw) => {
        const once = normalizeValues(mapping, fields, raw);
        expect(normalizeValues(mapping, fields, once)).toEqual(once);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  test('Outlook side: read(write(v)) == v for every field Outlook receives', () => {
    fc.assert(
      fc.property(rawValues(kind, fields), (raw) => {
        const v = normalizeValues(mapping, fields, raw);
        const write = buildOutlookWrite(fields, toOutlook.map((f) => f.field), v, GUID);
        const back = readOutlookValues(mapping, fields, applyOutlookWrite(item(kind, outlookNative(kind, v)), write), GUID);
        expectSame(back, v, toOutlook.map((f) => f.field));
      }),
      { numRuns: NUM_RUNS },
    );
  });

  test('CRM side: read(write(v)) == v for every field the CRM receives', () => {
    fc.assert(
      fc.property(rawValues(kind, fields), (raw) => {
        const v = normalizeValues(mapping, fields, raw);
        const write = buildCrmWrite(fields, toCrm.map((f) => f.field), v);
        const back = readCrmValues(mapping, fields, applyCrmWrite(record(kind, {}), write));
        expectSame(back, v, toCrm.map((f) => f.field));
      }),
      { numRuns: NUM_RUNS },
    );
  });

  test('writing one field changes that field only, on both sides', () => {
    fc.assert(
      fc.property(rawValues(kind, fields), rawValues(kind, fields), fc.nat(), (rawA, rawB, pick) => {
        const a = normalizeValues(mapping, fields, rawA);
        const b = normalizeValues(mapping, fields, rawB);
        const field = fields[pick % fields.length]!;
        const merged = normalizeValues(mapping, fields, { ...a, [field.field]: b[field.field] ?? null });

        if (directionOf(field) !== 'outlook-to-crm') {
          const start = applyOutlookWrite(item(kind, outlookNative(kind, merged)), buildOutlookWrite(fields, toOutlook.map((f) => f.field), a, GUID));
          const after = applyOutlookWrite(start, buildOutlookWrite(fields, [field.field], merged, GUID));
          expectSame(readOutlookValues(mapping, fields, after, GUID), merged, toOutlook.map((f) => f.field));
        }
        if (directionOf(field) !== 'crm-to-outlook') {
          const start = applyCrmWrite(record(kind, {}), buildCrmWrite(fields, toCrm.map((f) => f.field), a));
          const after = applyCrmWrite(start, buildCrmWrite(fields, [field.field], merged));
          expectSame(readCrmValues(mapping, fields, after), merged, toCrm.map((f) => f.field));
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });
});

// The same round trips with the CRM user's zone bound (dataverse-behaviour.md §4.4/§4.5 UserLocal dates): UTC−5 (both
// spellings), UTC+10, the date line on both sides, and a zone whose clocks jump at midnight (no 00:00 on that day).
const ZONES = ['America/New_York', 'Eastern Standard Time', 'AUS Eastern Standard Time', 'Pacific/Kiritimati', 'Etc/GMT+12', 'America/Santiago'];

describe.each((['appointment', 'task'] as const).flatMap((kind) => ZONES.map((zone) => [kind, zone] as const)))('%s mapping round trip in %s', (kind, zone) => {
  const mapping = withCrmTimeZone(DEFAULT_MAPPINGS[kind], zone);
  const fields = activeFields(mapping, allSettings);
  const toOutlook = fields.filter(readFromOutlook);
  const toCrm = fields.filter((f) => directionOf(f) !== 'crm-to-outlook');

  function expectSame(actual: Record<string, JsonValue | undefined>, expected: Record<string, JsonValue | undefined>, names: string[]) {
    for (const f of fields.filter((d) => names.includes(d.field))) {
      if (!sameValue(f.spec.type, actual[f.field], expected[f.field])) {
        throw new Error(`${kind}.${f.field} in ${zone}: wrote ${JSON.stringify(expected[f.field])}, read back ${JSON.stringify(actual[f.field])}`);
      }
    }
  }

  test('both sides: read(write(v)) == v', () => {
    fc.assert(
      fc.property(rawValues(kind, fields), (raw) => {
        const v = normalizeValues(mapping, fields, raw);
        const outlook = applyOutlookWrite(item(kind, outlookNative(kind, v)), buildOutlookWrite(fields, toOutlook.map((f) => f.field), v, GUID));
        expectSame(readOutlookValues(mapping, fields, outlook, GUID), v, toOutlook.map((f) => f.field));
        const crm = applyCrmWrite(record(kind, {}), buildCrmWrite(fields, toCrm.map((f) => f.field), v));
        expectSame(readCrmValues(mapping, fields, crm), v, toCrm.map((f) => f.field));
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
