// The Entra ID token endpoint in the shape @azure/msal-node 3 uses for client credentials (shared/identity.ts), and
// the bearer-token rule of the Graph routes (graph-behaviour.md §9.6: the SDK only sends Authorization to custom hosts;
// §9.4: a refused token is a 401 InvalidAuthenticationToken in Graph's error shape).
import { ConfidentialClientApplication, type INetworkModule, type NetworkRequestOptions, type NetworkResponse } from '@azure/msal-node';
import { Client } from '@microsoft/microsoft-graph-client';
import { Agent } from 'undici';
import { tokenFingerprint } from '../../../src/simulators/graph';
import { startTestSimulator, type GraphTestClient, type JsonRecord } from './harness';

const TENANT = 'contoso-tenant';

describe('Graph simulator: identity', () => {
  let t: GraphTestClient;
  beforeAll(async () => {
    t = await startTestSimulator();
    t.sim.control.createUser('id@contoso.test');
  });
  afterAll(() => t.stop());

  /** msal's network module over the fetch that trusts the simulator certificate. */
  const network = (): INetworkModule => {
    const send = async <T>(url: string, method: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> => {
      const res = await t.fetch(url, { method, headers: options?.headers, body: options?.body });
      const headers: Record<string, string> = {};
      res.headers.forEach((v, k) => (headers[k] = v));
      return { status: res.status, headers, body: (await res.json()) as T };
    };
    return { sendGetRequestAsync: (url, options) => send(url, 'GET', options), sendPostRequestAsync: (url, options) => send(url, 'POST', options) };
  };

  it('msal-node acquires a client-credentials token from the simulator (knownAuthorities), and the Graph SDK uses it', async () => {
    t.sim.requestLog.reset();
    const app = new ConfidentialClientApplication({
      auth: { clientId: 'app-1', clientSecret: 'secret', authority: t.sim.tokenEndpoint.authority(TENANT), knownAuthorities: [t.sim.tokenEndpoint.knownAuthority] },
      system: { networkClient: network() },
    });
    const result = await app.acquireTokenByClientCredential({ scopes: [`${t.sim.baseUrl}.default`] });
    expect(result?.accessToken).toMatch(/^simtok\./);
    expect(result?.tokenType).toBe('Bearer');
    expect(t.sim.requestLog.count({ kind: 'identity.token', method: 'POST', status: 200 })).toBe(1);
    expect(t.sim.requestLog.count({ kind: 'identity.openid-configuration' })).toBe(1);
    // a second call comes from msal's cache
    await app.acquireTokenByClientCredential({ scopes: [`${t.sim.baseUrl}.default`] });
    expect(t.sim.requestLog.count({ kind: 'identity.token' })).toBe(1);

    // the SDK's default middleware chain, trusting the simulator CA through fetchOptions.dispatcher (§9.6)
    const dispatcher = new Agent({ connect: { ca: t.sim.caCert } });
    const client = Client.initWithMiddleware({
      authProvider: { getAccessToken: async () => (await app.acquireTokenByClientCredential({ scopes: [`${t.sim.baseUrl}.default`] }))?.accessToken ?? '' },
      baseUrl: t.sim.baseUrl,
      customHosts: new Set(['localhost']),
      fetchOptions: { dispatcher } as never,
    });
    const me = (await client.api('/users/id@contoso.test').get()) as JsonRecord;
    expect(me['userPrincipalName']).toBe('id@contoso.test');
    expect(t.sim.requestLog.list({ kind: 'users.get' }).map((e) => [e.status, e.authorized])).toEqual([[200, true]]);
    // the log tells clients apart by a token fingerprint
    expect(t.sim.requestLog.count({ kind: 'users.get', token: tokenFingerprint(`Bearer ${result?.accessToken ?? ''}`) ?? '' })).toBe(1);
    expect(t.sim.requestLog.count({ kind: 'users.get', token: tokenFingerprint('Bearer other') ?? '' })).toBe(0);
    await dispatcher.close();
  });

  it('rejects other grant types and missing credentials in Entra\'s OAuth error shape', async () => {
    const post = (body: string) => t.fetch(`${t.sim.tokenEndpoint.tokenUrl(TENANT)}`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body });
    const wrongGrant = await post('grant_type=password&client_id=a&scope=x');
    expect(wrongGrant.status).toBe(400);
    expect(((await wrongGrant.json()) as JsonRecord)['error']).toBe('unsupported_grant_type');
    const noSecret = await post('grant_type=client_credentials&client_id=a&scope=x');
    expect(noSecret.status).toBe(401);
    expect(((await noSecret.json()) as JsonRecord)['error']).toBe('invalid_client');
  });
});

describe('Graph simulator: bearer tokens it issued are checked (expiry, audience)', () => {
  let t: GraphTestClient;
  const upn = 'auth@contoso.test';
  beforeEach(async () => {
    t = await startTestSimulator();
    t.sim.control.createUser(upn);
  });
  afterEach(() => t.stop());

  const issue = async (scope: string): Promise<string> => {
    const res = await t.fetch(t.sim.tokenEndpoint.tokenUrl(TENANT), {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: 'app-1', client_secret: 's', scope }).toString(),
    });
    return String(((await res.json()) as JsonRecord)['access_token']);
  };
  /** The 401 of graph-behaviour.md §9.4's error shape: code, message, innerError with request-id and date. */
  const expectRefused = (res: { status: number; body: JsonRecord; headers: Headers }, message: string) => {
    expect(res.status).toBe(401);
    const error = res.body['error'] as JsonRecord;
    expect([error['code'], error['message']]).toEqual(['InvalidAuthenticationToken', message]);
    expect(Object.keys(error['innerError'] as JsonRecord)).toEqual(expect.arrayContaining(['request-id', 'date']));
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer /);
  };

  it('accepts an unexpired token for its own .default scope, refuses it once expired (simulator clock)', async () => {
    const token = await issue(`${t.sim.baseUrl}.default`);
    expect((await t.call('GET', `users/${upn}/contacts`, { token })).status).toBe(200);
    t.sim.control.advanceClock(3_599_000);
    expectRefused(await t.call('GET', `users/${upn}/contacts`, { token }), 'Lifetime validation failed, the token is expired.');
    // the $batch envelope is checked the same way
    expectRefused(await t.call('POST', '$batch', { token, body: { requests: [{ id: '1', method: 'GET', url: `/users/${upn}/contacts` }] } }), 'Lifetime validation failed, the token is expired.');
    expect(t.sim.requestLog.list({ kind: 'contacts.list' }).map((e) => [e.status, e.authorized])).toEqual([[200, true], [401, false]]);
  });

  it("refuses a token issued for another resource's scope (audience), and identity tokens it did not issue", async () => {
    const crmToken = await issue('https://contoso.crm.dynamics.com/.default');
    expectRefused(await t.call('GET', `users/${upn}/contacts`, { token: crmToken }), 'Access token validation failure. Invalid audience.');
    expectRefused(await t.call('GET', `users/${upn}/contacts`, { token: 'simtok.e30.forged' }), 'Access token validation failure.');
    // Graph's application id is a Graph audience too
    expect((await t.call('GET', `users/${upn}/contacts`, { token: await issue('00000003-0000-0000-c000-000000000000/.default') })).status).toBe(200);
  });

  it('acceptAnyBearer (default on, for plain-fetch callers) lets any other bearer string in; off, only issued tokens pass', async () => {
    expect(t.sim.knobs.acceptAnyBearer).toBe(true);
    expect((await t.call('GET', `users/${upn}/contacts`, { token: 'plain-string' })).status).toBe(200);
    t.sim.knobs.acceptAnyBearer = false;
    expectRefused(await t.call('GET', `users/${upn}/contacts`, { token: 'plain-string' }), 'IDX14100: JWT is not well formed, there are no dots (.).');
    expectRefused(await t.call('GET', `users/${upn}/contacts`, { token: null }), 'Access token is empty.');
    // an unauthenticated caller learns nothing about the URL
    expectRefused(await t.call('GET', 'no/such/route', { token: 'plain-string' }), 'IDX14100: JWT is not well formed, there are no dots (.).');
    const token = await issue(`${t.sim.baseUrl}.default`);
    expect((await t.call('GET', `users/${upn}/contacts`, { token })).status).toBe(200);
  });

  it('with acceptAnyBearer off, msal-node and the Graph SDK work end to end (the adapter path)', async () => {
    t.sim.knobs.acceptAnyBearer = false;
    const send = async <T>(url: string, method: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> => {
      const res = await t.fetch(url, { method, headers: options?.headers, body: options?.body });
      const headers: Record<string, string> = {};
      res.headers.forEach((v, k) => (headers[k] = v));
      return { status: res.status, headers, body: (await res.json()) as T };
    };
    const app = new ConfidentialClientApplication({
      auth: { clientId: 'app-1', clientSecret: 'secret', authority: t.sim.tokenEndpoint.authority(TENANT), knownAuthorities: [t.sim.tokenEndpoint.knownAuthority] },
      system: { networkClient: { sendGetRequestAsync: (url, o) => send(url, 'GET', o), sendPostRequestAsync: (url, o) => send(url, 'POST', o) } },
    });
    const dispatcher = new Agent({ connect: { ca: t.sim.caCert } });
    const client = Client.initWithMiddleware({
      // the adapter asks for the origin of its Graph base URL + /.default (src/adapters/graph/auth.ts)
      authProvider: { getAccessToken: async () => (await app.acquireTokenByClientCredential({ scopes: [`${new URL(t.sim.baseUrl).origin}/.default`] }))?.accessToken ?? '' },
      baseUrl: t.sim.baseUrl,
      customHosts: new Set(['localhost']),
      fetchOptions: { dispatcher } as never,
    });
    const created = (await client.api(`/users/${upn}/contacts`).post({ givenName: 'Ada' })) as JsonRecord;
    expect(created['givenName']).toBe('Ada');
    expect(t.sim.requestLog.list({ kind: 'contacts.create' }).map((e) => [e.status, e.authorized])).toEqual([[201, true]]);
    await dispatcher.close();
  });
});
