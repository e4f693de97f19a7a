// The composition root as the Functions host uses it: the runtime built once from app settings, configuration
// errors reported once with every problem and no secret, and certificate credentials checked before any request.
import { generateKeyPairSync } from 'node:crypto';
import { StorageWorkQueue } from '../../src/adapters/queue/work-queue';
import { TableStateStore } from '../../src/adapters/tables/state-store';
import { buildRuntime, jsonLinesLogger, resetRuntimeCache, runtimeFromEnv } from '../../src/composition';
import { ConfigError, loadConfigOrThrow } from '../../src/config';
import { TEST_ENV } from './support';

const SECRET = 'Qx7~do-not-print-this-secret';

afterEach(() => resetRuntimeCache());

describe('runtimeFromEnv', () => {
  it('builds the runtime once per process and hands out the same one', () => {
    const env = { ...TEST_ENV };
    const first = runtimeFromEnv(env);
    expect(runtimeFromEnv(env)).toBe(first);
    expect(first.config.mailboxes).toEqual(['alice@contoso.example', 'bob@contoso.example']);
    expect(first.enrolled('BOB@CONTOSO.EXAMPLE')).toBe('bob@contoso.example');
    expect(first.enrolled('carol@contoso.example')).toBeNull();
    expect(first.cycleOptions.productGuid).toBe(first.config.productGuid);
  });

  it('throws one ConfigError listing every problem, without the secret, on every call', () => {
    const env = { OCS_CLIENT_SECRET: SECRET, OCS_TENANT_ID: 'common', OCS_CRM_URL: 'ftp://crm' };
    let first: unknown = null;
    try {
      runtimeFromEnv(env);
    } catch (error) {
      first = error;
    }
    expect(first).toBeInstanceOf(ConfigError);
    const problems = (first as ConfigError).problems;
    expect(problems.map((p) => p.split(' ')[0])).toEqual(expect.arrayContaining(['OCS_TENANT_ID', 'OCS_CLIENT_ID', 'OCS_CRM_URL', 'OCS_MAILBOXES', 'AzureWebJobsStorage']));
    expect((first as ConfigError).message).not.toContain(SECRET);
    expect(() => runtimeFromEnv(env)).toThrow(first as Error);
  });
});

describe('buildRuntime credentials', () => {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const base = { ...TEST_ENV, OCS_CLIENT_SECRET: undefined };

  it('accepts a private key with a SHA-256 thumbprint', () => {
    const config = loadConfigOrThrow({ ...base, OCS_CLIENT_CERTIFICATE_PEM: keyPem, OCS_CLIENT_CERTIFICATE_THUMBPRINT: 'AB'.repeat(32) });
    expect(() => buildRuntime(config, { logger: jsonLinesLogger(() => undefined) })).not.toThrow();
  });

  it('refuses a SHA-1 thumbprint without the certificate block (msal-node signs with SHA-256), naming the setting', () => {
    const config = loadConfigOrThrow({ ...base, OCS_CLIENT_CERTIFICATE_PEM: keyPem, OCS_CLIENT_CERTIFICATE_THUMBPRINT: 'AB'.repeat(20) });
    expect(() => buildRuntime(config)).toThrow(/OCS_CLIENT_CERTIFICATE_THUMBPRINT: a SHA-1 thumbprint needs the certificate block/);
  });

  it('reports an unreadable certificate file and extra CA file together', () => {
    const config = loadConfigOrThrow({
      ...base,
      OCS_CLIENT_CERTIFICATE_PATH: '/nonexistent/client.pem',
      OCS_CLIENT_CERTIFICATE_THUMBPRINT: 'CD'.repeat(32),
      OCS_EXTRA_CA_PATH: '/nonexistent/ca.pem',
    });
    let error: unknown = null;
    try {
      buildRuntime(config);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      'OCS_EXTRA_CA_PATH (extra CA certificate file): cannot be read (ENOENT)',
      'OCS_CLIENT_CERTIFICATE_PATH: the certificate file cannot be read (ENOENT)',
    ]);
  });
});

describe('buildRuntime storage', () => {
  it('reaches storage with a managed identity when no connection string is set', () => {
    const config = loadConfigOrThrow({ ...TEST_ENV, AzureWebJobsStorage: undefined, AzureWebJobsStorage__accountName: 'ocsprod', AzureWebJobsStorage__clientId: '22222222-3333-4444-8555-666666666666' });
    const runtime = buildRuntime(config, { logger: jsonLinesLogger(() => undefined) });
    expect(runtime.store).toBeInstanceOf(TableStateStore);
    expect((runtime.queue as StorageWorkQueue).client.url).toBe('https://ocsprod.queue.core.windows.net/mailbox-sync');
  });
});

describe('jsonLinesLogger', () => {
  it('writes one JSON object per line at or above its level', () => {
    const lines: string[] = [];
    const logger = jsonLinesLogger((line) => lines.push(line), 'info', { instance: 'w1' });
    logger.debug('hidden', { n: 1 });
    logger.info('cycle finished', { runId: 'r1', failures: 0 });
    logger.error('cycle failed', { reason: 'auth' });
    expect(lines.map((line) => JSON.parse(line) as Record<string, unknown>)).toEqual([
      expect.objectContaining({ level: 'info', msg: 'cycle finished', runId: 'r1', failures: 0, instance: 'w1' }),
      expect.objectContaining({ level: 'error', msg: 'cycle failed', reason: 'auth' }),
    ]);
  });
});
