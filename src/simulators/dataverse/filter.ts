// A small OData $filter parser/evaluator: eq/ne/gt/ge/lt/le, and/or/not, parentheses, contains/startswith/endswith
// and Microsoft.Dynamics.CRM.In(PropertyName='x',PropertyValues=['a','b']). String comparison is case-insensitive,
// as on Dataverse's default SQL collation (UNCONFIRMED in the reference; the connector matches addresses
// case-insensitively either way).
import { badRequest } from './errors';

export type Literal = string | number | boolean | null;

export type FilterNode =
  | { kind: 'cmp'; op: 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le'; property: string; value: Literal }
  | { kind: 'and' | 'or'; left: FilterNode; right: FilterNode }
  | { kind: 'not'; operand: FilterNode }
  | { kind: 'fn'; name: 'contains' | 'startswith' | 'endswith'; property: string; value: string }
  | { kind: 'in'; property: string; values: Literal[] };

type Token =
  | { t: 'ident'; v: string }
  | { t: 'string'; v: string }
  | { t: 'number'; v: number }
  | { t: 'punct'; v: '(' | ')' | ',' | '[' | ']' | '=' };

const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}/;
const DATETIME = /^\d{4}-\d{2}-\d{2}(T[0-9:.]+(Z|[+-]\d{2}:\d{2})?)?/;

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (c === ' ' || c === '\t') {
      i++;
      continue;
    }
    if ('(),[]='.includes(c)) {
      tokens.push({ t: 'punct', v: c as '(' | ')' | ',' | '[' | ']' | '=' });
      i++;
      continue;
    }
    if (c === "'") {
      let value = '';
      i++;
      for (;;) {
        if (i >= text.length) throw badRequest('Syntax error: unterminated string literal in $filter.');
        const ch = text[i] as string;
        if (ch === "'") {
          if (text[i + 1] === "'") {
            value += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += ch;
        i++;
      }
      tokens.push({ t: 'string', v: value });
      continue;
    }
    const rest = text.slice(i);
    const guid = GUID.exec(rest);
    if (guid) {
      tokens.push({ t: 'string', v: guid[0].toLowerCase() });
      i += guid[0].length;
      continue;
    }
    const dt = DATETIME.exec(rest);
    if (dt && dt[0].includes('-')) {
      tokens.push({ t: 'string', v: dt[0] });
      i += dt[0].length;
      continue;
    }
    const num = /^-?\d+(\.\d+)?/.exec(rest);
    if (num) {
      tokens.push({ t: 'number', v: Number(num[0]) });
      i += num[0].length;
      continue;
    }
    const ident = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(rest);
    if (ident) {
      tokens.push({ t: 'ident', v: ident[0] });
      i += ident[0].length;
      continue;
    }
    throw badRequest(`Syntax error at position ${i} in '${text}'.`);
  }
  return tokens;
}

class Parser {
  private pos = 0;
  constructor(private readonly tokens: Token[], private readonly text: string) {}

  parse(): FilterNode {
    const node = this.or();
    if (this.pos !== this.tokens.length) this.fail();
    return node;
  }

  private fail(): never {
    throw badRequest(`Syntax error at position ${this.pos} in '${this.text}'.`);
  }

  private peek(): Token | undefined {
    return this.tokens[this.pos];
  }

  private next(): Token {
    const token = this.tokens[this.pos++];
    if (!token) this.fail();
    return token;
  }

  private isKeyword(word: string): boolean {
    const token = this.peek();
    return token?.t === 'ident' && token.v === word;
  }

  private expectPunct(v: string): void {
    const token = this.next();
    if (token.t !== 'punct' || token.v !== v) this.fail();
  }

  private or(): FilterNode {
    let left = this.and();
    while (this.isKeyword('or')) {
      this.pos++;
      left = { kind: 'or', left, right: this.and() };
    }
    return left;
  }

  private and(): FilterNode {
    let left = this.unary();
    while (this.isKeyword('and')) {
      this.pos++;
      left = { kind: 'and', left, right: this.unary() };
    }
    return left;
  }

  private unary(): FilterNode {
    if (this.isKeyword('not')) {
      this.pos++;
      return { kind: 'not', operand: this.unary() };
    }
    const token = this.next();
    if (token.t === 'punct' && token.v === '(') {
      const inner = this.or();
      this.expectPunct(')');
      return inner;
    }
    if (token.t !== 'ident') this.fail();
    if (token.v === 'contains' || token.v === 'startswith' || token.v === 'endswith') {
      this.expectPunct('(');
      const property = this.identifier();
      this.expectPunct(',');
      const value = this.next();
      if (value.t !== 'string') this.fail();
      this.expectPunct(')');
      return { kind: 'fn', name: token.v, property, value: value.v };
    }
    if (token.v === 'Microsoft.Dynamics.CRM.In') return this.inFunction();
    const op = this.next();
    if (op.t !== 'ident' || !['eq', 'ne', 'gt', 'ge', 'lt', 'le'].includes(op.v)) this.fail();
    return { kind: 'cmp', op: op.v as 'eq', property: token.v, value: this.literal() };
  }

  private inFunction(): FilterNode {
    this.expectPunct('(');
    let property: string | null = null;
    let values: Literal[] | null = null;
    for (;;) {
      const name = this.identifier();
      this.expectPunct('=');
      if (name === 'PropertyName') {
        const v = this.next();
        if (v.t !== 'string') this.fail();
        property = v.v;
      } else if (name === 'PropertyValues') {
        this.expectPunct('[');
        values = [];
        if (!(this.peek()?.t === 'punct' && this.peek()?.v === ']')) {
          values.push(this.literal());
          while (this.peek()?.t === 'punct' && this.peek()?.v === ',') {
            this.pos++;
            values.push(this.literal());
          }
        }
        this.expectPunct(']');
      } else this.fail();
      const sep = this.next();
      if (sep.t === 'punct' && sep.v === ')') break;
      if (sep.t !== 'punct' || sep.v !== ',') this.fail();
    }
    if (property === null || values === null) this.fail();
    return { kind: 'in', property, values };
  }

  private identifier(): string {
    const token = this.next();
    if (token.t !== 'ident') this.fail();
    return token.v;
  }

  private literal(): Literal {
    const token = this.next();
    if (token.t === 'string' || token.t === 'number') return token.v;
    if (token.t === 'ident') {
      if (token.v === 'null') return null;
      if (token.v === 'true') return true;
      if (token.v === 'false') return false;
    }
    this.fail();
  }
}

export function parseFilter(text: string): FilterNode {
  return new Parser(tokenize(text), text).parse();
}

export function filterProperties(node: FilterNode, into: Set<string> = new Set()): Set<string> {
  switch (node.kind) {
    case 'and':
    case 'or':
      filterProperties(node.left, into);
      filterProperties(node.right, into);
      break;
    case 'not':
      filterProperties(node.operand, into);
      break;
    default:
      into.add(node.property);
  }
  return into;
}

function normalize(value: unknown): unknown {
  return typeof value === 'string' ? value.toLowerCase() : value;
}

function compare(a: unknown, b: unknown): number {
  const x = normalize(a);
  const y = normalize(b);
  if (typeof x === 'string' && typeof y === 'string') {
    const dx = Date.parse(x);
    const dy = Date.parse(y);
    if (DATETIME.test(x) && DATETIME.test(y) && !Number.isNaN(dx) && !Number.isNaN(dy)) return dx - dy;
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (typeof x === 'number' && typeof y === 'number') return x - y;
  if (typeof x === 'boolean' && typeof y === 'boolean') return Number(x) - Number(y);
  return NaN;
}

function equals(a: unknown, b: unknown): boolean {
  if (a === null || a === undefined || b === null) return (a ?? null) === b;
  return compare(a, b) === 0;
}

export function evaluateFilter(node: FilterNode, get: (property: string) => unknown): boolean {
  switch (node.kind) {
    case 'and':
      return evaluateFilter(node.left, get) && evaluateFilter(node.right, get);
    case 'or':
      return evaluateFilter(node.left, get) || evaluateFilter(node.right, get);
    case 'not':
      return !evaluateFilter(node.operand, get);
    case 'in': {
      const value = get(node.property);
      return node.values.some((v) => equals(value, v));
    }
    case 'fn': {
      const value = get(node.property);
      if (typeof value !== 'string') return false;
      const haystack = value.toLowerCase();
      const needle = node.value.toLowerCase();
      if (node.name === 'contains') return haystack.includes(needle);
      if (node.name === 'startswith') return haystack.startsWith(needle);
      return haystack.endsWith(needle);
    }
    case 'cmp': {
      const value = get(node.property);
      if (node.op === 'eq') return equals(value, node.value);
      if (node.op === 'ne') return !equals(value, node.value);
      if (value === null || value === undefined || node.value === null) return false;
      const c = compare(value, node.value);
      if (Number.isNaN(c)) return false;
      if (node.op === 'gt') return c > 0;
      if (node.op === 'ge') return c >= 0;
      if (node.op === 'lt') return c < 0;
      return c <= 0;
    }
  }
}
