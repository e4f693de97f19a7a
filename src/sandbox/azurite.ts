// Azurite (the Table Storage and Queue emulator, a dev dependency), spawned from node_modules with in-memory
// persistence on free loopback ports and stopped with its owner: the sandbox, the benchmarks and the tests
// (test/support/azurite.ts) all start it through here, so there is one launcher. It lives in src/ because the CLI
// ships it and test/ is not built.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** Azurite's well-known development account: public and documented, not a secret. */
export const DEV_ACCOUNT = 'devstoreaccount1';
export const DEV_ACCOUNT_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 20_000;
const START_ATTEMPTS = 4;

export interface AzuriteProcess {
  tableUrl: string;
  queueUrl: string;
  connectionString: string;
  stop(): Promise<void>;
}

type Service = 'table' | 'queue';

function azuriteMain(service: Service): string {
  let packageJson: string;
  try {
    packageJson = require.resolve('azurite/package.json');
  } catch {
    throw new Error('Azurite is not installed: the sandbox needs the dev dependencies (npm ci)');
  }
  return path.join(path.dirname(packageJson), 'dist', 'src', service, 'main.js');
}

export interface AzuriteOptions {
  /**
   * Look entities up by RowKey first (see KEYED_LOOKUP_PRELOAD). Same results, but a point operation no longer scans
   * the whole partition, so a large mailbox does not make every Table request slower. Off unless asked for.
   */
  keyedPointLookups?: boolean;
}

export async function startAzurite(options: AzuriteOptions = {}): Promise<AzuriteProcess> {
  const started = await startAzuriteServices({ table: true, queue: true }, options);
  return { ...started, tableUrl: started.tableUrl as string, queueUrl: started.queueUrl as string };
}

export interface AzuriteServices {
  tableUrl: string | null;
  queueUrl: string | null;
  connectionString: string;
  stop(): Promise<void>;
}

// A process that exits without stopping its emulators (a test worker that crashed) must not leave them running.
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * Azurite keeps each table in a LokiJS collection with binary indexes on PartitionKey and RowKey, and finds an entity
 * with `findOne({ PartitionKey, RowKey })`. LokiJS uses an index for the first field only, so every point read, and
 * every insert, update or delete (each looks the entity up first), walks the whole partition: O(partition), and a
 * first sync that adds rows to one mailbox's partition becomes O(n²). Azure Table Storage finds an entity by its keys
 * directly. This preload, given to Azurite's process with `--require`, asks LokiJS for the same two equalities in the
 * other order, RowKey first, so the RowKey index narrows the search to the rows with that RowKey (one per partition).
 * The matched entity is the same (PartitionKey + RowKey is unique); only the order of the two filters changes.
 */
const KEYED_LOOKUP_PRELOAD = `'use strict';
const Loki = require(process.env.OCS_AZURITE_LOKIJS);
const findOne = Loki.Collection.prototype.findOne;
Loki.Collection.prototype.findOne = function (query) {
  if (query && typeof query === 'object' && Object.keys(query).length === 2 && typeof query.PartitionKey === 'string' &&
      typeof query.RowKey === 'string' && this.binaryIndices && this.binaryIndices.RowKey) {
    return findOne.call(this, { RowKey: query.RowKey, PartitionKey: query.PartitionKey });
  }
  return findOne.call(this, query);
};
`;

/** Starts the chosen services; the connection string names only those. */
export async function startAzuriteServices(services: { table: boolean; queue: boolean }, options: AzuriteOptions = {}): Promise<AzuriteServices> {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => liveChildren.forEach((child) => child.kill('SIGKILL')));
  }
  const workspace = mkdtempSync(path.join(os.tmpdir(), 'ocs-azurite-'));
  const children: ChildProcess[] = [];
  const stopAll = async () => {
    await Promise.all(children.map(stopChild));
    children.forEach((child) => liveChildren.delete(child));
    rmSync(workspace, { recursive: true, force: true });
  };
  const preload = options.keyedPointLookups === true ? writePreload(workspace) : null;
  const launch = async (service: Service) => {
    const started = await startService(service, workspace, service === 'table' ? preload : null);
    children.push(started.child);
    liveChildren.add(started.child);
    return started.url;
  };
  try {
    const tableUrl = services.table ? await launch('table') : null;
    const queueUrl = services.queue ? await launch('queue') : null;
    const connectionString = [
      'DefaultEndpointsProtocol=http',
      `AccountName=${DEV_ACCOUNT}`,
      `AccountKey=${DEV_ACCOUNT_KEY}`,
      ...(tableUrl ? [`TableEndpoint=${tableUrl}`] : []),
      ...(queueUrl ? [`QueueEndpoint=${queueUrl}`] : []),
    ].join(';');
    return { tableUrl, queueUrl, connectionString, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

function writePreload(workspace: string): { file: string; lokijs: string } {
  const file = path.join(workspace, 'keyed-point-lookups.js');
  writeFileSync(file, KEYED_LOOKUP_PRELOAD);
  // The LokiJS module Azurite itself loads, resolved from Azurite's own directory.
  const lokijs = require.resolve('lokijs', { paths: [path.dirname(require.resolve('azurite/package.json'))] });
  return { file, lokijs };
}

async function startService(
  service: Service,
  workspace: string,
  preload: { file: string; lokijs: string } | null,
): Promise<{ url: string; child: ChildProcess }> {
  let lastError: unknown = null;
  // The port can be taken between the probe and Azurite's bind: pick another.
  for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
    const port = await freePort();
    try {
      const child = await spawnService(service, port, workspace, preload);
      return { url: `http://${HOST}:${port}/${DEV_ACCOUNT}`, child };
    } catch (error) {
      lastError = error;
    }
  }
  throw new Error(`Azurite ${service} did not start`, { cause: lastError });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function spawnService(service: Service, port: number, workspace: string, preload: { file: string; lokijs: string } | null): Promise<ChildProcess> {
  const args = [
    ...(preload ? ['--require', preload.file] : []),
    azuriteMain(service),
    '--inMemoryPersistence',
    '--disableTelemetry',
    '--skipApiVersionCheck',
    '--loose',
    '--silent',
    `--${service}Host`,
    HOST,
    `--${service}Port`,
    String(port),
  ];
  const env = preload ? { ...process.env, OCS_AZURITE_LOKIJS: preload.lokijs } : process.env;
  const child = spawn(process.execPath, args, { cwd: workspace, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-2000);
  });
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (reason: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void stopChild(child);
      reject(new Error(`Azurite ${service} on port ${port}: ${reason}\n${stderr}`));
    };
    const timer = setTimeout(() => fail('not ready in time'), READY_TIMEOUT_MS);
    child.once('exit', (code) => fail(`exited with code ${String(code)}`));
    const poll = async () => {
      while (!settled) {
        if (await portAnswers(port)) {
          settled = true;
          clearTimeout(timer);
          resolve(child);
          return;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    void poll();
  });
}

function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: HOST, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
