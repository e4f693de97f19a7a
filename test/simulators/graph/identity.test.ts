// The Entra ID token endpoint in the shape @azure/msal-node 3 uses for client credentials (shared/identity.ts), and
// the bearer-token rule of the Graph routes (graph-behaviour.md §9.6: the SDK only sends Authorization to custom hosts).
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
