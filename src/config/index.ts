// The worker's configuration: one schema (schema.ts), loaded once (load.ts), documented setting by setting (settings.ts).
export { ConfigError, formatProblems, isSandbox, loadConfig, loadConfigOrThrow, mailboxSchedule, mailboxSettings, type LoadResult } from './load';
export type { AppRegistration, ClientCredential, Config, Env, MailboxOverride, StorageConnectionSettings, Thumbprint } from './schema';
export { SCHEMA_SETTING_NAMES } from './schema';
export { Secret } from './secret';
export { DEFAULT_PRODUCT_GUID, DEFAULT_SCHEDULE, SETTINGS, type SettingInfo } from './settings';
