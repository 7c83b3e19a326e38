/**
 * The packer against a provider whose front end refuses chunked uploads (the simulator's `requireContentLength`: 411
 * Length Required without a Content-Length): the packer's batch-file upload carries its length, so its flushes are
 * submitted and run, while a chunked multipart upload of the same SDK is refused.
 */
import { Readable } from 'node:stream';
import { startPacker } from '@batchbridge/packer';
import { createProviderSim, FAST_TIMINGS } from '@batchbridge/provider-sim';
import { createTestRuntime } from '@batchbridge/testkit';
import OpenAI, { toStreamingFile } from 'openai';
import { expect, it } from 'vitest';
import { enqueueChat, FAST_PACKER, useSuiteRedis, waitFor, waitSubmitted } from './packer-helpers.js';

const suite = useSuiteRedis();
const { cleanups } = suite;

it('uploads batch files with a Content-Length to a provider that answers chunked uploads 411', async () => {
  const sim = await createProviderSim({ timings: FAST_TIMINGS, faults: { requireContentLength: true } });
  cleanups.push(() => sim.close());

  // The switch bites: the SDK's streamed multipart form (no length) is refused.
  const sdk = new OpenAI({ baseURL: sim.url, apiKey: 'sk-test', maxRetries: 0 });
  const chunked = sdk.files.create({
    file: toStreamingFile(Readable.from(['{"custom_id":"a"}\n']), 'chunked.jsonl', { type: 'application/jsonl' }),
    purpose: 'batch',
  });
  await expect(chunked).rejects.toMatchObject({ status: 411, code: 'length_required' });
  expect(sim.counters().filesCreated).toBe(0);

  const runtime = await createTestRuntime({
    redisUrl: suite.redisUrl,
    env: { UPSTREAM_BASE_URL: sim.url, BATCH_MAX_WAIT_MS: '3600000', BATCH_MAX_REQUESTS: '3' },
  });
  cleanups.push(() => runtime.dispose());
  const packer = await startPacker(runtime, FAST_PACKER);
  cleanups.push(() => packer.close());

  const ids = [];
  for (let i = 0; i < 3; i++) ids.push(await enqueueChat(runtime, { content: `question ${i}` }));
  const records = await waitSubmitted(runtime, ids);
  expect(records.map((r) => r.status)).toEqual(['submitted', 'submitted', 'submitted']);
  expect(sim.counters().filesCreated).toBe(1);

  // The provider got the whole file: the batch runs every line.
  const batchId = records[0]?.batch_id ?? '';
  const done = await waitFor('batch completed', async () => {
    const b = await sdk.batches.retrieve(batchId);
    return ['completed', 'failed'].includes(b.status) ? b : undefined;
  });
  expect(done.status).toBe('completed');
  expect(done.request_counts?.completed).toBe(3);
});
