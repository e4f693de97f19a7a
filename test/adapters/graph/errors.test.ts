// GraphError → the port's errors (DESIGN.md §8: a type only where the caller acts differently).
import { GraphError } from '@microsoft/microsoft-graph-client';
import { errorForStatus, isResyncSignal, translateGraphError } from '../../../src/adapters/graph/errors';
import { AuthError, ConcurrencyError, ItemRejectedError, TransientError } from '../../../src/ports/errors';

function graphError(status: number, code: string | null, headers?: Record<string, string>): GraphError {
  const error = new GraphError(status, 'message');
  error.code = code;
  if (headers) error.headers = new Headers(headers);
  return error;
}

describe('Graph error translation', () => {
  it('recognises every documented resync signal, case-insensitively (graph-behaviour.md §1.6)', () => {
    expect(isResyncSignal(410, null)).toBe(true);
    expect(isResyncSignal(400, 'syncStateNotFound')).toBe(true);
    expect(isResyncSignal(404, 'SyncStateNotFound')).toBe(true);
    expect(isResyncSignal(400, 'resyncRequired')).toBe(true);
    expect(isResyncSignal(400, 'RESYNCREQUIRED')).toBe(true);
    expect(isResyncSignal(400, 'ErrorInvalidRequest')).toBe(false);
    expect(isResyncSignal(404, 'ErrorItemNotFound')).toBe(false);
  });

  it('429/503/504 and other 5xx → TransientError with Retry-After in ms', () => {
    const throttled = translateGraphError(graphError(429, 'TooManyRequests', { 'Retry-After': '2.5' }));
    expect(throttled).toBeInstanceOf(TransientError);
    expect((throttled as TransientError).retryAfterInMs).toBe(2_500);
    expect(translateGraphError(graphError(504, 'GatewayTimeout'))).toBeInstanceOf(TransientError);
    expect((translateGraphError(graphError(500, 'InternalServerError')) as TransientError).retryAfterInMs).toBeNull();
  });

  it('401/403 → AuthError, 412 → ConcurrencyError, other 4xx → ItemRejectedError with a reason code', () => {
    expect(translateGraphError(graphError(401, 'InvalidAuthenticationToken'))).toBeInstanceOf(AuthError);
    expect(translateGraphError(graphError(403, 'ErrorAccessDenied'))).toBeInstanceOf(AuthError);
    expect(translateGraphError(graphError(412, 'ErrorIrresolvableConflict'))).toBeInstanceOf(ConcurrencyError);
    const rejected = translateGraphError(graphError(400, 'ErrorInvalidProperty'));
    expect(rejected).toBeInstanceOf(ItemRejectedError);
    expect((rejected as ItemRejectedError).reason).toBe('graph-400-ErrorInvalidProperty');
    // §5.3: a sub-response may carry an empty code.
    expect((errorForStatus(403, '', '', null) as Error).name).toBe('AuthError');
    expect((errorForStatus(409, '', '', null) as ItemRejectedError).reason).toBe('graph-409-unknown');
  });

  it('failures inside the middleware chain: token acquisition → AuthError, network → TransientError', () => {
    const token = new GraphError(-1, 'token acquisition failed');
    token.code = 'TokenAcquisitionError';
    expect(translateGraphError(token)).toBeInstanceOf(AuthError);
    const network = new GraphError(-1, 'fetch failed');
    network.code = 'TypeError';
    expect(translateGraphError(network)).toBeInstanceOf(TransientError);
  });

  it('passes port errors through untouched', () => {
    const original = new ConcurrencyError('x');
    expect(translateGraphError(original)).toBe(original);
  });
});
