/**
 * The intake check of callback URLs (SPEC §3): `validateCallbackUrl` against the address policy of
 * WEBHOOK_ALLOW_CIDRS, with host-name resolutions cached for a short while — most tenants send every request to the
 * same host, and a DNS lookup per request would dominate intake latency. The dispatcher repeats the check at
 * connection time, so a short cache cannot let a request reach a refused address.
 */
import {
  type AddressPolicy,
  type CallbackUrlValidation,
  createAddressPolicy,
  type ResolveHost,
  resolveHostWithDns,
  validateCallbackUrl,
} from '@batchbridge/webhooks';

/** Accepted URLs remembered at most (URLs with per-request query strings would otherwise fill the map). */
const MAX_ACCEPTED_URLS = 1_000;

export interface CallbackPolicyOptions {
  allowCidrs: readonly string[];
  /** @defaultValue {@link resolveHostWithDns} */
  resolve?: ResolveHost;
  /** How long a resolution is reused. @defaultValue 30 s */
  ttlMs?: number;
  /** Hosts kept at most; the cache is cleared when full. @defaultValue 10 000 */
  maxHosts?: number;
}

export class CallbackPolicy {
  private readonly policy: AddressPolicy;
  private readonly resolve: ResolveHost;
  private readonly cache = new Map<string, { at: number; addresses: Promise<readonly string[]> }>();
  /** Accepted URLs, verbatim: a tenant sends the same callback URL again and again, and parsing it is not free. */
  private readonly accepted = new Map<string, number>();
  private readonly ttlMs: number;
  private readonly maxHosts: number;

  constructor(options: CallbackPolicyOptions) {
    this.policy = createAddressPolicy({ allowCidrs: options.allowCidrs });
    this.resolve = options.resolve ?? resolveHostWithDns;
    this.ttlMs = options.ttlMs ?? 30_000;
    this.maxHosts = options.maxHosts ?? 10_000;
  }

  async validate(raw: string): Promise<CallbackUrlValidation | { ok: true }> {
    // The verdict is a function of the URL and its host's addresses, which are reused for as long (see the class doc).
    const now = Date.now();
    const at = this.accepted.get(raw);
    if (at !== undefined && now - at <= this.ttlMs) return { ok: true };
    const verdict = await validateCallbackUrl(raw, this.policy, { resolve: (host) => this.cachedResolve(host) });
    // Refusals are not cached: they are rare, and a host whose resolution failed must be asked again.
    if (verdict.ok) {
      if (this.accepted.size >= MAX_ACCEPTED_URLS) this.accepted.clear();
      this.accepted.set(raw, now);
    }
    return verdict;
  }

  private cachedResolve(host: string): Promise<readonly string[]> {
    const now = Date.now();
    const hit = this.cache.get(host);
    if (hit && now - hit.at <= this.ttlMs) return hit.addresses;
    if (this.cache.size >= this.maxHosts) this.cache.clear();
    const addresses = this.resolve(host);
    this.cache.set(host, { at: now, addresses });
    // Failures are not cached: the next request asks again.
    addresses.catch(() => {
      if (this.cache.get(host)?.addresses === addresses) this.cache.delete(host);
    });
    return addresses;
  }
}
