// Writing and reading rows: request bodies (columns, `@odata.bind`, party deep insert) become rows, rows become
// OData JSON with `_x_value` lookups and annotations (dataverse-behaviour.md §2.2, §4.1, §4.2).
import { randomUUID } from 'node:crypto';
import { CODES, DataverseError, MESSAGES, badRequest, notFound, unknownPayloadProperty, unknownQueryProperty } from './errors';
import type { DataverseKnobs } from './knobs';
import type { ColumnDef, TableDef } from './schema';
import { TABLES_BY_SET, lookupOfValueProperty, tableByName } from './schema';
import type { DataverseStore, LookupRef, Row, Scalar } from './store';

export const GUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface PartyInput {
  mask: number;
  party: LookupRef | null;
  addressused: Scalar;
  unresolvedpartyname: Scalar;
}

export interface ParsedWrite {
  values: Map<string, Scalar>;
  lookups: Map<string, LookupRef | null>;
  parties: PartyInput[] | null;
  primaryKey: string | null;
}

export interface Actor {
  /** The systemuser the request acts as (the impersonated user, or the application user). */
  callerId: string;
  /** The authenticated principal's systemuser; differs from callerId when impersonating (§5 createdonbehalfby). */
  realCallerId: string;
}

export type AnnotationFilter = (annotation: string) => boolean;

export interface ExpandSpec {
  navigation: string;
  select: string[] | null;
}

const FORMATTED = 'OData.Community.Display.V1.FormattedValue';
const NAV = 'Microsoft.Dynamics.CRM.associatednavigationproperty';
const LOGICAL = 'Microsoft.Dynamics.CRM.lookuplogicalname';

export function isoNow(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function formatDate(iso: string): string {
  const d = new Date(iso);
  const h = d.getUTCHours();
  const minutes = String(d.getUTCMinutes()).padStart(2, '0');
  return `${d.getUTCMonth() + 1}/${d.getUTCDate()}/${d.getUTCFullYear()} ${h % 12 === 0 ? 12 : h % 12}:${minutes} ${h < 12 ? 'AM' : 'PM'}`;
}

/** Reference forms accepted in `@odata.bind`: `/contacts(id)`, `contacts(id)` or an absolute URL. */
export function parseEntityReference(value: string): { entitySet: string; id: string } | null {
  const m = /(?:^|\/)([A-Za-z_]+)\(([0-9a-fA-F-]{36})\)$/.exec(value.trim());
  if (!m) return null;
  return { entitySet: m[1] as string, id: (m[2] as string).toLowerCase() };
}

export class Records {
  private readonly propertyCache = new Map<string, string[]>();

  constructor(
    private readonly store: DataverseStore,
    private readonly knobs: () => DataverseKnobs,
    private readonly now: () => number,
  ) {}

  // ---------- reading ----------

  allProperties(def: TableDef): string[] {
    let props = this.propertyCache.get(def.logicalName);
    if (!props) {
      props = [...Object.keys(def.columns), ...Object.keys(def.lookups).map((l) => `_${l}_value`)];
      this.propertyCache.set(def.logicalName, props);
    }
    return props;
  }

  isReadableProperty(def: TableDef, property: string): boolean {
    return property === def.primaryKey || property in def.columns || lookupOfValueProperty(def, property) !== null;
  }

  parseSelect(def: TableDef, raw: string | null): string[] | null {
    if (raw === null || raw.trim() === '') return null;
    const props = raw.split(',').map((s) => s.trim()).filter(Boolean);
    for (const p of props) if (!this.isReadableProperty(def, p)) throw unknownQueryProperty(def.logicalName, p);
    return props;
  }

  /** `nav($select=a,b)` items, comma-separated outside parentheses. */
  parseExpand(def: TableDef, raw: string | null): ExpandSpec[] {
    if (raw === null || raw.trim() === '') return [];
    const items: string[] = [];
    let depth = 0;
    let current = '';
    for (const c of raw) {
      if (c === '(') depth++;
      if (c === ')') depth--;
      if (c === ',' && depth === 0) {
        items.push(current);
        current = '';
      } else current += c;
    }
    items.push(current);
    return items.map((item) => {
      const m = /^\s*([A-Za-z_]+)\s*(?:\((.*)\))?\s*$/.exec(item);
      if (!m) throw badRequest(`Invalid $expand '${raw}'.`);
      const navigation = m[1] as string;
      const target = this.navigationTarget(def, navigation);
      if (!target) throw unknownQueryProperty(def.logicalName, navigation);
      let select: string[] | null = null;
      for (const option of (m[2] ?? '').split(';').map((s) => s.trim()).filter(Boolean)) {
        const eq = option.indexOf('=');
        const name = option.slice(0, eq);
        if (name !== '$select') throw badRequest(`The query option '${name}' is not supported inside $expand by this simulator.`);
        select = this.parseSelect(target, option.slice(eq + 1));
      }
      return { navigation, select };
    });
  }

  private navigationTarget(def: TableDef, navigation: string): TableDef | null {
    if (navigation === def.partyNavigation) return tableByName('activityparty');
    for (const lookup of Object.values(def.lookups)) {
      const target = lookup.bindings[navigation];
      if (target) return tableByName(target);
    }
    if (navigation in def.lookups) {
      // System lookups (createdby …) navigate to systemuser.
      return tableByName('systemuser');
    }
    return null;
  }

  primaryNameOf(ref: LookupRef): string | null {
    const def = tableByName(ref.table);
    const row = this.store.get(ref.table, ref.id);
    const value = row?.values.get(def.primaryName);
    return typeof value === 'string' ? value : null;
  }

  serialize(
    def: TableDef,
    row: Row,
    select: readonly string[] | null,
    annotate: AnnotationFilter,
    expand: readonly ExpandSpec[] = [],
  ): Record<string, unknown> {
    const out: Record<string, unknown> = { '@odata.etag': `W/"${row.version}"` };
    for (const property of select ?? this.allProperties(def)) {
      if (property === def.primaryKey) continue;
      const lookup = lookupOfValueProperty(def, property);
      if (lookup !== null) {
        const ref = row.lookups.get(lookup) ?? null;
        if (ref) {
          if (annotate(FORMATTED)) {
            const name = this.primaryNameOf(ref);
            if (name !== null) out[`${property}@${FORMATTED}`] = name;
          }
          if (annotate(NAV)) out[`${property}@${NAV}`] = this.navigationNameFor(def, lookup, ref.table);
          if (annotate(LOGICAL)) out[`${property}@${LOGICAL}`] = ref.table;
        }
        out[property] = ref?.id ?? null;
        continue;
      }
      const value = row.values.get(property) ?? null;
      if (value !== null && annotate(FORMATTED)) {
        const formatted = this.formatValue(def, property, value);
        if (formatted !== null) out[`${property}@${FORMATTED}`] = formatted;
      }
      out[property] = value;
    }
    out[def.primaryKey] = row.id;
    for (const spec of expand) out[spec.navigation] = this.expandValue(def, row, spec, annotate);
    return out;
  }

  private expandValue(def: TableDef, row: Row, spec: ExpandSpec, annotate: AnnotationFilter): unknown {
    if (spec.navigation === def.partyNavigation) {
      const partyDef = tableByName('activityparty');
      return this.partiesOf(row).map((p) => this.serialize(partyDef, p, spec.select, annotate));
    }
    for (const [name, lookup] of Object.entries(def.lookups)) {
      const ref = row.lookups.get(name) ?? null;
      const target = lookup.bindings[spec.navigation] ?? (spec.navigation === name ? ref?.table : undefined);
      if (target === undefined) continue;
      if (!ref || ref.table !== target) return null;
      const targetRow = this.store.get(ref.table, ref.id);
      return targetRow ? this.serialize(tableByName(ref.table), targetRow, spec.select, annotate) : null;
    }
    return null;
  }

  partiesOf(row: Row): Row[] {
    const parties: Row[] = [];
    for (const id of row.partyIds) {
      const party = this.store.get('activityparty', id);
      if (party) parties.push(party);
    }
    return parties;
  }

  private navigationNameFor(def: TableDef, lookup: string, targetTable: string): string {
    const bindings = def.lookups[lookup]?.bindings ?? {};
    for (const [nav, target] of Object.entries(bindings)) if (target === targetTable) return nav;
    return `${lookup}`;
  }

  private formatValue(def: TableDef, property: string, value: Scalar): string | null {
    const column = def.columns[property];
    if (!column) return null;
    if (property === 'statecode' && def.states && typeof value === 'number') return def.states[value]?.label ?? null;
    if (property === 'statuscode' && def.statuses && typeof value === 'number') return def.statuses[value]?.label ?? null;
    switch (column.type) {
      case 'choice':
        return typeof value === 'number' ? (column.options?.[value] ?? null) : null;
      case 'bool':
        return value ? 'Yes' : 'No';
      case 'datetime':
        return typeof value === 'string' ? formatDate(value) : null;
      case 'dateonly':
        return typeof value === 'string' ? formatDate(`${value}T00:00:00Z`).split(' ')[0] ?? null : null;
      case 'int':
      case 'bigint':
      case 'decimal':
        return typeof value === 'number' ? value.toLocaleString('en-US') : null;
      default:
        return null;
    }
  }

  // ---------- writing ----------

  parseWrite(def: TableDef, body: unknown, mode: 'create' | 'update', resolveReference: (value: string) => string): ParsedWrite {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw badRequest('The request body must be a JSON object.', CODES.payloadError);
    }
    const parsed: ParsedWrite = { values: new Map(), lookups: new Map(), parties: null, primaryKey: null };
    for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
      if (key.startsWith('@odata.')) continue;
      if (key.endsWith('@odata.bind')) {
        const navigation = key.slice(0, -'@odata.bind'.length);
        const [lookup, target] = this.findBinding(def, navigation);
        if (def.lookups[lookup]?.readOnly) {
          throw badRequest(`The navigation property '${navigation}' of ${def.logicalName} cannot be set.`, CODES.invalidArgument);
        }
        if (value === null) parsed.lookups.set(lookup, null);
        else if (typeof value === 'string') parsed.lookups.set(lookup, this.resolveBind(target, resolveReference(value)));
        else throw badRequest(`The value of '${key}' must be a string URI.`, CODES.payloadError);
        continue;
      }
      if (key.includes('@')) continue;
      if (def.partyNavigation && key === def.partyNavigation) {
        parsed.parties = this.parseParties(def, value, resolveReference);
        continue;
      }
      if (key === def.primaryKey) {
        if (typeof value !== 'string' || !GUID_RE.test(value)) throw typeError(value, 'Edm.Guid');
        parsed.primaryKey = value.toLowerCase();
        continue;
      }
      const column = def.columns[key];
      if (!column) throw unknownPayloadProperty(def.entitySet, def.logicalName, key);
      if (column.readOnly || (mode === 'create' && column.notValidForCreate)) {
        if (this.knobs().invalidColumnWrite === 'ignore') continue;
        throw badRequest(
          `The attribute '${key}' of entity '${def.logicalName}' is not valid for ${mode}.`,
          CODES.invalidArgument,
        );
      }
      parsed.values.set(key, this.coerce(def, key, column, value));
    }
    return parsed;
  }

  private findBinding(def: TableDef, navigation: string): [string, string] {
    for (const [name, lookup] of Object.entries(def.lookups)) {
      const target = lookup.bindings[navigation];
      if (target) return [name, target];
    }
    // The OData library's message for a navigation name the type does not declare, e.g. the plain
    // `regardingobjectid_contact` on an appointment (§4.1).
    throw new DataverseError(
      400,
      CODES.payloadError,
      `An undeclared property '${navigation}' which only has property annotations in the payload but no property value was found in the payload. In OData, only declared navigation properties and declared named streams can be represented as properties without values.`,
    );
  }

  private resolveBind(targetTable: string, reference: string): LookupRef {
    const parsed = parseEntityReference(reference);
    const target = tableByName(targetTable);
    if (!parsed || TABLES_BY_SET.get(parsed.entitySet) !== target) {
      throw badRequest(`The reference '${reference}' does not identify a ${targetTable} record.`, CODES.payloadError);
    }
    if (!this.store.get(targetTable, parsed.id)) throw notFound(targetTable, parsed.id);
    return { id: parsed.id, table: targetTable };
  }

  private parseParties(def: TableDef, value: unknown, resolveReference: (value: string) => string): PartyInput[] {
    if (!Array.isArray(value)) throw badRequest(`'${def.partyNavigation}' must be an array.`, CODES.payloadError);
    const partyDef = tableByName('activityparty');
    const parties = value.map((item): PartyInput => {
      if (typeof item !== 'object' || item === null) throw badRequest('An activity party must be an object.', CODES.payloadError);
      const parsed = this.parseWrite(partyDef, item, 'create', resolveReference);
      const mask = parsed.values.get('participationtypemask');
      if (typeof mask !== 'number' || !(def.allowedParticipationTypes ?? []).includes(mask)) {
        throw badRequest(
          `participationtypemask ${String(mask)} is not valid for an activity party of ${def.logicalName}.`,
          CODES.invalidArgument,
        );
      }
      const party = parsed.lookups.get('partyid') ?? null;
      // §4.2: the organizer of an appointment can only be a systemuser.
      if (def.logicalName === 'appointment' && mask === 7 && party?.table !== 'systemuser') {
        throw badRequest('The organizer of an appointment must be a systemuser.', CODES.invalidArgument);
      }
      const addressused = parsed.values.get('addressused') ?? null;
      if (!party && (addressused === null || !this.knobs().allowUnresolvedParties)) {
        throw badRequest('An activity party needs a partyid or an addressused.', CODES.invalidArgument);
      }
      return { mask, party, addressused, unresolvedpartyname: parsed.values.get('unresolvedpartyname') ?? null };
    });
    // An appointment has one organizer and an e-mail one sender (`organizer` and `from` are single-party lists).
    for (const single of [7, 1]) {
      if (parties.filter((p) => p.mask === single).length > 1) {
        throw badRequest(`Only one activity party with participationtypemask ${single} is allowed on ${def.logicalName}.`, CODES.invalidArgument);
      }
    }
    return parties;
  }

  private coerce(def: TableDef, key: string, column: ColumnDef, value: unknown): Scalar {
    if (value === null) return null;
    switch (column.type) {
      case 'string':
      case 'memo': {
        if (typeof value !== 'string') throw typeError(value, 'Edm.String');
        if (column.maxLength !== undefined && value.length > column.maxLength) {
          throw badRequest(
            `A validation error occurred. The length of the '${key}' attribute of the '${def.logicalName}' entity exceeded the maximum allowed length of '${column.maxLength}'.`,
            CODES.stringTooLong,
          );
        }
        return value;
      }
      case 'int':
      case 'bigint':
      case 'choice':
      case 'decimal': {
        if (typeof value !== 'number' || (column.type !== 'decimal' && !Number.isInteger(value))) {
          throw typeError(value, column.type === 'decimal' ? 'Edm.Decimal' : 'Edm.Int32');
        }
        if ((column.min !== undefined && value < column.min) || (column.max !== undefined && value > column.max)) {
          throw badRequest(`The value ${value} of '${key}' is outside the valid range.`, CODES.invalidArgument);
        }
        if (column.type === 'choice' && column.options && !(value in column.options)) {
          throw badRequest(`The value ${value} is not a valid option for '${key}' of ${def.logicalName}.`, CODES.invalidArgument);
        }
        return value;
      }
      case 'bool':
        if (typeof value !== 'boolean') throw typeError(value, 'Edm.Boolean');
        return value;
      case 'guid':
        if (typeof value !== 'string' || !GUID_RE.test(value)) throw typeError(value, 'Edm.Guid');
        return value.toLowerCase();
      case 'datetime': {
        if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(Date.parse(value))) {
          throw typeError(value, 'Edm.DateTimeOffset');
        }
        // Dates without an offset are read as UTC; Dataverse returns whole seconds with Z.
        const ms = Date.parse(/T.*(Z|[+-]\d{2}:\d{2})$/.test(value) || !value.includes('T') ? value : `${value}Z`);
        return isoNow(ms);
      }
      case 'dateonly': {
        // DateOnly columns take `YYYY-MM-DD` (§4.3); a full timestamp keeps its date part (UNCONFIRMED).
        if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}/.test(value)) throw typeError(value, 'Edm.Date');
        return value.slice(0, 10);
      }
    }
  }

  // ---------- row building ----------

  /** Builds a new row for a create (POST, or PATCH upsert of a missing id). */
  buildCreate(def: TableDef, id: string, parsed: ParsedWrite, actor: Actor): Row {
    const values = new Map<string, Scalar>();
    for (const [name, column] of Object.entries(def.columns)) {
      if (column.defaultValue !== undefined) values.set(name, column.defaultValue);
    }
    for (const [k, v] of parsed.values) values.set(k, v);
    const lookups = new Map<string, LookupRef | null>(parsed.lookups);
    const caller: LookupRef = { id: actor.callerId, table: 'systemuser' };
    if (def.ownedByUser && !lookups.get('ownerid')) lookups.set('ownerid', caller);
    if ('createdby' in def.lookups) {
      lookups.set('createdby', caller);
      lookups.set('modifiedby', caller);
      const onBehalf = actor.realCallerId !== actor.callerId ? { id: actor.realCallerId, table: 'systemuser' } : null;
      lookups.set('createdonbehalfby', onBehalf);
      lookups.set('modifiedonbehalfby', onBehalf);
    }
    this.applyState(def, values, parsed, null);
    this.applyComputed(def, values, parsed);
    const now = isoNow(this.now());
    const version = this.store.nextVersion();
    values.set('createdon', now);
    values.set('modifiedon', now);
    values.set('versionnumber', version);
    if (def.isActivity) values.set('activitytypecode', def.logicalName);
    const partyIds = this.writeParties(def, id, [], parsed.parties ?? [], lookups.get('ownerid') ?? null, 'replace');
    return { id, seq: this.store.nextSeq(), values, lookups, version, partyIds };
  }

  buildUpdate(def: TableDef, existing: Row, parsed: ParsedWrite, actor: Actor): Row {
    const values = new Map(existing.values);
    for (const [k, v] of parsed.values) values.set(k, v);
    const lookups = new Map(existing.lookups);
    for (const [k, v] of parsed.lookups) lookups.set(k, v);
    if ('modifiedby' in def.lookups) {
      lookups.set('modifiedby', { id: actor.callerId, table: 'systemuser' });
      lookups.set(
        'modifiedonbehalfby',
        actor.realCallerId !== actor.callerId ? { id: actor.realCallerId, table: 'systemuser' } : null,
      );
    }
    if (def.ownedByUser && lookups.get('ownerid') === null) {
      throw badRequest('ownerid cannot be cleared.', CODES.invalidArgument);
    }
    this.applyState(def, values, parsed, existing);
    this.applyComputed(def, values, parsed);
    const version = this.store.nextVersion();
    values.set('modifiedon', isoNow(this.now()));
    values.set('versionnumber', version);
    const ownerChanged = parsed.lookups.has('ownerid');
    let partyIds = existing.partyIds;
    if (parsed.parties !== null || ownerChanged) {
      partyIds = this.writeParties(
        def,
        existing.id,
        existing.partyIds,
        parsed.parties,
        lookups.get('ownerid') ?? null,
        this.knobs().partyListUpdate,
      );
    }
    return { id: existing.id, seq: existing.seq, values, lookups, version, partyIds };
  }

  /**
   * Writes the party rows of an activity. `incoming` null keeps the listed parties and only re-points the owner party.
   */
  private writeParties(
    def: TableDef,
    activityId: string,
    currentIds: readonly string[],
    incoming: PartyInput[] | null,
    owner: LookupRef | null,
    mode: 'replace' | 'append',
  ): string[] {
    if (!def.partyNavigation) return [];
    const withOwner = this.knobs().ownerPartyRows;
    const kept: string[] = [];
    for (const id of currentIds) {
      const party = this.store.get('activityparty', id);
      if (!party) continue;
      const isOwnerParty = party.values.get('participationtypemask') === 9;
      if (isOwnerParty || (incoming !== null && mode === 'replace')) this.store.remove('activityparty', id);
      else kept.push(id);
    }
    const inputs: PartyInput[] = [...(incoming ?? [])];
    if (withOwner && owner) inputs.push({ mask: 9, party: owner, addressused: null, unresolvedpartyname: null });
    const activity: LookupRef = { id: activityId, table: def.logicalName };
    for (const input of inputs) {
      const id = randomUUID();
      const version = this.store.nextVersion();
      const values = new Map<string, Scalar>([
        ['participationtypemask', input.mask],
        ['addressused', input.addressused],
        ['unresolvedpartyname', input.unresolvedpartyname],
        ['ispartydeleted', false],
        ['versionnumber', version],
      ]);
      const lookups = new Map<string, LookupRef | null>([
        ['partyid', input.party],
        ['activityid', activity],
      ]);
      this.store.put('activityparty', { id, seq: this.store.nextSeq(), values, lookups, version, partyIds: [] });
      kept.push(id);
    }
    return kept;
  }

  private applyState(def: TableDef, values: Map<string, Scalar>, parsed: ParsedWrite, existing: Row | null): void {
    if (!def.states || !def.statuses) return;
    const bodyState = parsed.values.get('statecode');
    const bodyStatus = parsed.values.get('statuscode');
    let state: number;
    let status: number;
    if (!existing) {
      // §4 / §7.11: statecode is not valid for create on activities; they start Open.
      const initialActivityState = def.logicalName === 'appointment' && this.knobs().appointmentInitialState === 'scheduled' ? 3 : 0;
      state = def.isActivity ? initialActivityState : typeof bodyState === 'number' ? bodyState : 0;
      status = typeof bodyStatus === 'number' ? bodyStatus : (def.states[state]?.defaultStatus ?? 1);
    } else {
      const currentState = existing.values.get('statecode') as number;
      state = typeof bodyState === 'number' ? bodyState : currentState;
      status =
        typeof bodyStatus === 'number'
          ? bodyStatus
          : typeof bodyState === 'number'
            ? (def.states[state]?.defaultStatus ?? 1)
            : (existing.values.get('statuscode') as number);
    }
    const stateDef = def.states[state];
    if (!stateDef) throw badRequest(`${state} is not a valid state code on ${def.logicalName}.`, CODES.invalidArgument);
    if (def.statuses[status]?.state !== state) {
      const label = `${def.logicalName[0]?.toUpperCase()}${def.logicalName.slice(1)}State.${stateDef.label}`;
      throw badRequest(
        `${status} is not a valid status code for state code ${label} on ${def.logicalName}${existing ? ` with Id ${existing.id}` : ''}.`,
        CODES.invalidArgument,
      );
    }
    values.set('statecode', state);
    values.set('statuscode', status);
  }

  private applyComputed(def: TableDef, values: Map<string, Scalar>, parsed: ParsedWrite): void {
    if (def.logicalName === 'contact' || (def.logicalName === 'systemuser' && (parsed.values.has('firstname') || parsed.values.has('lastname')))) {
      const full = [values.get('firstname'), values.get('lastname')].filter((v) => typeof v === 'string' && v).join(' ');
      values.set('fullname', full || null);
      if (def.logicalName === 'contact') {
        const yomi = [values.get('yomifirstname'), values.get('yomilastname')].filter((v) => typeof v === 'string' && v).join(' ');
        values.set('yomifullname', yomi || null);
      }
    }
    if ('address1_composite' in def.columns) {
      for (const n of [1, 2, 3]) {
        const get = (s: string) => values.get(`address${n}_${s}`);
        const cityLine = [get('city'), get('stateorprovince'), get('postalcode')].filter((v) => typeof v === 'string' && v).join(' ');
        const lines = [get('line1'), get('line2'), get('line3'), cityLine, get('country')].filter((v) => typeof v === 'string' && v);
        values.set(`address${n}_composite`, lines.length ? lines.join('\r\n') : null);
      }
    }
    if (def.logicalName === 'appointment' && !parsed.values.has('scheduleddurationminutes')) {
      const start = values.get('scheduledstart');
      const end = values.get('scheduledend');
      if (typeof start === 'string' && typeof end === 'string' && (parsed.values.has('scheduledstart') || parsed.values.has('scheduledend'))) {
        values.set('scheduleddurationminutes', Math.max(0, Math.round((Date.parse(end) - Date.parse(start)) / 60_000)));
      }
    }
  }

  /** §2.7: OOB rules — contacts with the same e-mail address, accounts with the same name. */
  checkDuplicates(def: TableDef, row: Row): void {
    const column = def.logicalName === 'contact' ? 'emailaddress1' : def.logicalName === 'account' ? 'name' : null;
    if (!column) return;
    const value = row.values.get(column);
    if (typeof value !== 'string' || value === '') return;
    const needle = value.toLowerCase();
    for (const other of this.store.table(def.logicalName).rows.values()) {
      if (other.id === row.id || other.values.get('statecode') !== 0) continue;
      const v = other.values.get(column);
      if (typeof v === 'string' && v.toLowerCase() === needle) {
        throw new DataverseError(500, CODES.duplicateDetected, MESSAGES.duplicateDetected);
      }
    }
  }

  /** Removes an activity's party rows with it. */
  removeParties(row: Row): void {
    for (const id of row.partyIds) this.store.remove('activityparty', id);
  }

}

function typeError(value: unknown, edmType: string): DataverseError {
  return new DataverseError(
    400,
    CODES.payloadError,
    `Cannot convert the literal '${typeof value === 'string' ? value : JSON.stringify(value)}' to the expected type '${edmType}'.`,
  );
}
