// Loading the configuration once at start-up: every problem at once, in plain words, with no secret in sight.
import type { ItemKind, KindSettings, MailboxSettings } from '../core/model';
import { configSchema, labelOf, type Config, type Env, type MailboxOverride } from './schema';
import { SECRET_SETTINGS, SETTING_PREFIX } from './settings';

export type LoadResult = { ok: true; config: Config } | { ok: false; problems: string[] };

/** Every problem in the configuration, carried together so the admin can fix them in one go. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(formatProblems(problems));
    this.name = 'ConfigError';
  }
}

export function loadConfig(env: Env): LoadResult {
  const parsed = configSchema.safeParse({ ...env });
  if (parsed.success) return { ok: true, config: parsed.data };
  const problems = parsed.error.issues.map((issue) => {
    const [name = '', ...rest] = issue.path.map(String);
    const where = rest.length > 0 ? ` at ${rest.join('.')}` : '';
    const label = labelOf(name);
    return `${name}${label ? ` (${label})` : ''}${where}: ${issue.message}`;
  });
  return { ok: false, problems: redactSecrets(problems, env) };
}

/** loadConfig for entry points: the Config, or a ConfigError listing every problem. */
export function loadConfigOrThrow(env: Env): Config {
  const result = loadConfig(env);
  if (!result.ok) throw new ConfigError(result.problems);
  return result.config;
}

export function formatProblems(problems: readonly string[]): string {
  const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
  return `The configuration has ${count}:\n${problems.map((p) => `  - ${p}`).join('\n')}`;
}

/** `npm start` runs the sandbox when nothing of the worker's own configuration is present. */
export function isSandbox(env: Env): boolean {
  return !Object.entries(env).some(([name, value]) => name.startsWith(SETTING_PREFIX) && value !== undefined && value.trim() !== '');
}

/** Tenant defaults merged with the mailbox's overrides (a mailbox without overrides gets the defaults). */
export function mailboxSettings(config: Config, mailbox: string): MailboxSettings {
  const override: MailboxOverride = config.overrides[mailbox.trim().toLowerCase()] ?? {};
  const defaults = config.defaults;
  const kinds = {} as Record<ItemKind, KindSettings>;
  for (const kind of Object.keys(defaults.kinds) as ItemKind[]) {
    kinds[kind] = {
      ...defaults.kinds[kind],
      ...(override.conflictPolicy !== undefined ? { conflictPolicy: override.conflictPolicy } : {}),
      ...(override.tieBreak !== undefined ? { tieBreak: override.tieBreak } : {}),
      ...override.kinds?.[kind],
    };
  }
  return {
    mailbox,
    kinds,
    categoryName: override.categoryName ?? defaults.categoryName,
    calendarWindow: { ...defaults.calendarWindow, ...override.calendarWindow },
    deleteGuard: { ...defaults.deleteGuard, ...override.deleteGuard },
    dryRun: override.dryRun ?? defaults.dryRun,
  };
}

/** The mailbox's sync schedule: its override, else the tenant schedule. */
export function mailboxSchedule(config: Config, mailbox: string): string {
  return config.overrides[mailbox.trim().toLowerCase()]?.schedule ?? config.schedule;
}

/**
 * Belt and braces: the schema's messages never quote a secret, but should one ever slip in, it is cut out here. Covers
 * whole secret values and the parts of a connection string (AccountKey, SharedAccessSignature).
 */
function redactSecrets(problems: string[], env: Env): string[] {
  const secrets = new Set<string>();
  for (const name of SECRET_SETTINGS) {
    const value = env[name]?.trim();
    if (!value) continue;
    secrets.add(value);
    for (const part of value.split(/[;\n]/)) {
      const piece = part.slice(part.indexOf('=') + 1).trim();
      if (piece.length >= 6) secrets.add(piece);
    }
  }
  const ordered = [...secrets].filter((s) => s.length >= 4).sort((a, b) => b.length - a.length);
  return problems.map((problem) => ordered.reduce((text, secret) => text.split(secret).join('[redacted]'), problem));
}
