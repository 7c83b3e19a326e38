/**
 * S3 route and S4 deliver, chained on the same data in every run.
 *
 * Set-up (not measured): `lines` requests are queued, claimed into one flush, written to JSONL, uploaded and created
 * as one batch at the simulator (its own process, zero timings), and the benchmark waits until the simulator has
 * written the output file. S3: the poller starts alone in its own process; the clock runs from recording the
 * submission and relaying its poll job to the batch being marked routed — retrieve, output file streamed and split,
 * settle chunks of one SETTLE_MANY script call each, which also make each outcome's delivery due in the partition's
 * due zset (no dispatcher runs). S4: the dispatcher then starts alone in its
 * own process and delivers every outcome, signed, to a bare `node:http` receiver in another process; webhooks/s is
 * counted at the receiver, first to last arrival. Baselines: S3, downloading the same output file and splitting its
 * lines in the benchmark process (no routing); S4, unsigned undici POSTs of the same size at the same concurrency
 * from a separate process to the same receiver.
 *
 * S3 embeddings variant (issue 17): one `/v1/embeddings` batch of `embeddingInputs` requests of one input each
 * (claimed with the openai profile's 50 000-input budget), answered by the simulator with the model's native
 * 1 536-dimension float vectors; routed by the poller the same way, after the chat reps of the same run, and compared
 * with their lines/s (target: within 2×) and with the ≤ 256 MB RSS bound.
 */

import { once } from 'node:events';
import { createWriteStream, openAsBlob } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { batchLine, newFlushId } from '@batchbridge/domain';
import { FLUSH_METADATA_KEY } from '@batchbridge/provider';
import type { Runtime } from '@batchbridge/runtime';
import { EMBEDDING_INPUT_CHARS, EMBEDDINGS_GROUP, GROUP, seedRequests } from '../fixtures.js';
import type { Harness, Receiver, Sim } from '../harness.js';
import { type Plan, progress, type Row, type ScenarioResult } from '../model.js';
import { sleep, spawnTs, waitUntil } from '../procs.js';
import { readCpuS } from '../rss.js';
import { fmt, round, summarize } from '../stats.js';

const BODY_BYTES = 400;

interface Prepared {
  rt: Runtime;
  prefix: string;
  batchId: string;
  fileId: string;
  outputFileId: string;
  outputMb: number;
  entry: () => Promise<string>;
}

/**
 * Queues, claims and submits `lines` requests as one batch (chat, or embeddings of one input each); resolves once the
 * simulator's output file is written.
 */
async function prepare(
  h: Harness,
  sim: Sim,
  lines: number,
  callbackUrl: string,
  label: string,
  embeddings = false,
): Promise<Prepared> {
  await h.flush();
  const prefix = h.prefix('s3');
  const rt = await h.runtime(prefix, { UPSTREAM_BASE_URL: sim.url, POLL_INTERVAL_MS: '10' });
  let shown = 0;
  await seedRequests(rt.store, {
    count: lines,
    bodyBytes: embeddings ? EMBEDDING_INPUT_CHARS : BODY_BYTES,
    embeddings,
    callbackUrl,
    onProgress: (n) => {
      if (n - shown >= 50_000 || n === lines) {
        shown = n;
        progress('S3', `${label}: set-up, queued ${n}/${lines}`);
      }
    },
  });
  const flushId = newFlushId();
  const group = embeddings ? EMBEDDINGS_GROUP : GROUP;
  const endpoint = embeddings ? '/v1/embeddings' : '/v1/chat/completions';
  // Embeddings: the profile's own input budget (50 000 inputs per batch), as the packer claims them.
  const maxInputs = embeddings ? rt.config.batch.endpoints['/v1/embeddings'].maxInputs : undefined;
  const claim = await rt.store.flushes.claim(
    0,
    group,
    flushId,
    { maxRequests: lines, maxBytes: 1e12, maxTokens: 1e12, maxInputs, maxWaitMs: 0 },
    true,
  );
  if (!claim.claimed) throw new Error('S3 set-up: claim failed');
  if (claim.count !== lines) throw new Error(`S3 set-up: claimed ${claim.count} of ${lines}`);
  // No packer runs: drop the flush job's outbox entry so that no sweep relays it.
  await rt.redis.zrem(rt.keys.partitionKeys(0).outbox, claim.outbox);
  const flush = await rt.store.flushes.get(0, flushId);
  if (!flush) throw new Error('S3 set-up: flush missing');
  const path = join(h.dir, `s3-${flushId}.jsonl`);
  const out = createWriteStream(path);
  for (let start = 0; start < lines; start += 5_000) {
    const ids = await rt.store.flushes.ids(0, flushId, start, start + 4_999);
    const bodies = await rt.store.requests.bodies(0, ids);
    if (!out.write(ids.map((id, i) => batchLine(id, bodies[i] ?? '{}', endpoint)).join(''))) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  const provider = rt.provider!;
  const file = await provider.files.create({
    file: new File([await openAsBlob(path)], 'input.jsonl'),
    purpose: 'batch',
  });
  await rm(path, { force: true });
  const batch = await provider.batches.create({
    input_file_id: file.id,
    endpoint,
    completion_window: '24h',
    metadata: { [FLUSH_METADATA_KEY]: flushId },
  });
  const done = await waitUntil(
    'the simulator to finish the batch',
    async () => {
      // A busy simulator (writing a 1.6 GB embeddings output) may drop a pooled connection: poll again.
      const b = await provider.batches.retrieve(batch.id, { maxRetries: 3 });
      if (b.status === 'failed') throw new Error(`S3 set-up: batch failed ${JSON.stringify(b.errors)}`);
      return b.status === 'completed' ? b : undefined;
    },
    { timeoutMs: 1_200_000, everyMs: 500, children: [sim.child] },
  );
  const meta = await provider.files.retrieve(done.output_file_id!, { maxRetries: 3 });
  return {
    rt,
    prefix,
    batchId: batch.id,
    fileId: file.id,
    outputFileId: done.output_file_id!,
    outputMb: meta.bytes / 1e6,
    entry: () => rt.store.flushes.recordSubmission(0, flush, batch.id, file.id),
  };
}

/** S3 baseline: stream the output file and split it into lines, nothing else. */
async function downloadAndSplit(sim: Sim, fileId: string): Promise<{ seconds: number; lines: number }> {
  const t0 = Date.now();
  const res = await fetch(`${sim.url}/files/${fileId}/content`, { headers: { authorization: 'Bearer sk-bench' } });
  let lines = 0;
  let rest = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    const parts = (rest + Buffer.from(chunk).toString('utf8')).split('\n');
    rest = parts.pop() ?? '';
    for (const l of parts) if (l) lines += 1;
  }
  return { seconds: (Date.now() - t0) / 1000, lines };
}

interface RouteShot {
  linesPerS: number;
  seconds: number;
  rssPeakMb: number;
  rssIdleMb: number;
  simRssPeakMb: number;
  outputMb: number;
  baselineLinesPerS: number;
  deliverJobs: number;
  /** CPU seconds the poller process spent while the batch was routed. */
  pollerCpuS: number;
  /** CPU seconds the Redis server spent while the batch was routed (INFO cpu, user + sys). */
  redisCpuS: number;
}

/** CPU seconds the Redis server has used so far (user + sys, all its threads). */
async function redisCpuS(rt: Runtime): Promise<number> {
  const info = await rt.redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info)?.[1] ?? 0);
  return field('used_cpu_user') + field('used_cpu_sys');
}

async function route(h: Harness, plan: Plan, sim: Sim, prep: Prepared, lines: number): Promise<RouteShot> {
  const base = await downloadAndSplit(sim, prep.outputFileId);
  if (base.lines !== lines) throw new Error(`S3: output file has ${base.lines} lines, expected ${lines}`);
  const poller = await h.startService(
    'poller',
    prep.prefix,
    { UPSTREAM_BASE_URL: sim.url, POLL_INTERVAL_MS: '10', POLL_MAX_INTERVAL_MS: '100' },
    { profile: plan.profile },
  );
  try {
    const idle = poller.child.rss.sample() ?? 0;
    const cpu0 = await redisCpuS(prep.rt);
    const pollerCpu0 = readCpuS(poller.child.pid) ?? 0;
    const t0 = Date.now();
    await prep.rt.relay.relay(0, [await prep.entry()]);
    await waitUntil(
      'the batch to be routed',
      async () => ((await prep.rt.store.batches.get(0, prep.batchId))?.routed_at !== undefined ? true : undefined),
      { timeoutMs: 900_000, everyMs: 25, children: [poller.child] },
    );
    const seconds = (Date.now() - t0) / 1000;
    const pollerCpu = (readCpuS(poller.child.pid) ?? 0) - pollerCpu0;
    const redisCpu = (await redisCpuS(prep.rt)) - cpu0;
    const pending = await prep.rt.store.deliveries.totals();
    return {
      linesPerS: lines / seconds,
      seconds,
      rssPeakMb: poller.child.rss.peak(t0 - 1),
      rssIdleMb: idle,
      simRssPeakMb: sim.child.rss.peak(),
      outputMb: prep.outputMb,
      baselineLinesPerS: base.lines / base.seconds,
      deliverJobs: pending.due + pending.leased,
      pollerCpuS: pollerCpu,
      redisCpuS: redisCpu,
    };
  } finally {
    await poller.child.stop();
  }
}

interface DeliverShot {
  perS: number;
  baselinePerS: number;
  rssPeakMb: number;
  bodyBytes: number;
  /** CPU seconds of the dispatcher process and of Redis from the dispatcher's ready to the last webhook. */
  dispatcherCpuS: number;
  redisCpuS: number;
}

async function deliver(
  h: Harness,
  plan: Plan,
  prep: Prepared,
  receiver: Receiver,
  lines: number,
): Promise<DeliverShot> {
  const concurrency = plan.s4.concurrency;
  await receiver.reset();
  const dispatcher = await h.startService(
    'dispatcher',
    prep.prefix,
    { WEBHOOK_CONCURRENCY: String(concurrency), WEBHOOK_HOST_CONCURRENCY: String(concurrency) },
    { profile: plan.profile },
  );
  let stats: Awaited<ReturnType<Receiver['stats']>>;
  const cpu0 = readCpuS(dispatcher.child.pid) ?? 0;
  const redis0 = await redisCpuS(prep.rt);
  let dispatcherCpuS = 0;
  let redisCpu = 0;
  try {
    stats = await waitUntil(
      'every webhook at the receiver',
      async () => {
        const s = await receiver.stats();
        return s.count >= lines ? s : undefined;
      },
      { timeoutMs: 900_000, everyMs: 100, children: [dispatcher.child, receiver.child] },
    );
    dispatcherCpuS = (readCpuS(dispatcher.child.pid) ?? 0) - cpu0;
    redisCpu = (await redisCpuS(prep.rt)) - redis0;
  } finally {
    await dispatcher.child.stop();
  }
  const perS = (stats.count - 1) / Math.max(0.001, (stats.lastAt - stats.firstAt) / 1000);
  const bodyBytes = Math.round(stats.bytes / stats.count);

  await receiver.reset();
  const blaster = spawnTs('post-blaster', 'bench/src/children/post-blaster.ts', {
    env: {
      BLAST_URL: receiver.url,
      BLAST_COUNT: String(lines),
      BLAST_BYTES: String(bodyBytes),
      BLAST_CONCURRENCY: String(concurrency),
    },
  });
  const code = await blaster.exited;
  if (code !== 0) throw new Error(`S4 baseline exited ${code}:\n${blaster.tail()}`);
  const b = await receiver.stats();
  return {
    perS,
    baselinePerS: (b.count - 1) / Math.max(0.001, (b.lastAt - b.firstAt) / 1000),
    rssPeakMb: dispatcher.child.rss.peak(),
    bodyBytes,
    dispatcherCpuS,
    redisCpuS: redisCpu,
  };
}

export async function runS3S4(h: Harness, plan: Plan): Promise<ScenarioResult[]> {
  const p = plan.s3;
  const maxLines = Math.max(p.lines, p.bigLines ?? 0, p.embeddingInputs ?? 0) + 1;
  const sim = await h.startSim({
    SIM_VALIDATING_MS: '0',
    SIM_LINES_PER_SECOND: '0',
    SIM_FINALIZING_MS: '0',
    SIM_MAX_LINES: String(maxLines),
    SIM_MAX_BYTES: String(2 * 1024 ** 3),
  });
  const receiver = await h.startReceiver(false);
  const routes: RouteShot[] = [];
  const deliveries: DeliverShot[] = [];
  let big: RouteShot | undefined;
  let embedded: RouteShot | undefined;
  try {
    for (let rep = 1; rep <= plan.reps; rep++) {
      const label = `rep ${rep}/${plan.reps}`;
      const prep = await prepare(h, sim, p.lines, receiver.url, label);
      const r = await route(h, plan, sim, prep, p.lines);
      routes.push(r);
      progress(
        'S3',
        `${label}: routed ${p.lines} lines in ${r.seconds.toFixed(2)} s = ${Math.round(r.linesPerS)} lines/s, poller RSS peak ${r.rssPeakMb.toFixed(0)} MB, CPU: poller ${r.pollerCpuS.toFixed(2)} s, Redis ${r.redisCpuS.toFixed(2)} s`,
      );
      if (p.routeOnly) continue;
      const d = await deliver(h, plan, prep, receiver, p.lines);
      deliveries.push(d);
      progress(
        'S4',
        `${label}: ${Math.round(d.perS)} signed webhooks/s (baseline unsigned ${Math.round(d.baselinePerS)}/s), ` +
          `RSS peak ${d.rssPeakMb.toFixed(0)} MB, CPU per webhook: dispatcher ${((d.dispatcherCpuS * 1e6) / p.lines).toFixed(1)} µs, ` +
          `Redis ${((d.redisCpuS * 1e6) / p.lines).toFixed(1)} µs`,
      );
    }
    if (p.bigLines) {
      const prep = await prepare(h, sim, p.bigLines, 'http://127.0.0.1:9/unused', 'large output file');
      big = await route(h, plan, sim, prep, p.bigLines);
      progress(
        'S3',
        `large: ${big.outputMb.toFixed(0)} MB, ${p.bigLines} lines in ${big.seconds.toFixed(1)} s, poller RSS peak ${big.rssPeakMb.toFixed(0)} MB`,
      );
    }
    if (p.embeddingInputs) {
      const prep = await prepare(h, sim, p.embeddingInputs, 'http://127.0.0.1:9/unused', 'embeddings', true);
      embedded = await route(h, plan, sim, prep, p.embeddingInputs);
      progress(
        'S3',
        `embeddings: ${embedded.outputMb.toFixed(0)} MB, ${p.embeddingInputs} lines in ${embedded.seconds.toFixed(1)} s = ${Math.round(embedded.linesPerS)} lines/s, poller RSS peak ${embedded.rssPeakMb.toFixed(0)} MB, CPU: poller ${embedded.pollerCpuS.toFixed(2)} s, Redis ${embedded.redisCpuS.toFixed(2)} s`,
      );
    }
  } finally {
    await receiver.child.stop();
    await sim.child.stop();
  }
  await sleep(0);

  const lps = summarize(routes.map((r) => r.linesPerS));
  const baseLps = summarize(routes.map((r) => r.baselineLinesPerS));
  const peak = summarize(routes.map((r) => r.rssPeakMb));
  const s3Rows: Row[] = [
    {
      metric: `route ${p.lines.toLocaleString('en-US')}-line output, lines/s`,
      value: fmt(lps),
      baseline: fmt(baseLps),
      ratio: `${Math.round((lps.median / baseLps.median) * 100)} %`,
      target: '≥ 50 000',
      met: lps.median >= 50_000,
    },
    { metric: 'poller RSS peak MB', value: fmt(peak), target: '≤ 256 MB', met: peak.median <= 256 },
  ];
  if (big) {
    s3Rows.push({
      metric: `poller RSS peak MB, ${big.outputMb.toFixed(0)} MB output`,
      value: big.rssPeakMb.toFixed(0),
      target: '≤ 256 MB',
      met: big.rssPeakMb <= 256,
    });
  }
  if (embedded) {
    const inputs = p.embeddingInputs!.toLocaleString('en-US');
    s3Rows.push(
      {
        metric: `route ${inputs}-input embeddings output (1,536 dims, ${embedded.outputMb.toFixed(0)} MB), lines/s`,
        value: Math.round(embedded.linesPerS).toLocaleString('en-US'),
        baseline: `${Math.round(lps.median).toLocaleString('en-US')} (chat, this run)`,
        ratio: `${(lps.median / embedded.linesPerS).toFixed(1)}× slower`,
        target: 'within 2× of chat',
        met: embedded.linesPerS * 2 >= lps.median,
      },
      {
        metric: `poller RSS peak MB, ${embedded.outputMb.toFixed(0)} MB embeddings output`,
        value: embedded.rssPeakMb.toFixed(0),
        target: '≤ 256 MB',
        met: embedded.rssPeakMb <= 256,
      },
    );
  }
  const dps = summarize(deliveries.map((d) => d.perS));
  const baseDps = summarize(deliveries.map((d) => d.baselinePerS));
  const s4Rows: Row[] = [
    {
      metric: `signed webhooks/s (concurrency ${plan.s4.concurrency})`,
      value: fmt(dps),
      baseline: fmt(baseDps),
      ratio: `${Math.round((dps.median / baseDps.median) * 100)} %`,
      target: '≥ 10 000/s and ≥ 40 % of baseline',
      met: dps.median >= 10_000 && dps.median >= 0.4 * baseDps.median,
    },
    {
      metric: 'dispatcher RSS peak MB',
      value: fmt(summarize(deliveries.map((d) => d.rssPeakMb))),
      target: '≤ 256 MB',
      met: summarize(deliveries.map((d) => d.rssPeakMb)).median <= 256,
    },
  ];
  const s3: ScenarioResult = {
    id: 'S3',
    title: 'S3 route',
    rows: s3Rows,
    json: {
      lines: p.lines,
      runs: plan.reps,
      lines_per_s: round(lps.median, 0),
      lines_per_s_min: round(lps.min, 0),
      lines_per_s_max: round(lps.max, 0),
      seconds: round(summarize(routes.map((r) => r.seconds)).median, 2),
      poller_cpu_s: round(summarize(routes.map((r) => r.pollerCpuS)).median, 2),
      redis_cpu_s: round(summarize(routes.map((r) => r.redisCpuS)).median, 2),
      rss_peak_mb: round(peak.median),
      rss_idle_mb: round(summarize(routes.map((r) => r.rssIdleMb)).median),
      output_file_mb: round(routes[0]?.outputMb ?? 0),
      deliveries_created: routes[0]?.deliverJobs,
      baseline_download_split_lines_per_s: round(baseLps.median, 0),
      ...(big
        ? {
            large_output: {
              lines: p.bigLines,
              output_file_mb: round(big.outputMb),
              lines_per_s: round(big.linesPerS, 0),
              seconds: round(big.seconds, 1),
              rss_peak_mb: round(big.rssPeakMb),
              rss_idle_mb: round(big.rssIdleMb),
              simulator_rss_peak_mb: round(big.simRssPeakMb),
            },
          }
        : {}),
      ...(embedded
        ? {
            embeddings: {
              inputs: p.embeddingInputs,
              lines: p.embeddingInputs,
              dimensions: 1536,
              output_file_mb: round(embedded.outputMb),
              lines_per_s: round(embedded.linesPerS, 0),
              seconds: round(embedded.seconds, 1),
              poller_cpu_s: round(embedded.pollerCpuS, 2),
              redis_cpu_s: round(embedded.redisCpuS, 2),
              rss_peak_mb: round(embedded.rssPeakMb),
              rss_idle_mb: round(embedded.rssIdleMb),
              chat_lines_per_s_same_run: round(lps.median, 0),
              baseline_download_split_lines_per_s: round(embedded.baselineLinesPerS, 0),
              simulator_rss_peak_mb: round(embedded.simRssPeakMb),
            },
          }
        : {}),
      targets: { lines_per_s_min: 50_000, rss_peak_mb_max: 256, embeddings_within_chat_factor: 2 },
    },
    notes: [
      `One batch of ${p.lines.toLocaleString('en-US')} requests is queued, claimed, uploaded and completed at the simulator ` +
        `(zero timings) before the clock starts; its output file is ${(routes[0]?.outputMb ?? 0).toFixed(1)} MB. The poller runs alone ` +
        'in its own process (`POLL_INTERVAL_MS=10`); the clock runs from relaying the poll job to the batch being marked ' +
        "routed: retrieve, output file streamed, one SETTLE_MANY call per chunk of lines, which also makes each outcome's " +
        "delivery due in the partition's due zset (no outbox hop, no BullMQ job), missing-line check. No dispatcher runs.",
      'Baseline: the same output file downloaded with `fetch` and split into lines in the benchmark process — the ' +
        'transport alone, no routing.',
      ...(big
        ? [
            `Large output file: ${p.bigLines!.toLocaleString('en-US')} lines, ${big.outputMb.toFixed(0)} MB (the simulator's answers ` +
              `are about ${Math.round((big.outputMb * 1e6) / p.bigLines!)} bytes a line, so 200 MB takes this many lines), one run: ` +
              `${Math.round(big.linesPerS).toLocaleString('en-US')} lines/s, poller RSS ${big.rssIdleMb.toFixed(0)} MB idle → ` +
              `${big.rssPeakMb.toFixed(0)} MB peak. The simulator's own RSS peaked at ${big.simRssPeakMb.toFixed(0)} MB while ` +
              'running and serving this batch (its large-batch figure: flat memory on a 200 MB batch).',
          ]
        : []),
      ...(embedded
        ? [
            `Embeddings: one \`/v1/embeddings\` batch of ${p.embeddingInputs!.toLocaleString('en-US')} requests of one ` +
              `${EMBEDDING_INPUT_CHARS}-character input each (claimed with the openai profile's 50 000-input budget), ` +
              'answered by the simulator with `text-embedding-3-small` float vectors of 1,536 dimensions, each value written ' +
              'as OpenAI writes float32 values (7–9 significant digits, `0.0023064255`): an output file ' +
              `of ${embedded.outputMb.toFixed(0)} MB (${Math.round((embedded.outputMb * 1e6) / p.embeddingInputs!).toLocaleString('en-US')} bytes a line), ` +
              `routed once after the chat reps: ${Math.round(embedded.linesPerS).toLocaleString('en-US')} lines/s ` +
              `(${(embedded.seconds).toFixed(1)} s), poller RSS ${embedded.rssIdleMb.toFixed(0)} MB idle → ` +
              `${embedded.rssPeakMb.toFixed(0)} MB peak; download-and-split alone ran at ` +
              `${Math.round(embedded.baselineLinesPerS).toLocaleString('en-US')} lines/s. Lines this large are read with ` +
              '`parseLazy` (services/poller/src/lazy-json.ts): the vectors are neither parsed nor serialised again; the ' +
              "body's text goes to the settle script as the provider wrote it.",
          ]
        : []),
    ],
    charts: [],
  };
  const s4: ScenarioResult = {
    id: 'S4',
    title: 'S4 deliver',
    rows: s4Rows,
    json: {
      webhooks: p.lines,
      runs: plan.reps,
      concurrency: plan.s4.concurrency,
      body_bytes: deliveries[0]?.bodyBytes,
      webhooks_per_s: round(dps.median, 0),
      webhooks_per_s_min: round(dps.min, 0),
      webhooks_per_s_max: round(dps.max, 0),
      rss_peak_mb: round(summarize(deliveries.map((d) => d.rssPeakMb)).median),
      baseline_posts_per_s: round(baseDps.median, 0),
      baseline_posts_per_s_min: round(baseDps.min, 0),
      baseline_posts_per_s_max: round(baseDps.max, 0),
      ratio_to_baseline: round(dps.median / baseDps.median, 2),
      targets: { webhooks_per_s_min: 10_000, ratio_to_baseline_min: 0.4, rss_peak_mb_max: 256 },
    },
    notes: [
      `The ${p.lines.toLocaleString('en-US')} deliveries left due by S3 are delivered by the dispatcher alone in its own process ` +
        `(\`WEBHOOK_CONCURRENCY\` = \`WEBHOOK_HOST_CONCURRENCY\` = ${plan.s4.concurrency}: one receiver host, so the per-host ` +
        'limit, default 8, is raised to the worker concurrency) to a bare `node:http` 200 responder in another process. ' +
        'Each delivery: claimed with others from the due zset together with its request record (one dlv-claim-1 call ' +
        'per 64–192, under a lease, made while the previous batch is still being sent), webhook body built from the ' +
        'record (its mark fixed by the first attempt), Standard Webhooks HMAC signature, address policy at connect time, ' +
        'POST (undici dispatch API, one pool per host), completed with others (log entry, delivered mark, body mark: one ' +
        'dlv-complete-1 call per event-loop ' +
        "turn's verdicts, its slot already free for the next POST). Rate = webhooks counted at the receiver from first " +
        'to last arrival.',
      "What limits it (CPU profiles, issue 26): the dispatcher's own event loop — the socket writes of the POSTs " +
        '(`writev`) and of the Redis calls (`writeUtf8String`), undici, GC, and the webhook body built from the record ' +
        '(JSON parse of the answer and re-encoding); no Redis round trip ' +
        "is on a POST's path any more. The first second of each run is slower (JIT warm-up). Redis is not the first " +
        "limit (S12 states this rate as a share of the dispatcher's two scripts alone).",
      `Baseline: unsigned undici POSTs of the same size (${deliveries[0]?.bodyBytes ?? '?'} bytes) at the same concurrency from a ` +
        'separate process to the same receiver — no queue, no Redis, no signing.',
    ],
    charts: [],
  };
  return p.routeOnly ? [s3] : [s3, s4];
}
