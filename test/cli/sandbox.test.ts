// `npm start` without configuration: the sandbox (Azurite, both simulators, a demo mailbox) through the real config
// loader, composition root and adapters. One cycle with --once, a plan with --dry-run; everything stopped afterwards.
import net from 'node:net';
import { main } from '../../src/cli/main';
import type { Sandbox } from '../../src/sandbox';

jest.setTimeout(60_000);

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  let sandbox: Sandbox | null = null;
  const io = { out: (text: string) => out.push(text), err: (text: string) => err.push(text), onSandbox: (s: Sandbox) => (sandbox = s) };
  return { out, err, io, sandbox: () => sandbox as Sandbox | null };
}

/** Writes the worker made to each service, from the simulators' own request logs. */
function serviceWrites(sandbox: Sandbox): { graph: number; crm: number } {
  const graph = sandbox.graph.requestLog.list().filter((e) => ['POST', 'PATCH', 'DELETE'].includes(e.method) && e.kind !== '$batch' && !e.kind.startsWith('identity')).length;
  const crm = sandbox.dataverse.requestLog.entries.filter((e) => ['create', 'update', 'upsert', 'delete'].includes(e.kind)).length;
  return { graph, crm };
}

function refusesConnections(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname === 'localhost' ? '127.0.0.1' : hostname, port: Number(port) });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

async function expectStopped(sandbox: Sandbox): Promise<void> {
  for (const url of [sandbox.graph.baseUrl, sandbox.dataverse.baseUrl, sandbox.azurite.tableUrl, sandbox.azurite.queueUrl]) {
    expect(await refusesConnections(url)).toBe(true);
  }
}

describe('CLI sandbox', () => {
  it('--once runs one full cycle on the demo mailbox, prints what it did and exits 0', async () => {
    const run = capture();
    const code = await main(['--once'], {}, run.io);
    const text = run.out.join('\n');
    if (process.env.SHOW_CLI === '1' || code !== 0) console.log(text, '\n---\n', run.err.join('\n'));
    expect(code).toBe(0);
    expect(text).toMatch(/starting the sandbox/);
    expect(text).toMatch(/demo@contoso\.test: (ok|partial) in/);
    const outlook = /Outlook: create (\d+), update (\d+), delete (\d+)/.exec(text);
    const crm = /CRM:     create (\d+), update (\d+), delete (\d+)/.exec(text);
    const failures = /failures: (\d+)/.exec(text);
    // The 4 CRM records in the demo user's scope (2 contacts, 1 appointment, 1 task) are created in Outlook; the
    // out-of-scope contact is not (DESIGN.md §2).
    expect(Number(outlook?.[1])).toBe(4);
    // Each of the 6 tracked Outlook items becomes a CRM record or fails alone with a reason code (DESIGN.md §4.3).
    expect(Number(crm?.[1]) + Number(failures?.[1])).toBe(6);
    expect(text).toMatch(/requests: graph \d+, crm \d+/);
    const sandbox = run.sandbox();
    expect(sandbox).not.toBeNull();
    if (!sandbox) return;
    const contacts = sandbox.graph.control.listItems(sandbox.mailbox, 'contact');
    expect(contacts).toHaveLength(5);
    expect(serviceWrites(sandbox).crm).toBeGreaterThanOrEqual(Number(crm?.[1]));
    await expectStopped(sandbox);
  });

  it('--dry-run prints the plan and writes nothing to Outlook or the CRM', async () => {
    const run = capture();
    const code = await main(['--dry-run'], {}, run.io);
    const text = run.out.join('\n');
    expect(code).toBe(0);
    expect(text).toMatch(/dry run: nothing was written/);
    expect(text).toMatch(/Outlook: would create 4,/);
    const sandbox = run.sandbox();
    expect(sandbox).not.toBeNull();
    if (!sandbox) return;
    expect(serviceWrites(sandbox)).toEqual({ graph: 0, crm: 0 });
    expect(sandbox.graph.control.listItems(sandbox.mailbox, 'contact')).toHaveLength(3);
    await expectStopped(sandbox);
  });
});
