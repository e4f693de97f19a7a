// Properties of the planner on realistic generated pairs (sync-lessons.md §5.4 layer 1; DESIGN.md §5 "No ping-pong"):
// executing a plan and planning again plans no writes; nothing is written when nothing changed; a linked pair is never
// created again; one-sided edits reach the other side.
import fc from 'fast-check';
import { normalizeValues, readCrmValues, readOutlookValues } from '../../src/core/fields';
import { activeFields, DEFAULT_MAPPINGS } from '../../src/core/mappings';
import { ITEM_KINDS, type ConflictPolicy, type CrmRecord, type FieldValues, type ItemKind, type MappingRow, type OutlookItem, type Side } from '../../src/core/model';
import type { CrmSide, OutlookSide, Plan, PlanInput } from '../../src/core/plan';
import { PENDING_CRM_ID, plan } from '../../src/core/planner';
import { sameValue } from '../../src/core/normalize';
import { applyCrmWrite, applyOutlookWrite, context, crmRecordFrom, GUID, item, mappingRow, NUM_RUNS, outlookItemFrom, rawValues, settings } from './support';

const kindArb = fc.constantFrom<ItemKind>(...ITEM_KINDS);
const policyArb = fc.record({
  conflictPolicy: fc.constantFrom<ConflictPolicy>('latest', 'crm-wins', 'outlook-wins'),
  tieBreak: fc.constantFrom<Side>('outlook', 'crm'),
  updateCompanyField: fc.boolean(),
});
const minute = fc.integer({ min: 0, max: 3 }).map((m) => `2026-06-0${m + 1}T10:00:00Z`);

interface World {
  kind: ItemKind;
  outlook: OutlookItem;
  crm: CrmRecord;
  row: MappingRow | null;
  input: PlanInput;
}

/** A linked pair whose sides and baseline were drawn independently (any mix of edits on either side). */
const linkedWorld = kindArb.chain((kind) => {
  const fields = activeFields(DEFAULT_MAPPINGS[kind], settings({ updateCompanyField: true }));
  return fc
    .record({
      o: rawValues(kind, fields),
      c: rawValues(kind, fields),
      b: rawValues(kind, fields),
      baseFrom: fc.constantFrom('outlook', 'crm', 'random'),
      policy: policyArb,
      outlookModified: minute,
      crmModified: minute,
    })
    .map(({ o, c, b, baseFrom, policy, outlookModified, crmModified }): World => {
      const mapping = DEFAULT_MAPPINGS[kind];
      const ctx = context(kind, { settings: settings(policy) });
      const active = activeFields(mapping, ctx.settings);
      const ov = normalizeValues(mapping, fields, o);
      const cv = normalizeValues(mapping, fields, c);
      const outlook = outlookItemFrom(kind, fields, ov, { lastModified: outlookModified });
      const crm = crmRecordFrom(kind, fields, cv, { modifiedOn: crmModified, data: { [`_parentcustomerid_value@OData.Community.Display.V1.FormattedValue`]: 'Contoso' } });
      const baseValues =
        baseFrom === 'outlook' ? readOutlookValues(mapping, active, outlook, GUID) : baseFrom === 'crm' ? readCrmValues(mapping, active, crm) : normalizeValues(mapping, active, b);
      const row = mappingRow(kind, { ...baseValues, '@crmOwnerId': crm.ownerId });
      const input: PlanInput = { outlook: { state: 'present', item: outlook }, crm: { state: 'present', record: crm, inScope: true }, mapping: row, context: ctx };
      return { kind, outlook, crm, row, input };
    });
});

/** Executes a plan the way the app does against the two faithful apply models; returns the next cycle's input. */
function execute(input: PlanInput, p: Plan): PlanInput {
  let outlook: OutlookSide = input.outlook;
  let crm: CrmSide = input.crm;
  let createdCrmId: string | null = null;
  if (p.crm.type === 'create') {
    createdCrmId = 'c-created';
    const created = applyCrmWrite({ kind: input.context.kind, id: createdCrmId, version: 'W/"1"', modifiedOn: '2026-06-10T00:00:00Z', ownerId: input.context.ownerCrmUserId, data: {}, parties: [] }, p.crm.write);
    crm = { state: 'present', record: created, inScope: true };
  } else if (p.crm.type === 'update' && crm.state === 'present') {
    crm = { ...crm, record: applyCrmWrite(crm.record, p.crm.write) };
  } else if (p.crm.type === 'delete') {
    crm = { state: 'gone' };
  }
  if (p.outlook.type === 'create') {
    const created = applyOutlookWrite(item(input.context.kind, {}, { id: 'o-created', crmId: p.outlook.crmId }), p.outlook.write);
    outlook = { state: 'present', item: created };
  } else if (p.outlook.type === 'update' && outlook.state === 'present') {
    const tracking = p.outlook.tracking && p.outlook.tracking.crmId === PENDING_CRM_ID ? { ...p.outlook.tracking, crmId: createdCrmId } : p.outlook.tracking;
    outlook = { ...outlook, item: applyOutlookWrite(outlook.item, p.outlook.write, tracking) };
  } else if (p.outlook.type === 'delete') {
    outlook = { state: 'gone' };
  }
  let mapping = input.mapping;
  if (p.mapping.type === 'remove') mapping = null;
  if (p.mapping.type === 'put') {
    const base = mapping ?? mappingRow(input.context.kind, {}, { outlookId: null, crmId: null });
    // The app fills in the ids, the folder and the versions from the two sides after executing (plan.ts MappingAction).
    const placed = outlook.state === 'present' ? { outlookId: outlook.item.id, outlookContainer: outlook.item.container, outlookVersion: outlook.item.changeKey } : {};
    const versioned = crm.state === 'present' ? { crmVersion: crm.record.version } : {};
    mapping = { ...base, ...placed, ...versioned, state: p.mapping.state, trackedVia: p.mapping.trackedVia, baseline: p.mapping.baseline, crmId: createdCrmId ?? base.crmId };
  }
  return { ...input, outlook, crm, mapping };
}

function expectQuiet(p: Plan) {
  expect({ reason: p.reason, outlook: p.outlook.type, crm: p.crm.type, mapping: p.mapping.type }).toEqual({ reason: 'in-sync', outlook: 'none', crm: 'none', mapping: 'keep' });
}

test('idempotent: after executing a plan, planning again (sides hold the merged values, the new baseline) writes nothing', () => {
  fc.assert(
    fc.property(linkedWorld, (w) => {
      const first = plan(w.input);
      expectQuiet(plan(execute(w.input, first)));
    }),
    { numRuns: NUM_RUNS },
  );
});

test('idempotent after creates: an Outlook-tracked item created in the CRM, a CRM record created in Outlook', () => {
  fc.assert(
    fc.property(linkedWorld, fc.boolean(), (w, fromOutlook) => {
      const input: PlanInput = fromOutlook
        ? { ...w.input, mapping: null, crm: { state: 'absent' } }
        : { ...w.input, mapping: null, outlook: { state: 'absent' } };
      const first = plan(input);
      if (!fromOutlook && w.kind === 'email') return expect(first.outlook.type).toBe('none');
      expect(fromOutlook ? first.crm.type : first.outlook.type).toBe('create');
      // What Outlook itself sets on an item the worker creates (organizer = the CRM organizer here) is not a change.
      const next = execute(input, first);
      if (!fromOutlook && w.kind === 'appointment' && next.outlook.state === 'present' && next.crm.state === 'present') {
        const org = next.crm.record.parties.find((p) => p.participationTypeMask === 7)?.address;
        next.outlook = { ...next.outlook, item: { ...next.outlook.item, data: { ...next.outlook.item.data, ...(org ? { organizer: { emailAddress: { address: org } } } : {}) } } };
      }
      expectQuiet(plan(next));
    }),
    { numRuns: NUM_RUNS },
  );
});

test('nothing changed on either side since the baseline → no writes at all', () => {
  fc.assert(
    fc.property(linkedWorld, (w) => {
      const settled = execute(w.input, plan(w.input));
      // Both sides now equal the baseline; re-planning from a fresh copy of the same state must stay quiet twice over.
      expectQuiet(plan(settled));
      expectQuiet(plan(execute(settled, plan(settled))));
    }),
    { numRuns: NUM_RUNS },
  );
});

test('a one-sided edit reaches the other side (and only that side is written)', () => {
  fc.assert(
    fc.property(linkedWorld, fc.boolean(), fc.nat(), (w, editOutlook, pick) => {
      const settled = execute(w.input, plan(w.input));
      if (settled.outlook.state !== 'present' || settled.crm.state !== 'present' || !settled.mapping) return;
      const mapping = DEFAULT_MAPPINGS[w.kind];
      const fields = activeFields(mapping, settled.context.settings).filter((f) => !f.createOnly && (f.direction ?? 'both') === 'both' && !f.group);
      if (fields.length === 0) return;
      const field = fields[pick % fields.length]!;
      const text = field.field === 'regarding' ? `account:edited-${pick}` : `edited ${pick}`;
      const edited: FieldValues = field.spec.type === 'text' || field.spec.type === 'body' ? { [field.field]: text } : {};
      if (!(field.field in edited)) return;
      let next: PlanInput;
      if (editOutlook) {
        const values = { ...readOutlookValues(mapping, activeFields(mapping, settled.context.settings), settled.outlook.item, GUID), ...edited };
        next = { ...settled, outlook: { state: 'present', item: { ...outlookItemFrom(w.kind, activeFields(mapping, settled.context.settings), values), crmId: settled.outlook.item.crmId } } };
      } else {
        const values = { ...readCrmValues(mapping, activeFields(mapping, settled.context.settings), settled.crm.record), ...edited };
        next = { ...settled, crm: { ...settled.crm, record: crmRecordFrom(w.kind, activeFields(mapping, settled.context.settings), values, { id: settled.crm.record.id, ownerId: settled.crm.record.ownerId }) } };
      }
      const p = plan(next);
      expect(p.conflicts).toEqual([]);
      if (editOutlook) {
        expect(p.crm.type).toBe('update');
        expect(p.outlook.type === 'none' || (p.outlook.type === 'update' && p.outlook.write === null)).toBe(true);
      } else {
        expect(p.outlook.type).toBe('update');
        expect(p.crm.type).toBe('none');
      }
      if (p.mapping.type !== 'put') throw new Error('baseline must move');
      expect(sameValue(field.spec.type, p.mapping.baseline[field.field], edited[field.field])).toBe(true);
    }),
    { numRuns: NUM_RUNS },
  );
});

test('the planner never plans a create for a linked pair, whatever the two sides look like', () => {
  const outlookState = fc.constantFrom('present', 'gone', 'outOfView', 'absent');
  const crmState = fc.constantFrom('inScope', 'outOfScope', 'gone', 'absent');
  fc.assert(
    fc.property(linkedWorld, outlookState, crmState, fc.record({ marker: fc.boolean(), category: fc.boolean() }), (w, o, c, tracking) => {
      const input: PlanInput = {
        ...w.input,
        outlook: o === 'present' ? { state: 'present', item: { ...w.outlook, tracking } } : ({ state: o } as OutlookSide),
        crm: c === 'inScope' || c === 'outOfScope' ? { state: 'present', record: w.crm, inScope: c === 'inScope' } : ({ state: c } as CrmSide),
      };
      const p = plan(input);
      expect(p.outlook.type).not.toBe('create');
      expect(p.crm.type).not.toBe('create');
    }),
    { numRuns: NUM_RUNS },
  );
});

test('plans are deterministic', () => {
  fc.assert(
    fc.property(linkedWorld, (w) => {
      expect(plan(structuredClone(w.input))).toEqual(plan(structuredClone(w.input)));
    }),
    { numRuns: NUM_RUNS },
  );
});
