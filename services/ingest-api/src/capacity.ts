/**
 * Open-request counts of the *other* partitions, for the quota checks of the enqueue script (which counts its own
 * partition exactly). With one partition there is nothing elsewhere and no Redis call; with several, the per-tenant
 * counts are cached briefly so that intake does not read every partition on every request. This replica's own accepted
 * requests are added to the cached view as they happen; only other replicas' last few hundred milliseconds of traffic
 * are approximated, which is what a soft capacity bound needs.
 */
import type { Store } from '@batchbridge/domain';

export interface OpenElsewhere {
  tenant: number;
  global: number;
}

export class CapacityView {
  private readonly cache = new Map<string, { at: number; value: Promise<{ global: number[]; tenant: number[] }> }>();

  constructor(
    private readonly store: Store,
    private readonly partitions: number,
    /** @defaultValue 250 ms */
    private readonly ttlMs = 250,
  ) {}

  async elsewhere(tenant: string, partition: number): Promise<OpenElsewhere> {
    if (this.partitions <= 1) return { tenant: 0, global: 0 };
    const now = Date.now();
    let entry = this.cache.get(tenant);
    if (!entry || now - entry.at > this.ttlMs) {
      const value = this.store.requests.openCounts(tenant);
      entry = { at: now, value };
      this.cache.set(tenant, entry);
      // A failed read must not be served from the cache.
      value.catch(() => {
        if (this.cache.get(tenant)?.value === value) this.cache.delete(tenant);
      });
    }
    const counts = await entry.value;
    let t = 0;
    let g = 0;
    for (let p = 0; p < counts.global.length; p++) {
      if (p === partition) continue;
      g += counts.global[p] ?? 0;
      t += counts.tenant[p] ?? 0;
    }
    return { tenant: t, global: g };
  }

  /**
   * Counts a request this replica just created into the cached views, so that its own burst is never admitted past a
   * limit by a stale cache; only other replicas' most recent requests are approximated.
   */
  noteCreated(tenant: string, partition: number): void {
    if (this.partitions <= 1) return;
    for (const [name, entry] of this.cache) {
      void entry.value
        .then((counts) => {
          counts.global[partition] = (counts.global[partition] ?? 0) + 1;
          if (name === tenant) counts.tenant[partition] = (counts.tenant[partition] ?? 0) + 1;
        })
        .catch(() => undefined);
    }
  }

  /** Open requests over all partitions (readiness). */
  async totalOpen(): Promise<number> {
    const counts = await this.store.requests.openCounts('');
    return counts.global.reduce((a, b) => a + b, 0);
  }
}
