import { startClient, values, type Reply, type TestClient } from './client';

interface Part {
  method: string;
  url: string;
  body?: unknown;
  contentId?: string;
  headers?: Record<string, string>;
}

function httpPart(part: Part): string {
  const lines = ['Content-Type: application/http', 'Content-Transfer-Encoding: binary'];
  if (part.contentId) lines.push(`Content-ID: ${part.contentId}`);
  lines.push('', `${part.method} ${part.url} HTTP/1.1`);
  if (part.body !== undefined) lines.push('Content-Type: application/json;type=entry');
  for (const [k, v] of Object.entries(part.headers ?? {})) lines.push(`${k}: ${v}`);
  lines.push('', part.body !== undefined ? JSON.stringify(part.body) : '');
  return lines.join('\r\n');
}

/** Builds a batch body as the BAT doc shows it: parts and change sets (dataverse-behaviour.md §2.6). */
function batchBody(items: (Part | Part[])[]): { boundary: string; body: string } {
  const boundary = 'batch_AAA123';
  const chunks: string[] = [];
  items.forEach((item, index) => {
    chunks.push(`--${boundary}`);
    if (Array.isArray(item)) {
      const cs = `changeset_BBB${index}`;
      chunks.push(`Content-Type: multipart/mixed;boundary=${cs}`, '');
      for (const part of item) chunks.push(`--${cs}`, httpPart(part));
      chunks.push(`--${cs}--`);
    } else chunks.push(httpPart(item));
  });
  chunks.push(`--${boundary}--`, '');
  return { boundary, body: chunks.join('\r\n') };
}

interface ParsedPart {
  status: number;
  contentId: string | null;
  headers: Record<string, string>;
  body: string;
  inChangeset: boolean;
}

/** A minimal independent reader of the response (statuses in order, flattening change sets). */
function readBatchResponse(reply: Reply): ParsedPart[] {
  const boundary = /boundary=([^;]+)/.exec(reply.headers.get('content-type') ?? '')?.[1] ?? '';
  const parts: ParsedPart[] = [];
  const walk = (text: string, b: string, inChangeset: boolean) => {
    const segments = text.split(`--${b}`).slice(1, -1);
    for (const segment of segments) {
      const nested = /boundary=(\S+)/.exec(segment.split('\r\n\r\n')[0] ?? '');
      if (nested?.[1] && /multipart\/mixed/.test(segment.split('\r\n\r\n')[0] ?? '')) {
        walk(segment, nested[1], true);
        continue;
      }
      const [mime, http, ...rest] = segment.split('\r\n\r\n');
      const statusLine = /HTTP\/1\.1 (\d{3})/.exec(http ?? '');
      const headers: Record<string, string> = {};
      for (const line of (http ?? '').split('\r\n').slice(1)) {
        const i = line.indexOf(':');
        if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
      }
      parts.push({
        status: Number(statusLine?.[1]),
        contentId: /Content-ID: (\S+)/.exec(mime ?? '')?.[1] ?? null,
        headers,
        body: rest.join('\r\n\r\n').trim(),
        inChangeset,
      });
    }
  };
  walk(reply.text, boundary, false);
  return parts;
}

describe('Dataverse simulator: $batch', () => {
  let c: TestClient;

  beforeEach(async () => {
    c = await startClient();
  });
  afterEach(() => c.sim.stop());

  async function send(items: (Part | Part[])[], headers: Record<string, string> = {}): Promise<Reply> {
    const { boundary, body } = batchBody(items);
    return c.request('POST', '$batch', { raw: body, headers: { 'Content-Type': `multipart/mixed;boundary=${boundary}`, ...headers } });
  }

  it('runs a change set with Content-ID references ($1 in URL and @odata.bind) and GETs outside it', async () => {
    // dataverse-behaviour.md §2.6 (BAT): change sets, Content-ID, responses in order
    const api = c.sim.apiUrl;
    const reply = await send([
      [
        { method: 'POST', url: `${api}accounts`, body: { name: 'Batch Co' }, contentId: '1' },
        { method: 'POST', url: `${api}contacts`, body: { lastname: 'Batch', 'parentcustomerid_account@odata.bind': '$1' }, contentId: '2' },
        { method: 'PATCH', url: '$1', body: { telephone1: '555' }, contentId: '3' },
      ],
      { method: 'GET', url: '/api/data/v9.2/accounts?$select=name,telephone1' },
    ]);
    expect(reply.status).toBe(200);
    expect(reply.headers.get('content-type')).toMatch(/^multipart\/mixed; boundary=batchresponse_/);
    const parts = readBatchResponse(reply);
    expect(parts.map((p) => [p.status, p.contentId, p.inChangeset])).toEqual([
      [204, '1', true],
      [204, '2', true],
      [204, '3', true],
      [200, null, false],
    ]);
    const accountId = /\(([0-9a-f-]{36})\)/.exec(parts[0]?.headers['odata-entityid'] ?? '')?.[1] as string;
    const accounts = JSON.parse(parts[3]?.body ?? '{}') as { value: Record<string, unknown>[] };
    expect(accounts.value).toEqual([expect.objectContaining({ name: 'Batch Co', telephone1: '555', accountid: accountId })]);
    const contact = c.sim.control.rows('contacts')[0];
    expect(contact?.['_parentcustomerid_value']).toBe(accountId);
    // A batch is one request toward the limits; its parts are logged as viaBatch.
    expect(c.sim.requestLog.count({ kind: 'batch' })).toBe(1);
    expect(c.sim.requestLog.count({ viaBatch: true })).toBe(4);
  });

  it('a failing change set rolls back entirely and stops the batch', async () => {
    // dataverse-behaviour.md §2.6 (atomic change sets; stop at first error), §7.8
    const reply = await send([
      [
        { method: 'POST', url: 'contacts', body: { lastname: 'Rolled back' }, contentId: '1' },
        { method: 'POST', url: 'contacts', body: { lastname: 'Bad', nosuch: 1 }, contentId: '2' },
      ],
      { method: 'POST', url: 'contacts', body: { lastname: 'Never runs' } },
    ]);
    const parts = readBatchResponse(reply);
    expect(parts.map((p) => [p.status, p.contentId])).toEqual([[400, '2']]);
    expect(c.sim.control.count('contacts')).toBe(0);
    expect(c.sim.requestLog.count({ viaBatch: true })).toBe(2);
  });

  it('rolls back change tracking too: a rolled-back create never appears in a delta', async () => {
    // dataverse-behaviour.md §2.6 (all or nothing) with §1.3 (delta contents)
    const link = (await c.get('contacts?$select=lastname', { Prefer: 'odata.track-changes' })).json['@odata.deltaLink'] as string;
    await send([[{ method: 'POST', url: 'contacts', body: { lastname: 'Ghost' } }, { method: 'DELETE', url: 'contacts(00000000-0000-4000-8000-000000000000)' }]]);
    c.sim.control.seed('contacts', { lastname: 'Real' });
    const delta = await c.getUrl(link);
    expect(values(delta).map((r) => r['lastname'])).toEqual(['Real']);
  });

  it('continues after a failed request with Prefer: odata.continue-on-error', async () => {
    // dataverse-behaviour.md §2.6 (continue-on-error)
    const missing = '00000000-0000-4000-8000-000000000001';
    const items: Part[] = [
      { method: 'GET', url: `contacts(${missing})?$select=lastname` },
      { method: 'POST', url: 'contacts', body: { lastname: 'After' } },
    ];
    const stopped = readBatchResponse(await send(items));
    expect(stopped.map((p) => p.status)).toEqual([404]);
    expect(c.sim.control.count('contacts')).toBe(0);
    const continued = readBatchResponse(await send(items, { Prefer: 'odata.continue-on-error' }));
    expect(continued.map((p) => p.status)).toEqual([404, 204]);
    expect(c.sim.control.count('contacts')).toBe(1);
  });

  it('rejects undeclared Content-ID references, GETs in change sets and more than 1,000 requests', async () => {
    // dataverse-behaviour.md §2.6
    const undeclared = readBatchResponse(await send([[{ method: 'PATCH', url: '$7', body: { lastname: 'x' }, contentId: '1' }]]));
    expect(undeclared[0]?.status).toBe(400);
    expect(JSON.parse(undeclared[0]?.body ?? '{}')).toEqual({
      error: { code: expect.any(String), message: "Content-ID Reference: '$7' does not exist in the batch context." },
    });
    const getInChangeset = await send([[{ method: 'GET', url: 'contacts' }]]);
    expect(getInChangeset.status).toBe(400);
    const tooMany = await send(Array.from({ length: 1001 }, () => ({ method: 'GET', url: 'contacts?$select=lastname' })));
    expect(tooMany.status).toBe(400);
    const exactlyMax = await send(Array.from({ length: 1000 }, () => ({ method: 'GET', url: 'contacts?$select=lastname' })));
    expect(readBatchResponse(exactlyMax)).toHaveLength(1000);
  });

  it('inner requests carry their own headers (If-Match, CallerObjectId, return=representation)', async () => {
    // dataverse-behaviour.md §2.3 (If-Match), §5 (CallerObjectId)
    const oid = 'bbbbbbbb-0000-4000-8000-000000000001';
    const user = c.sim.control.createUser({ fullname: 'Ina Inner', internalemailaddress: 'ina@x.test', azureactivedirectoryobjectid: oid });
    const id = c.sim.control.seed('contacts', { lastname: 'Target' });
    const parts = readBatchResponse(
      await send([
        { method: 'PATCH', url: `contacts(${id})`, body: { firstname: 'x' }, headers: { 'If-Match': 'W/"1"' } },
      ], { Prefer: 'odata.continue-on-error' }),
    );
    expect(parts[0]?.status).toBe(412);
    const created = readBatchResponse(
      await send([{ method: 'POST', url: 'contacts?$select=_ownerid_value', body: { lastname: 'Mine' }, headers: { CallerObjectId: oid, Prefer: 'return=representation' } }]),
    );
    expect(created[0]?.status).toBe(201);
    expect((JSON.parse(created[0]?.body ?? '{}') as Record<string, unknown>)['_ownerid_value']).toBe(user);
  });

  describe('several change sets in one batch', () => {
    const missing = '00000000-0000-4000-8000-0000000000aa';
    const changeSets = (): (Part | Part[])[] => [
      [
        { method: 'POST', url: 'contacts', body: { lastname: 'First A' }, contentId: '1' },
        { method: 'PATCH', url: '$1', body: { jobtitle: 'First B' }, contentId: '2', headers: { 'If-Match': '*' } },
      ],
      [
        { method: 'POST', url: 'contacts', body: { lastname: 'Second A' }, contentId: '3' },
        { method: 'PATCH', url: `contacts(${missing})`, body: { lastname: 'Nobody' }, contentId: '4', headers: { 'If-Match': '*' } },
      ],
      { method: 'GET', url: 'contacts?$select=lastname' },
      [{ method: 'POST', url: 'contacts', body: { lastname: 'Third' }, contentId: '5' }],
    ];

    it('with odata.continue-on-error, a failing change set rolls back alone and the rest run in order', async () => {
      // dataverse-behaviour.md §2.6: change sets are atomic; requests run sequentially in order; continue-on-error
      const reply = await send(changeSets(), { Prefer: 'odata.continue-on-error' });
      // §2.6 leaves the envelope's status UNCONFIRMED: knob batchFailureStatus.continued (default 200).
      expect(reply.status).toBe(200);
      const parts = readBatchResponse(reply);
      expect(parts.map((p) => [p.status, p.contentId, p.inChangeset])).toEqual([
        [204, '1', true],
        [204, '2', true],
        [404, '4', false],
        [200, null, false],
        [204, '5', true],
      ]);
      // The GET between the change sets saw the first one and not the rolled-back second one.
      expect((JSON.parse(parts[3]?.body ?? '{}') as { value: { lastname: string }[] }).value.map((r) => r.lastname)).toEqual(['First A']);
      expect(c.sim.control.rows('contacts').map((r) => [r['lastname'], r['jobtitle']])).toEqual([
        ['First A', 'First B'],
        ['Third', null],
      ]);
    });

    it('without it, processing stops at the first failing change set; the status of the answer is a knob', async () => {
      // dataverse-behaviour.md §2.6: stop at the first failure unless continue-on-error; envelope status UNCONFIRMED
      const stopped = await send(changeSets());
      expect(stopped.status).toBe(400);
      expect(readBatchResponse(stopped).map((p) => [p.status, p.contentId])).toEqual([
        [204, '1'],
        [204, '2'],
        [404, '4'],
      ]);
      expect(c.sim.control.rows('contacts').map((r) => r['lastname'])).toEqual(['First A']);
      c.sim.knobs.batchFailureStatus = { stopped: 200, continued: 200 };
      const lenient = await send(changeSets());
      expect(lenient.status).toBe(200);
      expect(readBatchResponse(lenient)).toHaveLength(3);
    });

    it('counts once in the request log, its parts in the details and each also logged as viaBatch', async () => {
      // dataverse-behaviour.md §2.6: a batch counts as one request toward the limits; its inner operations are the work
      await send(changeSets(), { Prefer: 'odata.continue-on-error' });
      const top = c.sim.requestLog.entries.filter((e) => !e.viaBatch);
      expect(top.map((e) => [e.method, e.kind, e.status])).toEqual([['POST', 'batch', 200]]);
      expect(top[0]?.parts?.map((p) => [p.method, p.entitySet, p.status, p.changeSet])).toEqual([
        ['POST', 'contacts', 204, 0],
        ['PATCH', 'contacts', 204, 0],
        ['POST', 'contacts', 204, 1],
        ['PATCH', 'contacts', 404, 1],
        ['GET', 'contacts', 200, null],
        ['POST', 'contacts', 204, 2],
      ]);
      expect(c.sim.requestLog.count({ viaBatch: true })).toBe(6);
    });

    it('a batch answered with its parts counts as applied for failAfterCommitNext, whatever its status', async () => {
      // The first change set was applied before the batch stopped (§2.6), so losing the answer loses a write.
      c.sim.knobs.failAfterCommitNext = 1;
      const lost = await send(changeSets());
      expect(lost.status).toBe(503);
      expect(c.sim.control.count('contacts')).toBe(1);
      expect(c.sim.requestLog.entries.find((e) => e.kind === 'batch')).toMatchObject({ status: 400, answerLost: 503 });
    });

    it('counts the requests inside change sets toward the 1,000-request cap', async () => {
      // dataverse-behaviour.md §2.6: max 1,000 requests per batch
      const pairs = (n: number): Part[][] =>
        Array.from({ length: n }, (_, i) => [
          { method: 'POST', url: 'tasks', body: { subject: `T${i}` }, contentId: `${2 * i + 1}` },
          { method: 'PATCH', url: `$${2 * i + 1}`, body: { statecode: 1, statuscode: 5 }, contentId: `${2 * i + 2}`, headers: { 'If-Match': '*' } },
        ]);
      const over = await send([...pairs(500), { method: 'GET', url: 'tasks?$select=subject' }]);
      expect(over.status).toBe(400);
      expect(c.sim.control.count('tasks')).toBe(0);
      const full = await send(pairs(500));
      expect(full.status).toBe(200);
      expect(readBatchResponse(full)).toHaveLength(1000);
      expect(c.sim.control.rows('tasks').every((t) => t['statecode'] === 1)).toBe(true);
      expect(c.sim.control.count('tasks')).toBe(500);
    });
  });
});
