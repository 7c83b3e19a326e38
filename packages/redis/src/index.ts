export {
  type ConnectionRole,
  closeRedis,
  createRedis,
  type RedisClient,
  type RedisSettings,
  waitReady,
} from './connection.js';
export {
  freePort,
  pingRedis,
  type ResolvedRedis,
  type ResolveRedisOptions,
  resolveRedis,
  spawnRedisServer,
} from './embedded.js';
export { RedisSetupError } from './errors.js';
export { checkEvictionPolicy } from './eviction-check.js';
export { probeRedis, redactRedisUrl } from './probe.js';
