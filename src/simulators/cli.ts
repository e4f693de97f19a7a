// `npm run simulate`: the Graph and Dataverse simulators standalone, for poking at the worker (or anything else) by
// hand. Prints their URLs, writes the CA certificate to trust (NODE_EXTRA_CA_CERTS / OCS_EXTRA_CA_PATH) and lists the
// control routes. The Graph simulator serves its own `/_sim/...` routes (graph/control.ts); the Dataverse simulator's
// control object is served here over plain HTTP on loopback, on a port of its own.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { seedDemo } from '../sandbox/seed';
import { startDataverseSimulator, type DataverseSimulator } from './dataverse';
import { startGraphSimulator, type GraphSimulator } from './graph';

export const DEFAULT_PORTS = { graph: 8443, dataverse: 8444, control: 8445 } as const;

export const USAGE = `Usage: npm run simulate -- [options]

Starts the Microsoft Graph and Dataverse simulators on loopback (HTTPS with a start-up certificate).

Options:
  --graph-port N       Graph simulator port (default ${DEFAULT_PORTS.graph}; 0 picks a free one)
  --dataverse-port N   Dataverse simulator port (default ${DEFAULT_PORTS.dataverse})
  --control-port N     Dataverse control routes, plain HTTP (default ${DEFAULT_PORTS.control})
  --ca-out FILE        where to write the CA certificate (default .sandbox/simulator-ca.pem)
  --seed MAILBOX       create MAILBOX in both simulators with the sandbox's demo data
  -h, --help           show this help`;

export interface SimulatorOptions {
  graphPort: number;
  dataversePort: number;
  controlPort: number;
  caOut: string;
  seed: string | null;
}

export function parseSimulatorArgs(argv: readonly string[]): SimulatorOptions | { error: string } | 'help' {
  const options: SimulatorOptions = {
    graphPort: DEFAULT_PORTS.graph,
    dataversePort: DEFAULT_PORTS.dataverse,
    controlPort: DEFAULT_PORTS.control,
    caOut: path.join('.sandbox', 'simulator-ca.pem'),
    seed: null,
  };
  const ports = { '--graph-port': 'graphPort', '--dataverse-port': 'dataversePort', '--control-port': 'controlPort' } as const;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '-h' || arg === '--help') return 'help';
    const value = argv[i + 1];
    if (arg in ports) {
      const port = Number(value);
      if (value === undefined || !Number.isInteger(port) || port < 0 || port > 65535) return { error: `${arg} needs a port number from 0 to 65535` };
      options[ports[arg as keyof typeof ports]] = port;
      i++;
    } else if (arg === '--ca-out' || arg === '--seed') {
      if (value === undefined || value.startsWith('--')) return { error: `${arg} needs a value` };
      if (arg === '--ca-out') options.caOut = value;
      else options.seed = value;
      i++;
    } else return { error: `unknown argument: ${arg}` };
  }
  return options;
}

export interface RunningSimulators {
  graph: GraphSimulator;
  dataverse: DataverseSimulator;
  controlUrl: string;
  caPath: string;
  describe(): string[];
  stop(): Promise<void>;
}

export async function startSimulators(options: SimulatorOptions): Promise<RunningSimulators> {
  const graph = await startGraphSimulator({ port: options.graphPort });
  let dataverse: DataverseSimulator | null = null;
  let control: http.Server | null = null;
  try {
    dataverse = await startDataverseSimulator({ port: options.dataversePort });
    control = await serveDataverseControl(dataverse, options.controlPort);
  } catch (error) {
    await dataverse?.stop();
    await graph.stop();
    throw error;
  }
  const caPath = path.resolve(options.caOut);
  mkdirSync(path.dirname(caPath), { recursive: true });
  writeFileSync(caPath, graph.caCert);
  if (options.seed) seedDemo(graph, dataverse, options.seed);
  const controlUrl = `http://127.0.0.1:${(control.address() as AddressInfo).port}/`;
  const dv = dataverse;
  const server = control;
  return {
    graph,
    dataverse: dv,
    controlUrl,
    caPath,
    describe: () => [
      `Graph simulator      ${graph.baseUrl}  (Graph API under ${graph.baseUrl}v1.0/, Entra token endpoint ${graph.tokenEndpoint.tokenUrl('<tenant>')})`,
      `Dataverse simulator  ${dv.baseUrl}  (Web API ${dv.apiUrl}, its own token endpoint ${dv.control.identity().tokenUrl('<tenant>')})`,
      `CA certificate       ${caPath}`,
      `                     trust it with NODE_EXTRA_CA_CERTS=${caPath} or OCS_EXTRA_CA_PATH=${caPath}`,
      '',
      `Graph control (${graph.baseUrl}_sim/…, JSON, no auth):`,
      '  GET  /_sim/users · POST /_sim/users {userPrincipalName, displayName?} · GET /_sim/users/{upn}/folders',
      '  POST /_sim/users/{upn}/messages {folder, …message} · GET /_sim/users/{upn}/items?kind=contact|event|todoTask|message',
      '  POST /_sim/users/{upn}/evict-tokens · POST /_sim/evict-tokens · GET|PATCH /_sim/knobs',
      '  GET|DELETE /_sim/requests · POST /_sim/clock {now?, advanceMs?}',
      `Dataverse control (${controlUrl}_sim/…, JSON, no auth):`,
      '  GET /_sim/users · POST /_sim/users {fullname, internalemailaddress, azureactivedirectoryobjectid}',
      '  GET /_sim/tables/{entitySet}[/{id}] · POST /_sim/tables/{entitySet}?as={systemuserid} {…columns}',
      '  PATCH|DELETE /_sim/tables/{entitySet}/{id} · POST /_sim/tables/{entitySet}/{id}/reassign {ownerId}',
      '  POST /_sim/clock {advanceMs} · POST /_sim/expire-delta-tokens · POST /_sim/expire-access-tokens',
      '  GET|PATCH /_sim/knobs · GET|DELETE /_sim/requests',
    ],
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await dv.stop();
      await graph.stop();
    },
  };
}

type Reply = { status: number; body?: unknown };

/** The Dataverse simulator's `control` object over HTTP; control calls are not Web API requests and are not logged. */
export function dataverseControlRoute(dataverse: DataverseSimulator, method: string, url: URL, body: unknown): Reply {
  const control = dataverse.control;
  const segments = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  if (segments[0] !== '_sim') return { status: 404, body: { error: 'control routes live under /_sim/' } };
  const [, a, b, c, d] = segments;
  const object = (typeof body === 'object' && body !== null && !Array.isArray(body) ? body : {}) as Record<string, unknown>;
  const as = url.searchParams.get('as');
  const seedOptions = as ? { as } : undefined;
  if (a === 'users' && b === undefined) {
    if (method === 'GET') return { status: 200, body: control.rows('systemusers') };
    if (method === 'POST') {
      const { fullname, internalemailaddress, azureactivedirectoryobjectid } = object;
      if (typeof fullname !== 'string' || typeof internalemailaddress !== 'string') return { status: 400, body: { error: 'fullname and internalemailaddress are required' } };
      const id = control.createUser({ fullname, internalemailaddress, azureactivedirectoryobjectid: typeof azureactivedirectoryobjectid === 'string' ? azureactivedirectoryobjectid : null });
      return { status: 201, body: { systemuserid: id } };
    }
  }
  if (a === 'tables' && b !== undefined) {
    if (c === undefined && method === 'GET') return { status: 200, body: control.rows(b) };
    if (c === undefined && method === 'POST') return { status: 201, body: { id: control.seed(b, object, seedOptions) } };
    if (c !== undefined && d === undefined) {
      if (method === 'GET') {
        const row = control.get(b, c);
        return row ? { status: 200, body: row } : { status: 404, body: { error: 'no such record' } };
      }
      if (method === 'PATCH') {
        control.update(b, c, object, seedOptions);
        return { status: 204 };
      }
      if (method === 'DELETE') return control.remove(b, c) ? { status: 204 } : { status: 404, body: { error: 'no such record' } };
    }
    if (c !== undefined && d === 'reassign' && method === 'POST') {
      if (typeof object.ownerId !== 'string') return { status: 400, body: { error: 'ownerId is required' } };
      control.reassign(b, c, object.ownerId);
      return { status: 204 };
    }
  }
  if (a === 'clock' && method === 'POST') {
    if (typeof object.advanceMs === 'number') control.advanceClock(object.advanceMs);
    return { status: 200, body: { now: control.now().toISOString() } };
  }
  if (a === 'expire-delta-tokens' && method === 'POST') {
    control.expireDeltaTokens();
    return { status: 204 };
  }
  if (a === 'expire-access-tokens' && method === 'POST') {
    control.expireAccessTokens();
    return { status: 204 };
  }
  if (a === 'knobs') {
    if (method === 'GET') return { status: 200, body: dataverse.knobs };
    if (method === 'PATCH') {
      const knobs = dataverse.knobs as unknown as Record<string, unknown>;
      const unknown = Object.keys(object).filter((key) => !(key in knobs));
      if (unknown.length > 0) return { status: 400, body: { error: `unknown knobs: ${unknown.join(', ')}` } };
      Object.assign(knobs, object);
      return { status: 200, body: dataverse.knobs };
    }
  }
  if (a === 'requests') {
    if (method === 'GET') return { status: 200, body: { entries: dataverse.requestLog.entries } };
    if (method === 'DELETE') {
      dataverse.requestLog.reset();
      return { status: 204 };
    }
  }
  return { status: 404, body: { error: `unknown control route ${method} ${url.pathname}` } };
}

export function serveDataverseControl(dataverse: DataverseSimulator, port: number): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      let reply: Reply;
      try {
        const text = Buffer.concat(chunks).toString('utf8');
        const body: unknown = text.trim() ? JSON.parse(text) : undefined;
        reply = dataverseControlRoute(dataverse, (req.method ?? 'GET').toUpperCase(), new URL(req.url ?? '/', 'http://127.0.0.1'), body);
      } catch (error) {
        reply = { status: 400, body: { error: error instanceof Error ? error.message : String(error) } };
      }
      if (reply.body === undefined) {
        res.writeHead(reply.status);
        res.end();
        return;
      }
      res.writeHead(reply.status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(reply.body));
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

export interface SimulatorCliIo {
  out(text: string): void;
  err(text: string): void;
}

/** Starts the simulators and resolves with them; the caller stops them (the script: on SIGINT). */
export async function main(argv: readonly string[], io: SimulatorCliIo): Promise<RunningSimulators | number> {
  const options = parseSimulatorArgs(argv);
  if (options === 'help') {
    io.out(USAGE);
    return 0;
  }
  if ('error' in options) {
    io.err(`${options.error}\n\n${USAGE}`);
    return 2;
  }
  try {
    const running = await startSimulators(options);
    for (const line of running.describe()) io.out(line);
    if (options.seed) io.out(`\nSeeded ${options.seed} with the sandbox's demo data in both simulators.`);
    io.out('\nCtrl+C stops.');
    return running;
  } catch (error) {
    const code = typeof error === 'object' && error !== null && 'code' in error ? String((error as { code: unknown }).code) : '';
    io.err(code === 'EADDRINUSE' ? 'a port is in use: pick others with --graph-port, --dataverse-port and --control-port' : `error: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}

if (require.main === module) {
  const io: SimulatorCliIo = { out: (text) => process.stdout.write(`${text}\n`), err: (text) => process.stderr.write(`${text}\n`) };
  void main(process.argv.slice(2), io).then((result) => {
    if (typeof result === 'number') process.exit(result);
    process.once('SIGINT', () => {
      io.out('Stopping…');
      void result.stop().then(() => process.exit(0));
    });
  });
}
