// Named examples of the three-way merge (DESIGN.md §5).
import { merge } from '../../src/core/merge';
import { plan } from '../../src/core/planner';
import { fieldsOfCrm, fieldsOfOutlook } from '../../src/core/fields';
import { applyCrmWrite, applyOutlookWrite, context, item, mappingRow, record } from './support';

const FIELDS = [{ name: 'A' }, { name: 'B' }, { name: 'C' }];

test("DESIGN.md §5 seed example: Outlook A→A1, B→B1, C→C1; later CRM A→A2, B→B2 ⇒ A2, B2, C1 everywhere", () => {
  const r = merge({
    fields: FIELDS,
    base: { A: 'A', B: 'B', C: 'C' },
    outlook: { A: 'A1', B: 'B1', C: 'C1' },
    crm: { A: 'A2', B: 'B2', C: 'C' },
    outlookModified: '2026-03-01T10:00:00Z',
    crmModified: '2026-03-01T11:00:00Z', // later
    policy: 'latest',
    tieBreak: 'crm',
  });
  expect(r.merged).toEqual({ A: 'A2', B: 'B2', C: 'C1' });
  expect(r.outlookWrites).toEqual(['A', 'B']);
  expect(r.crmWrites).toEqual(['C']);
  expect(r.conflicts.map((c) => [c.field, c.winner])).toEqual([
    ['A', 'crm'],
    ['B', 'crm'],
  ]);
});

test('DESIGN.md §5 seed example through the planner on real contacts: both sides and the baseline hold A2, B2, C1', () => {
  const ctx = context('contact');
  const outlookItem = item('contact', { givenName: 'Ann1', surname: 'Berg1', jobTitle: 'CEO1' }, { lastModified: '2026-03-01T10:00:00Z' });
  const crmRecord = record('contact', { firstname: 'Ann2', lastname: 'Berg2', jobtitle: 'CEO' }, { modifiedOn: '2026-03-01T11:00:00Z' });
  const baseline = { ...fieldsOfCrm(record('contact', { firstname: 'Ann', lastname: 'Berg', jobtitle: 'CEO' }), ctx.settings), '@crmOwnerId': crmRecord.ownerId };
  const p = plan({ outlook: { state: 'present', item: outlookItem }, crm: { state: 'present', record: crmRecord, inScope: true }, mapping: mappingRow('contact', baseline), context: ctx });

  expect(p.reason).toBe('conflict-resolved');
  expect(p.outlook.type).toBe('update');
  expect(p.crm.type).toBe('update');
  if (p.outlook.type !== 'update' || p.crm.type !== 'update' || p.mapping.type !== 'put') throw new Error('unexpected plan');
  expect(p.outlook.write?.data).toEqual({ givenName: 'Ann2', surname: 'Berg2' });
  expect(p.crm.write.attributes).toEqual({ jobtitle: 'CEO1' });
  expect(p.crm.ifMatch).toBe(crmRecord.version);

  const outlookAfter = fieldsOfOutlook(applyOutlookWrite(outlookItem, p.outlook.write), ctx.settings);
  const crmAfter = fieldsOfCrm(applyCrmWrite(crmRecord, p.crm.write), ctx.settings);
  for (const values of [outlookAfter, crmAfter, p.mapping.baseline]) {
    expect([values.givenName, values.surname, values.jobTitle]).toEqual(['Ann2', 'Berg2', 'CEO1']);
  }
});

test('equal new values on both sides are no conflict', () => {
  const r = merge({
    fields: FIELDS,
    base: { A: 'A' },
    outlook: { A: 'same' },
    crm: { A: 'same' },
    outlookModified: '2026-01-01T00:00:00Z',
    crmModified: '2026-01-02T00:00:00Z',
    policy: 'latest',
    tieBreak: 'crm',
  });
  expect(r.conflicts).toEqual([]);
  expect(r.merged.A).toBe('same');
  expect(r.outlookWrites).toEqual([]);
  expect(r.crmWrites).toEqual([]);
});

test.each([
  ['latest, Outlook newer', 'latest', '2026-01-02T00:00:00Z', '2026-01-01T00:00:00Z', 'crm', 'o'],
  ['latest, CRM newer', 'latest', '2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z', 'outlook', 'c'],
  ['latest, equal times, tie-break CRM', 'latest', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00.000Z', 'crm', 'c'],
  ['latest, equal times, tie-break Outlook', 'latest', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', 'outlook', 'o'],
  ['crm-wins although Outlook is newer', 'crm-wins', '2026-01-02T00:00:00Z', '2026-01-01T00:00:00Z', 'outlook', 'c'],
  ['outlook-wins although the CRM is newer', 'outlook-wins', '2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z', 'crm', 'o'],
] as const)('conflict policy: %s', (_name, policy, outlookModified, crmModified, tieBreak, expected) => {
  const r = merge({ fields: FIELDS, base: { A: 'b' }, outlook: { A: 'o' }, crm: { A: 'c' }, outlookModified, crmModified, policy, tieBreak });
  expect(r.merged.A).toBe(expected);
  expect(r.conflicts).toEqual([
    { field: 'A', base: 'b', outlook: 'o', crm: 'c', winner: expected === 'o' ? 'outlook' : 'crm', outlookModified, crmModified },
  ]);
});

test('one-way fields: crm-to-outlook always takes the CRM value and never writes the CRM; outlook-to-crm the reverse', () => {
  const r = merge({
    fields: [
      { name: 'company', direction: 'crm-to-outlook' },
      { name: 'organizer', direction: 'outlook-to-crm' },
    ],
    base: { company: 'Old', organizer: 'a@x.com' },
    outlook: { company: 'Typed in Outlook', organizer: 'b@x.com' },
    crm: { company: 'Contoso', organizer: 'c@x.com' },
    outlookModified: '2026-01-02T00:00:00Z',
    crmModified: '2026-01-01T00:00:00Z',
    policy: 'latest',
    tieBreak: 'crm',
  });
  expect(r.merged).toEqual({ company: 'Contoso', organizer: 'b@x.com' });
  expect(r.outlookWrites).toEqual(['company']);
  expect(r.crmWrites).toEqual(['organizer']);
  expect(r.conflicts).toEqual([]);
});

test('a crm-to-outlook field the CRM has no value for leaves the Outlook value alone', () => {
  const r = merge({
    fields: [{ name: 'company', direction: 'crm-to-outlook' }],
    base: { company: 'Typed' },
    outlook: { company: 'Typed' },
    crm: { company: null },
    outlookModified: '2026-01-01T00:00:00Z',
    crmModified: '2026-01-02T00:00:00Z',
    policy: 'crm-wins',
    tieBreak: 'crm',
  });
  expect(r.merged.company).toBe('Typed');
  expect(r.outlookWrites).toEqual([]);
  expect(r.crmWrites).toEqual([]);
});

test('first link (no baseline): a value on one side fills the other; two different values go by the policy', () => {
  const r = merge({
    fields: FIELDS,
    base: null,
    outlook: { A: 'only-outlook', B: null, C: 'o' },
    crm: { A: null, B: 'only-crm', C: 'c' },
    outlookModified: '2026-01-01T00:00:00Z',
    crmModified: '2026-01-01T00:00:00Z',
    policy: 'latest',
    tieBreak: 'crm',
  });
  expect(r.merged).toEqual({ A: 'only-outlook', B: 'only-crm', C: 'c' });
  expect(r.conflicts.map((c) => c.field)).toEqual(['C']);
});

test('e-mail addresses compare without case: a case-only difference is neither a change nor a write', () => {
  const r = merge({
    fields: [{ name: 'email', type: 'email' }],
    base: { email: 'Max@Contoso.com' },
    outlook: { email: 'max@contoso.com' },
    crm: { email: 'MAX@contoso.com' },
    outlookModified: '2026-01-01T00:00:00Z',
    crmModified: '2026-01-02T00:00:00Z',
    policy: 'latest',
    tieBreak: 'crm',
  });
  expect(r.merged.email).toBe('Max@Contoso.com');
  expect(r.outlookWrites).toEqual([]);
  expect(r.crmWrites).toEqual([]);
});
