// The core benchmark's generated data is realistic enough to mean something: a quiet cycle plans zero writes
// (DESIGN.md §5 "No ping-pong") and every edited pair plans a write.
import { benchCore } from '../../bench/core';

test('benchCore: quiet pairs plan no writes, edited pairs all do, throughput is reported per kind and scenario', async () => {
  const rows = await benchCore({ pairs: 60, minMsPerCase: 1 });
  expect(rows.map((r) => r.name)).toEqual([
    'contact: quiet',
    'contact: one-sided edits',
    'contact: conflicting edits',
    'appointment: quiet',
    'appointment: one-sided edits',
    'appointment: conflicting edits',
  ]);
  for (const row of rows) {
    expect(row.writeShare).toBe(row.name.endsWith('quiet') ? 0 : 1);
    expect(row.itemsPerSecond).toBeGreaterThan(0);
    expect(row.items).toBeGreaterThanOrEqual(60);
  }
});
