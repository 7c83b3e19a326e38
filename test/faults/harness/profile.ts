/** The two sizes of the fault run: `ci` (default, a few minutes) and `soak` (FAULTS_PROFILE=soak, run by hand). */
export interface FaultProfile {
  name: 'ci' | 'soak' | 'sentinel';
  seed: number;
  requests: number;
  /** How long requests are submitted and faults injected. */
  chaosMs: number;
  /** Service SIGKILLs (packer crash points included), Redis kills excluded. */
  serviceKills: number;
  redisKills: number;
  /** Requests submitted at once at most. */
  concurrency: number;
  /** How long the system may take to finish everything once the faults stop. */
  settleTimeoutMs: number;
  packers: number;
  ingests: number;
  /**
   * `aof`: one redis-server with AOF everysec, SIGKILLed and restarted (a request acknowledged < 1 s before a kill may
   * be lost: "at risk"). `sentinel` (FAULTS_REDIS=sentinel): master + replica + three Sentinels with
   * REDIS_DURABILITY=replica; a Redis kill SIGKILLs the master, Sentinel promotes the replica and the old master
   * returns as a replica — nothing acknowledged may be lost at all (SPEC §18).
   */
  redis: 'aof' | 'sentinel';
}

export function faultProfile(env: Record<string, string | undefined>): FaultProfile {
  const seed = env.FAULTS_SEED ? Number(env.FAULTS_SEED) : 20_261_125;
  if (!Number.isInteger(seed)) throw new Error(`FAULTS_SEED must be an integer (got ${env.FAULTS_SEED})`);
  const base =
    env.FAULTS_PROFILE === 'soak'
      ? {
          name: 'soak' as const,
          requests: 30_000,
          chaosMs: 420_000,
          serviceKills: 110,
          redisKills: 8,
          concurrency: 32,
          settleTimeoutMs: 300_000,
        }
      : {
          name: 'ci' as const,
          requests: 5_000,
          chaosMs: 90_000,
          serviceKills: 24,
          redisKills: 2,
          concurrency: 24,
          settleTimeoutMs: 150_000,
        };
  // Overrides for trying the harness itself on a smaller run.
  const requests = env.FAULTS_REQUESTS ? Number(env.FAULTS_REQUESTS) : base.requests;
  const chaosMs = env.FAULTS_CHAOS_MS ? Number(env.FAULTS_CHAOS_MS) : base.chaosMs;
  const redis = env.FAULTS_REDIS === 'sentinel' ? 'sentinel' : 'aof';
  return { ...base, requests, chaosMs, seed, packers: 2, ingests: 2, redis };
}
