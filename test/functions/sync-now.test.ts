// POST /api/sync: input validation, queueing (202) and the inline run (?wait=true).
import { HttpRequest } from '@azure/functions';
import { decodeMessageBody } from '../../src/adapters/queue/message';
import { createSyncNowHandler } from '../../functions/sync-now';
import { ALICE, invocation, memoryWorld, trackedContact } from './support';

function post(query: Record<string, string>, body?: string): HttpRequest {
  return new HttpRequest({ method: 'POST', url: 'https://worker.example/api/sync', query, ...(body !== undefined ? { body: { string: body } } : {}) });
}

describe('sync-now', () => {
  it.each([
    ['no mailbox at all', {}, undefined, /name the mailbox/],
    ['an empty mailbox', { mailbox: ' ' }, undefined, /name the mailbox/],
    ['a body that is not JSON', {}, 'mailbox=alice', /must be JSON/],
    ['a mailbox that is not a string', {}, '{"mailbox": 7}', /must be a string/],
    ['a mailbox that is not enrolled', { mailbox: 'mallory@contoso.example' }, undefined, /not enrolled.*OCS_MAILBOXES/],
  ])('answers 400 with a clear message for %s', async (_case, query, body, message) => {
    const world = memoryWorld();
    const response = await createSyncNowHandler(() => world.runtime)(post(query, body), invocation('sync-now').context);
    expect(response.status).toBe(400);
    expect((response.jsonBody as { error: string }).error).toMatch(message);
    expect(world.queue.rawBodies()).toEqual([]);
  });

  it('queues a manual sync and answers 202 (mailbox from the JSON body)', async () => {
    const world = memoryWorld();
    const response = await createSyncNowHandler(() => world.runtime)(post({}, JSON.stringify({ mailbox: 'Alice@Contoso.example' })), invocation('sync-now').context);
    expect(response.status).toBe(202);
    expect(response.jsonBody).toEqual({ queued: true, mailbox: ALICE });
    expect(world.queue.rawBodies().map(decodeMessageBody)).toEqual([{ mailbox: ALICE, reason: 'manual', requestedAt: '2026-03-02T09:00:00.000Z' }]);
    expect(await world.store.listRuns(ALICE, 5)).toEqual([]);
  });

  it('with ?wait=true runs the cycle inline and answers with the run summary', async () => {
    const world = memoryWorld();
    world.outlook.userCreate(ALICE, 'contact', 'contacts', trackedContact('Megan', 'Bowen', 'megan@fabrikam.example'));
    const response = await createSyncNowHandler(() => world.runtime)(post({ mailbox: ALICE, wait: 'true' }), invocation('sync-now').context);
    expect(response.status).toBe(200);
    const summary = response.jsonBody as { runId: string; outcome: string; counts: Record<string, number> };
    expect(summary.outcome).toBe('ok');
    expect(summary.counts['crm.create']).toBe(1);
    expect((await world.store.listRuns(ALICE, 5)).map((r) => r.runId)).toEqual([summary.runId]);
    expect(world.queue.rawBodies()).toEqual([]);
  });

  it('answers 500 with every configuration problem (and no secret) when the settings are broken', async () => {
    const { ConfigError } = await import('../../src/config');
    const response = await createSyncNowHandler(() => {
      throw new ConfigError(['OCS_CRM_URL (CRM environment URL): is required', 'OCS_MAILBOXES (enrolled mailboxes): is required']);
    })(post({ mailbox: ALICE }), invocation('sync-now').context);
    expect(response.status).toBe(500);
    expect((response.jsonBody as { problems: string[] }).problems).toHaveLength(2);
  });
});
