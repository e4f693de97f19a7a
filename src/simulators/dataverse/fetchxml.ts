// The part of FetchXml the simulator serves over the Web API (`GET <entityset>?fetchXml=<url-encoded fetch>`,
// Microsoft Learn "Use FetchXml to retrieve data"): one entity, its attributes, nested and/or filters of conditions
// (eq, ne, in, not-in, null, not-null), `top`, and `datasource` ('bin': the recycle bin, restore-deleted-records
// "Retrieve deleted records that can be restored"). Anything else is refused with 400 rather than half-served.
import { badRequest } from './errors';

export interface FetchCondition {
  attribute: string;
  operator: 'eq' | 'ne' | 'in' | 'not-in' | 'null' | 'not-null';
  values: string[];
}

export interface FetchFilter {
  type: 'and' | 'or';
  conditions: FetchCondition[];
  filters: FetchFilter[];
}

export interface FetchQuery {
  entity: string;
  /** null: the live table; 'bin': deleted rows kept by the recycle bin. */
  datasource: 'bin' | null;
  /** Attribute logical names; null: all-attributes (or none named). */
  attributes: string[] | null;
  filter: FetchFilter | null;
  top: number | null;
}

interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const OPERATORS = new Set(['eq', 'ne', 'in', 'not-in', 'null', 'not-null']);
/** `fetch` attributes that change nothing the simulator serves. */
const IGNORED_FETCH_ATTRIBUTES = new Set(['version', 'mapping', 'distinct', 'no-lock', 'output-format', 'returntotalrecordcount']);

export function parseFetchXml(text: string): FetchQuery {
  const root = parseXml(text);
  if (root.name !== 'fetch') throw badRequest(`FetchXml must start with <fetch>, not <${root.name}>.`);
  let datasource: 'bin' | null = null;
  let top: number | null = null;
  for (const [name, value] of Object.entries(root.attributes)) {
    if (name === 'datasource') {
      if (value.toLowerCase() === 'bin') datasource = 'bin';
      else throw badRequest(`The datasource '${value}' is not supported by this simulator.`);
    } else if (name === 'top') {
      top = Number(value);
      if (!Number.isInteger(top) || top < 1 || top > 5000) throw badRequest(`Invalid top '${value}'.`);
    } else if (!IGNORED_FETCH_ATTRIBUTES.has(name)) {
      throw badRequest(`The fetch attribute '${name}' is not supported by this simulator.`);
    }
  }
  const entities = root.children.filter((child) => child.name === 'entity');
  const entity = entities[0];
  if (entities.length !== 1 || !entity || root.children.length !== 1) throw badRequest('FetchXml must have exactly one <entity>.');
  const name = entity.attributes.name;
  if (!name) throw badRequest('The <entity> element needs a name.');
  let attributes: string[] | null = [];
  let filter: FetchFilter | null = null;
  for (const child of entity.children) {
    if (child.name === 'attribute') {
      const attribute = child.attributes.name;
      if (!attribute) throw badRequest('An <attribute> element needs a name.');
      attributes?.push(attribute.toLowerCase());
    } else if (child.name === 'all-attributes') {
      attributes = null;
    } else if (child.name === 'filter' && filter === null) {
      filter = parseFilter(child);
    } else {
      throw badRequest(`The <${child.name}> element is not supported by this simulator.`);
    }
  }
  return { entity: name.toLowerCase(), datasource, attributes: attributes?.length === 0 ? null : attributes, filter, top };
}

function parseFilter(element: XmlElement): FetchFilter {
  const type = (element.attributes.type ?? 'and').toLowerCase();
  if (type !== 'and' && type !== 'or') throw badRequest(`Invalid filter type '${type}'.`);
  const filter: FetchFilter = { type, conditions: [], filters: [] };
  for (const child of element.children) {
    if (child.name === 'filter') filter.filters.push(parseFilter(child));
    else if (child.name === 'condition') filter.conditions.push(parseCondition(child));
    else throw badRequest(`The <${child.name}> element is not valid in a filter.`);
  }
  return filter;
}

function parseCondition(element: XmlElement): FetchCondition {
  const attribute = element.attributes.attribute?.toLowerCase();
  const operator = element.attributes.operator?.toLowerCase();
  if (!attribute || !operator) throw badRequest('A <condition> needs an attribute and an operator.');
  if (element.attributes.entityname !== undefined) throw badRequest('Conditions on linked entities are not supported by this simulator.');
  if (!OPERATORS.has(operator)) throw badRequest(`The condition operator '${operator}' is not supported by this simulator.`);
  const values = element.children.map((child) => {
    if (child.name !== 'value') throw badRequest(`The <${child.name}> element is not valid in a condition.`);
    return child.text;
  });
  if (element.attributes.value !== undefined) values.unshift(element.attributes.value);
  const arity = operator === 'null' || operator === 'not-null' ? 0 : operator === 'in' || operator === 'not-in' ? -1 : 1;
  if ((arity === 0 && values.length > 0) || (arity === 1 && values.length !== 1) || (arity === -1 && values.length === 0)) {
    throw badRequest(`Wrong number of values for the condition operator '${operator}' on '${attribute}'.`);
  }
  return { attribute, operator: operator as FetchCondition['operator'], values };
}

/** Whether a row passes the filter; `get` reads a value by attribute logical name. Strings compare case-insensitively. */
export function matchesFetchFilter(filter: FetchFilter, get: (attribute: string) => unknown): boolean {
  const results = [
    ...filter.conditions.map((condition) => matchesCondition(condition, get(condition.attribute))),
    ...filter.filters.map((inner) => matchesFetchFilter(inner, get)),
  ];
  return filter.type === 'and' ? results.every(Boolean) : results.length === 0 || results.some(Boolean);
}

function matchesCondition(condition: FetchCondition, value: unknown): boolean {
  const actual = value === null || value === undefined ? null : comparable(value);
  const wanted = condition.values.map((v) => v.trim().toLowerCase());
  switch (condition.operator) {
    case 'null':
      return actual === null;
    case 'not-null':
      return actual !== null;
    case 'eq':
    case 'in':
      return actual !== null && wanted.includes(actual);
    case 'ne':
    case 'not-in':
      return actual !== null && !wanted.includes(actual);
  }
}

function comparable(value: unknown): string {
  if (typeof value === 'boolean') return value ? '1' : '0';
  return String(value).toLowerCase();
}

// ---- a small XML reader: elements, attributes in either quote, text, the five predefined entities ----

const TOKEN = /<!--[\s\S]*?-->|<\?[\s\S]*?\?>|<(\/?)([A-Za-z][\w.-]*)((?:\s+[\w:.-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>|([^<]+)/g;
const ATTRIBUTE = /([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;

function parseXml(text: string): XmlElement {
  const stack: XmlElement[] = [{ name: '#document', attributes: {}, children: [], text: '' }];
  let consumed = 0;
  for (const match of text.matchAll(TOKEN)) {
    if (match.index !== consumed) break;
    consumed += match[0].length;
    const [whole, closing, name, rawAttributes, selfClosing, textNode] = match;
    if (whole.startsWith('<!--') || whole.startsWith('<?')) continue;
    const top = stack[stack.length - 1] as XmlElement;
    if (textNode !== undefined) {
      top.text += decode(textNode);
      continue;
    }
    if (closing) {
      if (top.name !== name || stack.length === 1) throw badRequest(`Malformed FetchXml: unexpected </${name}>.`);
      top.text = top.text.trim();
      stack.pop();
      continue;
    }
    const attributes: Record<string, string> = {};
    for (const a of (rawAttributes ?? '').matchAll(ATTRIBUTE)) attributes[(a[1] as string).toLowerCase()] = decode(a[2] ?? a[3] ?? '');
    const element: XmlElement = { name: (name as string).toLowerCase(), attributes, children: [], text: '' };
    top.children.push(element);
    if (!selfClosing) stack.push(element);
  }
  const document = stack[0] as XmlElement;
  if (consumed !== text.length || stack.length !== 1 || document.children.length !== 1 || document.text.trim() !== '') {
    throw badRequest('Malformed FetchXml.');
  }
  return document.children[0] as XmlElement;
}

function decode(value: string): string {
  return value.replace(/&(lt|gt|amp|quot|apos);/g, (_, entity: string) => ({ lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" })[entity] as string);
}
