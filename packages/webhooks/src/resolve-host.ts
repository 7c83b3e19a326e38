// Owns name resolution for callback hosts, behind a function type so that tests can map a name to any address
// without touching DNS.
import { lookup } from 'node:dns/promises';

/** Resolves a host name to every address it has (A and AAAA); rejects or returns `[]` when it has none. */
export type ResolveHost = (hostname: string) => Promise<readonly string[]>;

/** The system resolver (getaddrinfo via `dns.lookup`, so `/etc/hosts` and `localhost` count), all families. */
export const resolveHostWithDns: ResolveHost = async (hostname) => {
  const records = await lookup(hostname, { all: true, verbatim: true });
  return records.map((record) => record.address);
};
