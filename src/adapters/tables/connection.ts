// How the Table Storage adapter reaches its account, and how storage errors become the port's error types
// (src/ports/errors.ts). The SDK's pipeline is the only retry layer (DESIGN.md §4): nothing here retries.
import type { TokenCredential } from '@azure/identity';
import { RestError, TableClient, type TableServiceClientOptions } from '@azure/data-tables';
import { AuthError, ConcurrencyError, ItemRejectedError, TransientError } from '../../ports/errors';

export type StorageConnection =
  | { connectionString: string }
  /** Managed identity (or any Entra credential) against the account's table endpoint, e.g. https://acct.table.core.windows.net. */
  | { accountUrl: string; credential: TokenCredential };

export function createTableClient(connection: StorageConnection, tableName: string, options: TableServiceClientOptions = {}): TableClient {
  if ('connectionString' in connection) {
    const insecure = /(^|;)\s*(DefaultEndpointsProtocol=http\s*(;|$)|TableEndpoint=http:|UseDevelopmentStorage=true)/i.test(connection.connectionString);
    return TableClient.fromConnectionString(connection.connectionString, tableName, { allowInsecureConnection: insecure, ...options });
  }
  const insecure = new URL(connection.accountUrl).protocol === 'http:';
  return new TableClient(connection.accountUrl, tableName, connection.credential, { allowInsecureConnection: insecure, ...options });
}

/** Table names: letters and digits, starting with a letter, 3–63 characters. */
export function tableName(prefix: string, base: string): string {
  const name = `${prefix}${base}`;
  if (!/^[A-Za-z][A-Za-z0-9]{2,62}$/.test(name)) throw new Error(`table name ${name} is not valid: use letters and digits only`);
  return name;
}

export function statusOf(error: unknown): number | undefined {
  return error instanceof RestError ? error.statusCode : undefined;
}

const TRANSIENT_STATUSES = new Set([408, 429, 500, 502, 503, 504]);

/** Translates a storage failure into the port's error vocabulary, keeping the original as the cause. */
export function translateStorageError(error: unknown, what: string): Error {
  if (!(error instanceof RestError)) return error instanceof Error ? error : new Error(`${what}: ${String(error)}`);
  const status = error.statusCode;
  const detail = `${what}: ${status ?? 'network'} ${error.code ?? ''}`.trim();
  if (status === undefined) return new TransientError(detail, null, { cause: error });
  if (status === 409 || status === 412 || status === 404) return new ConcurrencyError(detail, { cause: error });
  if (status === 401 || status === 403) return new AuthError(detail, { cause: error });
  if (TRANSIENT_STATUSES.has(status)) return new TransientError(detail, retryAfterMs(error), { cause: error });
  if (status === 400 || status === 413) return new ItemRejectedError('storage-rejected', detail, { cause: error });
  return error;
}

function retryAfterMs(error: RestError): number | null {
  const header = error.response?.headers.get('retry-after');
  if (!header) return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return seconds * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? null : Math.max(0, at - Date.now());
}
