// HTTP POST /api/sync?mailbox=… (or a JSON body {"mailbox": "…"}): queue a sync of one enrolled mailbox now (202), or
// with ?wait=true run it inline and answer with the run summary. Inline runs must finish within the 230 s HTTP limit
// (service-limits.md §3), so they suit small mailboxes and diagnostics; the queue is the normal path.
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { runMailboxCycle } from '../src/app/cycle';
import { configErrorResponse, json, logLine, runtimeFromAppSettings, type RuntimeProvider } from './runtime';

export function createSyncNowHandler(getRuntime: RuntimeProvider) {
  return async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const input = await mailboxParameter(request);
    if (!input.ok) return json(400, { error: input.error });
    const wait = ['true', '1', 'yes'].includes((request.query.get('wait') ?? '').toLowerCase());
    try {
      const runtime = getRuntime();
      const mailbox = runtime.enrolled(input.mailbox);
      if (mailbox === null) {
        return json(400, { error: 'the mailbox is not enrolled: add it to OCS_MAILBOXES to sync it' });
      }
      if (!wait) {
        await runtime.queue.send({ mailbox, reason: 'manual', requestedAt: runtime.deps.clock.now().toISOString() });
        logLine(context, 'info', 'sync queued', { wait: false });
        return json(202, { queued: true, mailbox });
      }
      const summary = await runMailboxCycle(runtime.depsFor(context.invocationId), runtime.settingsFor(mailbox), runtime.cycleOptions);
      logLine(context, 'info', 'sync ran inline', { runId: summary.runId, outcome: summary.outcome });
      return json(summary.outcome === 'failed' ? 500 : 200, summary);
    } catch (error) {
      return configErrorResponse(error, context);
    }
  };
}

type MailboxInput = { ok: true; mailbox: string } | { ok: false; error: string };

async function mailboxParameter(request: HttpRequest): Promise<MailboxInput> {
  let mailbox = request.query.get('mailbox');
  if (mailbox === null) {
    const text = await request.text();
    if (text.trim() !== '') {
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        return { ok: false, error: 'the body must be JSON like {"mailbox": "user@contoso.com"}' };
      }
      const value = typeof body === 'object' && body !== null ? (body as Record<string, unknown>).mailbox : undefined;
      if (value !== undefined && typeof value !== 'string') return { ok: false, error: 'mailbox must be a string' };
      mailbox = value ?? null;
    }
  }
  if (mailbox === null || mailbox.trim() === '') {
    return { ok: false, error: 'name the mailbox: ?mailbox=user@contoso.com or a JSON body {"mailbox": "user@contoso.com"}' };
  }
  return { ok: true, mailbox: mailbox.trim() };
}

export const syncNowHandler = createSyncNowHandler(runtimeFromAppSettings);

app.http('sync-now', { methods: ['POST'], authLevel: 'function', route: 'sync', handler: syncNowHandler });
