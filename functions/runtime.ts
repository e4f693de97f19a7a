// Shared plumbing of the Functions entry points: where a handler gets its Runtime (the composition root, once per
// process) and how it answers HTTP callers when the configuration is broken.
import type { HttpResponseInit, InvocationContext } from '@azure/functions';
import { runtimeFromEnv, type Runtime } from '../src/composition';
import { ConfigError } from '../src/config';

/** Tests pass a Runtime built on the in-memory adapters; the host gets the one built from its app settings. */
export type RuntimeProvider = () => Runtime;

export const runtimeFromAppSettings: RuntimeProvider = () => runtimeFromEnv(process.env);

export function json(status: number, body: unknown): HttpResponseInit {
  return { status, jsonBody: body, headers: { 'Cache-Control': 'no-store' } };
}

/** A ConfigError becomes a 500 that lists every problem (they name settings, never values); anything else is rethrown. */
export function configErrorResponse(error: unknown, context: InvocationContext): HttpResponseInit {
  if (!(error instanceof ConfigError)) throw error;
  context.error(error.message);
  return json(500, { error: 'the worker is not configured correctly', problems: error.problems });
}

/** Log one structured line through the invocation's logger (ids and counts only, DESIGN.md §8). */
export function logLine(context: InvocationContext, level: 'info' | 'warn' | 'error', message: string, fields: Record<string, string | number | boolean | null>): void {
  const line = JSON.stringify({ msg: message, invocationId: context.invocationId, ...fields });
  if (level === 'info') context.info(line);
  else if (level === 'warn') context.warn(line);
  else context.error(line);
}
