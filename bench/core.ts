// Throughput of the pure core (read both sides, normalize, three-way merge, build writes, plan), single core, on
// realistic generated contacts and appointments. Data comes from a seeded generator, so runs are comparable.
import { performance } from 'node:perf_hooks';
import { buildCrmWrite, buildOutlookWrite, fieldsOfOutlook } from '../src/core/fields';
import { activeFields, DEFAULT_MAPPINGS, DEFAULT_PRODUCT_GUID } from '../src/core/mappings';
import type { CrmRecord, FieldValues, ItemKind, JsonObject, JsonValue, KindSettings, MappingRow, OutlookItem } from '../src/core/model';
import type { PlanInput } from '../src/core/plan';
import { plan } from '../src/core/planner';

export interface CoreBenchRow {
  name: string;
  itemsPerSecond: number;
  items: number;
  /** Share of the plans that wrote to at least one side (sanity check that the scenario is what it says). */
  writeShare: number;
  note?: string;
}

const SETTINGS: KindSettings = {
  enabled: true,
  syncFromCrm: true,
  conflictPolicy: 'latest',
  tieBreak: 'crm',
  deleteInCrmOnUntrack: false,
  updateCompanyField: true,
};

/** mulberry32: a tiny seeded PRNG. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FIRST = ['Anna', 'Ben', 'Zoë', 'Émile', 'Łukasz', 'Søren', 'Mei', '李', 'Olusegun', 'María José'];
const LAST = ['Berg', 'Müller', 'O’Neil', 'Nakamura', 'Van der Berg', 'Łęcki', 'García Márquez', 'Smith'];
const CITY = ['Berlin', 'München', 'New York', 'São Paulo', 'Kraków', '東京'];

function pick<T>(r: () => number, list: readonly T[]): T {
  return list[Math.floor(r() * list.length)] as T;
}

function contactValues(r: () => number, i: number): FieldValues {
  const first = pick(r, FIRST);
  const last = pick(r, LAST);
  return {
    givenName: first,
    surname: last,
    jobTitle: r() < 0.7 ? pick(r, ['CEO', 'Buyer', 'Engineer', 'Head of Sales']) : null,
    department: r() < 0.5 ? 'Purchasing' : null,
    emailAddresses: [`${first.toLowerCase().replace(/\W/g, '')}.${i}@contoso.com`, ...(r() < 0.3 ? [`p${i}@home.example`] : [])],
    businessPhones: [`+49 30 ${1000 + i}`],
    homePhones: r() < 0.3 ? [`+49 30 ${9000 + i}`] : null,
    mobilePhone: r() < 0.6 ? `+49 170 ${100000 + i}` : null,
    birthday: r() < 0.4 ? `19${50 + Math.floor(r() * 50)}-0${1 + Math.floor(r() * 9)}-1${Math.floor(r() * 9)}` : null,
    children: r() < 0.2 ? ['Anna', 'Ben'] : null,
    personalNotes: r() < 0.5 ? `Met at the fair in ${pick(r, CITY)}.\nFollow up about the offer.\n${'Notes. '.repeat(Math.floor(r() * 40))}`.trim() : null,
    businessStreet: `${1 + Math.floor(r() * 200)} Main St${r() < 0.3 ? '\nSuite 5' : ''}`,
    businessCity: pick(r, CITY),
    businessPostalCode: String(10000 + Math.floor(r() * 89999)),
    businessCountry: 'Germany',
    businessFax: r() < 0.2 ? `+49 30 ${5000 + i}` : null,
    pager: null,
    anniversary: r() < 0.1 ? '2001-05-04' : null,
    companyName: 'Contoso Ltd',
  };
}

function appointmentValues(r: () => number, i: number): FieldValues {
  const start = Date.UTC(2026, 6, 1) + Math.floor(r() * 90) * 86_400_000 + Math.floor(r() * 20) * 1_800_000;
  const allDay = r() < 0.15;
  const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  const minutes = 30 * (1 + Math.floor(r() * 4));
  return {
    subject: `${pick(r, ['QBR', 'Kick-off', 'Review', 'Lunch'])} with ${pick(r, LAST)} #${i}`,
    body: r() < 0.6 ? `Agenda:\n- numbers\n- next steps\n${'Details. '.repeat(Math.floor(r() * 60))}`.trim() : null,
    isAllDay: allDay,
    start: allDay ? day(start) : iso(start),
    end: allDay ? day(start + 86_400_000) : iso(start + minutes * 60_000),
    location: r() < 0.7 ? pick(r, ['Teams', 'Room 4.12', 'Lake house']) : null,
    requiredAttendees: Array.from({ length: 1 + Math.floor(r() * 6) }, (_, k) => `a${i}-${k}@contoso.com`),
    optionalAttendees: r() < 0.4 ? [`opt${i}@fabrikam.com`] : null,
    organizer: 'me@contoso.com',
    importance: pick(r, ['low', 'normal', 'high']),
    showAs: pick(r, ['busy', 'tentative', 'free', 'oof']),
    isCancelled: false,
  };
}

function outlookItem(kind: ItemKind, values: FieldValues, i: number, lastModified: string): OutlookItem {
  const fields = activeFields(DEFAULT_MAPPINGS[kind], SETTINGS);
  const writable = fields.filter((f) => f.direction !== 'outlook-to-crm').map((f) => f.field);
  const data: JsonObject = { ...(buildOutlookWrite(fields, writable, values, DEFAULT_PRODUCT_GUID)?.data ?? {}) };
  if (kind === 'appointment') Object.assign(data, { isCancelled: false, organizer: { emailAddress: { address: 'me@contoso.com' } } });
  return {
    kind,
    id: `AAMkAD${i}`,
    container: kind === 'appointment' ? 'calendar' : 'contacts',
    changeKey: `ck${i}`,
    lastModified,
    tracking: { marker: true, category: true },
    crmId: `crm-${i}`,
    regardingId: null,
    linkId: null,
    isDraft: false,
    data,
  };
}

function crmRecord(kind: ItemKind, values: FieldValues, i: number, modifiedOn: string): CrmRecord {
  const fields = activeFields(DEFAULT_MAPPINGS[kind], SETTINGS);
  const writable = fields.filter((f) => f.direction !== 'crm-to-outlook').map((f) => f.field);
  const write = buildCrmWrite(fields, writable, values);
  return {
    kind,
    id: `crm-${i}`,
    version: `W/"${i}"`,
    modifiedOn,
    ownerId: 'user-me',
    data: { ...(write?.attributes ?? {}), '_parentcustomerid_value@OData.Community.Display.V1.FormattedValue': 'Contoso Ltd' },
    parties: write?.parties ?? [],
  };
}

type Scenario = 'quiet' | 'one-sided edits' | 'conflicting edits';

function inputs(kind: ItemKind, scenario: Scenario, count: number): PlanInput[] {
  const r = rng(kind === 'contact' ? 42 : 4242);
  const out: PlanInput[] = [];
  for (let i = 0; i < count; i++) {
    const values = kind === 'contact' ? contactValues(r, i) : appointmentValues(r, i);
    const baseItem = outlookItem(kind, values, i, '2026-06-01T10:00:00Z');
    const baseline = { ...fieldsOfOutlook(baseItem, SETTINGS), '@crmOwnerId': 'user-me' };
    const edit = (v: FieldValues, text: string): FieldValues => (kind === 'contact' ? { ...v, jobTitle: text } : { ...v, subject: text, location: text });
    let o = values;
    let c = values;
    if (scenario === 'one-sided edits' && i % 2 === 0) o = edit(values, `edited ${i}`);
    if (scenario === 'one-sided edits' && i % 2 === 1) c = edit(values, `edited ${i}`);
    if (scenario === 'conflicting edits') {
      o = edit(values, `outlook ${i}`);
      c = edit(values, `crm ${i}`);
    }
    const row: MappingRow = {
      mapId: `m${i}`,
      kind,
      outlookId: baseItem.id,
      crmId: `crm-${i}`,
      state: 'linked',
      trackedVia: 'both',
      baseline,
      baselineHash: '',
      outlookVersion: null,
      crmVersion: null,
      visitedEpoch: 1,
      verifiedAt: null,
    };
    out.push({
      outlook: { state: 'present', item: outlookItem(kind, o, i, '2026-06-02T10:00:00Z') },
      crm: { state: 'present', record: crmRecord(kind, c, i, '2026-06-02T11:00:00Z'), inScope: true },
      mapping: row,
      context: { kind, settings: SETTINGS, ownerCrmUserId: 'user-me', now: '2026-06-15T00:00:00Z', categoryName: 'Tracked to CRM' },
    });
  }
  return out;
}

function measure(batch: PlanInput[], minMs: number): { itemsPerSecond: number; items: number; writeShare: number } {
  let writes = 0;
  for (const input of batch) {
    const p = plan(input);
    if (p.outlook.type !== 'none' || p.crm.type !== 'none') writes++;
  }
  let items = 0;
  let sink: JsonValue = null;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < minMs) {
    for (const input of batch) sink = plan(input).reason;
    items += batch.length;
    elapsed = performance.now() - start;
  }
  void sink;
  return { itemsPerSecond: Math.round((items / elapsed) * 1000), items, writeShare: writes / batch.length };
}

/** plan+merge throughput per kind and scenario, single core (the event loop is not yielded while measuring). */
export async function benchCore(options: { pairs?: number; minMsPerCase?: number } = {}): Promise<CoreBenchRow[]> {
  const pairs = options.pairs ?? 2000;
  const minMs = options.minMsPerCase ?? 750;
  const rows: CoreBenchRow[] = [];
  for (const kind of ['contact', 'appointment'] as const) {
    for (const scenario of ['quiet', 'one-sided edits', 'conflicting edits'] as const) {
      const batch = inputs(kind, scenario, pairs);
      const result = measure(batch, minMs);
      rows.push({ name: `${kind}: ${scenario}`, ...result, note: `${pairs} generated pairs; ${Math.round(result.writeShare * 100)}% planned writes` });
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  return rows;
}
