/**
 * Crash recovery: a packer process (`services/packer/src/main.ts`) is SIGKILLed at each crash-sensitive step
 * (`BB_FAULT_CRASH_AT`), then a fresh packer takes over. Whatever the step, every request ends up submitted in exactly
 * one provider batch (the simulator's counters) and that batch gets its poll job (invariants I1, I2).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jobIds } from '@batchbridge/domain';
import { CRASH_POINTS, type CrashPoint, startPacker } from '@batchbridge/packer';
import { createProviderSim, FAST_TIMINGS } from '@batchbridge/provider-sim';
import { createTestRuntime } from '@batchbridge/testkit';
import { describe, expect, it } from 'vitest';
import { enqueueChat, FAST_PACKER, useSuiteRedis, waitFor, waitSubmitted } from './packer-helpers.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const suite = useSuiteRedis();
const { cleanups } = suite;

/** Runs the packer service as its own process until it kills itself at `point`. */
async function runUntilCrash(point: CrashPoint, env: Record<string, string>): Promise<NodeJS.Signals | number | null> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'services/packer/src/main.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env, BB_FAULT_CRASH_AT: point },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 45_000);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.once('exit', (c, s) => resolve([c, s])),
  );
  clearTimeout(timer);
  if (signal !== 'SIGKILL') throw new Error(`packer exited with ${code ?? signal} before ${point}: ${stderr}`);
  return signal;
}

describe('packer recovery after a SIGKILL', () => {
  it.each(CRASH_POINTS.map((p) => [p]))('at %s: one batch per flush, every request submitted once', async (point) => {
    const sim = await createProviderSim({ timings: FAST_TIMINGS });
    cleanups.push(() => sim.close());
    const runtime = await createTestRuntime({
      redisUrl: suite.redisUrl,
      // A packer killed inside batches.create leaves the call open: the survivor waits out the call timeout (plus a
      // margin) before it looks for the batch, so keep the timeout short here.
      env: { UPSTREAM_BASE_URL: sim.url, BATCH_MAX_WAIT_MS: '0', UPSTREAM_TIMEOUT_MS: '1000' },
    });
    cleanups.push(() => runtime.dispose());
    const scratch = mkdtempSync(join(tmpdir(), 'bb-packer-crash-'));
    cleanups.push(() => rmSync(scratch, { recursive: true, force: true }));

    const ids = [];
    for (let i = 0; i < 3; i++) ids.push(await enqueueChat(runtime, { content: `crash ${point} ${i}` }));
    await runUntilCrash(point, {
      REDIS_URL: suite.redisUrl,
      REDIS_KEY_PREFIX: runtime.prefix,
      REDIS_DATA_DIR: join(scratch, 'redis'),
      TMPDIR: scratch,
      UPSTREAM_BASE_URL: sim.url,
      UPSTREAM_API_KEY: 'sk-test',
      BATCH_MAX_WAIT_MS: '0',
      METRICS_PORT: '0',
      LOG_LEVEL: 'error',
    });

    const fid = (await runtime.store.requests.get(ids[0]!))?.flush_id;
    expect(fid).toBeDefined();
    // The dead worker's job lock, and its claim on the queue's stalled-job check, would expire after 30 s (its
    // lockDuration and stalledInterval); expire them now so that the fresh packer hands the job back at once.
    const flushQueue = runtime.queues.queue('flush', 0);
    await runtime.redis.pexpire(`${flushQueue.toKey(jobIds.flush(fid!))}:lock`, 1);
    await runtime.redis.pexpire(flushQueue.toKey('stalled-check'), 1);

    const packer = await startPacker(runtime, FAST_PACKER);
    cleanups.push(() => packer.close());
    const records = await waitSubmitted(runtime, ids);
    expect(records.map((r) => r.status)).toEqual(['submitted', 'submitted', 'submitted']);
    expect(new Set(records.map((r) => r.batch_id)).size).toBe(1);
    expect(records.every((r) => r.attempts === 1 && r.flush_id === fid)).toBe(true);

    const batchId = records[0]!.batch_id!;
    await waitFor('poll job of the batch', () => runtime.queues.queue('poll', 0).getJob(jobIds.poll(batchId)));
    const counters = await waitFor('batch answered', () => {
      const c = sim.counters();
      return c.outputLines >= ids.length ? c : undefined;
    });
    expect(counters.batchesCreated).toBe(1);
    expect(counters.customIdsAnsweredTwice).toEqual([]);
    // An input file uploaded by the dead process and never recorded is deleted, not left behind.
    const files = (await runtime.provider!.files.list()).data.filter((f) => f.filename === `batchbridge-${fid}.jsonl`);
    expect(files).toHaveLength(1);
  });
});
