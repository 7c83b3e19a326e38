/** Errors of the redis package, with stable codes. */
import { BatchbridgeError } from '@batchbridge/errors';
export type RedisSetupErrorCode =
  | 'redis.unavailable'
  | 'redis.eviction_policy'
  | 'redis.partitions_changed'
  | 'redis.durability_config';

export class RedisSetupError extends BatchbridgeError {
  declare readonly code: RedisSetupErrorCode;
  constructor(code: RedisSetupErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/**
 * `REDIS_DURABILITY=replica`: a write was made but no replica confirmed it within REDIS_DURABILITY_TIMEOUT_MS. The
 * write stands (a retry with the same Idempotency-Key finds it); what failed is the promise that it survives the
 * master's loss, so the caller must not be told "accepted" yet.
 */
export class ReplicaUnconfirmedError extends BatchbridgeError {
  declare readonly code: 'redis.replica_unconfirmed';
  readonly replicas: number;
  constructor(replicas: number, timeoutMs: number) {
    super('redis.replica_unconfirmed', `no replica confirmed the write within ${timeoutMs} ms (${replicas} did)`);
    this.replicas = replicas;
  }
}
