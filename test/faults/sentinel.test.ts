/**
 * `pnpm test:faults`, Sentinel phase (SPEC §18): the pipeline as separate processes on a master + replica + three
 * Sentinels with REDIS_DURABILITY=replica, the master SIGKILLed mid-intake (Sentinel promotes the replica, the old
 * master returns as a replica) besides the service kills and provider faults of the main run. Every request that was
 * answered 202 must be found and finished: lost 0 with no "at risk" window, paid twice 0, stuck 0.
 * Smaller than the main run (FAULTS_SENTINEL_REQUESTS, default 1 500) so that CI stays short.
 */

import { join } from 'node:path';
import { expect, it } from 'vitest';
import { ROOT } from './harness/processes.js';
import { faultProfile } from './harness/profile.js';
import { failures, renderReport, writeReliabilityDoc } from './harness/report.js';
import { runFaults } from './harness/run.js';

const base = faultProfile({ ...process.env, FAULTS_REDIS: 'sentinel' });
const profile = {
  ...base,
  name: 'sentinel' as const,
  requests: Number(process.env.FAULTS_SENTINEL_REQUESTS ?? 1_500),
  chaosMs: Number(process.env.FAULTS_SENTINEL_CHAOS_MS ?? 45_000),
  serviceKills: 8,
  redisKills: 2,
};
const say = (line: string) => process.stderr.write(`${line}\n`);

it(
  `sentinel: ${profile.requests} requests, ${profile.redisKills} master kills under REDIS_DURABILITY=replica — nothing acknowledged is lost`,
  async () => {
    const report = await runFaults(profile, say);
    say(`\n${renderReport(report)}\n`);
    writeReliabilityDoc(join(ROOT, 'docs/reliability.md'), report);
    expect(report.faults['SIGKILL redis master (Sentinel failover, REDIS_DURABILITY=replica)'] ?? 0).toBe(
      profile.redisKills,
    );
    expect(report.result.accepted).toBe(profile.requests);
    expect(failures(report)).toEqual(Object.fromEntries(Object.keys(failures(report)).map((k) => [k, 0])));
  },
  profile.chaosMs + profile.settleTimeoutMs + 240_000,
);
