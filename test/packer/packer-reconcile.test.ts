/**
 * Issue 16, findings 2 and 3: a flush whose earlier run created its batch and died before recording it must adopt
 * that batch however many newer batches the provider lists in front of it (the lookup used to stop after 20 pages
 * and then create a second, paid batch), and a run that lost its fencing token writes nothing.
 */
import { jobIds, newFlushId, StaleFlushRunError } from '@batchbridge/domain';
import { startPacker } from '@batchbridge/packer';
import { FLUSH_METADATA_KEY } from '@batchbridge/provider';
import { createProviderSim } from '@batchbridge/provider-sim';
import { createTestRuntime } from '@batchbridge/testkit';
import { toFile } from 'openai';
import { describe, expect, it } from 'vitest';
import { enqueueChat, FAST_PACKER, useSuiteRedis, waitSubmitted } from './packer-helpers.js';

const suite = useSuiteRedis();
const { cleanups } = suite;
const LIMITS = { maxRequests: 100, maxBytes: 1e9, maxTokens: 1e9, maxWaitMs: 0 };

describe('flush reconciliation', () => {
  it('adopts the batch of an earlier run behind more than 2 000 newer provider batches, creating none', async () => {
    // Batches stay `validating`: the simulator holds 2 100 of them without running any.
    const sim = await createProviderSim({ timings: { validatingMs: 600_000 } });
    cleanups.push(() => sim.close());
    const runtime = await createTestRuntime({
      redisUrl: suite.redisUrl,
      env: { UPSTREAM_BASE_URL: sim.url, BATCH_MAX_WAIT_MS: '3600000' },
    });
    cleanups.push(() => runtime.dispose());
    const provider = runtime.provider!;
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push(await enqueueChat(runtime, { content: `reconcile ${i}` }));
    const fid = newFlushId();
    const claim = await runtime.store.flushes.claim(0, 'chat.completions|gpt-4o-mini', fid, LIMITS, true);
    expect(claim).toMatchObject({ claimed: true, count: 3 });

    // An earlier run: it uploaded, started the create, the provider created the batch, and the run died.
    const fence = await runtime.store.flushes.lease(0, fid);
    const file = await provider.files.create({
      file: await toFile(
        Buffer.from('{"custom_id":"x","method":"POST","url":"/v1/chat/completions","body":{}}\n'),
        'in.jsonl',
      ),
      purpose: 'batch',
    });
    await runtime.store.flushes.recordUpload(0, fid, file.id, fence);
    await runtime.store.flushes.markCreateStarted(0, fid, fence);
    const tagged = await provider.batches.create({
      input_file_id: file.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
      metadata: { [FLUSH_METADATA_KEY]: fid },
    });
    await runtime.store.flushes.markCreateEnded(0, fid, fence);
    // Other flushes' batches created since, newest first in the provider's list: 21 pages of 100 in front of it.
    for (let i = 0; i < 2_100; i += 50) {
      await Promise.all(
        Array.from({ length: 50 }, () =>
          provider.batches.create({
            input_file_id: file.id,
            endpoint: '/v1/chat/completions',
            completion_window: '24h',
          }),
        ),
      );
    }
    const created = sim.counters().batchesCreated;
    expect(created).toBe(2_101);

    // The flush job (its outbox entry) goes to a fresh packer.
    await runtime.relay.relay(0, [claim.claimed ? claim.outbox : '']);
    const packer = await startPacker(runtime, FAST_PACKER);
    cleanups.push(() => packer.close());
    const records = await waitSubmitted(runtime, ids, 60_000);
    expect(records.map((r) => r.batch_id)).toEqual([tagged.id, tagged.id, tagged.id]);
    expect(sim.counters().batchesCreated).toBe(created);
  });

  it('refuses every write of a run whose fencing token a newer run replaced', async () => {
    const runtime = await createTestRuntime({ redisUrl: suite.redisUrl, env: { BATCH_MAX_WAIT_MS: '0' } });
    cleanups.push(() => runtime.dispose());
    const ids = [];
    for (let i = 0; i < 2; i++) ids.push(await enqueueChat(runtime, { content: `fence ${i}` }));
    const fid = newFlushId();
    expect(await runtime.store.flushes.claim(0, 'chat.completions|gpt-4o-mini', fid, LIMITS, true)).toMatchObject({
      claimed: true,
    });
    const stale = await runtime.store.flushes.lease(0, fid);
    const fresh = await runtime.store.flushes.lease(0, fid);
    expect(fresh).toBeGreaterThan(stale);

    await expect(runtime.store.flushes.recordUpload(0, fid, 'file_stale', stale)).rejects.toBeInstanceOf(
      StaleFlushRunError,
    );
    await expect(runtime.store.flushes.markCreateStarted(0, fid, stale)).rejects.toBeInstanceOf(StaleFlushRunError);
    const flush = (await runtime.store.flushes.get(0, fid))!;
    await expect(runtime.store.flushes.recordSubmission(0, flush, 'batch_stale', 'f', stale)).rejects.toBeInstanceOf(
      StaleFlushRunError,
    );
    await expect(runtime.store.flushes.fail(0, fid, 'refused', stale)).rejects.toBeInstanceOf(StaleFlushRunError);
    const after = (await runtime.store.flushes.get(0, fid))!;
    expect(after).toMatchObject({ state: 'claimed', file_id: undefined, create_started: false, batch_id: undefined });
    for (const id of ids) expect((await runtime.store.requests.get(id))?.status).toBe('batched');

    // The newer run's writes go through.
    await runtime.store.flushes.recordUpload(0, fid, 'file_fresh', fresh);
    const entry = await runtime.store.flushes.recordSubmission(
      0,
      (await runtime.store.flushes.get(0, fid))!,
      'batch_fresh',
      'f',
      fresh,
    );
    expect(JSON.parse(entry)).toMatchObject({ jobId: jobIds.poll('batch_fresh') });
    for (const id of ids)
      expect(await runtime.store.requests.get(id)).toMatchObject({ status: 'submitted', batch_id: 'batch_fresh' });
  });
});
