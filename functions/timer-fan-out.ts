// Timer → one queue message per enrolled mailbox (DESIGN.md §8 "Scale-out"; service-limits.md §3: the timer runs as
// a singleton and only enqueues, so per-mailbox work scales out on the queue trigger under the mailbox lease).
import { app, type InvocationContext, type Timer } from '@azure/functions';
import { fanOut, type FanOutResult } from '../src/app/fan-out';
import { parseSchedule, dueAtTick } from '../src/config/ncrontab';
import { DEFAULT_SCHEDULE, mailboxSchedule, type Config } from '../src/config';
import { logLine, runtimeFromAppSettings, type RuntimeProvider } from './runtime';

export function createTimerFanOutHandler(getRuntime: RuntimeProvider) {
  return async (timer: Timer, context: InvocationContext): Promise<FanOutResult> => {
    const runtime = getRuntime();
    const due = dueMailboxes(runtime.config, runtime.deps.clock.now());
    const result = await fanOut(runtime.queue, due, { clock: runtime.deps.clock, reason: 'schedule' });
    logLine(context, result.failed.length > 0 ? 'warn' : 'info', 'fan-out', {
      sent: result.sent,
      failed: result.failed.length,
      notDue: runtime.config.mailboxes.length - due.length,
      isPastDue: timer.isPastDue,
    });
    // Timers are not retried (service-limits.md §3): the unsent mailboxes wait for the next occurrence, but the
    // invocation is marked failed so monitoring sees it.
    if (result.failed.length > 0) {
      throw new Error(`fan-out could not enqueue ${result.failed.length} of ${result.failed.length + result.sent} mailboxes (${[...new Set(result.failed.map((f) => f.detail))].join(', ')})`);
    }
    return result;
  };
}

/**
 * Mailboxes on the tenant schedule are due at every tick; a mailbox with its own schedule (OCS_MAILBOX_OVERRIDES) is
 * due when that schedule had an occurrence since the previous tick.
 */
export function dueMailboxes(config: Config, now: Date): string[] {
  const timer = parseSchedule(config.schedule);
  return config.mailboxes.filter((mailbox) => {
    const own = mailboxSchedule(config, mailbox);
    return own === config.schedule || dueAtTick(timer, parseSchedule(own), now);
  });
}

export const timerFanOutHandler = createTimerFanOutHandler(runtimeFromAppSettings);

/**
 * `%OCS_SCHEDULE%` is resolved by the host from the app setting; an unresolvable expression stops the function from
 * loading, so without the setting the default (every 15 minutes, 6-field NCRONTAB) is registered instead.
 */
export function timerSchedule(env: Readonly<Record<string, string | undefined>>): string {
  return env.OCS_SCHEDULE?.trim() ? '%OCS_SCHEDULE%' : DEFAULT_SCHEDULE;
}

app.timer('timer-fan-out', {
  schedule: timerSchedule(process.env),
  // runOnStartup would also fire on every scale-out and restart (service-limits.md §3); useMonitor keeps the
  // schedule across restarts for intervals of a minute or more.
  runOnStartup: false,
  useMonitor: true,
  handler: timerFanOutHandler,
});
