// Tokens for the Web API: MSAL client credentials for `<environment-url>/.default` (dataverse-behaviour.md §5).
// msal-node caches the token and refreshes it before expiry, so calling this per request is cheap.
import { ConfidentialClientApplication, type INetworkModule, type NetworkRequestOptions, type NetworkResponse } from '@azure/msal-node';
import { trustedFetch, type Fetch } from '../http/trusted-fetch';
import type { TokenProvider } from './http';

export interface MsalTokenOptions {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  /** `https://<org>.crm.dynamics.com`: the token scope is `<environmentUrl>/.default`. */
  environmentUrl: string;
  /** Default `https://login.microsoftonline.com/<tenantId>`; tests point it at the simulators' identity routes. */
  authority?: string;
  /** Hosts msal may trust without instance discovery (the simulator's `host:port`). */
  knownAuthorities?: string[];
  /** Extra CA for a loopback authority (the simulators' start-up certificate). */
  extraCaPem?: string;
}

export function msalTokenProvider(options: MsalTokenOptions): TokenProvider {
  const app = new ConfidentialClientApplication({
    auth: {
      clientId: options.clientId,
      clientSecret: options.clientSecret,
      authority: options.authority ?? `https://login.microsoftonline.com/${options.tenantId}`,
      ...(options.knownAuthorities ? { knownAuthorities: options.knownAuthorities } : {}),
    },
    ...(options.extraCaPem ? { system: { networkClient: fetchNetworkClient(trustedFetch(options.extraCaPem)) } } : {}),
  });
  // The scope is the environment URL without a path (§5: "the resource followed by /.default").
  const scope = `${new URL(options.environmentUrl).origin}/.default`;
  return async (request) => {
    const result = await app.acquireTokenByClientCredential({ scopes: [scope], skipCache: request?.forceRefresh === true });
    if (!result?.accessToken) throw new Error('MSAL returned no access token');
    return result.accessToken;
  };
}

/** msal's network seam over a fetch, so the token requests trust the same CA as the API requests. */
function fetchNetworkClient(fetchImpl: Fetch): INetworkModule {
  const send = async <T>(method: 'GET' | 'POST', url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> => {
    const response = await fetchImpl(url, { method, headers: options?.headers, body: options?.body });
    const headers: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      headers[name] = value;
    });
    return { headers, body: (await response.json()) as T, status: response.status };
  };
  return {
    sendGetRequestAsync: (url, options) => send('GET', url, options),
    sendPostRequestAsync: (url, options) => send('POST', url, options),
  };
}
