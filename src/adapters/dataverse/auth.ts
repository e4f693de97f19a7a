// Tokens for the Web API: MSAL client credentials (secret or certificate) for `<environment-url>/.default`
// (dataverse-behaviour.md §5). msal-node caches the token and refreshes it before expiry, so calling this per request
// is cheap. The composition root and the tests both build their provider here.
import { ConfidentialClientApplication, type Configuration } from '@azure/msal-node';
import { fetchNetworkModule } from '../http/msal-network';
import { trustedFetch, type Fetch } from '../http/trusted-fetch';
import type { TokenProvider } from './http';

/** A secret, or a certificate as msal-node takes it (SHA-256 thumbprint, PEM private key, optional x5c chain). */
export type DataverseClientCredential =
  | { secret: string }
  | { certificate: { thumbprintSha256: string; privateKey: string; x5c?: string } };

export interface DataverseTokenOptions {
  /** `https://login.microsoftonline.com` (or a national cloud's), or a simulator's base URL. */
  authorityHost: string;
  tenantId: string;
  clientId: string;
  credential: DataverseClientCredential;
  /** `https://<org>.crm.dynamics.com` or its `.api.` form; see `dataverseTokenScope`. */
  environmentUrl: string;
  /** Transport of the token requests; default the global fetch, trusting `extraCaPem` as well when given. */
  fetch?: Fetch;
  /** Extra CA for a loopback authority (the simulators' start-up certificate). */
  extraCaPem?: string;
}

/**
 * §5: the scope is the environment URL (origin only) followed by `/.default`, taken from the environment URL without
 * `.api.`: `https://contoso.api.crm.dynamics.com/…` asks for `https://contoso.crm.dynamics.com/.default`.
 */
export function dataverseTokenScope(environmentUrl: string): string {
  const url = new URL(environmentUrl);
  const labels = url.hostname.split('.');
  // Only a label after the org name: `api.crm.dynamics.com` alone has no org to keep.
  const apiAt = labels.indexOf('api', 1);
  if (apiAt > 0 && apiAt < labels.length - 1) labels.splice(apiAt, 1);
  return `${url.protocol}//${labels.join('.')}${url.port ? `:${url.port}` : ''}/.default`;
}

export function dataverseTokenProvider(options: DataverseTokenOptions): TokenProvider {
  const authorityBase = options.authorityHost.replace(/\/+$/, '');
  const configuration: Configuration = {
    auth: {
      clientId: options.clientId,
      authority: `${authorityBase}/${options.tenantId}`,
      // No instance discovery: the host is trusted as configured (national clouds, the simulators).
      knownAuthorities: [new URL(authorityBase).host],
      ...('secret' in options.credential ? { clientSecret: options.credential.secret } : { clientCertificate: options.credential.certificate }),
    },
    system: { networkClient: fetchNetworkModule(options.fetch ?? trustedFetch(options.extraCaPem)) },
  };
  const app = new ConfidentialClientApplication(configuration);
  const scope = dataverseTokenScope(options.environmentUrl);
  return async (request) => {
    const result = await app.acquireTokenByClientCredential({ scopes: [scope], skipCache: request?.forceRefresh === true });
    if (!result?.accessToken) throw new Error('the token response carried no access token');
    return result.accessToken;
  };
}
