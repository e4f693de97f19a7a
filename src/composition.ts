// The composition root (DESIGN.md §8): the ONLY place that turns the loaded configuration into SDK-backed adapters.
// Entry points (functions/, src/cli/) get a Runtime from here and hand its ports to src/app; nothing else constructs
// an SDK client or reveals a secret.
import { DefaultAzureCredential, ManagedIdentityCredential, type TokenCredential } from '@azure/identity';
import { randomUUID, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { ClientCredential as GraphCredential } from './adapters/graph/auth';
import { GraphMailboxSource } from './adapters/graph/graph-mailbox-source';
import { DataverseCrmConnector, dataverseTokenProvider } from './adapters/dataverse';
import { trustedFetch, type Fetch } from './adapters/http/trusted-fetch';
import { StorageWorkQueue, type QueueConnection } from './adapters/queue/work-queue';
import { TableStateStore } from './adapters/tables/state-store';
import type { StorageConnection } from './adapters/tables/connection';
import type { CycleDeps, CycleOptions } from './app/deps';
import { ConfigError, loadConfigOrThrow, mailboxSettings, type AppRegistration, type Config, type Env } from './config';
import { DEFAULT_AUTHORITY_HOST } from './config/settings';
import type { MailboxSettings } from './core/model';
import type { Clock } from './ports/clock';
import type { LogFields, Logger } from './ports/logger';
import type { StateStore } from './ports/state-store';
import type { WorkQueue } from './ports/work-queue';

/** Everything an entry point needs: the cycle's ports, the work queue, the state store and the configuration. */
export interface Runtime {
  config: Config;
  /** The ports of runMailboxCycle, with this process's lease owner id. */
  deps: CycleDeps;
  /**
   * The ports for one invocation: its own lease owner id. Leases are re-entrant for their owner, and one host instance
   * runs several queue messages at once (host.json batchSize), so two invocations must never share an owner.
   */
  depsFor(invocationId: string): CycleDeps;
  queue: WorkQueue;
  store: StateStore;
  /** Options every cycle of this runtime uses (product GUID); callers add onProgress. */
  cycleOptions: CycleOptions;
  /** The enrolled mailbox as configured (case-insensitive match), or null when it is not enrolled. */
  enrolled(mailbox: string): string | null;
  /** Tenant defaults merged with the mailbox's overrides. */
  settingsFor(mailbox: string): MailboxSettings;
  close(): Promise<void>;
}

export interface BuildOptions {
  logger?: Logger;
  clock?: Clock;
  /** Lease owner id of this process; default host name, pid and a random suffix. */
  owner?: string;
  /**
   * Authority for the CRM's tokens when it is not the Graph one. In Azure both are login.microsoftonline.com; the
   * sandbox's Dataverse simulator issues (and accepts) only its own tokens.
   */
  crmAuthorityHost?: string;
  /** `Prefer: odata.maxpagesize` on Graph delta requests (contacts are reportedly capped at 200, service-limits.md §1). */
  graphPageSize?: number;
  /** Transport of every Graph, Dataverse and token request; default the global fetch trusting the configured extra CA. */
  fetch?: Fetch;
}

export const systemClock: Clock = { now: () => new Date() };

// ---------------------------------------------------------------------------------------------------------------
// Logging: one JSON object per line; fields carry ids and counts only (the Logger port's contract, DESIGN.md §8).

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

export function jsonLinesLogger(write: (line: string) => void, minLevel: LogLevel = 'info', base: LogFields = {}): Logger {
  const threshold = LEVELS.indexOf(minLevel);
  const emit = (level: LogLevel, message: string, fields?: LogFields) => {
    if (LEVELS.indexOf(level) < threshold) return;
    write(JSON.stringify({ at: new Date().toISOString(), level, msg: message, ...base, ...fields }));
  };
  return {
    debug: (message, fields) => emit('debug', message, fields),
    info: (message, fields) => emit('info', message, fields),
    warn: (message, fields) => emit('warn', message, fields),
    error: (message, fields) => emit('error', message, fields),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The runtime.

export function buildRuntime(config: Config, options: BuildOptions = {}): Runtime {
  const problems: string[] = [];
  const extraCaPem = readExtraCa(config, problems);
  const graphCredential = graphCredentialOf(config.app, 'OCS_CLIENT', problems);
  const crmCredential = config.crm.app === config.app ? graphCredential : graphCredentialOf(config.crm.app, 'OCS_CRM_CLIENT', problems);
  if (problems.length > 0 || !graphCredential || !crmCredential) throw new ConfigError(problems);

  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? jsonLinesLogger((line) => process.stdout.write(`${line}\n`));
  const requests = { graph: 0, crm: 0 };

  const authorityHost = authorityHostFor(config.graph.baseUrl, config.graph.authorityHost);
  const transport = options.fetch ?? trustedFetch(extraCaPem);
  const mailboxSource = new GraphMailboxSource({
    graphBaseUrl: config.graph.baseUrl,
    authorityHost,
    tenantId: config.app.tenantId,
    clientId: config.app.clientId,
    credential: graphCredential,
    extraCaPem,
    productGuid: config.productGuid,
    categoryName: (mailbox) => mailboxSettings(config, mailbox).categoryName,
    maxPageSize: options.graphPageSize ?? 100,
    maxConcurrentPerMailbox: config.graph.maxConcurrentPerMailbox,
    ...(config.graph.maxConcurrentPerApp > 0 ? { maxConcurrentPerApp: config.graph.maxConcurrentPerApp } : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
    onRequest: () => {
      requests.graph += 1;
    },
  });

  const countingFetch: Fetch = (input, init) => {
    requests.crm += 1;
    return transport(input, init);
  };
  const crm = new DataverseCrmConnector({
    environmentUrl: config.crm.url,
    fetch: countingFetch,
    getToken: dataverseTokenProvider({
      authorityHost: options.crmAuthorityHost ?? authorityHost,
      tenantId: config.crm.app.tenantId,
      clientId: config.crm.app.clientId,
      credential: crmCredential,
      environmentUrl: config.crm.url,
      // Token requests bypass the counting fetch, so the run's request counts show API calls only.
      fetch: transport,
    }),
    logger,
  });

  const storage = storageConnections(config);
  const store = new TableStateStore({ connection: storage.tables, tablePrefix: config.storage.tablePrefix });
  const queue = new StorageWorkQueue({ connection: storage.queue, queueName: config.storage.queueName });

  const deps: CycleDeps = {
    mailboxSource,
    crm,
    store,
    clock,
    logger,
    ids: () => randomUUID(),
    owner: options.owner ?? defaultOwner(),
    requestCounts: () => ({ ...requests }),
  };
  return runtimeOf(config, deps, queue);
}

/** A Runtime over ports built elsewhere (tests on the in-memory adapters, the sandbox). */
export function runtimeOf(config: Config, deps: CycleDeps, queue: WorkQueue, close: () => Promise<void> = async () => undefined): Runtime {
  const byKey = new Map(config.mailboxes.map((mailbox) => [mailbox.toLowerCase(), mailbox]));
  return {
    config,
    deps,
    depsFor: (invocationId) => ({ ...deps, owner: `${deps.owner}/${invocationId}` }),
    queue,
    store: deps.store,
    cycleOptions: { productGuid: config.productGuid },
    enrolled: (mailbox) => byKey.get(mailbox.trim().toLowerCase()) ?? null,
    settingsFor: (mailbox) => mailboxSettings(config, mailbox),
    close,
  };
}

let cached: { env: Env; runtime: Runtime } | { env: Env; error: ConfigError } | null = null;

/**
 * The Functions handlers' runtime: built once per process from the app settings. A configuration problem is thrown
 * as the same ConfigError (every problem listed, no secret) on every invocation, without re-parsing.
 */
export function runtimeFromEnv(env: Env = process.env): Runtime {
  if (cached === null || cached.env !== env) {
    try {
      const config = loadConfigOrThrow(env);
      // Info and above; the host's own filter (host.json "logging") decides what is kept.
      cached = { env, runtime: buildRuntime(config, { logger: jsonLinesLogger((line) => process.stdout.write(`${line}\n`), 'info') }) };
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      cached = { env, error };
    }
  }
  if ('error' in cached) throw cached.error;
  return cached.runtime;
}

/** Forget the cached runtime (tests; a host restart does the same). */
export function resetRuntimeCache(): void {
  cached = null;
}

// ---------------------------------------------------------------------------------------------------------------
// Credentials.

/** Sign-in hosts of the national clouds, by Graph host (graph-behaviour.md §9.6 lists the Graph hosts). */
const NATIONAL_CLOUD_AUTHORITIES: Readonly<Record<string, string>> = {
  'graph.microsoft.us': 'https://login.microsoftonline.us',
  'dod-graph.microsoft.us': 'https://login.microsoftonline.us',
  'microsoftgraph.chinacloudapi.cn': 'https://login.chinacloudapi.cn',
};

/**
 * The authority host for the configured Graph: the configuration fills in the public cloud's sign-in host when
 * OCS_AUTHORITY_HOST is unset, which cannot issue tokens for a national cloud's Graph, so that default is replaced
 * by the national cloud's own. Any other authority host is taken as configured.
 */
export function authorityHostFor(graphBaseUrl: string, configuredAuthorityHost: string): string {
  const national = NATIONAL_CLOUD_AUTHORITIES[new URL(graphBaseUrl).hostname.toLowerCase()];
  const isPublicDefault = configuredAuthorityHost.replace(/\/+$/, '').toLowerCase() === DEFAULT_AUTHORITY_HOST.toLowerCase();
  return national !== undefined && isPublicDefault ? national : configuredAuthorityHost;
}

function readExtraCa(config: Config, problems: string[]): string | undefined {
  const extra = config.graph.extraCa;
  if (extra === null) return undefined;
  if ('pem' in extra) return extra.pem;
  try {
    const pem = readFileSync(extra.path, 'utf8');
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) problems.push('OCS_EXTRA_CA_PATH (extra CA certificate file): the file holds no -----BEGIN CERTIFICATE----- block');
    return pem;
  } catch (error) {
    problems.push(`OCS_EXTRA_CA_PATH (extra CA certificate file): cannot be read (${errorCode(error)})`);
    return undefined;
  }
}

/**
 * msal-node wants a SHA-256 thumbprint and, for subject-name/issuer auth, the certificate chain (x5c). Both come
 * from the certificate block when there is one; a SHA-1 thumbprint alone is not enough for msal's PS256 assertion.
 */
function graphCredentialOf(app: AppRegistration, prefix: 'OCS_CLIENT' | 'OCS_CRM_CLIENT', problems: string[]): GraphCredential | null {
  const credential = app.credential;
  if (credential.kind === 'secret') return { secret: credential.secret.reveal() };
  let pem: string;
  let setting: string;
  if (credential.kind === 'certificatePem') {
    pem = credential.pem.reveal();
    setting = `${prefix}_CERTIFICATE_PEM`;
  } else {
    setting = `${prefix}_CERTIFICATE_PATH`;
    try {
      pem = readFileSync(credential.path, 'utf8');
    } catch (error) {
      problems.push(`${setting}: the certificate file cannot be read (${errorCode(error)})`);
      return null;
    }
  }
  const key = /-----BEGIN (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----[\s\S]+?-----END (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----/.exec(pem)?.[0];
  if (!key) {
    problems.push(`${setting}: holds no private key block`);
    return null;
  }
  const certBlock = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem)?.[0];
  let thumbprintSha256: string | null = null;
  if (certBlock) {
    try {
      thumbprintSha256 = new X509Certificate(certBlock).fingerprint256.replace(/:/g, '');
    } catch {
      problems.push(`${setting}: the certificate block cannot be parsed`);
      return null;
    }
  }
  const given = credential.thumbprint;
  if (given?.algorithm === 'sha256') thumbprintSha256 ??= given.hex;
  if (thumbprintSha256 === null) {
    problems.push(`${prefix}_CERTIFICATE_THUMBPRINT: a SHA-1 thumbprint needs the certificate block next to the key (to compute SHA-256); add it or give the SHA-256 thumbprint`);
    return null;
  }
  return { certificate: { thumbprintSha256, privateKey: key, ...(certBlock ? { x5c: certBlock } : {}) } };
}

function storageConnections(config: Config): { tables: StorageConnection; queue: QueueConnection } {
  const connection = config.storage.connection;
  if (connection.kind === 'connectionString') {
    const connectionString = connection.connectionString.reveal();
    return { tables: { connectionString }, queue: { connectionString } };
  }
  // Managed identity in Azure; DefaultAzureCredential also picks up a developer's az/VS Code sign-in locally.
  const credential: TokenCredential = connection.managedIdentityClientId
    ? new ManagedIdentityCredential({ clientId: connection.managedIdentityClientId })
    : new DefaultAzureCredential();
  return {
    tables: { accountUrl: connection.tableServiceUrl, credential },
    queue: { serviceUrl: connection.queueServiceUrl, credential },
  };
}

function defaultOwner(): string {
  const instance = process.env.WEBSITE_INSTANCE_ID?.slice(0, 12) ?? os.hostname();
  return `${instance}:${process.pid}:${randomUUID().slice(0, 8)}`;
}

function errorCode(error: unknown): string {
  return typeof error === 'object' && error !== null && 'code' in error ? String((error as { code: unknown }).code) : 'error';
}
