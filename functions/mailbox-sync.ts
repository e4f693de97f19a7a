// Queue trigger → one mailbox cycle. A failed cycle throws, so the host makes the message visible again after
// `visibilityTimeout` and, after `maxDequeueCount` attempts, moves it to `<queue>-poison` (host.json,
// service-limits.md §3). Retrying is safe: the cycle commits per item and leaves the mailbox's state intact.
import { app, type InvocationContext } from '@azure/functions';
import { parseMailboxSyncRequest } from '../src/adapters/queue/message';
import { runMailboxCycle } from '../src/app/cycle';
import { DEFAULT_QUEUE_NAME } from '../src/config/settings';
import type { RunSummary } from '../src/ports/state-store';
import { logLine, runtimeFromAppSettings, type RuntimeProvider } from './runtime';

export class MailboxCycleFailedError extends Error {
  constructor(readonly summary: RunSummary) {
    super(`mailbox cycle ${summary.runId} failed: ${[...new Set(summary.failures.map((f) => f.reason))].join(', ') || 'no reason recorded'}`);
    this.name = 'MailboxCycleFailedError';
  }
}

export function createMailboxSyncHandler(getRuntime: RuntimeProvider) {
  return async (queueEntry: unknown, context: InvocationContext): Promise<RunSummary | null> => {
    // The host decodes the base64 body and parses JSON; a body that is still text is parsed here.
    const request = parseMailboxSyncRequest(typeof queueEntry === 'string' ? parseJson(queueEntry) : queueEntry);
    const runtime = getRuntime();
    const mailbox = runtime.enrolled(request.mailbox);
    const dequeueCount = Number(context.triggerMetadata?.dequeueCount ?? 1);
    if (mailbox === null) {
      // Unenrolled since the message was sent: nothing to do, and retrying would not change that.
      logLine(context, 'warn', 'mailbox not enrolled; message dropped', { reason: request.reason });
      return null;
    }
    const summary = await runMailboxCycle(runtime.depsFor(context.invocationId), runtime.settingsFor(mailbox), runtime.cycleOptions);
    logLine(context, summary.outcome === 'failed' ? 'error' : 'info', 'mailbox cycle', {
      runId: summary.runId,
      outcome: summary.outcome,
      failures: summary.failures.length,
      heldDeletes: summary.heldDeletes,
      dequeueCount,
    });
    if (summary.outcome === 'failed') throw new MailboxCycleFailedError(summary);
    return summary;
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export const mailboxSyncHandler = createMailboxSyncHandler(runtimeFromAppSettings);

export function queueName(env: Readonly<Record<string, string | undefined>>): string {
  return env.OCS_QUEUE_NAME?.trim() ? '%OCS_QUEUE_NAME%' : DEFAULT_QUEUE_NAME;
}

app.storageQueue('mailbox-sync', {
  queueName: queueName(process.env),
  connection: 'AzureWebJobsStorage',
  handler: mailboxSyncHandler,
});
