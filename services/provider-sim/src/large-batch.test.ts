/**
 * The I4 check for the simulator: a 50 000-line, ~200 MB batch is uploaded, validated, processed and downloaded with
 * memory staying flat; and an embeddings batch whose output (1 536 floats per input) is far larger than its input.
 * Slow (tens of seconds), so opt-in: `SIM_LARGE_TEST=1 pnpm vitest run services/provider-sim`; the embeddings case
 * needs `NODE_OPTIONS=--expose-gc` too, to measure live memory: it allocates ~1 GB of short-lived strings, which an
 * unforced heap reading would count.
 */

import { once } from 'node:events';
import { createWriteStream, openAsBlob } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { api, type Batch, startSim, waitForBatch } from '../test/helpers.js';

const LINES = 50_000;
const PADDING = 'x'.repeat(3_950);

describe.runIf(process.env.SIM_LARGE_TEST === '1')('large batch', () => {
  it('completes 50 000 lines / ~200 MB with flat memory', { timeout: 600_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sim-large-'));
    try {
      const path = join(dir, 'input.jsonl');
      const out = createWriteStream(path);
      for (let i = 0; i < LINES; i++) {
        const line = `${JSON.stringify({
          custom_id: `req-${i}`,
          method: 'POST',
          url: '/v1/chat/completions',
          body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `${i} ${PADDING}` }] },
        })}\n`;
        if (!out.write(line)) await once(out, 'drain');
      }
      out.end();
      await once(out, 'finish');

      const sim = await startSim();
      global.gc?.();
      const baseline = process.memoryUsage().heapUsed;
      let peak = baseline;
      const sampler = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage().heapUsed);
      }, 50);

      const form = new FormData();
      form.set('purpose', 'batch');
      form.set('file', await openAsBlob(path), 'input.jsonl');
      const uploaded = await fetch(`${sim.url}/files`, {
        method: 'POST',
        headers: { authorization: 'Bearer k' },
        body: form,
      });
      const file = (await uploaded.json()) as { id: string; bytes: number };
      expect(file.bytes).toBeGreaterThan(195_000_000);
      const created = await api<Batch>(sim, 'POST', '/batches', {
        input_file_id: file.id,
        endpoint: '/v1/chat/completions',
        completion_window: '24h',
      });
      const done = await waitForBatch(sim, created.body.id);
      expect(done.status).toBe('completed');
      expect(done.request_counts).toEqual({ total: LINES, completed: LINES, failed: 0 });

      const res = await fetch(`${sim.url}/files/${done.output_file_id}/content`, {
        headers: { authorization: 'Bearer k' },
      });
      let count = 0;
      let rest = '';
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        const text = rest + Buffer.from(chunk).toString('utf8');
        const parts = text.split('\n');
        rest = parts.pop() ?? '';
        count += parts.filter(Boolean).length;
      }
      clearInterval(sampler);
      expect(count).toBe(LINES);
      const growthMb = (peak - baseline) / 1024 / 1024;
      console.log(
        `large batch: heap growth peak ${growthMb.toFixed(1)} MB for a ${(file.bytes / 1e6).toFixed(0)} MB file`,
      );
      // The file is ~200 MB; flat means a small fraction of it.
      expect(growthMb).toBeLessThan(100);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe.runIf(process.env.SIM_LARGE_TEST === '1')('large embeddings batch', () => {
  it('writes ~500 MB of vectors with flat memory', { timeout: 600_000 }, async () => {
    expect(global.gc, 'run with NODE_OPTIONS=--expose-gc').toBeTypeOf('function');
    const sim = await startSim();
    // 500 lines of 32 inputs: 16 000 vectors of 1 536 floats, about 33 KB of JSON each.
    const input = Array.from({ length: 500 }, (_, i) => ({
      custom_id: `emb-${i}`,
      method: 'POST',
      url: '/v1/embeddings',
      body: { model: 'text-embedding-3-small', input: Array.from({ length: 32 }, (_, j) => `${i}:${j}`) },
    }));
    const form = new FormData();
    form.set('purpose', 'batch');
    form.set('file', new Blob([input.map((l) => JSON.stringify(l)).join('\n')]), 'input.jsonl');
    const uploaded = await fetch(`${sim.url}/files`, {
      method: 'POST',
      headers: { authorization: 'Bearer k' },
      body: form,
    });
    const file = (await uploaded.json()) as { id: string };
    global.gc?.();
    const baseline = process.memoryUsage().heapUsed;
    let peak = baseline;
    const sampler = setInterval(() => {
      global.gc?.();
      // Live memory: collected first, so that garbage not yet collected is not counted.
      peak = Math.max(peak, process.memoryUsage().heapUsed);
    }, 50);
    const created = await api<Batch>(sim, 'POST', '/batches', {
      input_file_id: file.id,
      endpoint: '/v1/embeddings',
      completion_window: '24h',
    });
    const done = await waitForBatch(sim, created.body.id);
    clearInterval(sampler);
    expect(done.status).toBe('completed');
    expect(done.request_counts).toEqual({ total: 500, completed: 500, failed: 0 });
    const meta = await api<{ bytes: number }>(sim, 'GET', `/files/${done.output_file_id}`);
    expect(meta.body.bytes).toBeGreaterThan(400_000_000);
    const growthMb = (peak - baseline) / 1024 / 1024;
    console.log(
      `large embeddings batch: heap growth peak ${growthMb.toFixed(1)} MB for ${(meta.body.bytes / 1e6).toFixed(0)} MB of output`,
    );
    expect(growthMb).toBeLessThan(100);
  });
});
