// The ONE schema of the worker's configuration (DESIGN.md §8): the environment (Functions app settings) in, a typed
// Config out. Every field is checked on its own and every cross-field rule is checked too, so all problems are
// reported at once; a problem names its setting in plain words and never contains a secret's value.
import { z } from 'zod';
import { type ConflictPolicy, type ItemKind, type KindSettings, type MailboxSettings, type Side } from '../core/model';
import { ncrontabProblems } from './ncrontab';
import { Secret } from './secret';
import {
  DEFAULT_AUTHORITY_HOST,
  DEFAULT_CATEGORY_NAME,
  DEFAULT_GRAPH_BASE_URL,
  DEFAULT_PRODUCT_GUID,
  DEFAULT_QUEUE_NAME,
  DEFAULT_SCHEDULE,
  SETTING_PREFIX,
} from './settings';

export type Env = Readonly<Record<string, string | undefined>>;

// ---------------------------------------------------------------------------------------------------------------
// The configuration the rest of the worker sees.

export type Thumbprint = { algorithm: 'sha1' | 'sha256'; hex: string };

export type ClientCredential =
  | { kind: 'secret'; secret: Secret }
  /** PEM text with the private key and (unless a thumbprint is given) the certificate. */
  | { kind: 'certificatePem'; pem: Secret; thumbprint: Thumbprint | null }
  | { kind: 'certificateFile'; path: string; thumbprint: Thumbprint };

export interface AppRegistration {
  tenantId: string;
  clientId: string;
  credential: ClientCredential;
}

export type StorageConnectionSettings =
  | { kind: 'connectionString'; connectionString: Secret }
  | { kind: 'identity'; tableServiceUrl: string; queueServiceUrl: string; managedIdentityClientId: string | null };

export interface KindOverride {
  enabled?: boolean;
  syncFromCrm?: boolean;
  deleteInCrmOnUntrack?: boolean;
  updateCompanyField?: boolean;
  conflictPolicy?: ConflictPolicy;
  tieBreak?: Side;
}

export interface MailboxOverride {
  conflictPolicy?: ConflictPolicy;
  tieBreak?: Side;
  categoryName?: string;
  dryRun?: boolean;
  schedule?: string;
  calendarWindow?: { pastDays?: number; futureDays?: number };
  deleteGuard?: { maxCount?: number; maxShare?: number };
  kinds?: Partial<Record<ItemKind, KindOverride>>;
}

export interface Config {
  app: AppRegistration;
  graph: {
    baseUrl: string;
    authorityHost: string;
    extraCa: { pem: string } | { path: string } | null;
    /** Graph requests in flight per mailbox (Outlook allows 4, graph-behaviour.md §5.2). */
    maxConcurrentPerMailbox: number;
    /** Graph requests in flight per worker process across mailboxes; 0 = no app-wide cap (service-limits.md §1). */
    maxConcurrentPerApp: number;
  };
  storage: { connection: StorageConnectionSettings; tablePrefix: string; queueName: string };
  crm: { kind: 'dataverse'; url: string; app: AppRegistration };
  /** Enrolled mailboxes, deduplicated case-insensitively (first spelling kept). */
  mailboxes: string[];
  schedule: string;
  productGuid: string;
  /** Tenant defaults for every mailbox. */
  defaults: Omit<MailboxSettings, 'mailbox'>;
  /** Per-mailbox overrides keyed by the lower-cased mailbox. */
  overrides: Readonly<Record<string, MailboxOverride>>;
}

// ---------------------------------------------------------------------------------------------------------------
// Field schemas. Input is the trimmed setting, undefined when absent or empty.

const input = z.string().optional();
type Field<T> = z.ZodType<T, z.ZodTypeDef, string | undefined>;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DOMAIN = /^(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;
const MAILBOX = /^[^\s@,;"<>()[\]\\]+@([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;
const isLoopback = (hostname: string) => hostname === 'localhost' || hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(hostname);

function required<T>(field: Field<T>): Field<T> {
  return input.superRefine((value, ctx) => {
    if (value === undefined) ctx.addIssue({ code: 'custom', message: 'is required' });
  }).pipe(field);
}

function withDefault<T>(fallback: string, field: Field<T>): Field<T> {
  return input.transform((value) => value ?? fallback).pipe(field);
}

const guid: Field<string> = z.string().refine((v) => GUID.test(v), 'must be a GUID like 00000000-0000-0000-0000-000000000000').transform((v) => v.toLowerCase());

const tenant: Field<string> = z.string().superRefine((value, ctx) => {
  if (['common', 'organizations', 'consumers'].includes(value.toLowerCase())) {
    ctx.addIssue({ code: 'custom', message: 'must name one tenant (app-only sign-in cannot use common, organizations or consumers)' });
  } else if (!GUID.test(value) && !DOMAIN.test(value)) {
    ctx.addIssue({ code: 'custom', message: 'must be a tenant GUID or a verified domain such as contoso.onmicrosoft.com' });
  }
});

const bool = (fallback: boolean): Field<boolean> =>
  input.transform((value, ctx) => {
    if (value === undefined) return fallback;
    const lower = value.toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(lower)) return true;
    if (['false', '0', 'no', 'off'].includes(lower)) return false;
    ctx.addIssue({ code: 'custom', message: 'must be true or false' });
    return z.NEVER;
  });

const integer = (fallback: number, min: number, max: number): Field<number> =>
  input.transform((value, ctx) => {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!/^-?\d+$/.test(value) || n < min || n > max) {
      ctx.addIssue({ code: 'custom', message: `must be a whole number from ${min} to ${max}` });
      return z.NEVER;
    }
    return n;
  });

const share = (fallback: number): Field<number> =>
  input.transform((value, ctx) => {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (value === '' || !Number.isFinite(n) || n < 0 || n > 1) {
      ctx.addIssue({ code: 'custom', message: 'must be a number from 0 to 1, e.g. 0.2 for 20%' });
      return z.NEVER;
    }
    return n;
  });

const oneOf = <T extends string>(values: readonly [T, ...T[]], fallback: T): Field<T> =>
  input.transform((value, ctx) => {
    if (value === undefined) return fallback;
    const match = values.find((v) => v === value.toLowerCase());
    if (match === undefined) {
      ctx.addIssue({ code: 'custom', message: `must be one of ${values.join(', ')}` });
      return z.NEVER;
    }
    return match;
  });

/** An endpoint: https (http only on loopback, for simulators), scheme and host only. Returns the origin. */
const endpoint: Field<string> = z.string().transform((value, ctx) => {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be a URL such as https://host' });
    return z.NEVER;
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url.hostname))) {
    ctx.addIssue({ code: 'custom', message: 'must use https (plain http is allowed only for localhost simulators)' });
    return z.NEVER;
  }
  if (url.username || url.password || url.search || url.hash || (url.pathname !== '/' && url.pathname !== '')) {
    ctx.addIssue({ code: 'custom', message: 'must be just scheme and host (and port), without a path, query or credentials' });
    return z.NEVER;
  }
  return url.origin;
});

const thumbprint: Field<Thumbprint> = z.string().transform((value, ctx) => {
  const hex = value.replace(/[\s:]/g, '').toUpperCase();
  if (/^[0-9A-F]{40}$/.test(hex)) return { algorithm: 'sha1' as const, hex };
  if (/^[0-9A-F]{64}$/.test(hex)) return { algorithm: 'sha256' as const, hex };
  ctx.addIssue({ code: 'custom', message: 'must be a SHA-1 (40 hex digits) or SHA-256 (64 hex digits) thumbprint' });
  return z.NEVER;
});

// Secret fields: messages say what is wrong, never what the value is.
const secretText: Field<Secret> = z.string().transform((value) => new Secret(value));

const privateKeyPem: Field<Secret> = z.string().transform((value, ctx) => {
  const pem = value.replace(/\\n/g, '\n');
  if (!/-----BEGIN (RSA |EC |ENCRYPTED )?PRIVATE KEY-----/.test(pem)) {
    ctx.addIssue({ code: 'custom', message: 'must be PEM text containing a -----BEGIN PRIVATE KEY----- block' });
    return z.NEVER;
  }
  return new Secret(pem);
});

const caPem: Field<string> = z.string().transform((value, ctx) => {
  const pem = value.replace(/\\n/g, '\n');
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    ctx.addIssue({ code: 'custom', message: 'must be PEM text containing a -----BEGIN CERTIFICATE----- block' });
    return z.NEVER;
  }
  return pem;
});

const filePath: Field<string> = z.string().min(1);

const CONNECTION_STRING_KEYS = new Map(
  ['DefaultEndpointsProtocol', 'AccountName', 'AccountKey', 'EndpointSuffix', 'BlobEndpoint', 'QueueEndpoint', 'TableEndpoint', 'FileEndpoint', 'SharedAccessSignature', 'UseDevelopmentStorage', 'DevelopmentStorageProxyUri'].map((k) => [k.toLowerCase(), k]),
);

/** Storage connection string: checked part by part; problems name keys, never values. */
const connectionString: Field<Secret> = z.string().transform((value, ctx) => {
  const parts = new Map<string, string>();
  value.split(';').map((part) => part.trim()).filter(Boolean).forEach((part, i) => {
    const eq = part.indexOf('=');
    const key = eq > 0 ? CONNECTION_STRING_KEYS.get(part.slice(0, eq).trim().toLowerCase()) : undefined;
    if (eq <= 0) ctx.addIssue({ code: 'custom', message: `part ${i + 1} is not key=value` });
    else if (key === undefined) ctx.addIssue({ code: 'custom', message: `part ${i + 1} has a key that storage connection strings do not use` });
    else parts.set(key, part.slice(eq + 1).trim());
  });
  if (parts.get('UseDevelopmentStorage')?.toLowerCase() === 'true') return new Secret(value);
  const hasKey = parts.has('AccountName') && parts.has('AccountKey');
  if (!hasKey && !parts.has('SharedAccessSignature')) {
    ctx.addIssue({ code: 'custom', message: 'needs AccountName and AccountKey, or SharedAccessSignature, or UseDevelopmentStorage=true' });
  }
  const accountKey = parts.get('AccountKey');
  if (accountKey !== undefined && !/^[A-Za-z0-9+/]+={0,2}$/.test(accountKey)) ctx.addIssue({ code: 'custom', message: 'AccountKey is not base64' });
  const protocol = parts.get('DefaultEndpointsProtocol')?.toLowerCase();
  if (protocol !== undefined && protocol !== 'https' && protocol !== 'http') ctx.addIssue({ code: 'custom', message: 'DefaultEndpointsProtocol must be https or http' });
  for (const service of ['TableEndpoint', 'QueueEndpoint'] as const) {
    const url = parts.get(service);
    if (url === undefined && !parts.has('AccountName')) ctx.addIssue({ code: 'custom', message: `needs ${service} (or AccountName)` });
    if (url !== undefined && !/^https?:\/\/[^\s]+$/i.test(url)) ctx.addIssue({ code: 'custom', message: `${service} is not an http(s) URL` });
  }
  return new Secret(value);
});

const storageAccountName: Field<string> = z.string().regex(/^[a-z0-9]{3,24}$/, 'must be 3–24 lowercase letters and digits');

const tablePrefix: Field<string> = z.string().regex(/^([A-Za-z][A-Za-z0-9]{0,49})?$/, 'must be letters and digits, starting with a letter, at most 50 characters');

const queueName: Field<string> = z
  .string()
  .regex(/^(?!.*--)[a-z0-9][a-z0-9-]{1,54}[a-z0-9]$/, 'must be 3–56 lowercase letters, digits and single hyphens, starting and ending with a letter or digit');

const mailboxList: Field<string[]> = z.string().transform((value, ctx) => {
  const entries = value.split(/[,;]/).map((entry) => entry.trim()).filter(Boolean);
  const seen = new Set<string>();
  const mailboxes: string[] = [];
  entries.forEach((entry, i) => {
    // Problems point at the entry's position: addresses stay out of logs (DESIGN.md §8).
    if (!MAILBOX.test(entry)) ctx.addIssue({ code: 'custom', message: `entry ${i + 1} is not an e-mail address (user principal name)` });
    else if (!seen.has(entry.toLowerCase())) {
      seen.add(entry.toLowerCase());
      mailboxes.push(entry);
    }
  });
  if (entries.length === 0) ctx.addIssue({ code: 'custom', message: 'lists no mailbox' });
  return mailboxes;
});

const schedule: Field<string> = z.string().transform((value, ctx) => {
  for (const problem of ncrontabProblems(value)) ctx.addIssue({ code: 'custom', message: problem });
  return value.trim().split(/\s+/).join(' ');
});

const categoryName = z.string().trim().min(1, 'must not be empty').max(255, 'must be at most 255 characters');

const conflictPolicy = z.enum(['latest', 'crm-wins', 'outlook-wins']);
const side = z.enum(['crm', 'outlook']);

const kindOverride = (allowed: readonly (keyof KindOverride)[]) =>
  z
    .object({
      enabled: z.boolean().optional(),
      syncFromCrm: z.boolean().optional(),
      deleteInCrmOnUntrack: z.boolean().optional(),
      updateCompanyField: z.boolean().optional(),
      conflictPolicy: conflictPolicy.optional(),
      tieBreak: side.optional(),
    })
    .strict()
    .superRefine((value, ctx) => {
      for (const key of Object.keys(value)) {
        if (!allowed.includes(key as keyof KindOverride)) ctx.addIssue({ code: 'custom', path: [key], message: 'does not apply to this kind' });
      }
    });

const COMMON_KIND_KEYS = ['enabled', 'conflictPolicy', 'tieBreak'] as const;

export const mailboxOverrideSchema = z
  .object({
    conflictPolicy: conflictPolicy.optional(),
    tieBreak: side.optional(),
    categoryName: categoryName.optional(),
    dryRun: z.boolean().optional(),
    schedule: z.string().superRefine((value, ctx) => ncrontabProblems(value).forEach((message) => ctx.addIssue({ code: 'custom', message }))).optional(),
    calendarWindow: z.object({ pastDays: z.number().int().min(0).max(3650).optional(), futureDays: z.number().int().min(1).max(3650).optional() }).strict().optional(),
    deleteGuard: z.object({ maxCount: z.number().int().min(0).max(1_000_000).optional(), maxShare: z.number().min(0).max(1).optional() }).strict().optional(),
    kinds: z
      .object({
        contact: kindOverride([...COMMON_KIND_KEYS, 'syncFromCrm', 'deleteInCrmOnUntrack', 'updateCompanyField']).optional(),
        appointment: kindOverride([...COMMON_KIND_KEYS, 'syncFromCrm']).optional(),
        task: kindOverride([...COMMON_KIND_KEYS, 'syncFromCrm']).optional(),
        email: kindOverride([...COMMON_KIND_KEYS, 'deleteInCrmOnUntrack']).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

const overrides: Field<Record<string, MailboxOverride>> = z.string().transform((value, ctx) => {
  let json: unknown;
  try {
    json = JSON.parse(value);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'is not valid JSON' });
    return z.NEVER;
  }
  const parsed = z.record(mailboxOverrideSchema).safeParse(json);
  if (!parsed.success) {
    // Mailboxes are named by their position, so addresses stay out of logs (DESIGN.md §8).
    const keys = json !== null && typeof json === 'object' ? Object.keys(json) : [];
    for (const issue of parsed.error.issues) {
      const [mailbox, ...rest] = issue.path;
      const position = keys.indexOf(String(mailbox));
      ctx.addIssue({ code: 'custom', path: position >= 0 ? [`entry ${position + 1}`, ...rest] : issue.path, message: issue.message });
    }
    return z.NEVER;
  }
  const byMailbox: Record<string, MailboxOverride> = {};
  for (const [mailbox, override] of Object.entries(parsed.data)) byMailbox[mailbox.trim().toLowerCase()] = override;
  return byMailbox;
});

// ---------------------------------------------------------------------------------------------------------------
// Every setting: its plain-words label and schema. The names are exactly those of settings.ts.

const FIELDS = {
  OCS_TENANT_ID: { label: 'tenant id', schema: required(tenant) },
  OCS_CLIENT_ID: { label: 'app registration client id', schema: required(guid) },
  OCS_CLIENT_SECRET: { label: 'client secret', schema: secretText.optional() },
  OCS_CLIENT_CERTIFICATE_PEM: { label: 'client certificate PEM', schema: privateKeyPem.optional() },
  OCS_CLIENT_CERTIFICATE_PATH: { label: 'client certificate file', schema: filePath.optional() },
  OCS_CLIENT_CERTIFICATE_THUMBPRINT: { label: 'client certificate thumbprint', schema: thumbprint.optional() },
  OCS_GRAPH_BASE_URL: { label: 'Microsoft Graph URL', schema: withDefault(DEFAULT_GRAPH_BASE_URL, endpoint) },
  OCS_AUTHORITY_HOST: { label: 'sign-in authority host', schema: withDefault(DEFAULT_AUTHORITY_HOST, endpoint) },
  OCS_GRAPH_MAX_CONCURRENT_PER_MAILBOX: { label: 'Graph requests in flight per mailbox', schema: integer(4, 1, 4) },
  OCS_GRAPH_MAX_CONCURRENT_PER_APP: { label: 'Graph requests in flight per worker', schema: integer(0, 0, 1000) },
  OCS_EXTRA_CA_PEM: { label: 'extra CA certificate', schema: caPem.optional() },
  OCS_EXTRA_CA_PATH: { label: 'extra CA certificate file', schema: filePath.optional() },
  AzureWebJobsStorage: { label: 'storage connection string', schema: connectionString.optional() },
  AzureWebJobsStorage__accountName: { label: 'storage account name', schema: storageAccountName.optional() },
  AzureWebJobsStorage__tableServiceUri: { label: 'storage table endpoint', schema: endpoint.optional() },
  AzureWebJobsStorage__queueServiceUri: { label: 'storage queue endpoint', schema: endpoint.optional() },
  AzureWebJobsStorage__clientId: { label: 'storage managed identity client id', schema: guid.optional() },
  OCS_TABLE_PREFIX: { label: 'table name prefix', schema: withDefault('', tablePrefix) },
  OCS_QUEUE_NAME: { label: 'work queue name', schema: withDefault(DEFAULT_QUEUE_NAME, queueName) },
  OCS_CRM_KIND: { label: 'CRM kind', schema: oneOf(['dataverse'], 'dataverse') },
  OCS_CRM_URL: { label: 'CRM environment URL', schema: required(endpoint) },
  OCS_CRM_TENANT_ID: { label: 'CRM tenant id', schema: tenant.optional() },
  OCS_CRM_CLIENT_ID: { label: 'CRM client id', schema: guid.optional() },
  OCS_CRM_CLIENT_SECRET: { label: 'CRM client secret', schema: secretText.optional() },
  OCS_CRM_CLIENT_CERTIFICATE_PEM: { label: 'CRM client certificate PEM', schema: privateKeyPem.optional() },
  OCS_CRM_CLIENT_CERTIFICATE_PATH: { label: 'CRM client certificate file', schema: filePath.optional() },
  OCS_CRM_CLIENT_CERTIFICATE_THUMBPRINT: { label: 'CRM client certificate thumbprint', schema: thumbprint.optional() },
  OCS_MAILBOXES: { label: 'enrolled mailboxes', schema: required(mailboxList) },
  OCS_SCHEDULE: { label: 'sync schedule', schema: withDefault(DEFAULT_SCHEDULE, schedule) },
  OCS_CONTACT_ENABLED: { label: 'contact sync switch', schema: bool(true) },
  OCS_CONTACT_SYNC_FROM_CRM: { label: 'contacts from CRM switch', schema: bool(true) },
  OCS_CONTACT_DELETE_IN_CRM_ON_UNTRACK: { label: 'delete CRM contact on untrack switch', schema: bool(false) },
  OCS_CONTACT_UPDATE_COMPANY_FIELD: { label: 'update company field switch', schema: bool(false) },
  OCS_APPOINTMENT_ENABLED: { label: 'appointment sync switch', schema: bool(true) },
  OCS_APPOINTMENT_SYNC_FROM_CRM: { label: 'appointments from CRM switch', schema: bool(true) },
  OCS_TASK_ENABLED: { label: 'task sync switch', schema: bool(true) },
  OCS_TASK_SYNC_FROM_CRM: { label: 'tasks from CRM switch', schema: bool(true) },
  OCS_EMAIL_ENABLED: { label: 'e-mail tracking switch', schema: bool(true) },
  OCS_EMAIL_DELETE_IN_CRM_ON_UNTRACK: { label: 'delete CRM e-mail on untrack switch', schema: bool(false) },
  OCS_CONFLICT_POLICY: { label: 'conflict policy', schema: oneOf(['latest', 'crm-wins', 'outlook-wins'], 'latest') },
  OCS_TIE_BREAK: { label: 'conflict tie-break side', schema: oneOf(['crm', 'outlook'], 'crm') },
  OCS_DELETE_GUARD_MAX_COUNT: { label: 'delete guard count', schema: integer(25, 0, 1_000_000) },
  OCS_DELETE_GUARD_MAX_SHARE: { label: 'delete guard share', schema: share(0.2) },
  OCS_CALENDAR_PAST_DAYS: { label: 'calendar window days in the past', schema: integer(30, 0, 3650) },
  OCS_CALENDAR_FUTURE_DAYS: { label: 'calendar window days in the future', schema: integer(365, 1, 3650) },
  OCS_CATEGORY_NAME: { label: 'tracking category name', schema: withDefault(DEFAULT_CATEGORY_NAME, categoryName) },
  OCS_PRODUCT_GUID: { label: 'product GUID', schema: withDefault(DEFAULT_PRODUCT_GUID, guid) },
  OCS_DRY_RUN: { label: 'dry run switch', schema: bool(false) },
  OCS_MAILBOX_OVERRIDES: { label: 'per-mailbox overrides', schema: withDefault('{}', overrides) },
} as const;

type FieldName = keyof typeof FIELDS;
type Fields = { [K in FieldName]: z.output<(typeof FIELDS)[K]['schema']> };

/** The settings the schema knows, in order. */
export const SCHEMA_SETTING_NAMES: readonly string[] = Object.keys(FIELDS);

export function labelOf(name: string): string | undefined {
  return (FIELDS as Record<string, { label: string } | undefined>)[name]?.label;
}

type Issue = { path: (string | number)[]; message: string };

/** The one schema: raw environment in, Config out; all problems reported as issues whose path starts with the setting. */
export const configSchema = z.record(z.string().optional()).transform((env, ctx) => {
  const issues: Issue[] = [];
  const fields = parseFields(env, issues);
  for (const name of Object.keys(env)) {
    if (name.startsWith(SETTING_PREFIX) && !(name in FIELDS)) issues.push({ path: [name], message: 'is not a known setting (check the spelling)' });
  }
  // A setting that is present but invalid has its own problem already; cross-field rules treat it as present.
  const present = (name: string) => (env[name]?.trim() ?? '') !== '';
  const config = fields ? buildConfig(fields, present, issues) : null;
  for (const issue of issues) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
  return issues.length > 0 || config === null ? z.NEVER : config;
});

function parseFields(env: Env, issues: Issue[]): Partial<Fields> | null {
  const fields: Record<string, unknown> = {};
  for (const [name, { schema }] of Object.entries(FIELDS) as [FieldName, (typeof FIELDS)[FieldName]][]) {
    const raw = env[name]?.trim();
    const parsed = (schema as Field<unknown>).safeParse(raw === '' ? undefined : raw);
    if (parsed.success) fields[name] = parsed.data;
    else for (const issue of parsed.error.issues) issues.push({ path: [name, ...issue.path], message: issue.message });
  }
  return fields as Partial<Fields>;
}

function buildConfig(f: Partial<Fields>, present: (name: string) => boolean, issues: Issue[]): Config | null {
  const app = appRegistration(f.OCS_TENANT_ID, f.OCS_CLIENT_ID, {
    secret: ['OCS_CLIENT_SECRET', f.OCS_CLIENT_SECRET],
    pem: ['OCS_CLIENT_CERTIFICATE_PEM', f.OCS_CLIENT_CERTIFICATE_PEM],
    path: ['OCS_CLIENT_CERTIFICATE_PATH', f.OCS_CLIENT_CERTIFICATE_PATH],
    thumbprint: ['OCS_CLIENT_CERTIFICATE_THUMBPRINT', f.OCS_CLIENT_CERTIFICATE_THUMBPRINT],
  }, present, issues);
  const crmApp = crmRegistration(f, app, present, issues);
  const storage = storageConnection(f, present, issues);
  if (f.OCS_EXTRA_CA_PEM !== undefined && f.OCS_EXTRA_CA_PATH !== undefined) {
    issues.push({ path: ['OCS_EXTRA_CA_PEM'], message: 'is set together with OCS_EXTRA_CA_PATH; set at most one' });
  }
  checkOverrides(f, issues);
  if (issues.length > 0 || !app || !crmApp || !storage) return null;
  const all = f as Fields;
  return {
    app,
    graph: {
      baseUrl: all.OCS_GRAPH_BASE_URL,
      authorityHost: all.OCS_AUTHORITY_HOST,
      maxConcurrentPerMailbox: all.OCS_GRAPH_MAX_CONCURRENT_PER_MAILBOX,
      maxConcurrentPerApp: all.OCS_GRAPH_MAX_CONCURRENT_PER_APP,
      extraCa: all.OCS_EXTRA_CA_PEM !== undefined ? { pem: all.OCS_EXTRA_CA_PEM } : all.OCS_EXTRA_CA_PATH !== undefined ? { path: all.OCS_EXTRA_CA_PATH } : null,
    },
    storage: { connection: storage, tablePrefix: all.OCS_TABLE_PREFIX, queueName: all.OCS_QUEUE_NAME },
    crm: { kind: all.OCS_CRM_KIND, url: all.OCS_CRM_URL, app: crmApp },
    mailboxes: all.OCS_MAILBOXES,
    schedule: all.OCS_SCHEDULE,
    productGuid: all.OCS_PRODUCT_GUID,
    defaults: tenantDefaults(all),
    overrides: all.OCS_MAILBOX_OVERRIDES,
  };
}

type CredentialFields = {
  secret: [string, Secret | undefined];
  pem: [string, Secret | undefined];
  path: [string, string | undefined];
  thumbprint: [string, Thumbprint | undefined];
};

function appRegistration(
  tenantId: string | undefined,
  clientId: string | undefined,
  c: CredentialFields,
  present: (name: string) => boolean,
  issues: Issue[],
): AppRegistration | null {
  const given = [c.secret[0], c.pem[0], c.path[0]].filter(present);
  if (given.length > 1) {
    issues.push({ path: [given[0] as string], message: `is set together with ${given.slice(1).join(' and ')}; set exactly one way to sign in` });
  } else if (given.length === 0) {
    issues.push({ path: [c.secret[0]], message: `is missing: set the client secret, or a certificate (${c.pem[0]}, or ${c.path[0]} with ${c.thumbprint[0]})` });
  }
  if (present(c.path[0]) && !present(c.thumbprint[0])) issues.push({ path: [c.thumbprint[0]], message: `is required with ${c.path[0]}` });
  if (present(c.thumbprint[0]) && !present(c.pem[0]) && !present(c.path[0])) {
    issues.push({ path: [c.thumbprint[0]], message: 'is set but no certificate is' });
  }
  if (c.pem[1] !== undefined && c.thumbprint[1] === undefined && !c.pem[1].reveal().includes('-----BEGIN CERTIFICATE-----')) {
    issues.push({ path: [c.pem[0]], message: `has no certificate block to compute the thumbprint from; add it or set ${c.thumbprint[0]}` });
  }
  if (tenantId === undefined || clientId === undefined) return null;
  const credential: ClientCredential | null =
    c.secret[1] !== undefined
      ? { kind: 'secret', secret: c.secret[1] }
      : c.pem[1] !== undefined
        ? { kind: 'certificatePem', pem: c.pem[1], thumbprint: c.thumbprint[1] ?? null }
        : c.path[1] !== undefined && c.thumbprint[1] !== undefined
          ? { kind: 'certificateFile', path: c.path[1], thumbprint: c.thumbprint[1] }
          : null;
  return credential ? { tenantId, clientId, credential } : null;
}

/** The CRM signs in with the main app registration unless a separate one is configured. */
function crmRegistration(f: Partial<Fields>, app: AppRegistration | null, present: (name: string) => boolean, issues: Issue[]): AppRegistration | null {
  const separate = ['OCS_CRM_CLIENT_ID', 'OCS_CRM_CLIENT_SECRET', 'OCS_CRM_CLIENT_CERTIFICATE_PEM', 'OCS_CRM_CLIENT_CERTIFICATE_PATH', 'OCS_CRM_CLIENT_CERTIFICATE_THUMBPRINT'];
  if (!separate.some(present)) {
    if (present('OCS_CRM_TENANT_ID')) issues.push({ path: ['OCS_CRM_TENANT_ID'], message: 'is set but OCS_CRM_CLIENT_ID is not' });
    return app;
  }
  if (!present('OCS_CRM_CLIENT_ID')) issues.push({ path: ['OCS_CRM_CLIENT_ID'], message: 'is required when a separate CRM credential is set' });
  return appRegistration(f.OCS_CRM_TENANT_ID ?? f.OCS_TENANT_ID, f.OCS_CRM_CLIENT_ID, {
    secret: ['OCS_CRM_CLIENT_SECRET', f.OCS_CRM_CLIENT_SECRET],
    pem: ['OCS_CRM_CLIENT_CERTIFICATE_PEM', f.OCS_CRM_CLIENT_CERTIFICATE_PEM],
    path: ['OCS_CRM_CLIENT_CERTIFICATE_PATH', f.OCS_CRM_CLIENT_CERTIFICATE_PATH],
    thumbprint: ['OCS_CRM_CLIENT_CERTIFICATE_THUMBPRINT', f.OCS_CRM_CLIENT_CERTIFICATE_THUMBPRINT],
  }, present, issues);
}

function storageConnection(f: Partial<Fields>, present: (name: string) => boolean, issues: Issue[]): StorageConnectionSettings | null {
  const identity = [f.AzureWebJobsStorage__accountName, f.AzureWebJobsStorage__tableServiceUri, f.AzureWebJobsStorage__queueServiceUri];
  const usesIdentity = identity.some((value) => value !== undefined) || ['AzureWebJobsStorage__accountName', 'AzureWebJobsStorage__tableServiceUri', 'AzureWebJobsStorage__queueServiceUri'].some(present);
  if (present('AzureWebJobsStorage') && usesIdentity) {
    issues.push({ path: ['AzureWebJobsStorage'], message: 'is set together with AzureWebJobsStorage__accountName or service URIs; use one way to reach storage' });
    return null;
  }
  if (f.AzureWebJobsStorage !== undefined) return { kind: 'connectionString', connectionString: f.AzureWebJobsStorage };
  if (!usesIdentity) {
    if (present('AzureWebJobsStorage')) return null;
    issues.push({ path: ['AzureWebJobsStorage'], message: 'is missing: set a connection string, or AzureWebJobsStorage__accountName for managed identity' });
    return null;
  }
  const account = f.AzureWebJobsStorage__accountName;
  const tableServiceUrl = f.AzureWebJobsStorage__tableServiceUri ?? (account ? `https://${account}.table.core.windows.net` : undefined);
  const queueServiceUrl = f.AzureWebJobsStorage__queueServiceUri ?? (account ? `https://${account}.queue.core.windows.net` : undefined);
  if (tableServiceUrl === undefined || queueServiceUrl === undefined) {
    issues.push({ path: ['AzureWebJobsStorage__accountName'], message: 'is required unless both the table and queue service URIs are set' });
    return null;
  }
  return { kind: 'identity', tableServiceUrl, queueServiceUrl, managedIdentityClientId: f.AzureWebJobsStorage__clientId ?? null };
}

function checkOverrides(f: Partial<Fields>, issues: Issue[]): void {
  if (f.OCS_MAILBOX_OVERRIDES === undefined || f.OCS_MAILBOXES === undefined) return;
  const enrolled = new Set(f.OCS_MAILBOXES.map((m) => m.toLowerCase()));
  Object.keys(f.OCS_MAILBOX_OVERRIDES).forEach((mailbox, i) => {
    if (!enrolled.has(mailbox)) issues.push({ path: ['OCS_MAILBOX_OVERRIDES'], message: `entry ${i + 1} names a mailbox that is not in OCS_MAILBOXES` });
  });
}

function tenantDefaults(f: Fields): Omit<MailboxSettings, 'mailbox'> {
  const kind = (enabled: boolean, syncFromCrm: boolean, deleteInCrmOnUntrack: boolean, updateCompanyField: boolean): KindSettings => ({
    enabled,
    syncFromCrm,
    conflictPolicy: f.OCS_CONFLICT_POLICY,
    tieBreak: f.OCS_TIE_BREAK,
    deleteInCrmOnUntrack,
    updateCompanyField,
  });
  const kinds: Record<ItemKind, KindSettings> = {
    contact: kind(f.OCS_CONTACT_ENABLED, f.OCS_CONTACT_SYNC_FROM_CRM, f.OCS_CONTACT_DELETE_IN_CRM_ON_UNTRACK, f.OCS_CONTACT_UPDATE_COMPANY_FIELD),
    appointment: kind(f.OCS_APPOINTMENT_ENABLED, f.OCS_APPOINTMENT_SYNC_FROM_CRM, false, false),
    task: kind(f.OCS_TASK_ENABLED, f.OCS_TASK_SYNC_FROM_CRM, false, false),
    // E-mail is never created in Outlook from the CRM (DESIGN.md §2: tracked messages become activities).
    email: kind(f.OCS_EMAIL_ENABLED, false, f.OCS_EMAIL_DELETE_IN_CRM_ON_UNTRACK, false),
  };
  return {
    kinds,
    categoryName: f.OCS_CATEGORY_NAME,
    calendarWindow: { pastDays: f.OCS_CALENDAR_PAST_DAYS, futureDays: f.OCS_CALENDAR_FUTURE_DAYS },
    deleteGuard: { maxCount: f.OCS_DELETE_GUARD_MAX_COUNT, maxShare: f.OCS_DELETE_GUARD_MAX_SHARE },
    dryRun: f.OCS_DRY_RUN,
  };
}
