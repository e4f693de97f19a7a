// `npm run simulate`: both simulators standalone, the CA written for NODE_EXTRA_CA_CERTS, the control routes served.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { main, parseSimulatorArgs, type RunningSimulators } from '../../src/simulators/cli';
import { trustedFetch } from '../../src/adapters/http/trusted-fetch';

describe('simulators CLI', () => {
  it('parses its flags and rejects bad ones', () => {
    expect(parseSimulatorArgs([])).toMatchObject({ graphPort: 8443, dataversePort: 8444, controlPort: 8445, seed: null });
    expect(parseSimulatorArgs(['--graph-port', '9000', '--seed', 'demo@contoso.test'])).toMatchObject({ graphPort: 9000, seed: 'demo@contoso.test' });
    expect(parseSimulatorArgs(['--graph-port', 'x'])).toEqual({ error: '--graph-port needs a port number from 0 to 65535' });
    expect(parseSimulatorArgs(['--nope'])).toEqual({ error: 'unknown argument: --nope' });
    expect(parseSimulatorArgs(['-h'])).toBe('help');
  });

  it('starts both simulators, prints their URLs and the CA path, serves the control routes and stops', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ocs-sim-cli-'));
    const out: string[] = [];
    const caOut = path.join(dir, 'ca.pem');
    const result = await main(['--graph-port', '0', '--dataverse-port', '0', '--control-port', '0', '--ca-out', caOut, '--seed', 'demo@contoso.test'], {
      out: (text) => out.push(text),
      err: (text) => out.push(`ERR ${text}`),
    });
    expect(typeof result).not.toBe('number');
    const running = result as RunningSimulators;
    try {
      const text = out.join('\n');
      expect(text).toContain(running.graph.baseUrl);
      expect(text).toContain(running.dataverse.apiUrl);
      expect(text).toContain(`NODE_EXTRA_CA_CERTS=${caOut}`);
      expect(readFileSync(caOut, 'utf8')).toBe(running.graph.caCert);

      // The written CA is the one the simulators serve with: a fetch trusting only it reaches the Graph control route.
      const fetch = trustedFetch(readFileSync(caOut, 'utf8'));
      const users = (await (await fetch(`${running.graph.baseUrl}_sim/users`)).json()) as { userPrincipalName: string }[];
      expect(users.map((u) => u.userPrincipalName)).toEqual(['demo@contoso.test']);

      // Dataverse control over HTTP: the seeded user and contacts, then a record created by a "CRM user".
      const dvUsers = (await (await globalThis.fetch(`${running.controlUrl}_sim/users`)).json()) as { internalemailaddress: string; systemuserid: string }[];
      const demo = dvUsers.find((u) => u.internalemailaddress === 'demo@contoso.test');
      expect(demo).toBeDefined();
      const created = await globalThis.fetch(`${running.controlUrl}_sim/tables/contacts?as=${demo?.systemuserid ?? ''}`, {
        method: 'POST',
        body: JSON.stringify({ firstname: 'Via', lastname: 'Control' }),
      });
      expect(created.status).toBe(201);
      const contacts = (await (await globalThis.fetch(`${running.controlUrl}_sim/tables/contacts`)).json()) as { lastname: string }[];
      expect(contacts.map((c) => c.lastname).sort()).toEqual(['Bowen', 'Control', 'Of Scope', 'Wilke']);
      expect((await globalThis.fetch(`${running.controlUrl}_sim/nope`)).status).toBe(404);
    } finally {
      await running.stop();
      rmSync(dir, { recursive: true, force: true });
    }
    await expect(globalThis.fetch(`${running.controlUrl}_sim/users`)).rejects.toThrow();
  });
});
