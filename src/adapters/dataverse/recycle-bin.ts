// findDeleted on Dataverse (src/ports/crm-connector.ts): records deleted from a table whose recycle bin is on
// ("Restore deleted records", https://learn.microsoft.com/power-apps/developer/data-platform/restore-deleted-records).
// The bin is read only with FetchXml, `datasource='bin'` ("Currently, you can only retrieve deleted records using
// FetchXml"), and a table whose bin is off answers that query with no rows ("you won't find any records eligible to be
// restored"), which looks exactly like "none of these was deleted". So the table's `recyclebinconfig` row is read
// first ("Tables that are enabled for recycle bin have a row in the RecycleBinConfig table where the statecode is
// active and isreadyforrecyclebin is true"), and without such a row the answer is null. That row is found through its
// table's metadata, not its own `name`: "The RecycleBinConfig table doesn't contain the name of the table, but refers to
// a row in the Entity table" (lookup `extensionofrecordid`). The query is the page's Web API form in "Disable recycle
// bin for a table": `recyclebinconfigs?$filter=extensionofrecordid/name eq '<logical name>'`, where Entity.Name "stores
// the table SchemaName" and "String value comparisons are case insensitive", so the logical name matches. (The same
// page's CleanupIntervalInDays example filters on `name eq '<table>'`; that contradicts the sentence above, so the
// connector does not rely on it.)
import { z } from 'zod';
import type { ItemKind } from '../../core/model';
import { AuthError, TransientError } from '../../ports/errors';
import { errorInfo, failureFor, type DataverseHttp, type DataverseResponse } from './http';
import { DATAVERSE_ENTITIES } from './schema';

/** Ids per bin query: ten `<value>` GUIDs keep the URL short (as match.ts does for `messageid`). */
export const IDS_PER_BIN_QUERY = 10;

/** How long a table's bin setting is trusted: an administrator may switch it, so it is re-read after this. */
const CONFIG_TTL_MS = 10 * 60_000;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const configPage = z.object({
  value: z.array(
    z.object({
      // Choice and Boolean columns come as numbers and booleans in the Web API's JSON.
      statecode: z.number().nullable().optional(),
      isreadyforrecyclebin: z.boolean().nullable().optional(),
    }),
  ),
});

const binPage = z.object({ value: z.array(z.record(z.string(), z.unknown())) });

/**
 * Statuses that mean "this environment cannot answer" rather than a passing fault: 400 (a query form the environment
 * refuses, the bin not enabled for the table when it answers with an error), 403 (no privilege to read the
 * configuration or the bin), 404 (no `recyclebinconfigs` entity set: the feature does not exist there).
 */
const UNANSWERABLE = new Set([400, 403, 404]);

export class DataverseRecycleBin {
  private readonly enabled = new Map<ItemKind, { value: boolean; until: number }>();

  constructor(
    private readonly http: DataverseHttp,
    private readonly now: () => number,
  ) {}

  async findDeleted(kind: ItemKind, ids: readonly string[]): Promise<Set<string> | null> {
    if (!(await this.keepsDeleted(kind))) return null;
    const entity = DATAVERSE_ENTITIES[kind];
    const wanted = [...new Set(ids.map((id) => id.trim().toLowerCase()))].filter((id) => GUID.test(id));
    const found = new Set<string>();
    for (let i = 0; i < wanted.length; i += IDS_PER_BIN_QUERY) {
      const chunk = wanted.slice(i, i + IDS_PER_BIN_QUERY);
      const fetch =
        `<fetch datasource="bin"><entity name="${entity.logicalName}"><attribute name="${entity.primaryKey}"/>` +
        `<filter><condition attribute="${entity.primaryKey}" operator="in">${chunk.map((id) => `<value>${id}</value>`).join('')}` +
        `</condition></filter></entity></fetch>`;
      const response = await this.get(`${entity.entitySet}?fetchXml=${encodeURIComponent(fetch)}`);
      if (response === null) {
        // The configuration said on, the bin query says otherwise: trust the refusal, for this table and this while.
        this.enabled.set(kind, { value: false, until: this.now() + CONFIG_TTL_MS });
        return null;
      }
      const page = binPage.safeParse(this.expectOk(response, `GET ${entity.entitySet} from the recycle bin`));
      if (!page.success) throw new TransientError(`unreadable ${entity.entitySet} recycle-bin page`);
      for (const row of page.data.value) {
        const id = row[entity.primaryKey];
        if (typeof id !== 'string') throw new TransientError(`a ${entity.entitySet} recycle-bin row without ${entity.primaryKey}`);
        if (chunk.includes(id.toLowerCase())) found.add(id.toLowerCase());
      }
    }
    return found;
  }

  /** Whether the table's `recyclebinconfig` row is active and ready; cached for CONFIG_TTL_MS. */
  private async keepsDeleted(kind: ItemKind): Promise<boolean> {
    const cached = this.enabled.get(kind);
    if (cached && cached.until > this.now()) return cached.value;
    const name = DATAVERSE_ENTITIES[kind].logicalName;
    const filter = encodeURIComponent(`extensionofrecordid/name eq '${name}'`);
    const response = await this.get(`recyclebinconfigs?$select=statecode,isreadyforrecyclebin&$filter=${filter}`);
    let value = false;
    if (response !== null) {
      const page = configPage.safeParse(this.expectOk(response, 'GET recyclebinconfigs'));
      if (!page.success) throw new TransientError('unreadable recyclebinconfigs response');
      // The filter already picked the table's row; its own columns do not name the table.
      value = page.data.value.some((row) => row.statecode === 0 && row.isreadyforrecyclebin === true);
    }
    this.enabled.set(kind, { value, until: this.now() + CONFIG_TTL_MS });
    return value;
  }

  /** A GET through the connector's one retry layer; null when the environment cannot answer (UNANSWERABLE). */
  private async get(url: string): Promise<DataverseResponse | null> {
    try {
      const response = await this.http.send({ method: 'GET', url });
      return UNANSWERABLE.has(response.status) ? null : response;
    } catch (error) {
      // http.send throws 401/403 as AuthError; a 403 here is a missing privilege on the bin, not a broken login.
      if (error instanceof AuthError && error.status === 403) return null;
      throw error;
    }
  }

  private expectOk(response: DataverseResponse, what: string): unknown {
    if (response.status !== 200) throw failureFor(errorInfo(response.status, response.body), what);
    return response.body;
  }
}
