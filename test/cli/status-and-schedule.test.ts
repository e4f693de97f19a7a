// `npm start -- status` on a configured deployment's Table Storage (Azurite), and the scheduled loop stopping cleanly
// on Ctrl+C (an aborted signal) after its first cycle.
import { main } from '../../src/cli/main';
import { buildRuntime } from '../../src/composition';
import { loadConfigOrThrow } from '../../src/config';
import type { RunSummary } from '../../src/ports/state-store';
import { startAzurite, type AzuriteInstance } from '../support/azurite';

jest.setTimeout(60_000);

const ENV = {
  OCS_TENANT_ID: 'contoso.onmicrosoft.com',
  OCS_CLIENT_ID: '11111111-2222-4333-8444-555555555555',
  OCS_CLIENT_SECRET: 'not-a-real-secret-value',
  OCS_CRM_URL: 'https://contoso.crm.dynamics.com',
  OCS_MAILBOXES: 'alice@contoso.example;bob@contoso.example',
  OCS_TABLE_PREFIX: 'CliStatus',
};

let azurite: AzuriteInstance;
beforeAll(async () => {
  azurite = await startAzurite({ table: true, queue: true });
});
afterAll(async () => {
  await azurite?.stop();
});

describe('CLI status', () => {
  it("prints each enrolled mailbox's last runs, failures with reasons and pending changes", async () => {
    const env = { ...ENV, AzureWebJobsStorage: azurite.connectionString };
    const runtime = buildRuntime(loadConfigOrThrow(env), { logger: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined } });
    const run: RunSummary = {
      mailbox: 'alice@contoso.example',
      runId: 'run-1',
      startedAt: '2026-03-02T09:00:00.000Z',
      finishedAt: '2026-03-02T09:00:02.000Z',
      outcome: 'partial',
      dryRun: false,
      counts: { 'crm.create': 3, 'outlook.update': 1 },
      requests: { graph: 12 },
      failures: [{ key: 'o:contact:x', reason: 'crm-rejected', detail: 'rejected' }],
      heldDeletes: 0,
      alerts: [],
    };
    await runtime.store.appendRun(run);
    await runtime.store.recordChanges('alice@contoso.example', [{ key: 'o:contact:x', kind: 'contact', mapId: null, outlookId: 'x', outlookContainer: 'contacts', side: 'outlook', change: 'upsert', at: '2026-03-02T08:59:00.000Z' }]);

    const out: string[] = [];
    const code = await main(['status'], env, { out: (t) => out.push(t), err: (t) => out.push(`ERR ${t}`) });
    expect(code).toBe(0);
    const text = out.join('\n');
    expect(text).toContain('alice@contoso.example');
    expect(text).toMatch(/2026-03-02T09:00:00.000Z\s+partial\s+writes c\/u\/d: outlook 0\/1\/0, crm 3\/0\/0; failures 1; held deletes 0/);
    expect(text).toMatch(/alice@contoso\.example[\s\S]*pending changes: 1[\s\S]*bob@contoso\.example\n\s+no runs yet\n\s+pending changes: 0/);
  });
});

describe('CLI --once exit code', () => {
  it('exits 1 and prints the reason when a cycle fails (here: nothing answers at the sign-in authority)', async () => {
    const env = {
      ...ENV,
      OCS_MAILBOXES: 'alice@contoso.example',
      OCS_TABLE_PREFIX: 'CliOnce',
      AzureWebJobsStorage: azurite.connectionString,
      OCS_AUTHORITY_HOST: 'https://127.0.0.1:9',
      OCS_GRAPH_BASE_URL: 'https://127.0.0.1:9',
      OCS_CRM_URL: 'https://127.0.0.1:9',
    };
    const out: string[] = [];
    const code = await main(['--once'], env, { out: (t) => out.push(t), err: () => undefined });
    if (process.env.SHOW_CLI === '1') console.log(out.join('\n'));
    expect(code).toBe(1);
    expect(out.join('\n')).toMatch(/alice@contoso\.example: failed in[\s\S]*✗ cycle: /);
  });
});

describe('CLI schedule loop', () => {
  it('runs the first cycle at once, announces the next one and stops on abort', async () => {
    const controller = new AbortController();
    const out: string[] = [];
    const code = await main([], {}, {
      out: (text) => {
        out.push(text);
        if (text.startsWith('Next cycle at')) controller.abort();
      },
      err: () => undefined,
      signal: controller.signal,
    });
    expect(code).toBe(0);
    const text = out.join('\n');
    expect(text.match(/demo@contoso\.test: (ok|partial|failed) in/g)).toHaveLength(1);
    expect(text).toMatch(/Next cycle at \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:(00|30)\.000Z\.\nStopped\.$/);
  });
});
