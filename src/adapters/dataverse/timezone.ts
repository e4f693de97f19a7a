// The CRM user's time zone on Dataverse. DateTime UserLocal columns (appointment and task dates,
// dataverse-behaviour.md §4.4, §4.5) are stored in UTC and shown in the user's zone, which lives in UserSettings:
// `usersettingscollection(<systemuserid>)` → `timezonecode` (Microsoft Learn "Specify time zone settings for a user";
// "usersettings EntityType": entity set usersettingscollection, key systemuserid). TimeZoneDefinition maps the code to
// `standardname`, the Windows time-zone id ("timezonedefinition EntityType": entity set timezonedefinitions;
// `retiredorder` 0 is a code's current entry). Kept apart from connector.ts, which only delegates here.
import { z } from 'zod';
import { AuthError, TransientError } from '../../ports/errors';
import type { Logger } from '../../ports/logger';
import { errorInfo, failureFor, type DataverseHttp } from './http';

const userSettingsRow = z.object({ timezonecode: z.number().int().nullable().optional() });
const definitionsPage = z.object({ value: z.array(z.object({ standardname: z.string().nullable().optional() })) });

/** Refusals that a retry does not cure and that say nothing about the zone: the zone is unknown. */
const UNKNOWN_ON = new Set([403, 404]);

interface Answer {
  status: number;
  body: unknown;
}

/**
 * DataverseHttp.send throws AuthError for 401 and 403 alike. Only the 403 (a missing privilege) means an unknown zone,
 * answered here; a 401 (no valid token) fails every request and still throws.
 */
function refusal(error: unknown): Answer | null {
  if (!(error instanceof AuthError) || error.status !== 403) return null;
  return { status: 403, body: { error: { code: '', message: error.message } } }; // the message carries the code
}

export class DataverseTimeZones {
  /** timezonecode → standardname. Time-zone definitions are system data: one query per code for the connector's life. */
  private readonly names = new Map<number, string | null>();

  constructor(
    private readonly http: DataverseHttp,
    private readonly logger?: Logger,
  ) {}

  /**
   * The Windows time-zone id of a user's CRM time zone; null (unknown) when the user has no settings row, the code has
   * no definition, or either read is refused (403: the application user lacks read on User Settings or Time Zone
   * Definition) or not found (404). An unknown zone never guesses a day (src/core/mappings/user-local.ts: dates only
   * the zone could place are left out of the merge), so a missing privilege costs those dates, not the mailbox's
   * cycles; it is logged for an administrator to grant. 5xx, throttling and unreadable responses still throw: the
   * cycle is retried rather than run with an unknown zone that a moment later would be known.
   */
  async ofUser(systemUserId: string): Promise<string | null> {
    const response = await this.get(`usersettingscollection(${systemUserId})?$select=timezonecode`);
    if (UNKNOWN_ON.has(response.status)) return this.unknown('usersettingscollection', response.status, response.body, systemUserId);
    if (response.status !== 200) throw failureFor(errorInfo(response.status, response.body), 'GET usersettingscollection');
    const row = userSettingsRow.safeParse(response.body);
    if (!row.success) throw new TransientError('unreadable usersettings response');
    const code = row.data.timezonecode;
    return code === null || code === undefined ? null : this.nameOf(code, systemUserId);
  }

  /** A GET whose 403 is answered, not thrown (see refusal). */
  private async get(url: string): Promise<Answer> {
    try {
      return await this.http.send({ method: 'GET', url });
    } catch (error) {
      const refused = refusal(error);
      if (refused === null) throw error;
      return refused;
    }
  }

  private unknown(entitySet: string, status: number, body: unknown, systemUserId: string): null {
    const { code, message } = errorInfo(status, body);
    const detail = `${code} ${message}`.trim();
    this.logger?.warn(
      status === 403
        ? `CRM user time zone unknown: reading ${entitySet} was refused (grant the application user read on User Settings and Time Zone Definition)`
        : `CRM user time zone unknown: ${entitySet} not found`,
      { systemUserId, status, detail },
    );
    return null;
  }

  private async nameOf(code: number, systemUserId: string): Promise<string | null> {
    if (this.names.has(code)) return this.names.get(code) ?? null;
    const filter = `timezonecode eq ${code} and retiredorder eq 0`;
    const response = await this.get(`timezonedefinitions?$select=standardname&$filter=${encodeURIComponent(filter)}`);
    // Not cached: a privilege granted later is seen at the next cycle.
    if (UNKNOWN_ON.has(response.status)) return this.unknown('timezonedefinitions', response.status, response.body, systemUserId);
    if (response.status !== 200) throw failureFor(errorInfo(response.status, response.body), 'GET timezonedefinitions');
    const page = definitionsPage.safeParse(response.body);
    if (!page.success) throw new TransientError('unreadable timezonedefinitions response');
    const name = page.data.value[0]?.standardname?.trim() || null;
    this.names.set(code, name);
    return name;
  }
}
