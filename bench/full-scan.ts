// The baseline the delta cycle is compared with: what the pre-delta clients did to find changes. List every item of
// every synced folder (plain paging, ids and versions only) and every record the user owns in the CRM, and compare
// each with the stored mapping's last seen version. It finds the same changed items the delta cycle is told about,
// at a cost that grows with the mailbox instead of with the changes. Detection only: the writes that follow would be
// the same as the delta cycle's, so they are not repeated here.
import { DataverseCrmConnector } from '../src/adapters/dataverse';
import { trustedFetch } from '../src/adapters/http/trusted-fetch';
import type { ItemKind, MappingRow } from '../src/core/model';
import type { BenchWorld } from './env';
import { GRAPH_PAGE_SIZE } from './env';

export interface FullScanResult {
  /** Items and records listed. */
  listed: number;
  /** Listed items whose version differs from their mapping's (changed since the last sync). */
  changed: number;
  /** Mapped items the listing did not show (deleted, or outside the listed folders). */
  missing: number;
}

interface Listed {
  id: string;
  version: string | null;
}

const CRM_SETS: Record<ItemKind, { set: string; key: string }> = {
  contact: { set: 'contacts', key: 'contactid' },
  appointment: { set: 'appointments', key: 'activityid' },
  task: { set: 'tasks', key: 'activityid' },
  email: { set: 'emails', key: 'activityid' },
};

function record(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/** Graph's `changeKey`; To Do tasks have none, their etag (`W/"<changeKey>"`) carries it, as the adapter reads it. */
function versionOf(item: Record<string, unknown>): string | null {
  if (typeof item['changeKey'] === 'string') return item['changeKey'];
  const etag = item['@odata.etag'];
  return typeof etag === 'string' ? etag.replace(/^W\//, '').replace(/^"|"$/g, '') : null;
}

export async function fullScan(world: BenchWorld, mailbox: string, crmUserId: string): Promise<FullScanResult> {
  const byOutlookId = new Map<string, MappingRow>();
  const byCrmId = new Map<string, MappingRow>();
  for await (const mapping of world.runtime.store.listMappings(mailbox)) {
    if (mapping.state !== 'linked') continue;
    if (mapping.outlookId) byOutlookId.set(mapping.outlookId, mapping);
    if (mapping.crmId) byCrmId.set(`${mapping.kind}:${mapping.crmId.toLowerCase()}`, mapping);
  }
  const result: FullScanResult = { listed: 0, changed: 0, missing: 0 };
  const seenOutlook = new Set<string>();
  const seenCrm = new Set<string>();

  const fetch = trustedFetch(world.graph.caCert);
  const user = `${world.graph.baseUrl}v1.0/users/${encodeURIComponent(mailbox)}`;
  const now = Date.now();
  const day = 86_400_000;
  const window = `startDateTime=${new Date(now - 30 * day).toISOString()}&endDateTime=${new Date(now + 365 * day).toISOString()}`;
  const select = `$select=id,changeKey,categories&$top=${GRAPH_PAGE_SIZE}`;
  const folders = [
    `${user}/contacts?${select}`,
    `${user}/calendarView?${window}&${select}`,
    `${user}/todo/lists/${encodeURIComponent(world.graph.control.folders(mailbox).tasks)}/tasks?$select=id,categories&$top=${GRAPH_PAGE_SIZE}`,
    `${user}/mailFolders/inbox/messages?${select}`,
    `${user}/mailFolders/sentitems/messages?${select}`,
  ];
  for (const first of folders) {
    for (let url: string | undefined = first; url; ) {
      const response = await fetch(url, { headers: { Authorization: 'Bearer bench-full-scan', Prefer: 'IdType="ImmutableId"' } });
      const page = record(await response.json());
      if (!response.ok) throw new Error(`full scan: ${response.status} on ${url}`);
      const items = Array.isArray(page['value']) ? page['value'].map(record) : [];
      for (const item of items) {
        const listed: Listed = { id: String(item['id']), version: versionOf(item) };
        result.listed += 1;
        const mapping = byOutlookId.get(listed.id);
        if (!mapping) continue;
        seenOutlook.add(listed.id);
        if (mapping.outlookVersion !== listed.version) result.changed += 1;
      }
      url = typeof page['@odata.nextLink'] === 'string' ? page['@odata.nextLink'] : undefined;
    }
  }

  const crm = world.runtime.deps.crm;
  if (!(crm instanceof DataverseCrmConnector)) throw new Error('the full scan reads Dataverse through the connector');
  for (const kind of Object.keys(CRM_SETS) as ItemKind[]) {
    const { set, key } = CRM_SETS[kind];
    let url: string | undefined = `${set}?$select=${key}&$filter=_ownerid_value eq ${crmUserId}`;
    while (url) {
      const response = await crm.http.send({ method: 'GET', url, headers: { Prefer: 'odata.maxpagesize=500' } });
      if (response.status !== 200) throw new Error(`full scan: ${response.status} on ${set}`);
      const page = record(response.body);
      const rows = Array.isArray(page['value']) ? page['value'].map(record) : [];
      for (const row of rows) {
        result.listed += 1;
        const id = `${kind}:${String(row[key]).toLowerCase()}`;
        const mapping = byCrmId.get(id);
        if (!mapping) continue;
        seenCrm.add(id);
        if (mapping.crmVersion !== row['@odata.etag']) result.changed += 1;
      }
      url = typeof page['@odata.nextLink'] === 'string' ? page['@odata.nextLink'] : undefined;
    }
  }
  result.missing = [...byOutlookId.keys()].filter((id) => !seenOutlook.has(id)).length + [...byCrmId.keys()].filter((id) => !seenCrm.has(id)).length;
  return result;
}
