/**
 * REDIS_DURABILITY (SPEC §18): what a write must reach before batchbridge relies on it.
 *
 * - `none`: Redis' memory (and its AOF, as configured) — the first wave's behaviour.
 * - `replica`: `WAIT 1 <timeout>` after the write, on the connection that made it. WAIT covers every earlier write of
 *   that connection, so one WAIT after a coalesced enqueue-many call confirms all its requests: one round trip per
 *   call, not per request. No confirmation in time → ReplicaUnconfirmedError (the write itself stands).
 * - `fsync`: checked once at start: the master must report `appendonly yes` and `appendfsync always`.
 */
import type { Logger } from '@batchbridge/logger';
import type { Redis } from 'ioredis';
import type { RedisClient } from './connection.js';
import { RedisSetupError, ReplicaUnconfirmedError } from './errors.js';

export type DurabilityMode = 'none' | 'replica' | 'fsync';

export interface DurabilitySettings {
  mode: DurabilityMode;
  timeoutMs: number;
}

/** A function that resolves once the caller's earlier writes on `client` are durable as the mode asks. */
export type ConfirmWrites = () => Promise<void>;

const confirmed: ConfirmWrites = async () => undefined;

export function writeConfirmer(client: RedisClient, settings: DurabilitySettings): ConfirmWrites {
  if (settings.mode !== 'replica') return confirmed;
  if (!('wait' in client) || 'nodes' in client) {
    // Refused by the configuration already (WAIT is per node); kept here so that no caller believes otherwise.
    throw new RedisSetupError(
      'redis.durability_config',
      'REDIS_DURABILITY=replica needs a standalone or Sentinel Redis',
    );
  }
  const redis = client as Redis;
  // WAIT counts the writes of its own connection. ioredis resends a command left unanswered when its connection drops
  // (the worker role also queues it while offline), and after a failover that resent WAIT runs on the new master for a
  // connection that wrote nothing there: its count says nothing about the write, which may have died with the old
  // master. So a WAIT answered on another connection than the one current when the caller's write was answered (the
  // caller calls this right after, before any other I/O) is no confirmation. The worker resends after a failover;
  // intake's producer has a 1 s commandTimeout, which a failover outlasts.
  let connection = 0;
  redis.on('ready', () => {
    connection += 1;
  });
  return async () => {
    const wrote = connection;
    const replicas = await redis.wait(1, settings.timeoutMs);
    if (connection !== wrote) throw new ReplicaUnconfirmedError(0, settings.timeoutMs);
    if (replicas < 1) throw new ReplicaUnconfirmedError(replicas, settings.timeoutMs);
  };
}

/** The start-up check of a durability mode: `fsync` refuses a master that does not fsync every write. */
export async function checkDurability(
  client: RedisClient,
  settings: DurabilitySettings,
  logger?: Logger,
): Promise<void> {
  if (settings.mode === 'fsync') {
    let appendonly: string | undefined;
    let appendfsync: string | undefined;
    try {
      appendonly = ((await client.config('GET', 'appendonly')) as string[])[1];
      appendfsync = ((await client.config('GET', 'appendfsync')) as string[])[1];
    } catch (err) {
      throw new RedisSetupError(
        'redis.durability_config',
        `REDIS_DURABILITY=fsync: cannot read the Redis persistence settings (${(err as Error).message}); fsync cannot be verified`,
      );
    }
    if (appendonly !== 'yes' || appendfsync !== 'always') {
      throw new RedisSetupError(
        'redis.durability_config',
        `REDIS_DURABILITY=fsync needs appendonly yes and appendfsync always; Redis reports appendonly ${appendonly} and appendfsync ${appendfsync}`,
      );
    }
  }
  if (settings.mode === 'replica' && !('nodes' in client)) {
    const info = await client.info('replication').catch(() => '');
    const connected = Number(/connected_slaves:(\d+)/.exec(info)?.[1] ?? 0);
    if (connected === 0) {
      logger?.warn(
        'REDIS_DURABILITY=replica but the master has no connected replica: intake answers 503 until one confirms writes',
      );
    }
  }
}
