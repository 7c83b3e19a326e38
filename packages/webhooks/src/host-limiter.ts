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
