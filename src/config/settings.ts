// Every setting the worker reads from its environment (Functions app settings are environment variables), with a
// one-line description for the README's settings table. The schema in schema.ts knows exactly these names.

export interface SettingInfo {
  name: string;
  description: string;
  /** What applies when the setting is absent; null when it is required or has no default. */
  default: string | null;
  /** Never echoed in problems or logs. */
  secret: boolean;
}

export const SETTING_PREFIX = 'OCS_';

/** The product's extended-property namespace when OCS_PRODUCT_GUID is not set (fixed for this product; never change it). */
export const DEFAULT_PRODUCT_GUID = '6f0c3a9e-2b7d-4e1a-9c58-d41b7e2f8a63';
export const DEFAULT_SCHEDULE = '0 */15 * * * *';
export const DEFAULT_GRAPH_BASE_URL = 'https://graph.microsoft.com';
export const DEFAULT_AUTHORITY_HOST = 'https://login.microsoftonline.com';
export const DEFAULT_CATEGORY_NAME = 'Tracked to CRM';
export const DEFAULT_QUEUE_NAME = 'mailbox-sync';

const setting = (name: string, description: string, defaultValue: string | null = null, secret = false): SettingInfo => ({
  name,
  description,
  default: defaultValue,
  secret,
});

export const SETTINGS: readonly SettingInfo[] = [
  setting('OCS_TENANT_ID', 'Entra tenant id (GUID) or verified domain the worker signs in to (required).'),
  setting('OCS_CLIENT_ID', 'Application (client) id of the app registration with Graph application permissions (required).'),
  setting('OCS_CLIENT_SECRET', 'Client secret of the app registration; set exactly one of the secret or a certificate.', null, true),
  setting('OCS_CLIENT_CERTIFICATE_PEM', 'Client certificate as PEM text (private key and certificate), instead of a secret.', null, true),
  setting('OCS_CLIENT_CERTIFICATE_PATH', 'Path to a PEM file with the client certificate and private key, instead of a secret.'),
  setting('OCS_CLIENT_CERTIFICATE_THUMBPRINT', 'Certificate thumbprint (SHA-1 or SHA-256 hex); required with the certificate path.'),
  setting('OCS_GRAPH_BASE_URL', 'Microsoft Graph endpoint (national cloud or local simulator); https unless loopback.', DEFAULT_GRAPH_BASE_URL),
  setting('OCS_AUTHORITY_HOST', "Entra sign-in authority host; for a national-cloud OCS_GRAPH_BASE_URL the default is that cloud's (login.microsoftonline.us, login.chinacloudapi.cn); https unless loopback.", DEFAULT_AUTHORITY_HOST),
  setting('OCS_GRAPH_MAX_CONCURRENT_PER_MAILBOX', 'Graph requests in flight per mailbox (1–4; Outlook allows 4 per app and mailbox).', '4'),
  setting('OCS_GRAPH_MAX_CONCURRENT_PER_APP', 'Graph requests in flight per worker process across all mailboxes; 0 means no app-wide cap.', '0'),
  setting('OCS_EXTRA_CA_PEM', 'Extra CA certificate (PEM text) to trust, for local simulators.'),
  setting('OCS_EXTRA_CA_PATH', 'Path to an extra CA certificate (PEM) to trust, for local simulators.'),
  setting('AzureWebJobsStorage', 'Storage connection string for state tables and the work queue (or use managed identity below).', null, true),
  setting('AzureWebJobsStorage__accountName', 'Storage account name, for managed-identity access instead of a connection string.'),
  setting('AzureWebJobsStorage__tableServiceUri', 'Table endpoint for managed-identity access (default https://<account>.table.core.windows.net).'),
  setting('AzureWebJobsStorage__queueServiceUri', 'Queue endpoint for managed-identity access (default https://<account>.queue.core.windows.net).'),
  setting('AzureWebJobsStorage__clientId', 'Client id of a user-assigned managed identity for storage (default: system-assigned).'),
  setting('OCS_TABLE_PREFIX', 'Prefix for the state table names (letters and digits), to share a storage account.', ''),
  setting('OCS_QUEUE_NAME', 'Name of the per-mailbox work queue.', DEFAULT_QUEUE_NAME),
  setting('OCS_CRM_KIND', 'CRM connector to use.', 'dataverse'),
  setting('OCS_CRM_URL', 'CRM environment URL, e.g. https://contoso.crm.dynamics.com (required).'),
  setting('OCS_CRM_TENANT_ID', 'Tenant of a separate CRM app registration.', 'OCS_TENANT_ID'),
  setting('OCS_CRM_CLIENT_ID', 'Client id of a separate CRM app registration.', 'OCS_CLIENT_ID and its credential'),
  setting('OCS_CRM_CLIENT_SECRET', 'Client secret of the separate CRM app registration.', null, true),
  setting('OCS_CRM_CLIENT_CERTIFICATE_PEM', 'Client certificate (PEM text) of the separate CRM app registration.', null, true),
  setting('OCS_CRM_CLIENT_CERTIFICATE_PATH', 'Path to the client certificate (PEM) of the separate CRM app registration.'),
  setting('OCS_CRM_CLIENT_CERTIFICATE_THUMBPRINT', 'Thumbprint of the separate CRM app registration certificate.'),
  setting('OCS_MAILBOXES', 'Enrolled mailboxes: user principal names separated by commas or semicolons (required).'),
  setting('OCS_SCHEDULE', 'When the fan-out timer runs: 6-field NCRONTAB {second} {minute} {hour} {day} {month} {day-of-week}.', DEFAULT_SCHEDULE),
  setting('OCS_CONTACT_ENABLED', 'Sync contacts.', 'true'),
  setting('OCS_CONTACT_SYNC_FROM_CRM', 'Create contacts the user owns in the CRM in Outlook.', 'true'),
  setting('OCS_CONTACT_DELETE_IN_CRM_ON_UNTRACK', 'Delete the CRM contact when a user untracks it in Outlook (else unlink).', 'false'),
  setting('OCS_CONTACT_UPDATE_COMPANY_FIELD', "Set the Outlook contact's company from its CRM parent account (one way).", 'false'),
  setting('OCS_APPOINTMENT_ENABLED', 'Sync appointments (calendar events).', 'true'),
  setting('OCS_APPOINTMENT_SYNC_FROM_CRM', "Create the user's CRM appointments in Outlook.", 'true'),
  setting('OCS_TASK_ENABLED', 'Sync tasks (Microsoft To Do).', 'true'),
  setting('OCS_TASK_SYNC_FROM_CRM', "Create the user's CRM tasks in Outlook.", 'true'),
  setting('OCS_EMAIL_ENABLED', 'Track e-mail (Inbox, Sent Items) as CRM e-mail activities.', 'true'),
  setting('OCS_EMAIL_DELETE_IN_CRM_ON_UNTRACK', 'Delete the CRM e-mail activity when a user untracks the message (else unlink).', 'false'),
  setting('OCS_CONFLICT_POLICY', 'Field conflict policy: latest (most recent change wins), crm-wins or outlook-wins.', 'latest'),
  setting('OCS_TIE_BREAK', 'Side that wins a latest conflict with equal timestamps: crm or outlook.', 'crm'),
  setting('OCS_DELETE_GUARD_MAX_COUNT', 'Hold all deletes of a cycle that would delete more than this many linked items.', '25'),
  setting('OCS_DELETE_GUARD_MAX_SHARE', 'Hold all deletes of a cycle that would delete more than this share (0–1) of linked items.', '0.2'),
  setting('OCS_CALENDAR_PAST_DAYS', 'Days before now that the calendar sync window covers.', '30'),
  setting('OCS_CALENDAR_FUTURE_DAYS', 'Days after now that the calendar sync window covers.', '365'),
  setting('OCS_CATEGORY_NAME', 'Name of the Outlook category that marks items as tracked.', DEFAULT_CATEGORY_NAME),
  setting('OCS_PRODUCT_GUID', 'GUID of the extended-property namespace of the tracking marker (same for every add-in or script).', DEFAULT_PRODUCT_GUID),
  setting('OCS_DRY_RUN', 'Plan and report everything, write nothing to Outlook or the CRM.', 'false'),
  setting('OCS_MAILBOX_OVERRIDES', 'JSON object of per-mailbox overrides, e.g. {"alice@contoso.com": {"conflictPolicy": "crm-wins"}}.', '{}'),
];

export const SECRET_SETTINGS: ReadonlySet<string> = new Set(SETTINGS.filter((s) => s.secret).map((s) => s.name));
