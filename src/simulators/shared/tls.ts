// A certificate generated at start-up, so the simulators can serve HTTPS on loopback: the Graph SDK follows absolute
// links only when they are https:// on a host in `customHosts` (graph-behaviour.md §9.6).
import { generate } from 'selfsigned';

export interface SimulatorCertificate {
  /** PEM certificate; clients trust it as their CA. */
  cert: string;
  key: string;
}

let cached: Promise<SimulatorCertificate> | null = null;

/** One certificate per process: generating an RSA key costs ~100 ms and every simulator can share it. */
export function simulatorCertificate(): Promise<SimulatorCertificate> {
  cached ??= (async () => {
    const notBefore = new Date(Date.now() - 60_000);
    const notAfter = new Date(notBefore.getTime() + 30 * 24 * 3600_000);
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
      keySize: 2048,
      algorithm: 'sha256',
      notBeforeDate: notBefore,
      notAfterDate: notAfter,
      extensions: [
        { name: 'basicConstraints', cA: true },
        {
          name: 'subjectAltName',
          altNames: [
            { type: 2, value: 'localhost' },
            { type: 7, ip: '127.0.0.1' },
          ],
        },
      ],
    });
    return { cert: pems.cert, key: pems.private };
  })();
  return cached;
}
