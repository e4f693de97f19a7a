// A bad configuration: every problem in one message, naming the settings, exit code 2, no stack trace, no secret.
import { main } from '../../src/cli/main';

const SECRET = 'Zq8~hunter2-client-secret-value';
const ACCOUNT_KEY = 'c2VjcmV0LWFjY291bnQta2V5LXZhbHVlLTEyMzQ1Njc4OTA=';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (text: string) => out.push(text), err: (text: string) => err.push(text) } };
}

describe('CLI configuration errors', () => {
  it('prints every problem at once, names the settings and exits 2 without a stack trace or a secret', async () => {
    const { out, err, io } = capture();
    const env = {
      OCS_TENANT_ID: 'common',
      OCS_CLIENT_ID: 'not-a-guid',
      OCS_CLIENT_SECRET: SECRET,
      OCS_CLIENT_CERTIFICATE_PATH: '/nowhere/cert.pem',
      OCS_CRM_URL: 'http://contoso.crm.dynamics.com',
      OCS_SCHEDULE: '*/5 * * * *',
      AzureWebJobsStorage: `DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=${ACCOUNT_KEY};Bogus=${SECRET}`,
    };
    const code = await main(['--once'], env, io);
    expect(code).toBe(2);
    expect(out).toEqual([]);
    const text = err.join('\n');
    for (const setting of ['OCS_TENANT_ID', 'OCS_CLIENT_ID', 'OCS_CLIENT_CERTIFICATE_THUMBPRINT', 'OCS_CRM_URL', 'OCS_SCHEDULE', 'OCS_MAILBOXES', 'AzureWebJobsStorage']) {
      expect(text).toContain(setting);
    }
    expect(text).toMatch(/The configuration has \d+ problems:/);
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain(ACCOUNT_KEY);
    expect(text).not.toMatch(/\n\s+at /);
  });

  it('rejects unknown arguments with the usage and exit code 2', async () => {
    const { err, io } = capture();
    expect(await main(['--bogus'], {}, io)).toBe(2);
    expect(err.join('\n')).toMatch(/unknown argument: --bogus[\s\S]*Usage:/);
  });

  it('prints the help', async () => {
    const { out, io } = capture();
    expect(await main(['--help'], {}, io)).toBe(0);
    expect(out.join('\n')).toMatch(/status[\s\S]*--once[\s\S]*--dry-run/);
  });

  it('refuses status without configuration (the sandbox keeps no state)', async () => {
    const { err, io } = capture();
    expect(await main(['status'], {}, io)).toBe(2);
    expect(err.join('\n')).toMatch(/OCS_\*/);
  });
});
