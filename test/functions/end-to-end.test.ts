// The Functions handlers on the runtime the composition root builds from app settings, against real parts: Azurite
// (Table Storage state, Storage queue) and the Graph and Dataverse simulators over HTTPS (the sandbox's world).
// timer → queue message (base64 JSON, as the host's queue trigger expects, service-limits.md §3) → mailbox-sync
// handler → a run in Table Storage → status.
import { HttpRequest, type Timer } from '@azure/functions';
import { trustedFetch } from '../../src/adapters/http/trusted-fetch';
import { StorageWorkQueue } from '../../src/adapters/queue/work-queue';
import type { MailboxStatus } from '../../src/app/status';
import { buildRuntime, type Runtime } from '../../src/composition';
import { loadConfigOrThrow } from '../../src/config';
import { startSandbox, type Sandbox } from '../../src/sandbox';
import { createMailboxSyncHandler } from '../../functions/mailbox-sync';
import { createStatusHandler } from '../../functions/status';
import { createSyncNowHandler } from '../../functions/sync-now';
import { createTimerFanOutHandler } from '../../functions/timer-fan-out';
import { invocation, SilentLogger } from './support';

jest.setTimeout(60_000);

const timer: Timer = { isPastDue: false, schedule: { adjustForDST: false }, scheduleStatus: { last: '', next: '', lastUpdated: '' } };

describe('Functions handlers on Azurite and the simulators', () => {
  let sandbox: Sandbox;
  let runtime: Runtime;

  beforeAll(async () => {
    sandbox = await startSandbox();
    runtime = buildRuntime(loadConfigOrThrow(sandbox.env), { crmAuthorityHost: sandbox.crmAuthorityHost, logger: new SilentLogger() });
  });

  afterAll(async () => {
    await runtime?.close();
    await sandbox?.stop();
  });

  it('fans out, syncs the mailbox from the queue message, and reports its status', async () => {
    const queue = runtime.queue as StorageWorkQueue;
    await createTimerFanOutHandler(() => runtime)(timer, invocation('timer-fan-out').context);

    // What the Functions host would read: base64 of the JSON request (messageEncoding base64).
    const peeked = await queue.client.peekMessages({ numberOfMessages: 32 });
    expect(peeked.peekedMessageItems).toHaveLength(1);
    const hostView: unknown = JSON.parse(Buffer.from(peeked.peekedMessageItems[0]?.messageText ?? '', 'base64').toString('utf8'));
    expect(hostView).toMatchObject({ mailbox: sandbox.mailbox, reason: 'schedule' });

    const summary = await createMailboxSyncHandler(() => runtime)(hostView, invocation('mailbox-sync', { dequeueCount: 1 }).context);
    expect(summary?.mailbox).toBe(sandbox.mailbox);
    expect(['ok', 'partial']).toContain(summary?.outcome);
    expect(summary?.counts['outlook.create']).toBe(4);
    expect(summary?.requests.graph).toBeGreaterThan(0);
    expect(summary?.requests.crm).toBeGreaterThan(0);

    const response = await createStatusHandler(() => runtime)(
      new HttpRequest({ method: 'GET', url: 'https://worker.example/api/status', query: { mailbox: sandbox.mailbox } }),
      invocation('status').context,
    );
    expect(response.status).toBe(200);
    const status = response.jsonBody as MailboxStatus;
    expect(status.lastRuns.map((run) => run.runId)).toEqual([summary?.runId]);
    // Every item failure of the run is visible as a failing change row with its reason code.
    expect(status.failing.map((row) => row.reason).sort()).toEqual((summary?.failures ?? []).map((f) => f.reason).sort());
  });

  it('carries edits made on each side to the other, then a quiet cycle writes nothing (DESIGN.md §5)', async () => {
    const sync = createMailboxSyncHandler(() => runtime);
    const message = { mailbox: sandbox.mailbox, reason: 'manual', requestedAt: new Date().toISOString() };
    // The edits the sandbox suggests to people: a PATCH "in Outlook on the web" and a change by a CRM user.
    const trust = trustedFetch(sandbox.graph.caCert);
    const patched = await trust(`${sandbox.graph.baseUrl}v1.0/users/${sandbox.mailbox}/contacts/${encodeURIComponent(sandbox.seed.outlook.sampleContactId)}`, {
      method: 'PATCH',
      headers: { Authorization: 'Bearer demo', 'Content-Type': 'application/json' },
      body: JSON.stringify({ jobTitle: 'Head of Retail' }),
    });
    expect(patched.status).toBe(200);
    const crmEdit = await globalThis.fetch(`${sandbox.dataverseControlUrl}_sim/tables/contacts/${sandbox.seed.crm.sampleContactId}`, {
      method: 'PATCH',
      body: JSON.stringify({ jobtitle: 'Head of Buying' }),
    });
    expect(crmEdit.status).toBe(204);

    const second = await sync(message, invocation('mailbox-sync').context);
    expect(second?.counts['crm.update']).toBe(1);
    expect(second?.counts['outlook.update']).toBe(1);
    const adele = sandbox.dataverse.control.rows('contacts').find((row) => row.lastname === 'Vance');
    expect(adele?.jobtitle).toBe('Head of Retail');
    const nestor = sandbox.graph.control.listItems(sandbox.mailbox, 'contact').find((item) => JSON.stringify(item).includes('Wilke'));
    expect(JSON.stringify(nestor)).toContain('Head of Buying');

    const quiet = await sync(message, invocation('mailbox-sync').context);
    const writes = Object.entries(quiet?.counts ?? {}).filter(([name]) => /^(crm|outlook)\.(create|update|delete)$/.test(name));
    expect(writes).toEqual([]);
  });

  it('queues a manual sync on the Storage queue', async () => {
    const queue = runtime.queue as StorageWorkQueue;
    await queue.client.clearMessages();
    const response = await createSyncNowHandler(() => runtime)(
      new HttpRequest({ method: 'POST', url: 'https://worker.example/api/sync', query: { mailbox: sandbox.mailbox.toUpperCase() } }),
      invocation('sync-now').context,
    );
    expect(response.status).toBe(202);
    const received = await runtime.queue.receive(32, 5);
    expect(received.map((m) => [m.body.mailbox, m.body.reason])).toEqual([[sandbox.mailbox, 'manual']]);
  });
});
