import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { simulatorCertificate } from '../../src/simulators/shared/tls';
import { trustedFetch } from '../../src/adapters/http/trusted-fetch';

// graph-behaviour.md §9.6: the SDK follows only https:// links, so the simulators serve HTTPS with a start-up
// certificate that clients trust explicitly.
describe('simulator TLS', () => {
  it('a client trusting the start-up certificate reaches an HTTPS loopback server; the global fetch does not', async () => {
    const cert = await simulatorCertificate();
    const server = https.createServer({ cert: cert.cert, key: cert.key }, (_req, res) => res.end('hello'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const response = await trustedFetch(cert.cert)(`https://localhost:${port}/`);
      expect(await response.text()).toBe('hello');
      await expect(globalThis.fetch(`https://localhost:${port}/`)).rejects.toThrow();
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
