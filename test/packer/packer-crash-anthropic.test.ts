/**
 * Crash recovery with an Anthropic provider (Message Batches, inline requests, no metadata): a packer process is
 * SIGKILLed at each crash-sensitive step of an inline flush, then a fresh packer takes over. Whatever the step, every
 * request ends up in exactly one Message Batch — after a death between the create and recording its id, the batch is
 * found again by its request count and custom_ids and adopted, never created twice (I1, I2).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jobIds } from '@batchbridge/domain';
import { type CrashPoint, startPacker } from '@batchbridge/packer';
import { createAnthropicSim } from '@batchbridge/provider-sim/anthropic';
import { createTestRuntime } from '@batchbridge/testkit';
import { describe, expect, it } from 'vitest';
import { enqueueChat, FAST_PACKER, useSuiteRedis, waitFor, waitSubmitted } from './packer-helpers.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const suite = useSuiteRedis();
const { cleanups } = suite;
const MODEL = 'claude-haiku-4-5-20251001';

/** The crash points an inline flush passes (it uploads nothing, so not `after-upload`). */
const INLINE_POINTS: CrashPoint[] = [
  'after-claim',
  'mid-upload',
  'before-create',
  'after-create',
  'mid-record',
  'after-record',
];

async function runUntilCrash(point: CrashPoint, env: Record<string, string>): Promise<void> {
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
}

describe('packer recovery after a SIGKILL, Anthropic provider', () => {
  it.each(INLINE_POINTS.map((p) => [p]))('at %s: one Message Batch per flush, every request once', async (point) => {
    const sim = await createAnthropicSim({ processingMs: 0, cancellingMs: 0, apiKeys: ['sk-ant-crash'] });
    cleanups.push(() => sim.close());
    const upstream = {
      UPSTREAM_BASE_URL: sim.url,
      UPSTREAM_API_KEY: 'sk-ant-crash',
      PROVIDER_PROFILE: 'anthropic',
      BATCH_MAX_WAIT_MS: '0',
      UPSTREAM_TIMEOUT_MS: '1000',
    };
    const runtime = await createTestRuntime({ redisUrl: suite.redisUrl, env: upstream });
    cleanups.push(() => runtime.dispose());
    const scratch = mkdtempSync(join(tmpdir(), 'bb-packer-crash-anthropic-'));
    cleanups.push(() => rmSync(scratch, { recursive: true, force: true }));

    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(await enqueueChat(runtime, { model: MODEL, content: `crash ${point} ${i}` }));
    await runUntilCrash(point, {
      ...upstream,
      REDIS_URL: suite.redisUrl,
      REDIS_KEY_PREFIX: runtime.prefix,
      REDIS_DATA_DIR: join(scratch, 'redis'),
      TMPDIR: scratch,
      METRICS_PORT: '0',
      LOG_LEVEL: 'error',
    });

    const fid = (await runtime.store.requests.get(ids[0]!))?.flush_id;
    expect(fid).toBeDefined();
    const flushQueue = runtime.queues.queue('flush', 0);
    await runtime.redis.pexpire(`${flushQueue.toKey(jobIds.flush(fid!))}:lock`, 1);
    await runtime.redis.pexpire(flushQueue.toKey('stalled-check'), 1);

    const packer = await startPacker(runtime, FAST_PACKER);
    cleanups.push(() => packer.close());
    const records = await waitSubmitted(runtime, ids);
    expect(records.map((r) => r.status)).toEqual(['submitted', 'submitted', 'submitted']);
    expect(new Set(records.map((r) => r.batch_id)).size).toBe(1);
    expect(records[0]!.batch_id).toMatch(/^msgbatch_/);
    const batchId = records[0]!.batch_id!;
    await waitFor('poll job of the batch', () => runtime.queues.queue('poll', 0).getJob(jobIds.poll(batchId)));
    const counters = await waitFor('batch answered', () => {
      const c = sim.counters();
      return c.outputLines >= ids.length ? c : undefined;
    });
    expect(counters.batchesCreated).toBe(1);
    expect(counters.linesReceived).toBe(ids.length);
    expect(counters.customIdsAnsweredTwice).toEqual([]);
  });
});
