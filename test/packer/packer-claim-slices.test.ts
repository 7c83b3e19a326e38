/**
 * Large flushes are claimed in slices (CLAIM, then CLAIM_MORE) so that Redis is never held for long. A packer that dies
 * between two slices leaves a flush `claiming`, with some requests in it and no flush job: recovery must re-add the job,
 * the flush processor seals the flush with what it holds, and every request still ends up in exactly one provider
 * batch (invariants I1, I2).
 */
import { newFlushId } from '@batchbridge/domain';
import { startPacker } from '@batchbridge/packer';
import { createProviderSim, FAST_TIMINGS } from '@batchbridge/provider-sim';
import { createTestRuntime } from '@batchbridge/testkit';
import { describe, expect, it } from 'vitest';
import { enqueueChat, FAST_PACKER, useSuiteRedis, waitFor, waitSubmitted } from './packer-helpers.js';

const suite = useSuiteRedis();
const { cleanups } = suite;

describe('claiming in slices', () => {
  it('a flush left claiming by a dead packer is sealed and submitted once; the rest go into another batch', async () => {
    const sim = await createProviderSim({ timings: FAST_TIMINGS });
    cleanups.push(() => sim.close());
    const runtime = await createTestRuntime({
      redisUrl: suite.redisUrl,
      env: { UPSTREAM_BASE_URL: sim.url, BATCH_MAX_WAIT_MS: '0' },
    });
    cleanups.push(() => runtime.dispose());
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push(await enqueueChat(runtime, { content: `slice ${i}` }));
    const group = (await runtime.store.flushes.groups(0))[0]?.group;
    if (!group) throw new Error('no group');

    const fid = newFlushId();
    const limits = { maxRequests: 12, maxBytes: 1e9, maxTokens: 1e9, maxWaitMs: 0 };
    await expect(
      runtime.store.flushes.claim(0, group, fid, limits, true, {
        slice: 5,
        afterSlice: () => {
          throw new Error('packer killed between two claim calls');
        },
      }),
    ).rejects.toThrow('killed');
    expect(await runtime.store.flushes.get(0, fid)).toMatchObject({ state: 'claiming', count: 5 });

    const packer = await startPacker(runtime, FAST_PACKER);
    cleanups.push(() => packer.close());
    const records = await waitSubmitted(runtime, ids);
    const inSealed = records.filter((r) => r.flush_id === fid);
    const others = records.filter((r) => r.flush_id !== fid);
    expect(inSealed).toHaveLength(5);
    expect(new Set(inSealed.map((r) => r.batch_id)).size).toBe(1);
    expect(others).toHaveLength(7);
    expect(new Set(others.map((r) => r.batch_id)).size).toBe(1);
    expect(inSealed[0]?.batch_id).not.toBe(others[0]?.batch_id);
    expect(records.every((r) => r.status === 'submitted' && r.attempts === 1)).toBe(true);
    expect(await runtime.store.flushes.get(0, fid)).toMatchObject({ state: 'submitted', count: 5 });

    const counters = await waitFor('both batches answered', () => {
      const c = sim.counters();
      return c.outputLines >= ids.length ? c : undefined;
    });
    expect(counters.batchesCreated).toBe(2);
    expect(counters.customIdsAnsweredTwice).toEqual([]);
  });
});
