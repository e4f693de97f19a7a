// Ajv validation of Graph responses against Microsoft's own OpenAPI description (the subset in
// /work/shared/reference/graph-openapi), with the two in-memory adjustments its README prescribes:
//  1. drop every `additionalProperties: {type: object}` (the generator's open-type mark, which rejects strings
//     under allOf);
//  2. wrap the properties listed in x-subset.csdlCrossCheck.types[T].nullableInCsdlButBareRefInOpenApi as
//     `anyOf: [<$ref>, {type: object, nullable: true}]`, because Graph sends null for them.
import fs from 'node:fs';
import path from 'node:path';
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

type Schema = Record<string, unknown>;

const SPEC_PATH = path.resolve(__dirname, '../../../shared/reference/graph-openapi/graph-v1-subset.json');
const SCHEMA_PREFIX = '#/components/schemas/';

interface Loaded {
  ajv: Ajv;
  paths: { template: string[]; raw: string; item: Record<string, Schema> }[];
  byName: Map<string, ValidateFunction>;
  byResponse: Map<string, ValidateFunction>;
  components: Schema;
}

let loaded: Loaded | null = null;

function isObject(v: unknown): v is Schema {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stripOpenTypeMarks(node: unknown): void {
  if (Array.isArray(node)) {
    node.forEach(stripOpenTypeMarks);
    return;
  }
  if (!isObject(node)) return;
  const ap = node['additionalProperties'];
  if (isObject(ap) && ap['type'] === 'object' && Object.keys(ap).length === 1) delete node['additionalProperties'];
  for (const v of Object.values(node)) stripOpenTypeMarks(v);
}

function wrapNullableRefs(schemas: Record<string, Schema>, types: Record<string, { nullableInCsdlButBareRefInOpenApi?: string[] }>): void {
  for (const [typeName, info] of Object.entries(types)) {
    const schema = schemas[typeName];
    if (!schema) continue;
    const propertyBags: Schema[] = [];
    if (isObject(schema['properties'])) propertyBags.push(schema['properties']);
    if (Array.isArray(schema['allOf'])) for (const part of schema['allOf']) if (isObject(part) && isObject(part['properties'])) propertyBags.push(part['properties']);
    for (const name of info.nullableInCsdlButBareRefInOpenApi ?? []) {
      for (const bag of propertyBags) {
        const prop = bag[name];
        if (isObject(prop) && typeof prop['$ref'] === 'string' && Object.keys(prop).length === 1) {
          bag[name] = { anyOf: [{ $ref: prop['$ref'] }, { type: 'object', nullable: true }] };
        }
      }
    }
  }
}

/** Rewrites local refs to the shared components schema so path-level schemas compile on their own. */
function rebase(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(rebase);
  if (!isObject(node)) return node;
  const out: Schema = {};
  for (const [k, v] of Object.entries(node)) {
    out[k] = k === '$ref' && typeof v === 'string' && v.startsWith('#/components/') ? `graph-components${v}` : rebase(v);
  }
  return out;
}

function load(): Loaded {
  if (loaded) return loaded;
  const doc = JSON.parse(fs.readFileSync(SPEC_PATH, 'utf8')) as Schema;
  stripOpenTypeMarks(doc);
  const components = doc['components'] as Schema;
  const schemas = components['schemas'] as Record<string, Schema>;
  const xSubset = doc['x-subset'] as Schema;
  const cross = (xSubset['csdlCrossCheck'] as Schema | undefined)?.['types'] as Record<string, { nullableInCsdlButBareRefInOpenApi?: string[] }> | undefined;
  wrapNullableRefs(schemas, cross ?? {});
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
  addFormats(ajv);
  // OData Edm.Binary travels as base64url (not in ajv-formats)
  ajv.addFormat('base64url', /^[A-Za-z0-9_-]*={0,2}$/);
  ajv.addSchema({ $id: 'graph-components', components }, 'graph-components');
  const paths = Object.entries(doc['paths'] as Record<string, Record<string, Schema>>).map(([raw, item]) => ({
    raw,
    item,
    template: raw.split('/').filter(Boolean),
  }));
  loaded = { ajv, paths, byName: new Map(), byResponse: new Map(), components };
  return loaded;
}

function schemaValidator(name: string): ValidateFunction {
  const l = load();
  const full = name.startsWith('microsoft.graph.') ? name : `microsoft.graph.${name}`;
  let v = l.byName.get(full);
  if (!v) {
    v = l.ajv.compile({ $ref: `graph-components${SCHEMA_PREFIX}${full}` });
    l.byName.set(full, v);
  }
  return v;
}

function segmentMatches(template: string, actual: string): boolean {
  if (template.startsWith('{') && template.endsWith('}')) return true;
  if (template === 'microsoft.graph.delta()') return /^(microsoft\.graph\.)?delta(\(\))?$/i.test(actual);
  return template.toLowerCase() === actual.toLowerCase();
}

/** Graph request path (after the version) → decoded segments, with `name('key')` split in two. */
function segmentsOf(requestPath: string): string[] {
  const out: string[] = [];
  for (const raw of requestPath.split('?')[0]?.split('/') ?? []) {
    if (!raw) continue;
    const seg = decodeURIComponent(raw);
    const m = /^([A-Za-z.]+)\('?(.*?)'?\)$/.exec(seg);
    if (m?.[1] && m[2] && !/delta$/i.test(m[1])) out.push(m[1], m[2]);
    else out.push(seg);
  }
  if (out[0] === 'v1.0') out.shift();
  return out;
}

/** Routes the simulator serves that the OpenAPI subset does not describe, mapped to the schema of their body. */
const EXTRA_ROUTES: { pattern: RegExp; method: string; schema: string | null }[] = [
  { pattern: /^users\/[^/]+\/(mailfolders\/[^/]+\/)?messages\/[^/]+\/(microsoft\.graph\.)?move$/i, method: 'POST', schema: 'microsoft.graph.message' },
  { pattern: /^users\/[^/]+\/calendar\/calendarview$/i, method: 'GET', schema: 'microsoft.graph.eventCollectionResponse' },
  { pattern: /^users\/[^/]+\/events\/[^/]+\/instances$/i, method: 'GET', schema: 'microsoft.graph.eventCollectionResponse' },
  { pattern: /^users\/[^/]+\/calendar\/events(\/[^/]+)?$/i, method: '*', schema: null },
  { pattern: /^users\/[^/]+\/todo\/lists\/[^/]+\/tasks\/[^/]+\/linkedresources$/i, method: 'POST', schema: 'microsoft.graph.linkedResource' },
  { pattern: /^users\/[^/]+\/todo\/lists\/[^/]+\/tasks\/[^/]+\/linkedresources\/[^/]+$/i, method: '*', schema: 'microsoft.graph.linkedResource' },
];

export interface ValidationResult {
  valid: boolean;
  errors: string[];
  /** What the body was validated against (schema name or `METHOD path-template status`); null = not described. */
  against: string | null;
}

/**
 * Validates a Graph response body: by component schema name (`contact`, `microsoft.graph.event`, ...) or by the
 * request's path, method and status (error statuses validate against the OData error shape).
 */
export function validateGraphResponse(target: string | { path: string; method: string; status?: number }, body: unknown): ValidationResult {
  const l = load();
  if (typeof target === 'string') return run(schemaValidator(target), body, target);
  const status = target.status ?? 200;
  const method = target.method.toLowerCase();
  if (status >= 400) return run(schemaValidator('microsoft.graph.ODataErrors.ODataError'), body, 'ODataError');
  const segs = segmentsOf(target.path);
  const joined = segs.join('/');
  // the most literal template wins: `contacts/microsoft.graph.delta()` over `contacts/{contact-id}`
  const literals = (template: string[]) => template.filter((t) => !t.startsWith('{')).length;
  const match = l.paths
    .filter((p) => p.template.length === segs.length && p.template.every((t, i) => segmentMatches(t, segs[i] ?? '')) && isObject(p.item[method]))
    .sort((a, b) => literals(b.template) - literals(a.template))[0];
  if (match) {
    const key = `${method} ${match.raw}`;
    let v = l.byResponse.get(key);
    if (!v) {
      const responses = (match.item[method] as Schema)['responses'] as Schema;
      const ok = (responses['2XX'] ?? responses['200'] ?? responses['201']) as Schema | undefined;
      const schema = ok && isObject(ok['content']) ? ((ok['content'] as Schema)['application/json'] as Schema | undefined)?.['schema'] : undefined;
      if (!schema) return { valid: true, errors: [], against: null };
      v = l.ajv.compile(rebase(schema) as Schema);
      l.byResponse.set(key, v);
    }
    return run(v, body, `${key} ${status}`);
  }
  const extra = EXTRA_ROUTES.find((r) => r.pattern.test(joined) && (r.method === '*' || r.method.toLowerCase() === method));
  if (extra?.schema) return run(schemaValidator(extra.schema), body, extra.schema);
  return { valid: true, errors: [], against: null };
}

function run(v: ValidateFunction, body: unknown, against: string): ValidationResult {
  const valid = v(body) as boolean;
  return { valid, errors: valid ? [] : (v.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`), against };
}

/** Throws with the Ajv errors when the body does not fit. */
export function assertGraphResponse(target: Parameters<typeof validateGraphResponse>[0], body: unknown): void {
  const r = validateGraphResponse(target, body);
  if (!r.valid) throw new Error(`response does not fit the Graph OpenAPI description (${r.against}):\n${r.errors.slice(0, 10).join('\n')}\n${JSON.stringify(body).slice(0, 1500)}`);
}

// ---------------------------------------------------------------- requests

/** Query options the description leaves undeclared although Graph puts them in its own links (README item 4). */
const CONTINUATION_TOKENS = new Set(['$deltatoken', '$skiptoken']);
/** JSON batching limit (https://learn.microsoft.com/graph/json-batching). */
const BATCH_MAX_REQUESTS = 20;
const BATCH_METHODS = new Set(['GET', 'POST', 'PATCH', 'PUT', 'DELETE']);

export interface RequestValidationResult {
  valid: boolean;
  errors: string[];
  /** `METHOD template` of the operation matched, `POST /$batch`, or null when no path of the description matched. */
  against: string | null;
}

function resolveParameter(param: unknown, components: Schema): Schema | null {
  if (!isObject(param)) return null;
  const ref = param['$ref'];
  if (typeof ref !== 'string') return param;
  const name = ref.startsWith('#/components/parameters/') ? ref.slice('#/components/parameters/'.length) : null;
  const found = name === null ? undefined : (components['parameters'] as Schema | undefined)?.[name];
  return isObject(found) ? found : null;
}

function templatesFor(segs: string[]): Loaded['paths'] {
  const literals = (template: string[]) => template.filter((t) => !t.startsWith('{')).length;
  return load()
    .paths.filter((p) => p.template.length === segs.length && p.template.every((t, i) => segmentMatches(t, segs[i] ?? '')))
    .sort((a, b) => literals(b.template) - literals(a.template));
}

function scalarFits(schema: unknown, value: string): boolean {
  if (!isObject(schema)) return true;
  if (schema['type'] === 'integer') return /^-?\d+$/.test(value) && (typeof schema['minimum'] !== 'number' || Number(value) >= schema['minimum']);
  if (schema['type'] === 'boolean') return value === 'true' || value === 'false';
  return true;
}

const requestBodyValidators = new Map<string, ValidateFunction>();

/**
 * Validates one Graph request against the OpenAPI subset: the path (after the base and `/v1.0`; templates matched
 * segment by segment, case-insensitively, `delta` ↔ `microsoft.graph.delta()`, `mailFolders/{id}` ↔
 * `mailfolders('{id}')`), the method, the query options the operation declares (plus `$deltatoken` / `$skiptoken`),
 * its required query options (not on a continuation link, which carries only the token: x-subset caveats), and the JSON
 * body against the operation's requestBody schema (with the in-memory adjustments above). `$batch`, which no OpenAPI
 * file describes, is checked as a JSON batching envelope and each sub-request is validated the same way.
 * `url` may be absolute (`https://host/v1.0/users/...`) or relative (`/users/...`, as in a `$batch` sub-request);
 * `body` is the parsed JSON or its text.
 */
export function validateGraphRequest(method: string, url: string, body: unknown): RequestValidationResult {
  const l = load();
  const verb = method.toUpperCase();
  const parsedBody = parseBody(body);
  if (parsedBody.error) return { valid: false, errors: [parsedBody.error], against: null };
  const { pathname, query } = splitUrl(url);
  const segs = segmentsOf(pathname);
  if (segs.length === 1 && segs[0] === '$batch') return validateBatch(verb, parsedBody.value);
  const candidates = templatesFor(segs);
  if (candidates.length === 0) return { valid: false, errors: [`${verb} ${pathname}: no path of the OpenAPI subset matches`], against: null };
  const match = candidates.find((p) => isObject(p.item[verb.toLowerCase()]));
  if (!match) {
    const allowed = [...new Set(candidates.flatMap((p) => Object.keys(p.item).filter((k) => ['get', 'post', 'patch', 'put', 'delete'].includes(k))))];
    return { valid: false, errors: [`${verb} not described for ${candidates[0]?.raw ?? pathname} (described: ${allowed.join(', ').toUpperCase()})`], against: null };
  }
  const against = `${verb} ${match.raw}`;
  const operation = match.item[verb.toLowerCase()] as Schema;
  const errors: string[] = [];
  const declared = new Map<string, Schema>();
  for (const raw of (operation['parameters'] as unknown[] | undefined) ?? []) {
    const p = resolveParameter(raw, l.components);
    if (p && p['in'] === 'query' && typeof p['name'] === 'string') declared.set(p['name'], p);
  }
  const continuation = [...query.keys()].some((k) => CONTINUATION_TOKENS.has(k));
  for (const [name, value] of query) {
    if (CONTINUATION_TOKENS.has(name)) continue;
    const p = declared.get(name);
    if (!p) errors.push(`query option ${name} is not declared for ${against}`);
    else if (!scalarFits(p['schema'], value)) errors.push(`query option ${name}=${value} does not fit ${JSON.stringify(p['schema'])}`);
  }
  if (!continuation) {
    for (const [name, p] of declared) if (p['required'] === true && !query.has(name)) errors.push(`required query option ${name} is missing for ${against}`);
  }
  const requestBody = isObject(operation['requestBody']) ? operation['requestBody'] : null;
  const schema = requestBody && isObject(requestBody['content']) ? ((requestBody['content'] as Schema)['application/json'] as Schema | undefined)?.['schema'] : undefined;
  if (parsedBody.value === undefined) {
    if (requestBody?.['required'] === true) errors.push(`${against} requires a JSON body`);
  } else if (!schema) {
    errors.push(`${against} takes no request body`);
  } else {
    let v = requestBodyValidators.get(against);
    if (!v) {
      v = l.ajv.compile(rebase(schema) as Schema);
      requestBodyValidators.set(against, v);
    }
    errors.push(...run(v, parsedBody.value, against).errors);
    errors.push(...undescribedProperties(schema, parsedBody.value, '').map((p) => `${p} is not a property of the request body's type (${against})`));
  }
  return { valid: errors.length === 0, errors, against };
}

/**
 * Property names the schema does not describe, as JSON pointers. The open-type mark is dropped for Ajv (above), which
 * would otherwise let a misspelt property through, while Graph refuses a property that its type does not have.
 * Lenient where the schema cannot say: annotations (`@odata.type`, ...), objects naming a derived type, and properties
 * Microsoft's CSDL has but this OpenAPI cut lacks (x-subset.csdlCrossCheck propertiesOnlyInCsdl).
 */
function undescribedProperties(schema: unknown, value: unknown, at: string): string[] {
  if (Array.isArray(value)) {
    const items = resolvedSchema(schema)?.['items'];
    return items === undefined ? [] : value.flatMap((v, i) => undescribedProperties(items, v, `${at}/${i}`));
  }
  if (!isObject(value) || '@odata.type' in value) return [];
  const known = describedProperties(schema, new Set());
  if (known === null) return [];
  const out: string[] = [];
  for (const [name, v] of Object.entries(value)) {
    if (name.includes('@')) continue;
    const propertySchema = known.get(name);
    if (propertySchema === undefined) out.push(`${at}/${name}`);
    else out.push(...undescribedProperties(propertySchema, v, `${at}/${name}`));
  }
  return out;
}

function resolvedSchema(schema: unknown): Schema | null {
  if (!isObject(schema)) return null;
  const ref = schema['$ref'];
  if (typeof ref !== 'string') return schema;
  const name = ref.startsWith(SCHEMA_PREFIX) ? ref.slice(SCHEMA_PREFIX.length) : null;
  const found = name === null ? undefined : (load().components['schemas'] as Schema)[name];
  return isObject(found) ? found : null;
}

/** Property name → schema over allOf / anyOf / $ref; null when the schema describes no properties (nothing to check). */
function describedProperties(schema: unknown, seen: Set<Schema>): Map<string, unknown> | null {
  const s = resolvedSchema(schema);
  if (!s || seen.has(s)) return null;
  seen.add(s);
  let out: Map<string, unknown> | null = null;
  const merge = (more: Map<string, unknown> | null) => {
    if (!more) return;
    out ??= new Map();
    for (const [k, v] of more) if (!out.has(k)) out.set(k, v);
  };
  if (isObject(s['properties'])) merge(new Map(Object.entries(s['properties'])));
  for (const key of ['allOf', 'anyOf', 'oneOf']) {
    const parts = s[key];
    if (Array.isArray(parts)) for (const part of parts) merge(describedProperties(part, seen));
  }
  const title = typeof s['title'] === 'string' ? `microsoft.graph.${s['title']}` : null;
  const csdlOnly = title ? csdlOnlyProperties().get(title) : undefined;
  if (out && csdlOnly) for (const name of csdlOnly) if (!(out as Map<string, unknown>).has(name)) (out as Map<string, unknown>).set(name, {});
  return out;
}

let csdlOnlyCache: Map<string, string[]> | null = null;

function csdlOnlyProperties(): Map<string, string[]> {
  if (csdlOnlyCache) return csdlOnlyCache;
  const doc = JSON.parse(fs.readFileSync(SPEC_PATH, 'utf8')) as Schema;
  const types = (((doc['x-subset'] as Schema)['csdlCrossCheck'] as Schema | undefined)?.['types'] ?? {}) as Record<string, { propertiesOnlyInCsdl?: Record<string, string> }>;
  csdlOnlyCache = new Map(Object.entries(types).map(([name, info]) => [name, Object.keys(info.propertiesOnlyInCsdl ?? {})]));
  return csdlOnlyCache;
}

function parseBody(body: unknown): { value: unknown; error?: string } {
  if (body === undefined || body === null || body === '') return { value: undefined };
  if (typeof body !== 'string') return { value: body };
  try {
    return { value: JSON.parse(body) as unknown };
  } catch {
    return { value: undefined, error: `request body is not JSON: ${body.slice(0, 200)}` };
  }
}

/** Path (still carrying the version) and decoded query of an absolute or relative Graph URL. */
function splitUrl(url: string): { pathname: string; query: URLSearchParams } {
  const parsed = new URL(url, 'https://graph.invalid/');
  return { pathname: parsed.pathname, query: parsed.searchParams };
}

/** The envelope rules of https://learn.microsoft.com/graph/json-batching, then every sub-request on its own. */
function validateBatch(method: string, body: unknown): RequestValidationResult {
  const against = 'POST /$batch';
  const errors: string[] = [];
  if (method !== 'POST') return { valid: false, errors: [`${method} not allowed on /$batch (POST only)`], against };
  const requests = isObject(body) ? body['requests'] : undefined;
  if (!Array.isArray(requests)) return { valid: false, errors: ['$batch body has no requests array'], against };
  if (requests.length === 0 || requests.length > BATCH_MAX_REQUESTS) errors.push(`$batch carries ${requests.length} requests (1..${BATCH_MAX_REQUESTS})`);
  const ids = new Set<string>();
  requests.forEach((sub: unknown, index) => {
    const at = `requests[${index}]`;
    if (!isObject(sub)) {
      errors.push(`${at} is not an object`);
      return;
    }
    const { id, method: subMethod, url, headers, body: subBody } = sub as { id?: unknown; method?: unknown; url?: unknown; headers?: unknown; body?: unknown };
    if (typeof id !== 'string' || id === '') errors.push(`${at}.id must be a non-empty string`);
    else if (ids.has(id)) errors.push(`${at}.id ${id} is not unique`);
    else ids.add(id);
    if (typeof subMethod !== 'string' || !BATCH_METHODS.has(subMethod.toUpperCase())) errors.push(`${at}.method ${JSON.stringify(subMethod)} is not an HTTP method`);
    // Sub-request URLs are relative to the version root: no scheme, no host, no `/v1.0`.
    if (typeof url !== 'string' || /^[a-z]+:\/\//i.test(url) || /^\/?(v1\.0|beta)\//i.test(url)) errors.push(`${at}.url ${JSON.stringify(url)} must be relative to the version root`);
    if (headers !== undefined && (!isObject(headers) || Object.values(headers).some((v) => typeof v !== 'string'))) errors.push(`${at}.headers must map names to strings`);
    if (subBody !== undefined && !(isObject(headers) && Object.keys(headers).some((k) => k.toLowerCase() === 'content-type'))) {
      errors.push(`${at} has a body but no Content-Type header`);
    }
    if (typeof subMethod === 'string' && typeof url === 'string') {
      const inner = validateGraphRequest(subMethod, url.startsWith('/') ? url : `/${url}`, subBody);
      errors.push(...inner.errors.map((e) => `${at} (${subMethod.toUpperCase()} ${url.split('?')[0] ?? ''}): ${e}`));
    }
  });
  return { valid: errors.length === 0, errors, against };
}
