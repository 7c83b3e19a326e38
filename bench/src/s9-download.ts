/**
 * S9's download stage alone (not a test, not part of `pnpm bench`): a completed Batch API batch of BENCH_LINES lines
 * (default 200 000) is written straight into a private Redis — the batch record and one completed request record per
 * line, with an answer of the simulator's size — and its output file is downloaded from the ingest API (the real
 * service, its bundle) with `fetch`, three times. What it isolates: the content route (result-files.ts) without the
 * upload, the enqueue and the pipeline's other processes competing for the two cores.
 *
 *   pnpm build && BENCH_LINES=200000 pnpm exec tsx bench/src/s9-download.ts
 *   BENCH_PROFILE=1 … # the ingest API from its sources with --cpu-prof; the profile's summary is printed
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { facadeLineId, newFacadeBatchId } from '@batchbridge/domain';
import { BENCH_API_KEY, BENCH_TENANT } from './fixtures.js';
import { Harness } from './harness.js';
import { profileIn, profileMarkdown, summarizeProfile } from './profile.js';

const N = Number(process.env.BENCH_LINES ?? 200_000);
const PROFILE = process.env.BENCH_PROFILE === '1';
const out = (line: string) => process.stdout.write(`${line}\n`);

/** CPU time (user + system, ms) a process has used so far: less sensitive to other work on the box than wall time. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

function answer(i: number): string {
  const content = `Answer ${i}: ${'the quarterly report shows the shipment was delayed and a refund is due '.repeat(6)}`;
  return JSON.stringify({
    status_code: 200,
    body: {
      id: `chatcmpl-${i}`,
      object: 'chat.completion',
      created: 1_733_832_768,
      model: 'gpt-4o-mini',
      choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop', logprobs: null }],
      usage: { prompt_tokens: 48, completion_tokens: 64, total_tokens: 112 },
    },
  });
}

async function main(): Promise<void> {
  const h = new Harness();
  await h.start();
  try {
    if (PROFILE) h.cpuProfDir = join(h.dir, 'profiles');
    const prefix = h.prefix('dl');
    const rt = await h.runtime(prefix);
    const k = rt.keys.partitionKeys(0);
    const batchId = newFacadeBatchId(0);
    const now = Date.now();
    await rt.redis.hset(k.facadeBatch(batchId), {
      id: batchId,
      tenant: BENCH_TENANT.id,
      status: 'completed',
      endpoint: '/v1/chat/completions',
      input_file_id: 'file-00000000000000000000000000',
      completion_window: '24h',
      created_at: now,
      expires_at: now + 86_400_000,
      completed_at: now,
      total: N,
      chunks: Math.ceil(N / 1000),
      next_chunk: Math.ceil(N / 1000),
      enq_lines: N,
      n_completed: N,
      n_failed: 0,
      n_cancelled: 0,
      ending: '',
      end_cursor: 0,
      output_file_id: `file-${batchId}-output`,
    });
    for (let from = 0; from < N; from += 5_000) {
      const pipeline = rt.redis.pipeline();
      for (let i = from; i < Math.min(N, from + 5_000); i++) {
        pipeline.hset(k.req(facadeLineId(batchId, i)), {
          status: 'completed',
          client_ref: `item-${i}`,
          response: answer(i),
          completed_at: now,
        });
      }
      await pipeline.exec();
    }
    const ingest = await h.startService(
      'ingest-api',
      prefix,
      { UPSTREAM_BASE_URL: 'http://127.0.0.1:9/v1' },
      {
        profile: PROFILE,
      },
    );
    const rates: number[] = [];
    const cpuPerMb: number[] = [];
    const pid = ingest.child.pid;
    for (let rep = 0; rep < 3; rep++) {
      const t0 = performance.now();
      const c0 = cpuMs(pid);
      const res = await fetch(`${ingest.url}/v1/files/file-${batchId}-output/content`, {
        headers: { authorization: `Bearer ${BENCH_API_KEY}` },
      });
      let bytes = 0;
      let lines = 0;
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        bytes += chunk.length;
        for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) lines++;
      }
      const s = (performance.now() - t0) / 1000;
      if (lines !== N) throw new Error(`downloaded ${lines} lines, expected ${N}`);
      rates.push(bytes / 1e6 / s);
      const cpu = cpuMs(pid) - c0;
      cpuPerMb.push(cpu / (bytes / 1e6));
      out(
        `S9 download ${rep + 1}: ${(bytes / 1e6).toFixed(1)} MB, ${lines} lines in ${s.toFixed(2)} s = ${(bytes / 1e6 / s).toFixed(1)} MB/s; ingest CPU ${Math.round(cpu)} ms (${(cpu / (bytes / 1e6)).toFixed(1)} ms/MB, ${(bytes / 1e6 / (cpu / 1000)).toFixed(0)} MB per CPU-second)`,
      );
    }
    const rss = ingest.child.rss;
    out(
      `S9 DOWNLOAD RESULT ${JSON.stringify({ lines: N, mbPerS: rates.map((r) => Math.round(r * 10) / 10), ingestCpuMsPerMb: cpuPerMb.map((r) => Math.round(r * 10) / 10), ingestRssPeakMb: rss.peak(), loadAvg: (await import('node:os')).loadavg() })}`,
    );
    await ingest.child.stop();
    const prof = PROFILE && h.cpuProfDir ? profileIn(join(h.cpuProfDir, 'ingest-api')) : undefined;
    if (prof) out(profileMarkdown('ingest-api', summarizeProfile(prof, 20)));
  } finally {
    await h.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
