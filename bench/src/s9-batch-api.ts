/**
 * Benchmark S9 (not a test): the Batch API facade (SPEC §12) end to end with the official openai SDK as the client —
 * upload a JSONL file of BENCH_LINES lines (default 1 000 000, ≈ 300 MB), create a batch, wait until it completes
 * through the simulator, download the output file — with ingest API, packer, poller and dispatcher each in its own
 * process (the harness of S5/S6) and the simulator at zero timings.
 *
 *   pnpm exec tsx bench/src/s9-batch-api.ts             # BENCH_LINES=1000000 by default
 *   BENCH_PROFILE=1 BENCH_LINES=200000 pnpm exec tsx bench/src/s9-batch-api.ts   # + a CPU profile of the ingest API
 *
 * Under BENCH_PROFILE the ingest API runs from its sources under tsx with `--cpu-prof` (procs.ts) and the summary of
 * its profile (whole run: upload, enqueue, download) is printed at the end; its figures are not the measured ones.
 *
 * Reported: upload lines/s against the baseline of reading and JSON-parsing the same file alone, line by line, in this
 * process in the same run; the ingest process's RSS growth (peak during upload, create, completion and download over
 * its RSS before the upload; target ≤ 256 MB); the output download rate (target ≥ 50 MB/s); the completion time.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import OpenAI from 'openai';
import { BENCH_API_KEY } from './fixtures.js';
import { Harness } from './harness.js';
import { startPipeline } from './pipeline.js';
import { profileIn, profileMarkdown, summarizeProfile } from './profile.js';

const N = Number(process.env.BENCH_LINES ?? 1_000_000);
const PROFILE = process.env.BENCH_PROFILE === '1';
/**
 * Stop after the upload (memory experiments on the upload alone); BENCH_NODE_OPTIONS is passed to every service as
 * NODE_OPTIONS (e.g. `--max-old-space-size=200` to see how much of the RSS growth is garbage V8 has not collected yet).
 */
const UPLOAD_ONLY = process.env.BENCH_UPLOAD_ONLY === '1';
const out = (line: string) => process.stdout.write(`${line}\n`);
const WORDS = 'summarise classify the quarterly report customer ticket invoice shipment delayed refund review'.split(
  ' ',
);

async function writeFile(path: string): Promise<number> {
  const stream = createWriteStream(path);
  for (let i = 0; i < N; i++) {
    let text = `Item ${i}:`;
    for (let w = 0; text.length < 190; w++) text += ` ${WORDS[(i * 7 + w * 13) % WORDS.length]}`;
    const line = `${JSON.stringify({
      custom_id: `item-${i}`,
      method: 'POST',
      url: '/v1/chat/completions',
      body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: text }], max_completion_tokens: 64 },
    })}\n`;
    if (!stream.write(line)) await new Promise<void>((r) => stream.once('drain', () => r()));
  }
  await new Promise<void>((resolve, reject) => stream.end((err?: Error | null) => (err ? reject(err) : resolve())));
  return (await stat(path)).size;
}

/** Baseline: read the file and JSON.parse each line, nothing else. */
async function readAndParse(path: string): Promise<number> {
  const t0 = performance.now();
  let lines = 0;
  const rl = createInterface({ input: createReadStream(path), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of rl) {
    if (line === '') continue;
    JSON.parse(line);
    lines++;
  }
  if (lines !== N) throw new Error(`baseline read ${lines} lines`);
  return lines / ((performance.now() - t0) / 1000);
}

async function main(): Promise<void> {
  const h = new Harness();
  await h.start();
  try {
    const file = join(h.dir, 's9.jsonl');
    const bytes = await writeFile(file);
    out(`S9: ${N} lines, ${(bytes / 1e6).toFixed(0)} MB`);
    if (PROFILE) h.cpuProfDir = join(h.dir, 'profiles');
    const pipe = await startPipeline(
      h,
      { SIM_VALIDATING_MS: '0', SIM_LINES_PER_SECOND: '0', SIM_FINALIZING_MS: '0' },
      {
        BATCH_MAX_WAIT_MS: '2000',
        POLL_INTERVAL_MS: '200',
        POLL_MAX_INTERVAL_MS: '1000',
        LOG_LEVEL: 'warn',
        ...(process.env.BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : {}),
      },
      { profile: PROFILE ? ['ingest-api'] : [] },
    );
    try {
      const ingest = pipe.ingest.child;
      const client = new OpenAI({ baseURL: `${pipe.ingest.url}/v1`, apiKey: BENCH_API_KEY, timeout: 3_600_000 });
      const baseline = await readAndParse(file);
      await new Promise((r) => setTimeout(r, 1_000));
      const rssBefore = ingest.rss.sample() ?? 0;
      const t0 = Date.now();
      const uploaded = await client.files.create({ file: createReadStream(file), purpose: 'batch' });
      const uploadS = (Date.now() - t0) / 1000;
      out(
        `S9: upload ${uploadS.toFixed(1)} s = ${Math.round(N / uploadS)} lines/s (baseline read+parse ${Math.round(baseline)} lines/s)`,
      );
      const tCreate = Date.now();
      if (UPLOAD_ONLY) {
        await new Promise((r) => setTimeout(r, 500));
        out(
          `S9 UPLOAD ${JSON.stringify({ lines: N, ingestRssBeforeMb: rssBefore, ingestRssPeakMb: ingest.rss.peak(t0), loadAvg: (await import('node:os')).loadavg() })}`,
        );
        return;
      }
      const batch = await client.batches.create({
        input_file_id: uploaded.id,
        endpoint: '/v1/chat/completions',
        completion_window: '24h',
      });
      let done = batch;
      let inProgressAt = 0;
      for (;;) {
        done = await client.batches.retrieve(batch.id);
        if (done.status === 'in_progress' && inProgressAt === 0) inProgressAt = Date.now();
        if (['completed', 'failed', 'expired', 'cancelled'].includes(done.status)) break;
        await new Promise((r) => setTimeout(r, 1_000));
      }
      const completeS = (Date.now() - tCreate) / 1000;
      out(
        `S9: ${done.status} after ${completeS.toFixed(1)} s (lines enqueued in ${((inProgressAt - tCreate) / 1000).toFixed(1)} s), counts ${JSON.stringify(done.request_counts)}`,
      );
      const tDown = Date.now();
      const res = await fetch(`${pipe.ingest.url}/v1/files/${done.output_file_id}/content`, {
        headers: { authorization: `Bearer ${BENCH_API_KEY}` },
      });
      let downBytes = 0;
      let downLines = 0;
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        downBytes += chunk.length;
        for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) downLines++;
      }
      const downS = (Date.now() - tDown) / 1000;
      // A download cut short must not pass for a slow one: every completed line is in the output file.
      if (downLines !== done.request_counts?.completed) {
        throw new Error(`output file has ${downLines} lines, ${done.request_counts?.completed} completed`);
      }
      const peak = ingest.rss.peak(t0);
      const peakIn = (from: number, to: number) =>
        Math.max(0, ...ingest.rss.samples.filter((s) => s.t >= from && s.t <= to).map((s) => s.mb));
      const result = {
        lines: N,
        fileMb: bytes / 1e6,
        uploadLinesPerS: Math.round(N / uploadS),
        baselineLinesPerS: Math.round(baseline),
        uploadRatio: N / uploadS / baseline,
        enqueueS: (inProgressAt - tCreate) / 1000,
        completeS,
        outputMb: downBytes / 1e6,
        outputLines: downLines,
        downloadMbPerS: downBytes / 1e6 / downS,
        ingestRssBeforeMb: rssBefore,
        ingestRssPeakMb: peak,
        ingestRssGrowthMb: peak - rssBefore,
        ingestRssPeakByPhaseMb: {
          upload: peakIn(t0, tCreate),
          createToComplete: peakIn(tCreate, tDown),
          download: peakIn(tDown, Date.now()),
        },
        redisRssPeakMb: h.redisRss?.peak(t0),
        loadAvg: (await import('node:os')).loadavg(),
      };
      out(`S9 RESULT ${JSON.stringify(result)}`);
    } finally {
      await pipe.stop();
    }
    const prof = PROFILE && h.cpuProfDir ? profileIn(join(h.cpuProfDir, 'ingest-api')) : undefined;
    if (prof) out(profileMarkdown('ingest-api', summarizeProfile(prof, 25)));
  } finally {
    await h.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
