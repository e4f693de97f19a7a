// App-only (client credentials) tokens for Graph through @azure/msal-node, behind the Graph client's
// AuthenticationProvider. MSAL caches the token in memory and refreshes it before expiry.
// For the simulators, the authority host is a loopback HTTPS server: msal needs it in `knownAuthorities` (no instance
// discovery against login.microsoftonline.com) and a network client that trusts the simulator CA.
import { ConfidentialClientApplication, type Configuration } from '@azure/msal-node';
import type { AuthenticationProvider } from '@microsoft/microsoft-graph-client';
import { fetchNetworkModule } from '../http/msal-network';
import type { Fetch } from '../http/trusted-fetch';

export type ClientCredential =
  | { secret: string }
  | { certificate: { thumbprintSha256: string; privateKey: string; x5c?: string } };

export interface TokenProviderOptions {
  /** e.g. `https://login.microsoftonline.com` or the simulator's base URL. */
  authorityHost: string;
  tenantId: string;
  clientId: string;
  credential: ClientCredential;
  /** The resource whose `/.default` scope is requested, e.g. `https://graph.microsoft.com`. */
  resource: string;
  fetch: Fetch;
}

/** Thrown by the token provider; its name survives the SDK's GraphError wrapping, so the adapter can map it to AuthError. */
export class TokenAcquisitionError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TokenAcquisitionError';
  }
}

export function createTokenProvider(options: TokenProviderOptions): AuthenticationProvider {
  const authorityBase = options.authorityHost.replace(/\/+$/, '');
  const config: Configuration = {
    auth: {
      clientId: options.clientId,
      authority: `${authorityBase}/${options.tenantId}`,
      knownAuthorities: [new URL(authorityBase).host],
      ...('secret' in options.credential ? { clientSecret: options.credential.secret } : { clientCertificate: options.credential.certificate }),
    },
    system: { networkClient: fetchNetworkModule(options.fetch) },
  };
  const app = new ConfidentialClientApplication(config);
  const scope = `${new URL(options.resource).origin}/.default`;
  return {
    getAccessToken: async () => {
      try {
        const result = await app.acquireTokenByClientCredential({ scopes: [scope] });
        if (!result?.accessToken) throw new Error('the token response carried no access token');
        return result.accessToken;
      } catch (error) {
        const code = typeof error === 'object' && error !== null && 'errorCode' in error ? String((error as { errorCode: unknown }).errorCode) : 'unknown';
        throw new TokenAcquisitionError(`token acquisition failed (${code})`, { cause: error });
      }
    },
  };
}
