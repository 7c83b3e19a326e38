export {
  type ConnectionRole,
  closeRedis,
  createRedis,
  type RedisClient,
  type RedisSettings,
  waitReady,
} from './connection.js';
export {
  type ConfirmWrites,
  checkDurability,
  type DurabilityMode,
  type DurabilitySettings,
  writeConfirmer,
} from './durability.js';
export {
  freePort,
  pingRedis,
  RECOMMENDED_LISTPACK_VALUE,
  type ResolvedRedis,
  type ResolveRedisOptions,
  resolveRedis,
  spawnRedisServer,
} from './embedded.js';
export { RedisSetupError, ReplicaUnconfirmedError } from './errors.js';
export { adviseListpackValue, checkEvictionPolicy } from './eviction-check.js';
export { probeRedis, redactRedisUrl } from './probe.js';
