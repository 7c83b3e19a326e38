/** Errors of the redis package, with stable codes. */
export class RedisSetupError extends Error {
  readonly code: 'redis_unavailable' | 'redis_eviction_policy' | 'redis_partitions_changed';
  constructor(code: RedisSetupError['code'], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RedisSetupError';
    this.code = code;
  }
}
