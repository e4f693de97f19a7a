// GET /api/status: last runs, failing items with reason codes, held deletes (sync-lessons.md §4.13).
import { HttpRequest } from '@azure/functions';
import type { MailboxStatus } from '../../src/app/status';
import { createMailboxSyncHandler } from '../../functions/mailbox-sync';
import { createStatusAllHandler, createStatusHandler } from '../../functions/status';
import { ALICE, BOB, invocation, memoryWorld, trackedContact } from './support';

const get = (query: Record<string, string>) => new HttpRequest({ method: 'GET', url: 'https://worker.example/api/status', query });

describe('status', () => {
  it('validates its input', async () => {
    const world = memoryWorld();
    const handler = createStatusHandler(() => world.runtime);
    expect((await handler(get({}), invocation('status').context)).status).toBe(400);
    expect((await handler(get({ mailbox: ALICE, runs: '0' }), invocation('status').context)).status).toBe(400);
    expect((await handler(get({ mailbox: 'mallory@contoso.example' }), invocation('status').context)).status).toBe(404);
  });

  it('returns the last runs and the failing items with their reason codes', async () => {
    const world = memoryWorld();
    world.outlook.userCreate(ALICE, 'contact', 'contacts', trackedContact('Nestor', 'Wilke', 'nestor@fabrikam.example'));
    world.crm.rejectNextWrite('crm-validation-failed');
    const sync = createMailboxSyncHandler(() => world.runtime);
    await sync({ mailbox: ALICE, reason: 'manual', requestedAt: '2026-03-02T09:00:00.000Z' }, invocation('mailbox-sync').context);

    const response = await createStatusHandler(() => world.runtime)(get({ mailbox: ALICE, runs: '5' }), invocation('status').context);
    expect(response.status).toBe(200);
    const status = response.jsonBody as MailboxStatus;
    expect(status.mailbox).toBe(ALICE);
    expect(status.lastRuns).toHaveLength(1);
    expect(status.lastRuns[0]?.outcome).toBe('partial');
    expect(status.pendingChanges).toBe(1);
    expect(status.failing).toHaveLength(1);
    expect(status.failing[0]).toMatchObject({ kind: 'contact', reason: 'crm-validation-failed', attempts: 1 });
    expect(status.heldDeletes).toEqual([]);
  });

  it('lists every enrolled mailbox on the admin route', async () => {
    const world = memoryWorld();
    await createMailboxSyncHandler(() => world.runtime)({ mailbox: ALICE, reason: 'manual', requestedAt: '2026-03-02T09:00:00.000Z' }, invocation('mailbox-sync').context);
    const response = await createStatusAllHandler(() => world.runtime)(get({}), invocation('status-all').context);
    const body = response.jsonBody as { mailboxes: MailboxStatus[] };
    expect(body.mailboxes.map((m) => [m.mailbox, m.lastRuns.length])).toEqual([
      [ALICE, 1],
      [BOB, 0],
    ]);
  });
});
