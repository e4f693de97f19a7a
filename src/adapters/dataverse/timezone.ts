// The CRM user's time zone on Dataverse. DateTime UserLocal columns (appointment and task dates,
// dataverse-behaviour.md §4.4, §4.5) are stored in UTC and shown in the user's zone, which lives in UserSettings:
// `usersettingscollection(<systemuserid>)` → `timezonecode` (Microsoft Learn "Specify time zone settings for a user";
// "usersettings EntityType": entity set usersettingscollection, key systemuserid). TimeZoneDefinition maps the code to
// `standardname`, the Windows time-zone id ("timezonedefinition EntityType": entity set timezonedefinitions;
// `retiredorder` 0 is a code's current entry). Kept apart from connector.ts, which only delegates here.
import { z } from 'zod';
import { TransientError } from '../../ports/errors';
import { errorInfo, failureFor, type DataverseHttp } from './http';

const userSettingsRow = z.object({ timezonecode: z.number().int().nullable().optional() });
const definitionsPage = z.object({ value: z.array(z.object({ standardname: z.string().nullable().optional() })) });

export class DataverseTimeZones {
  /** timezonecode → standardname. Time-zone definitions are system data: one query per code for the connector's life. */
  private readonly names = new Map<number, string | null>();

  constructor(private readonly http: DataverseHttp) {}

  /**
   * The Windows time-zone id of a user's CRM time zone; null when the user has no settings row or the code has no
   * definition (the worker then converts dates at UTC midnight and logs it). Any failure throws, a refused read (403)
   * included: a cycle must not run with a guessed zone, and the missing privilege is for an administrator to grant.
   */
  async ofUser(systemUserId: string): Promise<string | null> {
    const response = await this.http.send({ method: 'GET', url: `usersettingscollection(${systemUserId})?$select=timezonecode` });
    if (response.status === 404) return null;
    if (response.status !== 200) throw failureFor(errorInfo(response.status, response.body), 'GET usersettingscollection');
    const row = userSettingsRow.safeParse(response.body);
    if (!row.success) throw new TransientError('unreadable usersettings response');
    const code = row.data.timezonecode;
    return code === null || code === undefined ? null : this.nameOf(code);
  }

  private async nameOf(code: number): Promise<string | null> {
    if (this.names.has(code)) return this.names.get(code) ?? null;
    const filter = `timezonecode eq ${code} and retiredorder eq 0`;
    const response = await this.http.send({
      method: 'GET',
      url: `timezonedefinitions?$select=standardname&$filter=${encodeURIComponent(filter)}`,
    });
    if (response.status !== 200) throw failureFor(errorInfo(response.status, response.body), 'GET timezonedefinitions');
    const page = definitionsPage.safeParse(response.body);
    if (!page.success) throw new TransientError('unreadable timezonedefinitions response');
    const name = page.data.value[0]?.standardname?.trim() || null;
    this.names.set(code, name);
    return name;
  }
}
