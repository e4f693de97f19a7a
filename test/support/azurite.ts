// Starts Azurite (the Table Storage / Queue emulator) from node_modules for one test suite, on free loopback ports, in
// memory. Each jest worker runs its own instances, so suites can run in parallel without sharing state.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** The emulator's well-known development account (public, documented by Azurite; not a secret). */
export const DEV_ACCOUNT = 'devstoreaccount1';
export const DEV_ACCOUNT_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

const HOST = '127.0.0.1';
const AZURITE_DIST = path.resolve(__dirname, '../../node_modules/azurite/dist/src');
const MAX_START_ATTEMPTS = 5;
const READY_TIMEOUT_MS = 20_000;

export interface AzuriteInstance {
  tableUrl: string | null;
  queueUrl: string | null;
  connectionString: string;
  stop(): Promise<void>;
}

type Service = 'table' | 'queue';

interface RunningService {
  url: string;
  child: ChildProcess;
}

const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of liveChildren) child.kill('SIGKILL');
  });
}

export async function startAzurite(options: { table?: boolean; queue?: boolean } = {}): Promise<AzuriteInstance> {
  installExitHook();
  const workspace = mkdtempSync(path.join(os.tmpdir(), 'azurite-'));
  const started: RunningService[] = [];
  try {
    const table = options.table ? await startService('table', workspace) : null;
    if (table) started.push(table);
    const queue = options.queue ? await startService('queue', workspace) : null;
    if (queue) started.push(queue);
    const parts = [
      'DefaultEndpointsProtocol=http',
      `AccountName=${DEV_ACCOUNT}`,
      `AccountKey=${DEV_ACCOUNT_KEY}`,
      ...(table ? [`TableEndpoint=${table.url}`] : []),
      ...(queue ? [`QueueEndpoint=${queue.url}`] : []),
    ];
    return {
      tableUrl: table?.url ?? null,
      queueUrl: queue?.url ?? null,
      connectionString: `${parts.join(';')};`,
      stop: async () => {
        await Promise.all(started.map((s) => stopChild(s.child)));
        rmSync(workspace, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await Promise.all(started.map((s) => stopChild(s.child)));
    rmSync(workspace, { recursive: true, force: true });
    throw error;
  }
}

async function startService(service: Service, workspace: string): Promise<RunningService> {
  let lastError: unknown = null;
  // Another process can take the port between our probe and Azurite's bind (EADDRINUSE): pick again.
  for (let attempt = 0; attempt < MAX_START_ATTEMPTS; attempt++) {
    const port = await freePort();
    try {
      const child = await spawnService(service, port, workspace);
      return { url: `http://${HOST}:${port}/${DEV_ACCOUNT}`, child };
    } catch (error) {
      lastError = error;
    }
  }
  throw new Error(`Azurite ${service} did not start after ${MAX_START_ATTEMPTS} attempts`, { cause: lastError });
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

function spawnService(service: Service, port: number, workspace: string): Promise<ChildProcess> {
  const args = [
    path.join(AZURITE_DIST, service, 'main.js'),
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
  // --location cannot be combined with --inMemoryPersistence; the working directory keeps any stray file out of the repo.
  const child = spawn(process.execPath, args, { cwd: workspace, stdio: ['ignore', 'ignore', 'pipe'] });
  liveChildren.add(child);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-4000);
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
  liveChildren.delete(child);
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
