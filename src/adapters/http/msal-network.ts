// msal-node's network seam over a fetch, shared by the Graph and Dataverse token providers, so token requests trust
// the same extra CA as the API requests (msal's default client cannot be told to trust one).
import type { INetworkModule, NetworkRequestOptions, NetworkResponse } from '@azure/msal-node';
import type { Fetch } from './trusted-fetch';

/** msal-node's INetworkModule over a fetch (msal's default client cannot be told to trust an extra CA). */
export function fetchNetworkModule(fetch: Fetch): INetworkModule {
  const send = async <T>(method: 'GET' | 'POST', url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> => {
    const response = await fetch(url, { method, headers: options?.headers, body: method === 'POST' ? options?.body : undefined });
    const text = await response.text();
    let body: unknown = {};
    try {
      body = text === '' ? {} : JSON.parse(text);
    } catch {
      body = {};
    }
    const headers: Record<string, string> = {};
    response.headers.forEach((value, key) => {
      headers[key] = value;
    });
    // msal validates the shape of what it asked for; this module only transports it.
    return { status: response.status, headers, body: body as T };
  };
  return {
    sendGetRequestAsync: <T>(url: string, options?: NetworkRequestOptions) => send<T>('GET', url, options),
    sendPostRequestAsync: <T>(url: string, options?: NetworkRequestOptions) => send<T>('POST', url, options),
  };
}
