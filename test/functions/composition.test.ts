// The composition root as the Functions host uses it: the runtime built once from app settings, configuration
// errors reported once with every problem and no secret, certificate credentials checked before any request, and
// the token requests (scope, national-cloud authority) as they go over the wire.
import { generateKeyPairSync } from 'node:crypto';
import { StorageWorkQueue } from '../../src/adapters/queue/work-queue';
import { TableStateStore } from '../../src/adapters/tables/state-store';
import { trustedFetch, type Fetch } from '../../src/adapters/http/trusted-fetch';
import { authorityHostFor, buildRuntime, jsonLinesLogger, resetRuntimeCache, runtimeFromEnv } from '../../src/composition';
import { ConfigError, loadConfigOrThrow } from '../../src/config';
import { AuthError, TransientError } from '../../src/ports/errors';
import { startDataverseSimulator } from '../../src/simulators/dataverse';
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

describe('buildRuntime token requests', () => {
  /** Every request the runtime sends, by URL; only the Dataverse simulator's identity routes are reached for real. */
  function recordingFetch(identity: { host: string; fetch: Fetch } | null): { fetch: Fetch; urls: string[]; bodies: string[] } {
    const urls: string[] = [];
    const bodies: string[] = [];
    const fetch: Fetch = async (input, init) => {
      const url = String(input);
      urls.push(url);
      bodies.push(typeof init?.body === 'string' ? init.body : '');
      if (identity && new URL(url).host === identity.host) return identity.fetch(input, init);
      throw new TypeError('fetch failed: no network in this test');
    };
    return { fetch, urls, bodies };
  }

  it('asks for the CRM token scope of the environment URL without `.api.` (dataverse-behaviour.md §5)', async () => {
    const dataverse = await startDataverseSimulator();
    try {
      const identityHost = new URL(dataverse.baseUrl).host;
      const recorded = recordingFetch({ host: identityHost, fetch: trustedFetch(dataverse.caCert ?? undefined) });
      // `.test` never resolves (RFC 6761): the API request cannot leave the machine.
      const config = loadConfigOrThrow({ ...TEST_ENV, OCS_CRM_URL: 'https://contoso.api.crm4.dynamics.test' });
      const runtime = buildRuntime(config, { logger: jsonLinesLogger(() => undefined), crmAuthorityHost: dataverse.baseUrl, fetch: recorded.fetch });
      await expect(runtime.deps.crm.resolveUser('alice@contoso.example')).rejects.toBeInstanceOf(TransientError);
      const tokenRequest = recorded.urls.findIndex((url) => new URL(url).pathname.endsWith('/oauth2/v2.0/token'));
      expect(new URLSearchParams(recorded.bodies[tokenRequest]).get('scope')).toBe('https://contoso.crm4.dynamics.test/.default');
      // the API itself is still called on the configured host
      expect(recorded.urls.filter((url) => new URL(url).host !== identityHost).map((url) => new URL(url).origin)).toEqual(['https://contoso.api.crm4.dynamics.test']);
    } finally {
      await dataverse.stop();
    }
  });

  it.each([
    ['https://graph.microsoft.us', undefined, 'login.microsoftonline.us'],
    ['https://dod-graph.microsoft.us', undefined, 'login.microsoftonline.us'],
    ['https://microsoftgraph.chinacloudapi.cn', undefined, 'login.chinacloudapi.cn'],
    ['https://graph.microsoft.com', undefined, 'login.microsoftonline.com'],
    // an explicit authority other than the public default is kept
    ['https://graph.microsoft.us', 'https://login.sovereign.example', 'login.sovereign.example'],
  ])('Graph at %s with OCS_AUTHORITY_HOST=%s signs in at %s, for Graph and CRM tokens alike', async (graphUrl, authority, expectedHost) => {
    const recorded = recordingFetch(null);
    const env: Record<string, string | undefined> = { ...TEST_ENV, OCS_GRAPH_BASE_URL: graphUrl, OCS_AUTHORITY_HOST: authority };
    const runtime = buildRuntime(loadConfigOrThrow(env), { logger: jsonLinesLogger(() => undefined), fetch: recorded.fetch });
    await expect(runtime.deps.crm.resolveUser('alice@contoso.example')).rejects.toBeInstanceOf(AuthError);
    const crmSignIn = recorded.urls.map((url) => new URL(url).host);
    recorded.urls.length = 0;
    await expect(runtime.deps.mailboxSource.listStreams('alice@contoso.example')).rejects.toThrow();
    const graphSignIn = recorded.urls.map((url) => new URL(url).host);
    expect(crmSignIn.length).toBeGreaterThan(0);
    expect(new Set(crmSignIn)).toEqual(new Set([expectedHost]));
    expect(graphSignIn.length).toBeGreaterThan(0);
    expect(new Set(graphSignIn)).toEqual(new Set([expectedHost]));
  });

  it('authorityHostFor replaces only the public default, and only for the national clouds', () => {
    expect(authorityHostFor('https://graph.microsoft.us', 'https://login.microsoftonline.com')).toBe('https://login.microsoftonline.us');
    expect(authorityHostFor('https://localhost:8443', 'https://login.microsoftonline.com')).toBe('https://login.microsoftonline.com');
    expect(authorityHostFor('https://graph.microsoft.us', 'https://localhost:8443')).toBe('https://localhost:8443');
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
