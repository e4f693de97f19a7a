import { dataverseTokenScope } from '../../../src/adapters/dataverse/auth';
import { parseMultipart, parseRetryAfter } from '../../../src/adapters/dataverse/http';
import { parseRow } from '../../../src/adapters/dataverse/records';
import { deterministicCrmId, splitStateAttributes } from '../../../src/adapters/dataverse/scope';

describe('Dataverse adapter edges', () => {
  it('a malformed row fails alone with a reason code and its id; a $deletedEntity row is a delete', () => {
    // dataverse-behaviour.md §1.3: deletes arrive as {"@odata.context":"…/$deletedEntity","id","reason":"deleted"}.
    const deleted = parseRow('contact', {
      '@odata.context': 'https://org/api/data/v9.2/$metadata#contacts/$deletedEntity',
      id: '2e451703-c686-e711-80e5-00155db19e6d',
      reason: 'deleted',
    });
    expect(deleted).toEqual({ type: 'deleted', id: '2e451703-c686-e711-80e5-00155db19e6d' });
    const bad = parseRow('contact', { '@odata.etag': 'W/"1"', contactid: '60c4e274-0d87-e711-80e5-00155db19e6d', modifiedon: 'yesterday' });
    expect(bad).toMatchObject({ type: 'failure', failure: { id: '60c4e274-0d87-e711-80e5-00155db19e6d', reason: 'crm-invalid-record' } });
    const good = parseRow('contact', {
      '@odata.etag': 'W/"915244"',
      contactid: '60c4e274-0d87-e711-80e5-00155db19e6d',
      modifiedon: '2025-01-01T10:00:00Z',
      _ownerid_value: '11111111-2222-4333-8444-555555555555',
      firstname: 'Monte',
      '_parentcustomerid_value@OData.Community.Display.V1.FormattedValue': 'Contoso',
    });
    expect(good).toMatchObject({
      type: 'record',
      record: {
        version: 'W/"915244"',
        ownerId: '11111111-2222-4333-8444-555555555555',
        data: { firstname: 'Monte', '_parentcustomerid_value@OData.Community.Display.V1.FormattedValue': 'Contoso' },
      },
    });
  });

  it('an activity party without its table fails the record with crm-invalid-party', () => {
    const row = {
      '@odata.etag': 'W/"2"',
      activityid: '60c4e274-0d87-e711-80e5-00155db19e6d',
      modifiedon: '2025-01-01T10:00:00Z',
      appointment_activity_parties: [{ participationtypemask: 5, _partyid_value: '60c4e274-0d87-e711-80e5-00155db19e6e' }],
    };
    expect(parseRow('appointment', row)).toMatchObject({ type: 'failure', failure: { reason: 'crm-invalid-party' } });
  });

  it('parses a batch response with a change set, in order', () => {
    const text = [
      '--batchresponse_1',
      'Content-Type: application/http',
      'Content-Transfer-Encoding: binary',
      '',
      'HTTP/1.1 200 OK',
      'Content-Type: application/json',
      '',
      '{"a":1}',
      '--batchresponse_1',
      'Content-Type: multipart/mixed; boundary=changesetresponse_2',
      '',
      '--changesetresponse_2',
      'Content-Type: application/http',
      '',
      'HTTP/1.1 204 No Content',
      'OData-EntityId: https://org/api/data/v9.2/tasks(1)',
      '',
      '',
      '--changesetresponse_2--',
      '--batchresponse_1',
      'Content-Type: application/http',
      '',
      'HTTP/1.1 404 Not Found',
      '',
      '{"error":{"code":"0x80040217","message":"gone"}}',
      '--batchresponse_1--',
      '',
    ].join('\r\n');
    const parts = parseMultipart(text, 'multipart/mixed; boundary=batchresponse_1');
    expect(parts.map((p) => p.status)).toEqual([200, 204, 404]);
    expect(parts[0]?.body).toEqual({ a: 1 });
    expect(parts[1]?.headers['odata-entityid']).toBe('https://org/api/data/v9.2/tasks(1)');
  });

  it('Retry-After in seconds or as a date', () => {
    expect(parseRetryAfter('37', 0)).toBe(37_000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6_000);
    expect(parseRetryAfter(null, 0)).toBeNull();
  });

  it('takes the token scope from the environment URL without `.api.` (dataverse-behaviour.md §5)', () => {
    expect(dataverseTokenScope('https://contoso.api.crm.dynamics.com')).toBe('https://contoso.crm.dynamics.com/.default');
    expect(dataverseTokenScope('https://contoso.api.crm4.dynamics.com/')).toBe('https://contoso.crm4.dynamics.com/.default');
    expect(dataverseTokenScope('https://contoso.crm.dynamics.com/api/data/v9.2/')).toBe('https://contoso.crm.dynamics.com/.default');
    expect(dataverseTokenScope('https://localhost:8444/')).toBe('https://localhost:8444/.default');
    // no org label before `api`: nothing to strip
    expect(dataverseTokenScope('https://api.crm.dynamics.com')).toBe('https://api.crm.dynamics.com/.default');
  });

  it('derives one UUID v5 per kind and key', () => {
    const id = deterministicCrmId('contact', 'k1');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(deterministicCrmId('contact', 'k1')).toBe(id);
    expect(deterministicCrmId('contact', 'k2')).not.toBe(id);
    expect(deterministicCrmId('task', 'k1')).not.toBe(id);
  });

  it('completes the state pair from the reference tables (dataverse-behaviour.md §4.4–§4.6)', () => {
    expect(splitStateAttributes('task', { subject: 's', statuscode: 5 })).toEqual({ fields: { subject: 's' }, state: { statecode: 1, statuscode: 5 } });
    expect(splitStateAttributes('appointment', { statecode: 3 })).toEqual({ fields: {}, state: { statecode: 3, statuscode: 5 } });
    expect(splitStateAttributes('email', { subject: 'x' })).toEqual({ fields: { subject: 'x' }, state: null });
  });
});
