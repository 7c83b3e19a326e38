/**
 * `pnpm test:faults` (issue 8): the whole pipeline as separate processes under SIGKILLs, Redis restarts, provider and
 * receiver faults, checked like Jepsen's queue checker — nothing lost, nothing duplicated, nothing unexpected, nothing
 * stuck, nothing delivered to another tenant (SPEC §6). `FAULTS_PROFILE=soak` runs the long version;
 * `FAULTS_SEED=<n>` replays a schedule; `FAULTS_KEEP_LOGS=1` keeps the children's logs.
 */
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { ROOT } from './harness/processes.js';
import { faultProfile } from './harness/profile.js';
import { failures, renderReport, writeReliabilityDoc } from './harness/report.js';
import { CRASH_POINTS, runFaults } from './harness/run.js';

const profile = faultProfile(process.env);
const say = (line: string) => process.stderr.write(`${line}\n`);

it(
  `${profile.name} profile: ${profile.requests} requests, ≥ ${profile.serviceKills + profile.redisKills} kills — every invariant holds`,
  async () => {
    const report = await runFaults(profile, say);
    const table = renderReport(report);
    say(`\n${table}\n`);
    writeReliabilityDoc(join(ROOT, 'docs/reliability.md'), report);

    const kills = Object.entries(report.faults)
      .filter(([label]) => label.startsWith('SIGKILL'))
      .reduce((sum, [, n]) => sum + n, 0);
    expect(kills).toBeGreaterThanOrEqual(20);
    expect(report.result.accepted).toBe(profile.requests);
    expect(new Set(report.crashPointsFired).size).toBe(CRASH_POINTS.length);
    // Poison requests were accepted, so the poison checks checked something.
    expect(report.result.poison).toBeGreaterThanOrEqual(4);
    // Waiting clients (transparent mode) took part, and a good share got their answer in the response (the others'
    // 30 s waits ran out under the faults and ended in a 202; 108 of 249 were answered in the first run).
    expect(report.result.waited).toBeGreaterThanOrEqual(profile.requests / 25);
    expect(report.result.waitedAnswered).toBeGreaterThan(report.result.waited / 5);
    // The receiver faults took effect: 410s were seen (so the "attempts after a 410" check checked something).
    expect(report.goneSeen).toBeGreaterThan(0);
    // The provider faults took effect: some batches expired, some failed on the enqueued-token limit.
    expect(report.sim.batchStatuses.expired ?? 0).toBeGreaterThan(0);
    expect(report.sim.batchStatuses.failed ?? 0).toBeGreaterThan(0);
    expect(failures(report)).toEqual(Object.fromEntries(Object.keys(failures(report)).map((k) => [k, 0])));
  },
  profile.chaosMs + profile.settleTimeoutMs + 240_000,
);
