/**
 * Redis connections with the settings BullMQ needs. Workers (blocking commands) get `maxRetriesPerRequest: null` and
 * keep reconnecting; producers (the ingest path) fail fast: no offline queue, one retry, so a Redis outage answers 503
 * within a second instead of hanging a request.
 */
import { Cluster, Redis, type RedisOptions } from 'ioredis';

export type RedisClient = Redis | Cluster;

export interface RedisSettings {
  /**
   * `redis://host:port`, or several comma-separated seed nodes in cluster mode. In sentinel mode only its user,
   * password and database are read (the master's address comes from the Sentinels).
   */
  url: string;
  /** @defaultValue `'standalone'` */
  mode?: 'standalone' | 'cluster' | 'sentinel';
  /** Sentinel mode: the Sentinels to ask for the master. */
  sentinels?: ReadonlyArray<{ host: string; port: number }>;
  /** Sentinel mode: the master name the Sentinels watch. */
  sentinelMaster?: string | undefined;
}

export type ConnectionRole = 'worker' | 'producer';

const COMMON: Omit<RedisOptions, 'replyMapping'> = {
  // ioredis reconnects forever by default; cap the delay so a restarted Redis is picked up quickly.
  retryStrategy: (times) => Math.min(50 * 2 ** times, 2_000),
  connectTimeout: 2_000,
  enableAutoPipelining: true,
};

function roleOptions(role: ConnectionRole): Omit<RedisOptions, 'replyMapping'> {
  return role === 'worker'
    ? { ...COMMON, maxRetriesPerRequest: null, enableOfflineQueue: true }
    : { ...COMMON, maxRetriesPerRequest: 1, enableOfflineQueue: false, commandTimeout: 1_000 };
}

export function createRedis(settings: RedisSettings, role: ConnectionRole, name?: string): RedisClient {
  const options: Omit<RedisOptions, 'replyMapping'> = {
    ...roleOptions(role),
    ...(name ? { connectionName: name } : {}),
  };
  if (settings.mode === 'cluster') {
    const { retryStrategy: _r, enableOfflineQueue, ...nodeOptions } = options;
    const urls = settings.url.split(',').map((s) => new URL(s.trim()));
    const seeds = urls.map((u) => ({ host: u.hostname, port: Number(u.port || 6379) }));
    // Nodes discovered from CLUSTER SLOTS are reached with redisOptions, not with the seed URLs: credentials and TLS
    // must be carried over explicitly, or every node but the seeds answers NOAUTH.
    const auth = urls.find((u) => u.password || u.username);
    const secure = urls.some((u) => u.protocol === 'rediss:');
    // MOVED/ASK redirections are followed by ioredis; BullMQ needs maxRetriesPerRequest null on the node clients.
    return new Cluster(seeds, {
      redisOptions: {
        ...nodeOptions,
        ...(auth?.username ? { username: decodeURIComponent(auth.username) } : {}),
        ...(auth?.password ? { password: decodeURIComponent(auth.password) } : {}),
        ...(secure ? { tls: {} } : {}),
      },
      enableOfflineQueue: enableOfflineQueue ?? true,
      enableAutoPipelining: true,
      clusterRetryStrategy: (times) => Math.min(100 * times, 2_000),
    });
  }
  if (settings.mode === 'sentinel') {
    const url = /^rediss?:\/\//.test(settings.url) ? new URL(settings.url.split(',')[0]?.trim() ?? '') : undefined;
    const db = url?.pathname.slice(1);
    return new Redis({
      ...options,
      sentinels: [...(settings.sentinels ?? [])],
      name: settings.sentinelMaster ?? 'mymaster',
      role: 'master',
      // Subscribes to +switch-master on the Sentinels: a failover is followed at once, not at the next error.
      failoverDetector: true,
      sentinelRetryStrategy: (times) => Math.min(100 * times, 2_000),
      ...(url?.username ? { username: decodeURIComponent(url.username) } : {}),
      ...(url?.password ? { password: decodeURIComponent(url.password) } : {}),
      ...(db ? { db: Number(db) } : {}),
    });
  }
  return new Redis(settings.url, options);
}

/** Resolves once the client is ready, or rejects after `timeoutMs`. */
export async function waitReady(client: RedisClient, timeoutMs = 10_000): Promise<void> {
  if (client.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Redis not ready after ${timeoutMs} ms (status ${client.status})`));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      client.off('ready', onReady);
    };
    client.on('ready', onReady);
  });
}

/** Closes a client, idempotently and without throwing. */
export async function closeRedis(client: RedisClient): Promise<void> {
  if (client.status === 'end') return;
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
}
