import { readFileSync } from 'node:fs';
import path from 'node:path';
import { inspect } from 'node:util';
import {
  ConfigError,
  SCHEMA_SETTING_NAMES,
  SETTINGS,
  formatProblems,
  isSandbox,
  loadConfig,
  loadConfigOrThrow,
  mailboxSchedule,
  mailboxSettings,
  type Config,
  type Env,
} from '../../src/config';

const SAMPLE_PATH = path.resolve(__dirname, '../../local.settings.sample.json');
const sample = JSON.parse(readFileSync(SAMPLE_PATH, 'utf8')) as { IsEncrypted: boolean; Values: Record<string, string> };

const BASE: Env = {
  OCS_TENANT_ID: '72f988bf-86f1-41af-91ab-2d7cd011db47',
  OCS_CLIENT_ID: '11111111-2222-3333-4444-555555555555',
  OCS_CLIENT_SECRET: 'base-secret-value',
  AzureWebJobsStorage: 'UseDevelopmentStorage=true',
  OCS_CRM_URL: 'https://contoso.crm.dynamics.com',
  OCS_MAILBOXES: 'alice@contoso.com',
};

function config(env: Env): Config {
  const result = loadConfig(env);
  if (!result.ok) throw new Error(formatProblems(result.problems));
  return result.config;
}

function problems(env: Env): string[] {
  const result = loadConfig(env);
  if (result.ok) throw new Error('expected configuration problems');
  return result.problems;
}

const PEM_KEY = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----';
const PEM_CERT = '-----BEGIN CERTIFICATE-----\nMIIDazCCAlOgAwIBAgIUe\n-----END CERTIFICATE-----';

describe('configuration', () => {
  describe('the sample settings file', () => {
    it('is in the Functions local.settings.json format and its placeholder values load', () => {
      expect(sample.IsEncrypted).toBe(false);
      const loaded = config(sample.Values);
      expect(loaded.mailboxes).toEqual(['alice@contoso.onmicrosoft.com', 'bob@contoso.onmicrosoft.com']);
      expect(mailboxSettings(loaded, 'alice@contoso.onmicrosoft.com').kinds.task.enabled).toBe(false);
    });

    it('names every setting the schema knows, and nothing else of ours', () => {
      const sampleKeys = Object.keys(sample.Values).filter((k) => k !== 'FUNCTIONS_WORKER_RUNTIME');
      expect(sampleKeys.sort()).toEqual([...SCHEMA_SETTING_NAMES].sort());
    });

    it('the documented settings list is exactly the schema, each with a one-line description', () => {
      expect(SETTINGS.map((s) => s.name)).toEqual(SCHEMA_SETTING_NAMES);
      for (const s of SETTINGS) {
        expect(s.description.length).toBeGreaterThan(10);
        expect(s.description).not.toContain('\n');
      }
    });
  });

  describe('defaults', () => {
    it('a minimal configuration gets the documented defaults', () => {
      const loaded = config(BASE);
      expect(loaded.graph).toEqual({
        baseUrl: 'https://graph.microsoft.com',
        authorityHost: 'https://login.microsoftonline.com',
        extraCa: null,
        maxConcurrentPerMailbox: 4,
        maxConcurrentPerApp: 0,
      });
      expect(loaded.schedule).toBe('0 */15 * * * *');
      expect(loaded.productGuid).toBe(SETTINGS.find((s) => s.name === 'OCS_PRODUCT_GUID')?.default);
      expect(loaded.storage).toEqual({ connection: { kind: 'connectionString', connectionString: expect.anything() }, tablePrefix: '', queueName: 'mailbox-sync' });
      expect(loaded.crm.kind).toBe('dataverse');
      expect(loaded.crm.app).toEqual(loaded.app);
      expect(loaded.app.credential.kind).toBe('secret');
      expect(mailboxSettings(loaded, 'alice@contoso.com')).toEqual({
        mailbox: 'alice@contoso.com',
        kinds: {
          contact: { enabled: true, syncFromCrm: true, conflictPolicy: 'latest', tieBreak: 'crm', deleteInCrmOnUntrack: false, updateCompanyField: false },
          appointment: { enabled: true, syncFromCrm: true, conflictPolicy: 'latest', tieBreak: 'crm', deleteInCrmOnUntrack: false, updateCompanyField: false },
          task: { enabled: true, syncFromCrm: true, conflictPolicy: 'latest', tieBreak: 'crm', deleteInCrmOnUntrack: false, updateCompanyField: false },
          email: { enabled: true, syncFromCrm: false, conflictPolicy: 'latest', tieBreak: 'crm', deleteInCrmOnUntrack: false, updateCompanyField: false },
        },
        categoryName: 'Tracked to CRM',
        calendarWindow: { pastDays: 30, futureDays: 365 },
        deleteGuard: { maxCount: 25, maxShare: 0.2 },
        dryRun: false,
      });
    });

    it('settings are read as typed values; empty settings count as absent', () => {
      const loaded = config({
        ...BASE,
        OCS_CONTACT_UPDATE_COMPANY_FIELD: 'yes',
        OCS_TASK_ENABLED: 'FALSE',
        OCS_DELETE_GUARD_MAX_COUNT: '10',
        OCS_DELETE_GUARD_MAX_SHARE: '0.5',
        OCS_CONFLICT_POLICY: 'Outlook-Wins',
        OCS_TIE_BREAK: 'outlook',
        OCS_DRY_RUN: '1',
        OCS_CATEGORY_NAME: '  CRM  ',
        OCS_CALENDAR_PAST_DAYS: '',
      });
      const settings = mailboxSettings(loaded, 'alice@contoso.com');
      expect(settings.kinds.contact.updateCompanyField).toBe(true);
      expect(settings.kinds.task.enabled).toBe(false);
      expect(settings.kinds.appointment.conflictPolicy).toBe('outlook-wins');
      expect(settings.kinds.email.tieBreak).toBe('outlook');
      expect(settings.deleteGuard).toEqual({ maxCount: 10, maxShare: 0.5 });
      expect(settings.dryRun).toBe(true);
      expect(settings.categoryName).toBe('CRM');
      expect(settings.calendarWindow.pastDays).toBe(30);
    });
  });

  describe('problems', () => {
    it('reports every problem at once, each naming its setting in plain words', () => {
      const found = problems({
        OCS_CLIENT_ID: 'not-a-guid',
        OCS_GRAPH_BASE_URL: 'http://graph.example.com',
        OCS_MAILBOXES: 'alice@contoso.com, not-an-address',
        OCS_SCHEDULE: '*/5 * * * *',
        OCS_DELETE_GUARD_MAX_SHARE: '1.5',
        OCS_CONTACT_ENABLED: 'maybe',
        OCS_CONFLICT_POLICY: 'newest',
        OCS_MAILBOXS: 'typo@contoso.com',
      });
      const expected: [string, RegExp][] = [
        ['OCS_TENANT_ID', /tenant id.*required/],
        ['OCS_CLIENT_ID', /client id.*GUID/],
        ['OCS_CLIENT_SECRET', /client secret.*missing/],
        ['OCS_GRAPH_BASE_URL', /Graph URL.*https/],
        ['OCS_MAILBOXES', /entry 2 is not an e-mail address/],
        ['OCS_SCHEDULE', /6 fields/],
        ['OCS_DELETE_GUARD_MAX_SHARE', /from 0 to 1/],
        ['OCS_CONTACT_ENABLED', /true or false/],
        ['OCS_CONFLICT_POLICY', /latest, crm-wins, outlook-wins/],
        ['OCS_MAILBOXS', /not a known setting/],
        ['OCS_CRM_URL', /CRM environment URL.*required/],
        ['AzureWebJobsStorage', /storage.*missing/],
      ];
      for (const [name, pattern] of expected) {
        expect([name, found.filter((p) => p.startsWith(`${name} `) || p.startsWith(`${name}:`)).some((p) => pattern.test(p))]).toEqual([name, true]);
      }
      expect(found).toHaveLength(expected.length);
      expect(() => loadConfigOrThrow({})).toThrow(ConfigError);
      try {
        loadConfigOrThrow({ ...BASE, OCS_DRY_RUN: 'perhaps', OCS_QUEUE_NAME: 'Bad_Name' });
      } catch (error) {
        expect((error as ConfigError).problems).toHaveLength(2);
        expect((error as ConfigError).message).toMatch(/^The configuration has 2 problems:\n {2}- /);
      }
    });

    it('never echoes a secret value, whatever is wrong with it', () => {
      const secret = 'Sup3r-S3cret-Value~~with;odd=chars';
      const accountKey = 'NotBase64!!TopSecretAccountKey';
      const sas = 'sv=2024&sig=SharedAccessSignatureSecretPart';
      const pem = 'MY-PRIVATE-KEY-MATERIAL-NOT-A-PEM';
      const env: Env = {
        ...BASE,
        OCS_CLIENT_SECRET: secret,
        OCS_CLIENT_CERTIFICATE_PEM: pem,
        OCS_CRM_CLIENT_SECRET: secret,
        AzureWebJobsStorage: `DefaultEndpointsProtocol=ftp;AccountName=acct;AccountKey=${accountKey};SharedAccessSignature=${sas};Bogus=${secret}`,
        OCS_CRM_CLIENT_CERTIFICATE_PEM: `${PEM_KEY}\n${secret}`,
      };
      const result = loadConfig(env);
      expect(result.ok).toBe(false);
      const everything = [JSON.stringify(result), formatProblems(result.ok ? [] : result.problems), new ConfigError(result.ok ? [] : result.problems).message].join('\n');
      for (const value of [secret, accountKey, sas, pem, 'TopSecret', 'SecretPart', 'S3cret']) expect(everything).not.toContain(value);
      // The problems still say what is wrong.
      expect(everything).toMatch(/AzureWebJobsStorage \(storage connection string\): AccountKey is not base64/);
      expect(everything).toMatch(/OCS_CLIENT_CERTIFICATE_PEM \(client certificate PEM\): must be PEM text/);
      expect(everything).toMatch(/OCS_CRM_CLIENT_ID.*required when a separate CRM credential/);
    });

    it('a loaded config does not reveal secrets when printed or serialized', () => {
      const loaded = config({ ...BASE, OCS_CLIENT_SECRET: 'printed-secret-value', AzureWebJobsStorage: `AccountName=acct;AccountKey=${Buffer.from('key-material').toString('base64')}` });
      expect(JSON.stringify(loaded)).not.toContain('printed-secret-value');
      expect(inspect(loaded, { depth: 10 })).not.toContain('printed-secret-value');
      expect(JSON.stringify(loaded)).not.toContain(Buffer.from('key-material').toString('base64'));
      const credential = loaded.app.credential;
      expect(credential.kind === 'secret' && credential.secret.reveal()).toBe('printed-secret-value');
    });
  });

  describe('sign-in', () => {
    it('exactly one credential: a secret, a PEM, or a file with its thumbprint', () => {
      const { OCS_CLIENT_SECRET: _secret, ...noSecret } = BASE;
      expect(problems(noSecret).join()).toMatch(/OCS_CLIENT_SECRET.*missing/);
      expect(problems({ ...BASE, OCS_CLIENT_CERTIFICATE_PEM: `${PEM_KEY}\n${PEM_CERT}` }).join()).toMatch(/set exactly one way to sign in/);
      expect(problems({ ...noSecret, OCS_CLIENT_CERTIFICATE_PATH: '/certs/app.pem' }).join()).toMatch(/OCS_CLIENT_CERTIFICATE_THUMBPRINT.*required with OCS_CLIENT_CERTIFICATE_PATH/);
      expect(problems({ ...noSecret, OCS_CLIENT_CERTIFICATE_PEM: PEM_KEY }).join()).toMatch(/no certificate block/);
      const file = config({ ...noSecret, OCS_CLIENT_CERTIFICATE_PATH: '/certs/app.pem', OCS_CLIENT_CERTIFICATE_THUMBPRINT: `${'ab:'.repeat(19)}cd` });
      expect(file.app.credential).toEqual({ kind: 'certificateFile', path: '/certs/app.pem', thumbprint: { algorithm: 'sha1', hex: expect.stringMatching(/^[0-9A-F]{40}$/) } });
      const pem = config({ ...noSecret, OCS_CLIENT_CERTIFICATE_PEM: `${PEM_KEY}\\n${PEM_CERT}` });
      expect(pem.app.credential.kind).toBe('certificatePem');
      expect(pem.app.credential.kind === 'certificatePem' && pem.app.credential.pem.reveal()).toContain('\n-----BEGIN CERTIFICATE-----');
    });

    it('app-only sign-in needs one tenant', () => {
      expect(problems({ ...BASE, OCS_TENANT_ID: 'common' }).join()).toMatch(/OCS_TENANT_ID.*one tenant/);
      expect(config({ ...BASE, OCS_TENANT_ID: 'contoso.onmicrosoft.com' }).app.tenantId).toBe('contoso.onmicrosoft.com');
    });

    it('the CRM kind is dataverse (any case); anything else is a problem', () => {
      expect(config({ ...BASE, OCS_CRM_KIND: 'Dataverse' }).crm.kind).toBe('dataverse');
      expect(problems({ ...BASE, OCS_CRM_KIND: 'salesforce' })).toEqual(['OCS_CRM_KIND (CRM kind): must be one of dataverse']);
      expect(problems({ ...BASE, OCS_CRM_TENANT_ID: 'contoso.onmicrosoft.com' })).toEqual(['OCS_CRM_TENANT_ID (CRM tenant id): is set but OCS_CRM_CLIENT_ID is not']);
    });

    it('the CRM uses the main app registration unless a separate one is set', () => {
      const separate = config({ ...BASE, OCS_CRM_CLIENT_ID: '99999999-8888-7777-6666-555555555555', OCS_CRM_CLIENT_SECRET: 'crm-secret' });
      expect(separate.crm.app.clientId).toBe('99999999-8888-7777-6666-555555555555');
      expect(separate.crm.app.tenantId).toBe(BASE.OCS_TENANT_ID);
      expect(problems({ ...BASE, OCS_CRM_CLIENT_ID: '99999999-8888-7777-6666-555555555555' }).join()).toMatch(/OCS_CRM_CLIENT_SECRET.*missing/);
    });

    it('endpoints: https anywhere (national clouds), http only on loopback (simulators), origin only', () => {
      expect(config({ ...BASE, OCS_GRAPH_BASE_URL: 'https://graph.microsoft.us/' }).graph.baseUrl).toBe('https://graph.microsoft.us');
      expect(config({ ...BASE, OCS_CRM_URL: 'http://127.0.0.2:8080' }).crm.url).toBe('http://127.0.0.2:8080');
      expect(config({ ...BASE, OCS_GRAPH_BASE_URL: 'http://127.0.0.1:4443', OCS_AUTHORITY_HOST: 'http://localhost:4444' }).graph).toMatchObject({
        baseUrl: 'http://127.0.0.1:4443',
        authorityHost: 'http://localhost:4444',
      });
      expect(problems({ ...BASE, OCS_GRAPH_BASE_URL: 'https://graph.microsoft.com/v1.0' }).join()).toMatch(/without a path/);
      expect(problems({ ...BASE, OCS_CRM_URL: 'http://contoso.crm.dynamics.com' }).join()).toMatch(/OCS_CRM_URL.*https/);
      expect(problems({ ...BASE, OCS_AUTHORITY_HOST: 'not a url' }).join()).toMatch(/OCS_AUTHORITY_HOST.*URL/);
    });

    it('an extra CA for the simulators: PEM text or a path, not both', () => {
      expect(config({ ...BASE, OCS_EXTRA_CA_PEM: PEM_CERT }).graph.extraCa).toEqual({ pem: PEM_CERT });
      expect(config({ ...BASE, OCS_EXTRA_CA_PATH: '/tmp/ca.pem' }).graph.extraCa).toEqual({ path: '/tmp/ca.pem' });
      expect(problems({ ...BASE, OCS_EXTRA_CA_PEM: PEM_CERT, OCS_EXTRA_CA_PATH: '/tmp/ca.pem' }).join()).toMatch(/at most one/);
      expect(problems({ ...BASE, OCS_EXTRA_CA_PEM: 'nope' }).join()).toMatch(/OCS_EXTRA_CA_PEM.*CERTIFICATE/);
    });
  });

  describe('storage', () => {
    it('a connection string or managed identity, not both and not neither', () => {
      const { AzureWebJobsStorage: _storage, ...noStorage } = BASE;
      expect(config({ ...noStorage, AzureWebJobsStorage__accountName: 'contosostate' }).storage.connection).toEqual({
        kind: 'identity',
        tableServiceUrl: 'https://contosostate.table.core.windows.net',
        queueServiceUrl: 'https://contosostate.queue.core.windows.net',
        managedIdentityClientId: null,
      });
      expect(problems({ ...BASE, AzureWebJobsStorage__accountName: 'contosostate' }).join()).toMatch(/one way to reach storage/);
      expect(problems(noStorage).join()).toMatch(/AzureWebJobsStorage.*missing/);
      expect(problems({ ...noStorage, AzureWebJobsStorage__tableServiceUri: 'https://x.table.core.windows.net' }).join()).toMatch(/accountName.*required/);
      expect(problems({ ...BASE, AzureWebJobsStorage: 'AccountName=acct' }).join()).toMatch(/needs AccountName and AccountKey/);
    });

    it('Graph concurrency: at most the 4 Outlook allows per mailbox (graph-behaviour.md §5.2); an optional cap per worker', () => {
      expect(config({ ...BASE, OCS_GRAPH_MAX_CONCURRENT_PER_MAILBOX: '2', OCS_GRAPH_MAX_CONCURRENT_PER_APP: '8' }).graph).toMatchObject({
        maxConcurrentPerMailbox: 2,
        maxConcurrentPerApp: 8,
      });
      expect(problems({ ...BASE, OCS_GRAPH_MAX_CONCURRENT_PER_MAILBOX: '5' }).join()).toMatch(/OCS_GRAPH_MAX_CONCURRENT_PER_MAILBOX/);
      expect(problems({ ...BASE, OCS_GRAPH_MAX_CONCURRENT_PER_APP: '-1' }).join()).toMatch(/OCS_GRAPH_MAX_CONCURRENT_PER_APP/);
    });

    it('table prefix and queue name follow the service naming rules', () => {
      expect(config({ ...BASE, OCS_TABLE_PREFIX: 'Prod1', OCS_QUEUE_NAME: 'sync-jobs' }).storage).toMatchObject({ tablePrefix: 'Prod1', queueName: 'sync-jobs' });
      expect(problems({ ...BASE, OCS_TABLE_PREFIX: '1-bad' }).join()).toMatch(/OCS_TABLE_PREFIX/);
      expect(problems({ ...BASE, OCS_QUEUE_NAME: 'double--hyphen' }).join()).toMatch(/OCS_QUEUE_NAME/);
    });
  });

  describe('mailboxes and schedule', () => {
    it('mailboxes split on commas and semicolons, are deduplicated case-insensitively, first spelling kept', () => {
      expect(config({ ...BASE, OCS_MAILBOXES: ' Alice@Contoso.com; bob@contoso.com,alice@contoso.com ;; ' }).mailboxes).toEqual(['Alice@Contoso.com', 'bob@contoso.com']);
      expect(problems({ ...BASE, OCS_MAILBOXES: ' ; , ' }).join()).toMatch(/lists no mailbox/);
    });

    it('problems about a mailbox name its position, not its address', () => {
      const found = problems({ ...BASE, OCS_MAILBOXES: 'alice@contoso.com;carol@@contoso.com' });
      expect(found.join()).toMatch(/entry 2/);
      expect(found.join()).not.toContain('carol');
    });

    it.each([
      ['0 */15 * * * *', true],
      ['0 0 */2 * * MON-FRI', true],
      ['30 5 9-17/2 1,15 JAN-MAR 1-5', true],
      ['*/5 * * * *', false],
      ['60 * * * * *', false],
      ['0 0 24 * * *', false],
      ['0 0 0 0 * *', false],
      ['0 0 0 * 13 *', false],
      ['0 0 0 * * 7', false],
      ['0 0 5-1 * * *', false],
      ['0 */0 * * * *', false],
      ['0 x * * * *', false],
    ])('schedule %j valid: %s', (schedule, valid) => {
      expect(loadConfig({ ...BASE, OCS_SCHEDULE: schedule }).ok).toBe(valid);
    });
  });

  describe('per-mailbox overrides', () => {
    const env: Env = {
      ...BASE,
      OCS_MAILBOXES: 'alice@contoso.com;bob@contoso.com',
      OCS_MAILBOX_OVERRIDES: JSON.stringify({
        'Alice@Contoso.com': {
          conflictPolicy: 'crm-wins',
          dryRun: true,
          schedule: '0 0 * * * *',
          deleteGuard: { maxCount: 5 },
          kinds: { task: { enabled: false }, contact: { updateCompanyField: true, tieBreak: 'outlook' } },
        },
      }),
    };

    it("merge the mailbox's overrides over the tenant defaults; other mailboxes keep the defaults", () => {
      const loaded = config(env);
      const alice = mailboxSettings(loaded, 'alice@contoso.com');
      expect(alice.kinds.task.enabled).toBe(false);
      expect(alice.kinds.task.conflictPolicy).toBe('crm-wins');
      expect(alice.kinds.contact).toEqual({ enabled: true, syncFromCrm: true, conflictPolicy: 'crm-wins', tieBreak: 'outlook', deleteInCrmOnUntrack: false, updateCompanyField: true });
      expect(alice.deleteGuard).toEqual({ maxCount: 5, maxShare: 0.2 });
      expect(alice.dryRun).toBe(true);
      expect(mailboxSchedule(loaded, 'ALICE@contoso.com')).toBe('0 0 * * * *');
      const bob = mailboxSettings(loaded, 'bob@contoso.com');
      expect(bob).toEqual({ ...mailboxSettings(config(BASE), 'bob@contoso.com') });
      expect(mailboxSchedule(loaded, 'bob@contoso.com')).toBe('0 */15 * * * *');
    });

    it('are validated: JSON, known keys only, options that apply to the kind, enrolled mailboxes', () => {
      expect(problems({ ...env, OCS_MAILBOX_OVERRIDES: '{not json' }).join()).toMatch(/OCS_MAILBOX_OVERRIDES \(per-mailbox overrides\): is not valid JSON/);
      const found = problems({
        ...env,
        OCS_MAILBOX_OVERRIDES: JSON.stringify({
          'alice@contoso.com': { conflictPolicy: 'whoever', kinds: { email: { syncFromCrm: true }, note: {} }, colour: 'red' },
        }),
      });
      expect(found.join('\n')).toMatch(/at entry 1\.conflictPolicy/);
      expect(found.join('\n')).toMatch(/entry 1\.kinds\.email\.syncFromCrm: does not apply to this kind/);
      expect(found.join('\n')).toMatch(/note/);
      expect(found.join('\n')).toMatch(/colour/);
      expect(found.join('\n')).not.toContain('alice@');
      expect(problems({ ...env, OCS_MAILBOX_OVERRIDES: JSON.stringify({ 'zed@contoso.com': { dryRun: true } }) }).join()).toMatch(/entry 1 names a mailbox that is not in OCS_MAILBOXES/);
      expect(problems({ ...env, OCS_MAILBOX_OVERRIDES: JSON.stringify({ 'alice@contoso.com': { schedule: '* * *' } }) }).join()).toMatch(/6 fields/);
    });
  });

  describe('sandbox detection', () => {
    it('is the sandbox when no OCS_ setting has a value', () => {
      expect(isSandbox({})).toBe(true);
      expect(isSandbox({ AzureWebJobsStorage: 'UseDevelopmentStorage=true', PATH: '/usr/bin', OCS_DRY_RUN: '' })).toBe(true);
      expect(isSandbox({ OCS_MAILBOXES: 'alice@contoso.com' })).toBe(false);
    });
  });
});
