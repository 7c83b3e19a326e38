/**
 * BullMQ and batchbridge's records must never be evicted: an evicted request record is a lost request. Refuse to start
 * on a Redis whose `maxmemory-policy` is not `noeviction`, unless explicitly overridden.
 */
import type { Logger } from '@batchbridge/logger';
import type { RedisClient } from './connection.js';
import { RECOMMENDED_LISTPACK_VALUE } from './embedded.js';
import { RedisSetupError } from './errors.js';

export async function checkEvictionPolicy(
  client: RedisClient,
  options: { allowEviction: boolean; logger?: Logger },
): Promise<string | undefined> {
  let policy: string | undefined;
  try {
    const nodes = 'nodes' in client ? client.nodes('master') : [client];
    for (const node of nodes) {
      const reply = (await node.config('GET', 'maxmemory-policy')) as string[];
      policy = reply[1];
      if (policy !== undefined && policy !== 'noeviction') break;
    }
  } catch (err) {
    // Managed Redis services often disable CONFIG; we cannot check, so say so and go on.
    options.logger?.warn({ err: (err as Error).message }, 'could not read maxmemory-policy (CONFIG disabled?)');
    return undefined;
  }
  if (policy !== undefined && policy !== 'noeviction') {
    if (options.allowEviction) {
      options.logger?.warn(
        { policy },
        'Redis maxmemory-policy is not noeviction; continuing (REDIS_ALLOW_EVICTION=true)',
      );
      return policy;
    }
    throw new RedisSetupError(
      'redis.eviction_policy',
      `Redis maxmemory-policy is "${policy}"; batchbridge needs "noeviction" so that queued requests are never evicted. ` +
        'Run `CONFIG SET maxmemory-policy noeviction` (and persist it in redis.conf), or set REDIS_ALLOW_EVICTION=true to accept the risk.',
    );
  }
  return policy;
}

/**
 * A Redis whose `hash-max-listpack-value` is below the one batchbridge's shipped configurations set keeps each request
 * record (a 2 KB body, a 1 KB answer) as a hashtable, about twice the memory of one listpack (docs/scaling.md, bench
 * S10): said once at start, at info level; nothing is refused. Answers the value read (undefined: CONFIG disabled).
 */
export async function adviseListpackValue(client: RedisClient, logger?: Logger): Promise<number | undefined> {
  let value: number | undefined;
  try {
    const node = 'nodes' in client ? client.nodes('master')[0] : client;
    const reply = node ? ((await node.config('GET', 'hash-max-listpack-value')) as string[]) : [];
    value = reply[1] === undefined ? undefined : Number(reply[1]);
  } catch {
    return undefined; // CONFIG disabled: checkEvictionPolicy has said so already
  }
  if (value !== undefined && value < RECOMMENDED_LISTPACK_VALUE) {
    logger?.info(
      { hashMaxListpackValue: value, recommended: RECOMMENDED_LISTPACK_VALUE },
      `Redis hash-max-listpack-value is ${value}; ${RECOMMENDED_LISTPACK_VALUE} keeps request records about half the ` +
        'size (docs/scaling.md)',
    );
  }
  return value;
}
