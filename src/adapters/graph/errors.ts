// GraphError (SDK) → the port's errors (src/ports/errors.ts). The app branches on these with instanceof.
import { GraphError } from '@microsoft/microsoft-graph-client';
import { AuthError, ConcurrencyError, InvariantError, ItemRejectedError, ResyncRequiredError, TransientError } from '../../ports/errors';
import { parseRetryAfter } from './retry';

const PORT_ERRORS = [TransientError, AuthError, ResyncRequiredError, ConcurrencyError, ItemRejectedError, InvariantError];

/** graph-behaviour.md §1.6: match case-insensitively; live responses and docs differ in casing. */
const RESYNC_CODES = new Set(['syncstatenotfound', 'resyncrequired', 'syncstateinvalid']);

export function isResyncSignal(status: number, code: string | null | undefined): boolean {
  return status === 410 || RESYNC_CODES.has((code ?? '').toLowerCase());
}

/** A stable reason code for an item the service refused, e.g. `graph-400-ErrorInvalidProperty`. */
export function reasonCode(status: number, code: string | null | undefined): string {
  return `graph-${status}-${code && code !== '' ? code : 'unknown'}`;
}

/** Translates a service status (direct response or `$batch` sub-response) into a port error. */
export function errorForStatus(status: number, code: string | null, message: string, retryAfterMs: number | null, cause?: unknown): Error {
  if (status === 429 || status === 503 || status === 504 || status >= 500) {
    return new TransientError(`Graph ${status} ${code ?? ''}: ${message}`, retryAfterMs, { cause });
  }
  if (status === 401 || status === 403) return new AuthError(`Graph ${status} ${code ?? ''}: ${message}`, { cause });
  if (status === 412) return new ConcurrencyError(`Graph 412 ${code ?? ''}: ${message}`, { cause });
  return new ItemRejectedError(reasonCode(status, code), `Graph ${status} ${code ?? ''}: ${message}`, { cause });
}

export function translateGraphError(error: unknown, now: number = Date.now()): Error {
  if (PORT_ERRORS.some((type) => error instanceof type)) return error as Error;
  if (error instanceof GraphError) {
    if (error.statusCode === -1) {
      // Thrown inside the middleware chain (token acquisition, network): the SDK wraps it with code = error name.
      if (error.code === 'TokenAcquisitionError') return new AuthError(error.message, { cause: error });
      return new TransientError(`Graph request failed: ${error.message}`, null, { cause: error });
    }
    const retryAfter = parseRetryAfter(error.headers?.get('Retry-After'), now);
    return errorForStatus(error.statusCode, error.code, error.message, retryAfter, error);
  }
  if (error instanceof Error) return error;
  return new Error(String(error));
}
