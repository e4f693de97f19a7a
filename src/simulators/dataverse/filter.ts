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

export type Getter = (property: string) => unknown;
export type Predicate = (get: Getter) => boolean;

/** A literal prepared once per query: lower-cased text, and the instant when it is a date/time. */
interface PreparedLiteral {
  value: Literal;
  lower: string | null;
  ms: number | null;
}

function prepare(value: Literal): PreparedLiteral {
  if (typeof value !== 'string') return { value, lower: null, ms: null };
  const ms = DATETIME.test(value) ? Date.parse(value) : NaN;
  return { value, lower: value.toLowerCase(), ms: Number.isNaN(ms) ? null : ms };
}

/** -1/0/1, or NaN when the two are not comparable. */
function compare(actual: unknown, literal: PreparedLiteral): number {
  if (typeof actual === 'string' && literal.lower !== null) {
    if (literal.ms !== null) {
      const ms = Date.parse(actual);
      if (!Number.isNaN(ms)) return Math.sign(ms - literal.ms);
    }
    const lower = actual.toLowerCase();
    return lower < literal.lower ? -1 : lower > literal.lower ? 1 : 0;
  }
  if (typeof actual === 'number' && typeof literal.value === 'number') return Math.sign(actual - literal.value);
  if (typeof actual === 'boolean' && typeof literal.value === 'boolean') return Number(actual) - Number(literal.value);
  return NaN;
}

function equals(actual: unknown, literal: PreparedLiteral): boolean {
  if (actual === null || actual === undefined || literal.value === null) return (actual ?? null) === literal.value;
  return compare(actual, literal) === 0;
}

/** Compiles a parsed filter into a predicate over a property getter (literals prepared once, not per row). */
export function compilePredicate(node: FilterNode): Predicate {
  switch (node.kind) {
    case 'and': {
      const left = compilePredicate(node.left);
      const right = compilePredicate(node.right);
      return (get) => left(get) && right(get);
    }
    case 'or': {
      const left = compilePredicate(node.left);
      const right = compilePredicate(node.right);
      return (get) => left(get) || right(get);
    }
    case 'not': {
      const operand = compilePredicate(node.operand);
      return (get) => !operand(get);
    }
    case 'in': {
      const literals = node.values.map(prepare);
      const property = node.property;
      return (get) => {
        const value = get(property);
        return literals.some((literal) => equals(value, literal));
      };
    }
    case 'fn': {
      const needle = node.value.toLowerCase();
      const { property, name } = node;
      return (get) => {
        const value = get(property);
        if (typeof value !== 'string') return false;
        const haystack = value.toLowerCase();
        if (name === 'contains') return haystack.includes(needle);
        if (name === 'startswith') return haystack.startsWith(needle);
        return haystack.endsWith(needle);
      };
    }
    case 'cmp': {
      const literal = prepare(node.value);
      const { property, op } = node;
      if (op === 'eq') return (get) => equals(get(property), literal);
      if (op === 'ne') return (get) => !equals(get(property), literal);
      return (get) => {
        const value = get(property);
        if (value === null || value === undefined || literal.value === null) return false;
        const c = compare(value, literal);
        if (Number.isNaN(c)) return false;
        if (op === 'gt') return c > 0;
        if (op === 'ge') return c >= 0;
        if (op === 'lt') return c < 0;
        return c <= 0;
      };
    }
  }
}

export function evaluateFilter(node: FilterNode, get: Getter): boolean {
  return compilePredicate(node)(get);
}
