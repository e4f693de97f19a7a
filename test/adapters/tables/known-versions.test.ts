// An update of a mapping version the store has seen needs no read before its transaction (known-versions.ts); when the
// stored version is another one, the compare-and-swap fails and the unit is prepared again from a fresh read, so the
// index rows always follow the STORED version's ids. Requests are counted on the wire (Azurite).
import { TableClient, type TableServiceClientOptions } from '@azure/data-tables';
import type { MappingRow } from '../../../src/core/model';
import { mailboxPartitionKey } from '../../../src/adapters/tables/rules';
import { crmIndexKey, mappingKey, outlookIndexKey } from '../../../src/adapters/tables/rows';
import { TableStateStore } from '../../../src/adapters/tables/state-store';
import { ConcurrencyError } from '../../../src/ports/errors';
import type { CommitResult } from '../../../src/ports/state-store';
import { startAzurite, type AzuriteInstance } from '../../support/azurite';

type PipelinePolicy = NonNullable<TableServiceClientOptions['additionalPolicies']>[number]['policy'];

const MAILBOX = 'alice@contoso.example';

let azurite: AzuriteInstance;
let suite = 0;

beforeAll(async () => {
  azurite = await startAzurite({ table: true });
});

afterAll(async () => {
  await azurite?.stop();
});

/** Two stores on the same tables (two worker instances), each counting its own requests by method and shape. */
function stores(): { first: TableStateStore; second: TableStateStore; requests: () => string[]; reset: () => void; table: TableClient; prefix: string } {
  suite += 1;
  const prefix = `Known${suite}`;
  let seen: string[] = [];
  const counting: PipelinePolicy = {
    name: 'countRequests',
    sendRequest: (request, next) => {
      const path = decodeURIComponent(new URL(request.url).pathname);
      seen.push(`${request.method} ${path.endsWith('$batch') ? '$batch' : path.includes('(PartitionKey=') ? 'point' : 'other'}`);
      return next(request);
    },
  };
  const connection = { connectionString: azurite.connectionString };
  const first = new TableStateStore({ connection, tablePrefix: prefix, clientOptions: { additionalPolicies: [{ policy: counting, position: 'perRetry' }] } });
  const second = new TableStateStore({ connection, tablePrefix: prefix });
  const table = TableClient.fromConnectionString(azurite.connectionString, `${prefix}SyncState`, { allowInsecureConnection: true });
  return { first, second, requests: () => seen, reset: () => (seen = []), table, prefix };
}

function mapping(mapId: string, overrides: Partial<MappingRow> = {}): MappingRow {
  return {
    mapId,
    kind: 'contact',
    outlookId: `o-${mapId}`,
    outlookContainer: 'contacts',
    crmId: `c-${mapId}`,
    state: 'linked',
    trackedVia: 'outlook',
    baseline: { givenName: 'Ada' },
    baselineHash: 'h1',
    outlookVersion: 'ck1',
    crmVersion: 'W/"1"',
    visitedEpoch: 0,
    verifiedAt: null,
    ...overrides,
  };
}

function committed(result: CommitResult | undefined): MappingRow {
  if (!result?.ok || !result.mapping) throw new Error(`expected a committed mapping, got ${result?.ok === false ? result.error.message : 'none'}`);
  return result.mapping;
}

async function rowKeysOf(table: TableClient): Promise<string[]> {
  const keys: string[] = [];
  for await (const entity of table.listEntities({ queryOptions: { filter: `PartitionKey eq '${mailboxPartitionKey(MAILBOX)}'` } })) {
    if (entity.deleted !== true) keys.push(entity.rowKey as string);
  }
  return keys.sort();
}

describe('TableStateStore updates of a mapping version it has seen', () => {
  it('commit a row it returned, or one it read, in one transaction and no read', async () => {
    const { first, requests, reset } = stores();
    const inserted = committed((await first.commit(MAILBOX, [{ mapping: { put: mapping('m1') } }]))[0]);
    reset();
    const updated = committed((await first.commit(MAILBOX, [{ mapping: { put: { ...inserted, verifiedAt: '2026-11-21T08:00:00.000Z' } } }]))[0]);
    expect(requests()).toEqual(['POST $batch']);

    const read = await first.getMapping(MAILBOX, 'm1');
    expect(read?.etag).toBe(updated.etag);
    reset();
    committed((await first.commit(MAILBOX, [{ mapping: { put: { ...(read as MappingRow), outlookId: 'o-moved' } } }]))[0]);
    expect(requests()).toEqual(['POST $batch']);
    expect(await first.findMappingByOutlookId(MAILBOX, 'contact', 'o-moved')).toMatchObject({ mapId: 'm1', verifiedAt: '2026-11-21T08:00:00.000Z' });
    expect(await first.findMappingByOutlookId(MAILBOX, 'contact', 'o-m1')).toBeNull();
  });

  it('a row of a version another instance wrote since fails, and the index rows stay those of the stored version', async () => {
    const { first, second, table } = stores();
    const seenByFirst = committed((await first.commit(MAILBOX, [{ mapping: { put: mapping('m1') } }]))[0]);
    const stored = await second.getMapping(MAILBOX, 'm1');
    // The other instance moves the item to another Outlook id; the first one still holds the version before.
    committed((await second.commit(MAILBOX, [{ mapping: { put: { ...(stored as MappingRow), outlookId: 'o-other' } } }]))[0]);

    const [stale] = await first.commit(MAILBOX, [{ mapping: { put: { ...seenByFirst, crmId: 'c-new' } } }]);

    expect(stale?.ok).toBe(false);
    expect(stale?.ok === false && stale.error).toBeInstanceOf(ConcurrencyError);
    expect(await rowKeysOf(table)).toEqual([crmIndexKey('contact', 'c-m1'), mappingKey('m1'), outlookIndexKey('contact', 'o-other')].sort());
    expect(await first.getMapping(MAILBOX, 'm1')).toMatchObject({ outlookId: 'o-other', crmId: 'c-m1' });
  });

  it('a row of a version another instance removed since fails, and nothing comes back', async () => {
    const { first, second, table } = stores();
    const seenByFirst = committed((await first.commit(MAILBOX, [{ mapping: { put: mapping('m1') } }]))[0]);
    const stored = await second.getMapping(MAILBOX, 'm1');
    const [removed] = await second.commit(MAILBOX, [{ mapping: { remove: stored as MappingRow } }]);
    expect(removed?.ok).toBe(true);

    const [stale] = await first.commit(MAILBOX, [{ mapping: { put: { ...seenByFirst, verifiedAt: '2026-11-21T08:00:00.000Z' } } }]);

    expect(stale?.ok === false && stale.error).toBeInstanceOf(ConcurrencyError);
    expect(await rowKeysOf(table)).toEqual([]);
    expect(await first.getMapping(MAILBOX, 'm1')).toBeNull();
  });

  it('a stale unit fails alone: the other units of its transaction commit', async () => {
    const { first, second, requests, reset } = stores();
    const [a, b] = await first.commit(MAILBOX, [{ mapping: { put: mapping('a') } }, { mapping: { put: mapping('b') } }]);
    const stored = await second.getMapping(MAILBOX, 'a');
    committed((await second.commit(MAILBOX, [{ mapping: { put: { ...(stored as MappingRow), baselineHash: 'h2' } } }]))[0]);
    reset();

    const [staleA, freshB] = await first.commit(MAILBOX, [
      { mapping: { put: { ...committed(a), verifiedAt: '2026-11-21T08:00:00.000Z' } } },
      { mapping: { put: { ...committed(b), verifiedAt: '2026-11-21T08:00:00.000Z' } } },
    ]);

    expect(staleA?.ok === false && staleA.error).toBeInstanceOf(ConcurrencyError);
    expect(committed(freshB).verifiedAt).toBe('2026-11-21T08:00:00.000Z');
    // The transaction of both (412 on a's row); a prepared carefully: read, and refused; then b again on its own.
    expect(requests()).toEqual(['POST $batch', 'GET point', 'POST $batch']);
    expect(await first.getMapping(MAILBOX, 'a')).toMatchObject({ baselineHash: 'h2', verifiedAt: null });
  });
});
