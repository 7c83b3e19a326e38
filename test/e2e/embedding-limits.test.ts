// OpenAI's per-batch limit of 50 000 embedding inputs (issue 17), through the whole pipeline with the real openai SDK
// as the client and the default (openai) profile: 25 requests of 2 048 inputs each (51 200 inputs, the most one
// embeddings request may hold) arrive at once; the packer must split them into batches of at most 50 000 inputs, which
// it sees only by counting inputs (the batches are far below the request, byte and token limits). The simulator
// fails a batch over the limit as OpenAI does, so a wrong packing shows as a failed batch as well as in the files.
import { simulatedEmbeddings } from '@batchbridge/provider-sim';
import OpenAI from 'openai';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startPipeline, WAITER_KEY, withWaitingTenant } from './helpers.js';

type Pipeline = Awaited<ReturnType<typeof startPipeline>>;

let pipeline: Pipeline;

beforeAll(async () => {
  // A long age trigger: the 25 requests are queued together, so only the input budget can split them.
  // The provider's files are kept, so that the test reads the input files the packer wrote.
  pipeline = await startPipeline({ BATCH_MAX_WAIT_MS: '4000', DELETE_PROVIDER_FILES: 'false' }, withWaitingTenant(120));
});
afterAll(async () => {
  await pipeline?.dispose();
});

it('never puts more than 50 000 embedding inputs in one provider batch', async () => {
  const client = new OpenAI({ baseURL: `${pipeline.url}/v1`, apiKey: WAITER_KEY, maxRetries: 0 });
  // Retries: this process's pooled connections to the simulator (the packer's and poller's) may be closing idle.
  const sim = new OpenAI({ baseURL: pipeline.sim!.url, apiKey: 'sim', maxRetries: 2 });
  const bodies = Array.from({ length: 25 }, (_, r) => ({
    model: 'text-embedding-3-small',
    input: Array.from({ length: 2048 }, (_, i) => `r${r} i${i}`),
    dimensions: 4,
    encoding_format: 'float' as const,
  }));
  const answers = await Promise.all(bodies.map((b) => client.embeddings.create(b, { timeout: 120_000 })));
  for (const [r, answer] of answers.entries()) {
    expect(answer.data).toHaveLength(2048);
    expect(answer.data.map((d) => d.embedding)).toEqual(simulatedEmbeddings(bodies[r]!).data.map((d) => d.embedding));
  }

  const batches = (await sim.batches.list({ limit: 100 })).data.filter((b) => b.endpoint === '/v1/embeddings');
  expect(batches.every((b) => b.status === 'completed')).toBe(true);
  let lines = 0;
  const inputsPerBatch: number[] = [];
  for (const batch of batches) {
    // The JSONL the packer uploaded: count the inputs of every line.
    const text = await (await sim.files.content(batch.input_file_id)).text();
    const parsed = text
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as { url: string; body: { input: string[] } });
    lines += parsed.length;
    expect(parsed.every((l) => l.url === '/v1/embeddings')).toBe(true);
    inputsPerBatch.push(parsed.reduce((sum, l) => sum + l.body.input.length, 0));
  }
  expect(lines).toBe(25);
  expect(inputsPerBatch.reduce((a, b) => a + b, 0)).toBe(25 * 2048);
  expect(Math.max(...inputsPerBatch)).toBeLessThanOrEqual(50_000);
  // The budget, not the age trigger, cut the first batch: 24 requests (49 152 inputs), the 25th in a batch of its own.
  expect([...inputsPerBatch].sort((a, b) => b - a)).toEqual([24 * 2048, 2048]);
  const metrics = await (await fetch(`${pipeline.url}/metrics`)).text();
  expect(metrics).toMatch(/batchbridge_batch_flushes_total\{reason="inputs"\} 1\b/);
});
