// Table Storage limits asserted in the worker's own code (service-limits.md §2: "Azurite may not enforce every limit").
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import {
  MAX_BINARY_BYTES,
  MAX_KEY_CHARS,
  MAX_STRING_CHARS,
  MAX_TRANSACTION_BYTES,
  MAX_TRANSACTION_OPERATIONS,
  decodeKeyPart,
  decodeLargeJson,
  encodeKeyPart,
  encodeLargeJson,
  estimatedEntityBytes,
  mailboxPartitionKey,
  packUnits,
  runRowKey,
} from '../../src/adapters/tables/rules';
import { ItemRejectedError } from '../../src/ports/errors';

// service-limits.md §2: not allowed in PartitionKey/RowKey.
const FORBIDDEN_IN_KEYS = /[/\\#?\u0000-\u001f\u007f-\u009f]/;

describe('Table Storage rules', () => {
  it('encoded key parts never contain a forbidden character and decode back to the original', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (value) => {
        const encoded = encodeKeyPart(value);
        expect(encoded).not.toMatch(FORBIDDEN_IN_KEYS);
        expect(decodeKeyPart(encoded)).toBe(value);
      }),
      { numRuns: process.env.LONG_PROPERTY_RUNS ? 20_000 : 300 },
    );
  });

  it('a string UTF-8 cannot carry (unpaired surrogate) is refused rather than mangled', () => {
    expect(() => encodeKeyPart('a\ud800b')).toThrow(ItemRejectedError);
  });

  it('keys longer than 1 KiB are refused', () => {
    expect(() => mailboxPartitionKey(`${'x'.repeat(800)}@contoso.example`)).toThrow(ItemRejectedError);
    expect(mailboxPartitionKey(`${'x'.repeat(700)}@contoso.example`).length).toBeLessThanOrEqual(MAX_KEY_CHARS);
  });

  it('large values are split into properties within the 64 KiB limits and the 1 MiB entity, and read back intact', () => {
    for (const value of [{ small: 'x' }, { text: 'abc '.repeat(50_000) }, { noise: randomBytes(350_000).toString('hex') }]) {
      const properties = encodeLargeJson('baseline', value);
      let total = 0;
      for (const property of Object.values(properties)) {
        if (typeof property === 'string') expect(property.length).toBeLessThanOrEqual(MAX_STRING_CHARS);
        if (property instanceof Uint8Array) expect(property.length).toBeLessThanOrEqual(MAX_BINARY_BYTES);
        total += typeof property === 'string' ? property.length * 2 : property instanceof Uint8Array ? property.length : 8;
      }
      expect(total).toBeLessThan(1024 * 1024 - 64 * 1024);
      expect(decodeLargeJson('baseline', properties)).toEqual(value);
    }
  });

  it('packing: at most 100 operations and 3.5 MiB per transaction, a row at most once, units whole and in order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ rows: fc.array(fc.integer({ min: 0, max: 60 }), { minLength: 1, maxLength: 7 }), bytes: fc.integer({ min: 100, max: 1_200_000 }) }), { maxLength: 120 }),
        (specs) => {
          const units = specs.map((spec) => ({ rowKeys: [...new Set(spec.rows)].map(String), bytes: spec.bytes }));
          const transactions = packUnits(units);
          expect(transactions.flat()).toEqual(units.map((_, i) => i));
          for (const members of transactions) {
            const rows = members.flatMap((i) => units[i]?.rowKeys ?? []);
            expect(new Set(rows).size).toBe(rows.length);
            expect(rows.length).toBeLessThanOrEqual(MAX_TRANSACTION_OPERATIONS);
            const bytes = members.reduce((sum, i) => sum + (units[i]?.bytes ?? 0), 0);
            if (members.length > 1) expect(bytes).toBeLessThanOrEqual(MAX_TRANSACTION_BYTES);
          }
        },
      ),
      { numRuns: process.env.LONG_PROPERTY_RUNS ? 5_000 : 200 },
    );
  });

  it('an entity estimate covers strings as UTF-16 and binary as base64', () => {
    expect(estimatedEntityBytes({ s: 'x'.repeat(1000) })).toBeGreaterThanOrEqual(2000);
    expect(estimatedEntityBytes({ b: new Uint8Array(3000) })).toBeGreaterThanOrEqual(4000);
  });

  it('run row keys sort newest first', () => {
    const keys = ['2026-01-01T00:00:00Z', '2026-01-01T00:00:00.001Z', '2027-06-01T00:00:00Z'].map((t) => runRowKey(t, 'r'));
    expect([...keys].sort()).toEqual([...keys].reverse());
  });
});
