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
  loaded = { ajv, paths, byName: new Map(), byResponse: new Map() };
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
