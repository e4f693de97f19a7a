// JSON batching, POST /v1.0/$batch (graph-behaviour.md §5.3, §9.5): at most 20 requests, unique ids, dependsOn
// ordering with 424 for dependents of a failed request, at most `batchParallelism` sub-requests at a time, every
// sub-response with `"Content-Type": "application/json"` in exactly that casing (the SDK's BatchResponseContent
// needs it), optionally in shuffled order.
import { graphErrorBody } from '../shared/http';
import { ODataError } from './odata';
import type { GraphService, SimRequest, SimResponse } from './service';
import type { Json, JsonObject } from './store';

interface BatchItem {
  id: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  body: Json | undefined;
  dependsOn: string[];
}

function parseItems(body: Json | undefined): BatchItem[] {
  if (!body || typeof body !== 'object' || Array.isArray(body) || !Array.isArray(body['requests'])) throw new ODataError(400, 'BadRequest', 'Invalid batch payload format.');
  const requests = body['requests'];
  if (requests.length > 20) throw new ODataError(400, 'BadRequest', 'Number of requests in a batch exceeds the limit of 20.');
  if (requests.length === 0) throw new ODataError(400, 'BadRequest', 'The batch request must contain at least one request.');
  const seen = new Set<string>();
  return requests.map((r) => {
    if (!r || typeof r !== 'object' || Array.isArray(r)) throw new ODataError(400, 'BadRequest', 'Invalid batch payload format.');
    const id = r['id'];
    if (typeof id !== 'string' || !id) throw new ODataError(400, 'BadRequest', 'Every request in a batch needs an id.');
    // ids are case-insensitive and unique (§5.3)
    if (seen.has(id.toLowerCase())) throw new ODataError(400, 'BadRequest', `Duplicate request id '${id}' in the batch.`);
    seen.add(id.toLowerCase());
    if (typeof r['method'] !== 'string' || typeof r['url'] !== 'string') throw new ODataError(400, 'BadRequest', `Request '${id}' needs a method and a url.`);
    const headers: Record<string, string> = {};
    const h = r['headers'];
    if (h && typeof h === 'object' && !Array.isArray(h)) for (const [k, v] of Object.entries(h)) if (typeof v === 'string') headers[k.toLowerCase()] = v;
    if (r['body'] !== undefined && !headers['content-type']) throw new ODataError(400, 'BadRequest', `Request '${id}' has a body but no Content-Type header.`);
    const deps = r['dependsOn'];
    const dependsOn = Array.isArray(deps) ? deps.map(String) : [];
    return { id, method: r['method'].toUpperCase(), url: r['url'], headers, body: r['body'], dependsOn };
  });
}

export async function runBatch(service: GraphService, outer: SimRequest): Promise<SimResponse> {
  const items = parseItems(outer.body);
  const ids = new Set(items.map((i) => i.id.toLowerCase()));
  for (const item of items) for (const d of item.dependsOn) if (!ids.has(d.toLowerCase())) throw new ODataError(400, 'BadRequest', `Request '${item.id}' depends on unknown request '${d}'.`);
  const results = new Map<string, JsonObject>();
  const done = new Map<string, Promise<number>>();
  let running = 0;
  const waiters: (() => void)[] = [];
  const acquire = async () => {
    while (running >= Math.max(1, service.knobs.batchParallelism)) await new Promise<void>((r) => waiters.push(r));
    running += 1;
  };
  const release = () => {
    running -= 1;
    waiters.shift()?.();
  };
  const run = (item: BatchItem): Promise<number> => {
    const existing = done.get(item.id.toLowerCase());
    if (existing) return existing;
    const p = (async () => {
      const parents = await Promise.all(item.dependsOn.map((d) => run(items.find((i) => i.id.toLowerCase() === d.toLowerCase()) as BatchItem)));
      if (parents.some((s) => s >= 400)) {
        results.set(item.id, { id: item.id, status: 424, headers: { 'Content-Type': 'application/json' }, body: graphErrorBody('FailedDependency', 'Failed dependency.', new Date()) as unknown as JsonObject });
        return 424;
      }
      await acquire();
      try {
        const [pathPart, queryPart = ''] = item.url.replace(/^(?:https?:\/\/[^/]+)?\/?(?:v1\.0|beta)?(?=\/|$)/i, '').split(/\?(.*)/s);
        const headers: Record<string, string | undefined> = { ...item.headers, authorization: outer.headers['authorization'] };
        const sub: SimRequest = { method: item.method, path: pathPart?.startsWith('/') ? pathPart : `/${pathPart ?? ''}`, query: queryPart, headers, body: item.body, viaBatch: true };
        const res = await service.handle(sub);
        const outHeaders: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (!['request-id', 'client-request-id'].includes(k)) outHeaders[k] = v;
        if (res.body !== undefined) outHeaders['Content-Type'] = 'application/json';
        const entry: JsonObject = { id: item.id, status: res.status, headers: outHeaders };
        if (res.body !== undefined) entry['body'] = res.body;
        results.set(item.id, entry);
        return res.status;
      } finally {
        release();
      }
    })();
    done.set(item.id.toLowerCase(), p);
    return p;
  };
  await Promise.all(items.map(run));
  const responses = items.map((i) => results.get(i.id) as JsonObject);
  if (service.knobs.batchShuffle) {
    for (let i = responses.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [responses[i], responses[j]] = [responses[j] as JsonObject, responses[i] as JsonObject];
    }
  }
  return { status: 200, headers: {}, body: { responses } };
}
