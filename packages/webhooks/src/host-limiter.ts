// Owns per-receiver concurrency: a slow callback host may hold at most N deliveries at once in this process, so a
// dispatcher parks further jobs for that host (and retries them later) instead of filling every worker slot.

/** Options of {@link createHostLimiter}. */
export interface HostLimiterOptions {
  /** Deliveries in flight per `host:port` key. @defaultValue 4 */
  maxPerHost?: number;
}

/** Frees one slot; calling it more than once frees it once. */
export type ReleaseSlot = () => void;

/** An in-process limiter keyed by `host:port`. */
export interface HostLimiter {
  /** Takes a slot for `key`, or returns `null` when the key is at its limit. */
  tryAcquire(key: string): ReleaseSlot | null;
  /** Slots currently taken for `key`. */
  inFlight(key: string): number;
}

/** Creates a limiter; keys with no slot taken use no memory. */
export function createHostLimiter(options: HostLimiterOptions = {}): HostLimiter {
  const maxPerHost = options.maxPerHost ?? 4;
  if (!Number.isInteger(maxPerHost) || maxPerHost < 1) {
    throw new Error(`maxPerHost must be a positive integer, got ${maxPerHost}`);
  }
  const counts = new Map<string, number>();

  const tryAcquire = (key: string): ReleaseSlot | null => {
    const current = counts.get(key) ?? 0;
    if (current >= maxPerHost) return null;
    counts.set(key, current + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const remaining = (counts.get(key) ?? 1) - 1;
      if (remaining <= 0) counts.delete(key);
      else counts.set(key, remaining);
    };
  };

  return { tryAcquire, inFlight: (key) => counts.get(key) ?? 0 };
}

/** The limiter key of a URL: `host:port` with the scheme's default port filled in (`example.com:443`). */
export function hostKey(url: URL | string): string {
  const parsed = typeof url === 'string' ? new URL(url) : url;
  const port = parsed.port !== '' ? parsed.port : parsed.protocol === 'https:' ? '443' : '80';
  return `${parsed.hostname}:${port}`;
}

/** Options of {@link createFairShareLimiter}. */
export interface FairShareOptions {
  /** Delivery slots shared by all tenants (a partition's WEBHOOK_CONCURRENCY). */
  slots: number;
  /** A tenant's slots at most, however few tenants are active (WEBHOOK_TENANT_CONCURRENCY). @defaultValue `slots` */
  maxPerKey?: number;
  /** A tenant is busy this long after it last asked for a slot (parked deliveries ask again soon). @defaultValue 2000 ms */
  busyMs?: number;
  /** A tenant is known this long after it last asked: room is kept for known tenants that are not busy. @defaultValue 60000 ms */
  knownMs?: number;
  now?: () => number;
}

/** A limiter whose per-key share shrinks as more keys (tenants) compete for its slots. */
export interface FairShareLimiter extends HostLimiter {
  /** Slots one key may hold now. */
  share(): number;
  /** Slots taken, all keys. */
  total(): number;
}

/**
 * Fair delivery across tenants (SPEC §16): the slots are split evenly between the tenants that are busy (asked in the
 * last `busyMs`), and while other tenants delivered here in the last `knownMs` one more share is kept free for them, so
 * that their next outcome finds a slot at once even while busy tenants' slow receivers hold theirs (a delivery in
 * flight cannot be taken back). A tenant alone uses every slot. Never more than `slots` taken, nor `maxPerKey` by one.
 */
export function createFairShareLimiter(options: FairShareOptions): FairShareLimiter {
  const { slots } = options;
  if (!Number.isInteger(slots) || slots < 1) throw new Error(`slots must be a positive integer, got ${slots}`);
  const maxPerKey = options.maxPerKey ?? slots;
  const busyMs = options.busyMs ?? 2_000;
  const knownMs = options.knownMs ?? 60_000;
  const now = options.now ?? Date.now;
  const counts = new Map<string, number>();
  const seen = new Map<string, number>();
  let taken = 0;
  let countedAt = Number.NEGATIVE_INFINITY;
  let shareNow = slots;

  const shareAt = (t: number): number => {
    // Recounted at most every 100 ms (and when a new tenant appears): a busy dispatcher asks thousands of times a second.
    if (t - countedAt < 100) return shareNow;
    countedAt = t;
    let busy = 0;
    for (const [key, at] of seen) {
      const held = counts.has(key);
      if (!held && t - at > knownMs) seen.delete(key);
      else if (held || t - at <= busyMs) busy++;
    }
    const divisor = Math.max(1, busy) + (seen.size > busy ? 1 : 0);
    shareNow = Math.min(maxPerKey, Math.max(1, Math.floor(slots / divisor)));
    return shareNow;
  };

  const tryAcquire = (key: string): ReleaseSlot | null => {
    const t = now();
    if (!seen.has(key)) countedAt = Number.NEGATIVE_INFINITY;
    seen.set(key, t);
    const current = counts.get(key) ?? 0;
    if (taken >= slots || current >= shareAt(t)) return null;
    counts.set(key, current + 1);
    taken++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      taken--;
      const remaining = (counts.get(key) ?? 1) - 1;
      if (remaining <= 0) counts.delete(key);
      else counts.set(key, remaining);
    };
  };

  return {
    tryAcquire,
    inFlight: (key) => counts.get(key) ?? 0,
    share: () => shareAt(now()),
    total: () => taken,
  };
}
