// Match before create on Dataverse (DESIGN.md §4): queries by a natural key, so a message another mailbox already
// tracked is linked instead of created twice. dataverse-behaviour.md §4.6: `messageid` (String 320) holds the Internet
// Message-ID and is the key for de-duplicating tracked mail. Kept apart from connector.ts, which only delegates here.
import { z } from 'zod';
import type { CrmRecord } from '../../core/model';
import { ItemRejectedError, TransientError } from '../../ports/errors';
import { errorInfo, failureFor, type DataverseHttp, type DataverseResponse } from './http';
import { parseRow } from './records';
import { DATAVERSE_COLUMNS, DATAVERSE_ENTITIES, PARTY_COLUMNS } from './schema';

/** §2.1: formatted values and the table behind each lookup (parties are read through `_partyid_value`'s table). */
const ANNOTATIONS = 'odata.include-annotations="OData.Community.Display.V1.FormattedValue,Microsoft.Dynamics.CRM.lookuplogicalname"';

/** Message-IDs per query: ten `messageid eq` terms keep the URL far below the request-line limits. */
const IDS_PER_QUERY = 10;

const collectionPage = z.object({
  value: z.array(z.unknown()),
  '@odata.nextLink': z.string().optional(),
});

/**
 * E-mails whose `messageid` equals one of `messageIds`, whoever owns them (the application user reads organization-wide,
 * §1.6), with their parties expanded so the caller can judge scope. The server compares strings case-insensitively
 * (default collation); only exact matches are returned, as a Message-ID is an opaque token (RFC 5322 §3.6.4).
 * A matching row that does not validate fails the lookup (ItemRejectedError): the caller must not create a second
 * record next to a match it could not read.
 */
export async function findEmailsByMessageId(http: DataverseHttp, messageIds: readonly string[], pageSize: number): Promise<CrmRecord[]> {
  const wanted = [...new Set(messageIds.map((id) => id.trim()).filter((id) => id.length > 0))];
  const entity = DATAVERSE_ENTITIES.email;
  const found = new Map<string, CrmRecord>();
  for (let i = 0; i < wanted.length; i += IDS_PER_QUERY) {
    const chunk = wanted.slice(i, i + IDS_PER_QUERY);
    const filter = chunk.map((id) => `messageid eq ${odataString(id)}`).join(' or ');
    const expand = `${entity.partiesProperty}($select=${PARTY_COLUMNS.join(',')})`;
    let url: string | null = `${entity.entitySet}?$select=${DATAVERSE_COLUMNS.email.join(',')}&$filter=${encodeURIComponent(filter)}&$expand=${expand}`;
    while (url !== null) {
      const response: DataverseResponse = await http.send({
        method: 'GET',
        url,
        // §2.1: `If-None-Match: null` defeats cached $expand results (the party lists decide scope).
        headers: { Prefer: `odata.maxpagesize=${pageSize},${ANNOTATIONS}`, 'If-None-Match': 'null' },
      });
      if (response.status !== 200) throw failureFor(errorInfo(response.status, response.body), `GET ${entity.entitySet} by messageid`);
      const page = collectionPage.safeParse(response.body);
      if (!page.success) throw new TransientError(`unreadable ${entity.entitySet} page`);
      for (const row of page.data.value) {
        const parsed = parseRow('email', row);
        if (parsed.type === 'failure') throw new ItemRejectedError(parsed.failure.reason, `email ${parsed.failure.id}: ${parsed.failure.detail}`);
        if (parsed.type !== 'record') continue;
        const messageId = parsed.record.data.messageid;
        if (typeof messageId === 'string' && chunk.includes(messageId)) found.set(parsed.record.id.toLowerCase(), parsed.record);
      }
      url = page.data['@odata.nextLink'] ?? null;
    }
  }
  return [...found.values()];
}

/** An OData string literal: quotes doubled (OData ABNF `SQUOTE-in-string`). */
function odataString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
