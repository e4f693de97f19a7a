// OData request parsing for the Graph simulator: the Prefer header (§8, combined comma-separated form), $select,
// $expand of extended properties and the $filter subset that Outlook clients use (§3.3, §4).
import type { ExtendedProperty, Json, StoredItem } from './store';

export interface Preferences {
  maxPageSize: number | null;
  immutableIds: boolean;
  /** `outlook.timezone` value, as sent. */
  timeZone: string | null;
  bodyText: boolean;
  /** Preferences honoured, echoed in `Preference-Applied`. */
  applied: string[];
}

/** RFC 7240 preferences, comma separated, possibly over repeated headers (graph-behaviour.md §8). */
export function parsePrefer(header: string | string[] | undefined): Preferences {
  const text = Array.isArray(header) ? header.join(', ') : (header ?? '');
  const prefs: Preferences = { maxPageSize: null, immutableIds: false, timeZone: null, bodyText: false, applied: [] };
  for (const raw of splitOutsideQuotes(text, ',')) {
    const part = raw.trim();
    if (!part) continue;
    const eq = part.indexOf('=');
    const name = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase();
    const value = eq < 0 ? '' : unquote(part.slice(eq + 1).trim());
    if (name === 'odata.maxpagesize') {
      const n = Number(value);
      if (Number.isInteger(n) && n > 0) {
        prefs.maxPageSize = n;
        prefs.applied.push(`odata.maxpagesize=${n}`);
      }
    } else if (name === 'idtype') {
      if (value.toLowerCase() === 'immutableid') {
        prefs.immutableIds = true;
        prefs.applied.push('IdType="ImmutableId"');
      }
    } else if (name === 'outlook.timezone') {
      prefs.timeZone = value;
      prefs.applied.push(`outlook.timezone="${value}"`);
    } else if (name === 'outlook.body-content-type') {
      prefs.bodyText = value.toLowerCase() === 'text';
      prefs.applied.push(`outlook.body-content-type="${value.toLowerCase()}"`);
    }
  }
  return prefs;
}

function unquote(v: string): string {
  return v.length >= 2 && v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1) : v;
}

/** Splits on `sep` outside single/double quotes and parentheses. */
export function splitOutsideQuotes(text: string, sep: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote: string | null = null;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quote) {
      if (ch === quote) {
        if (quote === "'" && text[i + 1] === "'") i++;
        else quote = null;
      }
      continue;
    }
    if (ch === '"' || ch === "'") quote = ch;
    else if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (depth === 0 && text.startsWith(sep, i)) {
      out.push(text.slice(start, i));
      start = i + sep.length;
      i += sep.length - 1;
    }
  }
  out.push(text.slice(start));
  return out;
}

function splitWord(text: string, word: 'and' | 'or'): string[] {
  return splitOutsideQuotes(text.replace(new RegExp(`\\s+${word}\\s+`, 'gi'), ` ${word} `), ` ${word} `).map((s) => s.trim());
}

export class ODataError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function parseSelect(value: string | null): string[] | null {
  if (value === null) return null;
  const props = value.split(',').map((s) => s.trim()).filter(Boolean);
  return props.length ? props : null;
}

// --- extended property ids (graph-behaviour.md §3.1) ---

const SINGLE_TYPES = ['applicationtime', 'binary', 'boolean', 'clsid', 'currency', 'double', 'error', 'float', 'integer', 'long', 'null', 'object', 'short', 'string', 'systemtime'];
const GUID = '([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})';
const NAMED = new RegExp(`^(\\w+) \\{${GUID}\\} Name (.+)$`);
const BY_ID = new RegExp(`^(\\w+) \\{${GUID}\\} Id (0x[0-9a-fA-F]{1,4}|\\d+)$`);
const PROPTAG = /^(\w+) (0x[0-9a-fA-F]{1,8})$/;

/**
 * Canonical key of a single-value extended property id, or null when the id is not one of the three documented
 * formats. GUID and type compare case-insensitively; the Name is case-sensitive (§3.3).
 */
export function canonicalExtendedPropertyId(id: string): string | null {
  let m = NAMED.exec(id);
  if (m) return SINGLE_TYPES.includes((m[1] ?? '').toLowerCase()) ? `${m[1]?.toLowerCase()} {${m[2]?.toLowerCase()}} name ${m[3]}` : null;
  m = BY_ID.exec(id);
  if (m) return SINGLE_TYPES.includes((m[1] ?? '').toLowerCase()) ? `${m[1]?.toLowerCase()} {${m[2]?.toLowerCase()}} id ${Number(m[3])}` : null;
  m = PROPTAG.exec(id);
  if (m) {
    // `String 0x3A24` and `String 0x3A24001F` name the same property: a full tag carries the type in its low word
    const n = Number(m[2]);
    return SINGLE_TYPES.includes((m[1] ?? '').toLowerCase()) ? `${m[1]?.toLowerCase()} tag ${n > 0xffff ? n >>> 16 : n}` : null;
  }
  return null;
}

/** `$expand=singleValueExtendedProperties($filter=id eq '…' [or id eq '…'])` → the canonical ids to include. */
export function parseExpand(value: string | null, extAllowed: boolean, typeName: string): Set<string> | null {
  if (value === null) return null;
  const wanted = new Set<string>();
  for (const part of splitOutsideQuotes(value, ',')) {
    const m = /^\s*singleValueExtendedProperties\s*(?:\((.*)\))?\s*$/is.exec(part);
    if (!m) throw new ODataError(400, 'BadRequest', `Parsing OData Select and Expand failed: Could not find a property named '${part.trim().split('(')[0]}' on type '${typeName}'.`);
    if (!extAllowed) throw new ODataError(400, 'BadRequest', `Parsing OData Select and Expand failed: Could not find a property named 'singleValueExtendedProperties' on type '${typeName}'.`);
    const inner = m[1]?.trim() ?? '';
    const f = /^\$filter=(.*)$/is.exec(inner);
    if (!f) throw new ODataError(400, 'ErrorInvalidUrlQuery', 'Expanding extended properties needs a $filter on id (graph-behaviour.md §3.1: all properties cannot be read in one call).');
    for (const clause of splitWord(f[1] ?? '', 'or')) {
      const c = /^\(?\s*(?:id|PropertyId)\s+eq\s+'((?:[^']|'')*)'\s*\)?$/i.exec(clause);
      const key = c ? canonicalExtendedPropertyId(odataString(c[1] ?? '')) : null;
      if (!key) throw new ODataError(400, 'ErrorInvalidProperty', `The extended property filter '${clause}' is not valid.`);
      wanted.add(key);
    }
  }
  return wanted;
}

function odataString(quotedBody: string): string {
  return quotedBody.replace(/''/g, "'");
}

// --- $filter (subset) ---

export interface FilterContext {
  /** `linkedResources/any(r: r/externalId eq '…')` on To Do tasks (UNCONFIRMED, §3.5: a knob). */
  linkedResourcesFilter: boolean;
  /** A property of the item's public representation (e.g. `receivedDateTime`). */
  prop(item: StoredItem, name: string): Json | undefined;
  ext(item: StoredItem): Map<string, ExtendedProperty>;
}

export type ItemPredicate = (item: StoredItem) => boolean;

const LITERAL = String.raw`'(?:[^']|'')*'|null|true|false|-?\d+(?:\.\d+)?|\d{4}-\d\d-\d\dT[\d:.]+Z?`;

function literal(text: string): Json {
  if (text.startsWith("'")) return odataString(text.slice(1, -1));
  if (text === 'null') return null;
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  return text;
}

function compare(op: string, left: Json | undefined, right: Json, caseInsensitive: boolean): boolean {
  const norm = (v: Json | undefined): Json | undefined => (caseInsensitive && typeof v === 'string' ? v.toLowerCase() : v);
  const l = norm(left);
  const r = norm(right);
  switch (op) {
    case 'eq':
      return r === null ? l === null || l === undefined : l === r;
    case 'ne':
      return r === null ? l !== null && l !== undefined : l !== r;
    case 'gt':
    case 'ge':
    case 'lt':
    case 'le': {
      if (l === undefined || l === null || r === null) return false;
      const dates = typeof l === 'string' && /^\d{4}-/.test(l);
      const a = (dates ? Date.parse(String(l)) : l) as number | string;
      const b = (dates ? Date.parse(String(r)) : r) as number | string;
      if (op === 'gt') return a > b;
      if (op === 'ge') return a >= b;
      if (op === 'lt') return a < b;
      return a <= b;
    }
    default:
      return false;
  }
}

/** Parses the supported $filter subset into a predicate; anything else → 400 (Graph answers unsupported filters so). */
export function parseFilter(text: string | null, ctx: FilterContext): ItemPredicate | null {
  if (text === null || !text.trim()) return null;
  const clauses = splitWord(text.trim(), 'and').map((c) => parseClause(stripParens(c), ctx));
  return (item) => clauses.every((c) => c(item));
}

function stripParens(s: string): string {
  let t = s.trim();
  while (t.startsWith('(') && t.endsWith(')') && splitOutsideQuotes(t.slice(1, -1), ')(').length === 1 && balanced(t.slice(1, -1))) t = t.slice(1, -1).trim();
  return t;
}

function balanced(s: string): boolean {
  let d = 0;
  for (const ch of s) {
    if (ch === '(') d++;
    if (ch === ')') d--;
    if (d < 0) return false;
  }
  return d === 0;
}

function invalidFilter(clause: string): ODataError {
  return new ODataError(400, 'ErrorInvalidUrlQueryFilter', `The query filter contains one or more invalid nodes: '${clause}'.`);
}

function parseClause(clause: string, ctx: FilterContext): ItemPredicate {
  const lambda = /^(\w+)\/any\(\s*(\w+)\s*:\s*(.*)\)$/is.exec(clause);
  if (lambda) {
    const [, collection = '', v = '', body = ''] = lambda;
    const conds = splitWord(body, 'and').map((c) => stripParens(c));
    if (collection.toLowerCase() === 'singlevalueextendedproperties') return extPredicate(conds, v, ctx, clause);
    if (collection.toLowerCase() === 'categories') {
      const m = new RegExp(`^${v}\\s+eq\\s+(${LITERAL})$`, 'i').exec(conds[0] ?? '');
      if (conds.length !== 1 || !m) throw invalidFilter(clause);
      const wanted = String(literal(m[1] ?? '')).toLowerCase();
      return (item) => {
        const cats = ctx.prop(item, 'categories');
        return Array.isArray(cats) && cats.some((c) => typeof c === 'string' && c.toLowerCase() === wanted);
      };
    }
    if (collection.toLowerCase() === 'linkedresources' && ctx.linkedResourcesFilter) {
      const m = new RegExp(`^${v}/(externalId|applicationName|displayName|webUrl)\\s+eq\\s+(${LITERAL})$`, 'i').exec(conds[0] ?? '');
      if (conds.length !== 1 || !m) throw invalidFilter(clause);
      const field = (m[1] ?? '').toLowerCase();
      const wanted = literal(m[2] ?? '');
      return (item) => {
        const list = ctx.prop(item, 'linkedResources');
        return Array.isArray(list) && list.some((r) => typeof r === 'object' && r !== null && !Array.isArray(r) && Object.entries(r).some(([k, val]) => k.toLowerCase() === field && val === wanted));
      };
    }
    if (collection.toLowerCase() === 'emailaddresses') {
      const m = new RegExp(`^${v}/address\\s+eq\\s+(${LITERAL})$`, 'i').exec(conds[0] ?? '');
      if (conds.length !== 1 || !m) throw invalidFilter(clause);
      const wanted = String(literal(m[1] ?? '')).toLowerCase();
      return (item) => {
        const list = ctx.prop(item, 'emailAddresses');
        return Array.isArray(list) && list.some((e) => typeof e === 'object' && e !== null && !Array.isArray(e) && String(e['address'] ?? '').toLowerCase() === wanted);
      };
    }
    throw invalidFilter(clause);
  }
  const simple = new RegExp(`^([\\w/]+)\\s+(eq|ne|gt|ge|lt|le)\\s+(${LITERAL})$`, 'i').exec(clause);
  if (simple) {
    const [, path = '', op = '', lit = ''] = simple;
    const right = literal(lit);
    const segments = path.split('/');
    return (item) => {
      let v: Json | undefined = ctx.prop(item, segments[0] ?? '');
      for (const seg of segments.slice(1)) v = v && typeof v === 'object' && !Array.isArray(v) ? v[seg] : undefined;
      return compare(op.toLowerCase(), v, right, false);
    };
  }
  throw invalidFilter(clause);
}

function extPredicate(conds: string[], v: string, ctx: FilterContext, clause: string): ItemPredicate {
  let idKey: string | null = null;
  const valueTests: ((value: string | undefined) => boolean)[] = [];
  for (const cond of conds) {
    const idm = new RegExp(`^${v}/(?:id|PropertyId)\\s+eq\\s+'((?:[^']|'')*)'$`, 'i').exec(cond);
    if (idm) {
      idKey = canonicalExtendedPropertyId(odataString(idm[1] ?? ''));
      if (!idKey) throw new ODataError(400, 'ErrorInvalidProperty', `The extended property id in '${cond}' is not valid.`);
      continue;
    }
    const cmp = new RegExp(`^(?:cast\\(\\s*)?${v}/value(?:\\s*,\\s*'?Edm\\.(\\w+)'?\\s*\\))?\\s+(eq|ne|gt|ge|lt|le)\\s+(${LITERAL})$`, 'i').exec(cond);
    if (cmp) {
      const [, cast, op = '', lit = ''] = cmp;
      const right = literal(lit);
      const numeric = cast !== undefined && /int|double|long|single|decimal/i.test(cast);
      valueTests.push((value) => compare(op.toLowerCase(), value === undefined ? undefined : numeric ? Number(value) : value, right, !numeric));
      continue;
    }
    const fn = new RegExp(`^(contains|startswith)\\(\\s*${v}/value\\s*,\\s*('(?:[^']|'')*')\\s*\\)$`, 'i').exec(cond);
    if (fn) {
      const needle = String(literal(fn[2] ?? '')).toLowerCase();
      const starts = (fn[1] ?? '').toLowerCase() === 'startswith';
      valueTests.push((value) => value !== undefined && (starts ? value.toLowerCase().startsWith(needle) : value.toLowerCase().includes(needle)));
      continue;
    }
    throw invalidFilter(clause);
  }
  if (!idKey) throw invalidFilter(clause);
  const key = idKey;
  return (item) => {
    const prop = ctx.ext(item).get(key);
    // any() over the item's properties: no property with this id, no match
    if (!prop) return false;
    return valueTests.every((t) => t(prop.value));
  };
}
