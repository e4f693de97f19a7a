import fc from 'fast-check';
import { startClient, values, type TestClient } from './client';

// dataverse-behaviour.md §1.2–§1.4: a client that stores the deltaLink and applies every page (upserts replace,
// `$deletedEntity` removes, deletes of never-seen ids are ignored) ends with exactly the server's rows, whatever the
// interleaving of writes, page sizes and polls — including writes made while it is between pages.

type Op =
  | { kind: 'create'; name: string }
  | { kind: 'update'; index: number; name: string }
  | { kind: 'delete'; index: number }
  | { kind: 'poll'; pageSize: number; writeBetweenPages: boolean }
  | { kind: 'faults'; emptyPagesFirst: number; repeatPageBoundary: boolean };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('create' as const), name: fc.string({ maxLength: 5 }) }),
  fc.record({ kind: fc.constant('update' as const), index: fc.nat(), name: fc.string({ maxLength: 5 }) }),
  fc.record({ kind: fc.constant('delete' as const), index: fc.nat() }),
  fc.record({ kind: fc.constant('poll' as const), pageSize: fc.integer({ min: 1, max: 4 }), writeBetweenPages: fc.boolean() }),
  fc.record({ kind: fc.constant('faults' as const), emptyPagesFirst: fc.integer({ min: 0, max: 2 }), repeatPageBoundary: fc.boolean() }),
);

describe('Dataverse simulator: change tracking converges (property)', () => {
  let c: TestClient;
  beforeAll(async () => {
    c = await startClient();
  });
  afterAll(() => c.sim.stop());

  it('replaying every delta page reproduces the table', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 25 }), async (ops) => {
        for (const row of c.sim.control.rows('accounts')) c.sim.control.remove('accounts', row['accountid'] as string);
        const live: string[] = [];
        const mirror = new Map<string, string>();
        let link: string | null = null;

        const poll = async (pageSize: number, writeBetweenPages: boolean) => {
          const prefer = `odata.track-changes,odata.maxpagesize=${pageSize}`;
          let reply = link ? await c.getUrl(link, { Prefer: prefer }) : await c.get('accounts?$select=name', { Prefer: prefer });
          for (;;) {
            expect(reply.status).toBe(200);
            for (const entry of values(reply)) {
              if (entry['reason'] === 'deleted') mirror.delete(entry['id'] as string);
              else mirror.set(entry['accountid'] as string, entry['name'] as string);
            }
            const next = reply.json['@odata.nextLink'] as string | undefined;
            if (!next) break;
            if (writeBetweenPages) live.push(c.sim.control.seed('accounts', { name: 'between' }));
            reply = await c.getUrl(next, { Prefer: prefer });
          }
          link = reply.json['@odata.deltaLink'] as string;
        };

        for (const step of ops) {
          if (step.kind === 'create') live.push(c.sim.control.seed('accounts', { name: step.name }));
          else if (step.kind === 'update' && live.length > 0) {
            c.sim.control.update('accounts', live[step.index % live.length] as string, { name: step.name });
          } else if (step.kind === 'delete' && live.length > 0) {
            const [id] = live.splice(step.index % live.length, 1);
            c.sim.control.remove('accounts', id as string);
          } else if (step.kind === 'poll') await poll(step.pageSize, step.writeBetweenPages);
          else if (step.kind === 'faults') {
            // Empty pages and repeated entries (knob trackingFaults) must not change what an idempotent client ends with.
            c.sim.knobs.trackingFaults = { emptyPagesFirst: step.emptyPagesFirst, repeatPageBoundary: step.repeatPageBoundary };
          }
        }
        c.sim.knobs.trackingFaults = { emptyPagesFirst: 0, repeatPageBoundary: false };
        await poll(3, false);
        const expected = new Map(c.sim.control.rows('accounts').map((r) => [r['accountid'] as string, r['name'] as string]));
        expect(mirror).toEqual(expected);
      }),
      { numRuns: process.env['LONG_PROPERTY_RUNS'] ? 500 : 25 },
    );
  });
});
