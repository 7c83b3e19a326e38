/** Errors of the redis package, with stable codes. */
import { BatchbridgeError } from '@batchbridge/errors';
export type RedisSetupErrorCode = 'redis.unavailable' | 'redis.eviction_policy' | 'redis.partitions_changed';

export class RedisSetupError extends BatchbridgeError {
  declare readonly code: RedisSetupErrorCode;
  constructor(code: RedisSetupErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
