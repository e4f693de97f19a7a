// HTTP GET /api/status?mailbox=… (function key): one mailbox's last runs, failing items with reason codes and held
// deletes (sync-lessons.md §4.13: every skipped item has a visible reason). GET /api/status/all needs the admin
// (master) key, since it lists every enrolled mailbox.
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { mailboxStatus } from '../src/app/status';
import { configErrorResponse, json, runtimeFromAppSettings, type RuntimeProvider } from './runtime';

const MAX_RUNS = 50;

function runsParameter(request: HttpRequest): number | string {
  const raw = request.query.get('runs');
  if (raw === null || raw === '') return 10;
  const runs = Number(raw);
  return Number.isInteger(runs) && runs >= 1 && runs <= MAX_RUNS ? runs : `runs must be a whole number from 1 to ${MAX_RUNS}`;
}

export function createStatusHandler(getRuntime: RuntimeProvider) {
  return async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const runs = runsParameter(request);
    if (typeof runs === 'string') return json(400, { error: runs });
    const wanted = request.query.get('mailbox')?.trim();
    if (!wanted) return json(400, { error: 'name the mailbox: ?mailbox=user@contoso.com (GET /api/status/all with the admin key lists all)' });
    try {
      const runtime = getRuntime();
      const mailbox = runtime.enrolled(wanted);
      if (mailbox === null) return json(404, { error: 'the mailbox is not enrolled (OCS_MAILBOXES)' });
      return json(200, await mailboxStatus(runtime.store, mailbox, { runs }));
    } catch (error) {
      return configErrorResponse(error, context);
    }
  };
}

export function createStatusAllHandler(getRuntime: RuntimeProvider) {
  return async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const runs = runsParameter(request);
    if (typeof runs === 'string') return json(400, { error: runs });
    try {
      const runtime = getRuntime();
      const mailboxes = [];
      for (const mailbox of runtime.config.mailboxes) mailboxes.push(await mailboxStatus(runtime.store, mailbox, { runs }));
      return json(200, { mailboxes });
    } catch (error) {
      return configErrorResponse(error, context);
    }
  };
}

export const statusHandler = createStatusHandler(runtimeFromAppSettings);
export const statusAllHandler = createStatusAllHandler(runtimeFromAppSettings);

app.http('status', { methods: ['GET'], authLevel: 'function', route: 'status', handler: statusHandler });
app.http('status-all', { methods: ['GET'], authLevel: 'admin', route: 'status/all', handler: statusAllHandler });
