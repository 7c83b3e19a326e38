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
  private readonly ttlMs: number;
  private readonly maxHosts: number;

  constructor(options: CallbackPolicyOptions) {
    this.policy = createAddressPolicy({ allowCidrs: options.allowCidrs });
    this.resolve = options.resolve ?? resolveHostWithDns;
    this.ttlMs = options.ttlMs ?? 30_000;
    this.maxHosts = options.maxHosts ?? 10_000;
  }

  validate(raw: string): Promise<CallbackUrlValidation> {
    return validateCallbackUrl(raw, this.policy, { resolve: (host) => this.cachedResolve(host) });
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
