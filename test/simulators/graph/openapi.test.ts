// The OpenAPI validator used by every simulator test must be able to fail (graph-openapi/README.md).
import { validateGraphResponse } from '../../support/openapi';

describe('test/support/openapi.ts', () => {
  it('rejects a wrongly typed property and accepts the documented null for a bare-ref nullable (README adjustments 1 and 2)', () => {
    expect(validateGraphResponse('contact', { id: 'x', displayName: 5 }).valid).toBe(false);
    expect(validateGraphResponse('contact', { id: 'x', '@odata.etag': 'W/"a"', displayName: 'A', homeAddress: null }).valid).toBe(true);
    expect(validateGraphResponse('event', { id: 'x', recurrence: null, onlineMeeting: null, subject: 's' }).valid).toBe(true);
  });

  it('picks the delta route over the item route and validates the collection envelope', () => {
    const bad = validateGraphResponse({ path: '/users/a/contacts/delta', method: 'GET' }, { value: [{ id: 'x', birthday: 'not a date' }] });
    expect(bad.against).toContain('microsoft.graph.delta()');
    expect(bad.valid).toBe(false);
    const ok = validateGraphResponse({ path: "/users/a/mailfolders('inbox')/messages/delta", method: 'GET' }, { value: [{ id: 'x', isRead: true }], '@odata.deltaLink': 'https://x' });
    expect(ok).toMatchObject({ valid: true });
    expect(ok.against).toContain('/mailFolders/{mailFolder-id}/messages/microsoft.graph.delta()');
  });

  it('validates error statuses against the OData error shape', () => {
    expect(validateGraphResponse({ path: '/users/a/contacts', method: 'GET', status: 404 }, { error: { code: 'x', message: 'y', innerError: { 'request-id': 'r', date: '2020-01-01T00:00:00' } } }).valid).toBe(true);
    expect(validateGraphResponse({ path: '/users/a/contacts', method: 'GET', status: 404 }, { error: { code: 5 } }).valid).toBe(false);
  });
});
