// A fetch that trusts one extra CA (the simulators' start-up certificate) without touching the process-wide trust
// store. Production passes no CA and gets the global fetch unchanged.
import { Agent, fetch as undiciFetch } from 'undici';

export type Fetch = typeof globalThis.fetch;

export function trustedFetch(extraCaPem: string | undefined): Fetch {
  if (!extraCaPem) return globalThis.fetch;
  const dispatcher = new Agent({ connect: { ca: extraCaPem }, keepAliveTimeout: 1_000 });
  const wrapped = (input: Parameters<Fetch>[0], init?: Parameters<Fetch>[1]) =>
    undiciFetch(input as Parameters<typeof undiciFetch>[0], { ...(init as object), dispatcher } as Parameters<typeof undiciFetch>[1]);
  return wrapped as unknown as Fetch;
}
