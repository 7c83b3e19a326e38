/**
 * S2 pack: `count` queued ~1 KB requests → one uploaded batch. The packer runs alone in its own process with
 * `BATCH_MAX_REQUESTS=count` (and a wait of an hour, so only the count triggers); the requests are seeded through the
 * enqueue script while it idles, and the clock runs from the last enqueue to the batch appearing at the simulator
 * (claim + JSONL written from Redis to a temporary file + multipart upload + `batches.create`). The simulator's
 * validation is paused so that it does not compete for the CPU. Baseline: the same JSONL written with plain `fs` and
 * uploaded raw (multipart `fetch`) plus the same `batches.create`, to the same simulator.
 */
import { once } from 'node:events';
import { createWriteStream, openAsBlob } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { batchLine } from '@batchbridge/domain';
import { chatBody, EMBEDDING_INPUT_CHARS, seedRequests } from '../fixtures.js';
import type { Harness, Sim } from '../harness.js';
import { type Plan, progress, type Row, type ScenarioResult } from '../model.js';
import { waitUntil } from '../procs.js';
import { fmt, round, summarize } from '../stats.js';

interface PackShot {
  seconds: number;
  rssGrowthMb: number;
  rssPeakMb: number;
  fileMb: number;
}

async function packOnce(
  h: Harness,
  plan: Plan,
  sim: Sim,
  count: number,
  bodyBytes: number,
  label: string,
  stuck: string[],
  padTools = false,
  embeddings = false,
): Promise<PackShot | undefined> {
  await h.flush();
  const prefix = h.prefix('s2');
  const before = (await sim.counters()).batchesCreated;
  const packer = await h.startService(
    'packer',
    prefix,
    { UPSTREAM_BASE_URL: sim.url, BATCH_MAX_REQUESTS: String(count), BATCH_MAX_WAIT_MS: '3600000' },
    { profile: plan.profile },
  );
  try {
    const rt = await h.runtime(prefix);
    const idleRss = packer.child.rss.sample() ?? 0;
    let shown = 0;
    await seedRequests(rt.store, {
      count,
      bodyBytes,
      padTools,
      embeddings,
      onProgress: (n) => {
        if (n - shown >= 10_000 || n === count) {
          shown = n;
          progress('S2', `${label}: queued ${n}/${count}`);
        }
      },
    });
    const t0 = Date.now();
    if ((await sim.counters()).batchesCreated > before) {
      stuck.push(`${label}: the packer flushed before all ${count} requests were queued (another trigger fired first)`);
      return undefined;
    }
    try {
      await waitUntil(
        'the batch at the simulator',
        async () => ((await sim.counters()).batchesCreated > before ? true : undefined),
        { timeoutMs: 120_000, everyMs: 20, children: [packer.child] },
      );
    } catch (err) {
      const tail = packer.child.tail().split('\n').filter(Boolean).slice(-3).join(' | ');
      progress('S2', `${label}: no batch within 120 s; packer log tail: ${tail}`);
      stuck.push(
        `${label}: no batch within 120 s after the last enqueue (packer log: ${tail.slice(0, 600) || 'empty'})`,
      );
      if (!(err as Error).message.startsWith('timed out')) throw err;
      return undefined;
    }
    const seconds = (Date.now() - t0) / 1000;
    const peak = packer.child.rss.peak(t0 - 1);
    const files = (await (
      await fetch(`${sim.url}/files?limit=1`, { headers: { authorization: 'Bearer sk' } })
    ).json()) as {
      data: Array<{ bytes: number }>;
    };
    return { seconds, rssGrowthMb: peak - idleRss, rssPeakMb: peak, fileMb: (files.data[0]?.bytes ?? 0) / 1e6 };
  } finally {
    await packer.child.stop();
  }
}

async function baselineOnce(h: Harness, sim: Sim, count: number, bodyBytes: number): Promise<number> {
  const path = join(h.dir, 'baseline.jsonl');
  const t0 = Date.now();
  const out = createWriteStream(path);
  for (let i = 0; i < count; i++) {
    const id = `breq_00${String(i).padStart(24, '0')}`;
    if (!out.write(batchLine(id, chatBody(i, bodyBytes).json))) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  const form = new FormData();
  form.set('purpose', 'batch');
  form.set('file', await openAsBlob(path), 'baseline.jsonl');
  const headers = { authorization: 'Bearer sk-bench' };
  const file = (await (await fetch(`${sim.url}/files`, { method: 'POST', headers, body: form })).json()) as {
    id: string;
  };
  const res = await fetch(`${sim.url}/batches`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' }),
  });
  if (!res.ok) throw new Error(`baseline batches.create: ${res.status} ${await res.text()}`);
  const seconds = (Date.now() - t0) / 1000;
  await rm(path, { force: true });
  return seconds;
}

export async function runS2(h: Harness, plan: Plan): Promise<ScenarioResult> {
  const p = plan.s2;
  const sim = await h.startSim({ SIM_VALIDATING_MS: '3600000' });
  const shots: PackShot[] = [];
  const stuck: string[] = [];
  const base: number[] = [];
  let big: PackShot | undefined;
  let embedded: PackShot | undefined;
  try {
    for (let rep = 1; rep <= plan.reps; rep++) {
      const shot = await packOnce(h, plan, sim, p.count, p.bodyBytes, `rep ${rep}/${plan.reps}`, stuck);
      if (shot) shots.push(shot);
      if (shot)
        progress(
          'S2',
          `rep ${rep}/${plan.reps}: ${p.count} requests packed and uploaded in ${shot.seconds.toFixed(2)} s, packer RSS +${shot.rssGrowthMb.toFixed(0)} MB`,
        );
      const b = await baselineOnce(h, sim, p.count, p.bodyBytes);
      base.push(b);
      progress('S2', `rep ${rep}/${plan.reps} baseline (fs + raw upload): ${b.toFixed(2)} s`);
    }
    if (p.bigBodyBytes) {
      big = await packOnce(h, plan, sim, p.count, p.bigBodyBytes, '200 MB case', stuck, true);
      if (big)
        progress(
          'S2',
          `200 MB case: ${big.fileMb.toFixed(0)} MB in ${big.seconds.toFixed(1)} s, packer RSS +${big.rssGrowthMb.toFixed(0)} MB`,
        );
    }
    if (p.embeddings) {
      embedded = await packOnce(h, plan, sim, p.count, EMBEDDING_INPUT_CHARS, 'embeddings', stuck, false, true);
      if (embedded)
        progress(
          'S2',
          `embeddings: ${p.count} requests packed and uploaded in ${embedded.seconds.toFixed(2)} s, packer RSS +${embedded.rssGrowthMb.toFixed(0)} MB`,
        );
    }
  } finally {
    await sim.child.stop();
  }
  const secs = summarize(shots.map((s) => s.seconds));
  const growth = summarize(shots.map((s) => s.rssGrowthMb));
  const baseSecs = summarize(base);
  const rows: Row[] = [
    {
      metric: `pack ${p.count.toLocaleString('en-US')} requests → 1 batch, s`,
      value: fmt(secs, 2),
      baseline: fmt(baseSecs, 2),
      ratio: `${(secs.median / baseSecs.median).toFixed(1)}× baseline time`,
      target: p.count >= 50_000 ? '≤ 10 s' : '≤ 10 s at 50 000 (full run only)',
      met: p.count >= 50_000 ? secs.median <= 10 : undefined,
    },
    { metric: 'packer RSS growth MB', value: fmt(growth) },
  ];
  if (embedded) {
    rows.push(
      {
        metric: `pack ${p.count.toLocaleString('en-US')} embeddings requests → 1 batch, s`,
        value: embedded.seconds.toFixed(2),
        baseline: `${fmt(secs, 2)} (chat, this run)`,
        ratio: `${(embedded.seconds / secs.median).toFixed(1)}× chat time`,
        target: 'within 2× of chat',
        met: embedded.seconds <= 2 * secs.median,
      },
      { metric: 'packer RSS growth MB, embeddings', value: embedded.rssGrowthMb.toFixed(0) },
    );
  }
  if (big) {
    rows.push({
      metric: `packer RSS growth MB, ${big.fileMb.toFixed(0)} MB batch`,
      value: big.rssGrowthMb.toFixed(0),
      target: '≤ 150 MB',
      met: big.rssGrowthMb <= 150,
    });
  }
  const shotJson = (s: PackShot) => ({
    seconds: round(s.seconds, 2),
    rss_growth_mb: round(s.rssGrowthMb),
    rss_peak_mb: round(s.rssPeakMb),
    file_mb: round(s.fileMb),
  });
  return {
    id: 'S2',
    title: 'S2 pack',
    rows,
    json: {
      requests: p.count,
      body_bytes: p.bodyBytes,
      runs: plan.reps,
      seconds: round(secs.median, 2),
      seconds_min: round(secs.min, 2),
      seconds_max: round(secs.max, 2),
      rss_growth_mb: round(growth.median),
      rss_peak_mb: round(summarize(shots.map((s) => s.rssPeakMb)).median),
      file_mb: round(shots[0]?.fileMb ?? 0),
      baseline_seconds: round(baseSecs.median, 2),
      baseline_seconds_min: round(baseSecs.min, 2),
      baseline_seconds_max: round(baseSecs.max, 2),
      ...(embedded
        ? { embeddings: { requests: p.count, input_chars: EMBEDDING_INPUT_CHARS, ...shotJson(embedded) } }
        : {}),
      ...(big ? { large_batch: { requests: p.count, body_bytes: p.bigBodyBytes, ...shotJson(big) } } : {}),
      targets: { seconds_max: 10, rss_growth_mb_max_at_200_mb: 150 },
    },
    notes: [
      `${p.count.toLocaleString('en-US')} requests of about ${p.bodyBytes} bytes each are queued in one group through the enqueue ` +
        'script while the packer (its own process, `BATCH_MAX_REQUESTS` = that count, `BATCH_MAX_WAIT_MS` = 1 h) idles; the ' +
        'clock runs from the last enqueue to the batch being created at the simulator: claim, JSONL streamed from Redis ' +
        'to a temporary file, multipart upload from disk, `batches.create`. The simulator (its own process) has ' +
        "validation paused. RSS growth = the packer's peak RSS during the flush minus its idle RSS just before.",
      'Baseline: the same lines generated in memory, written with a plain `fs` write stream, uploaded raw with ' +
        '`fetch` + `FormData` and created with one `POST /batches`, to the same simulator.',
      ...(embedded
        ? [
            `Embeddings: ${p.count.toLocaleString('en-US')} \`/v1/embeddings\` requests of one ${EMBEDDING_INPUT_CHARS}-character input ` +
              `each, one run, packed the same way into one batch (${embedded.fileMb.toFixed(0)} MB input file).`,
          ]
        : []),
      ...stuck.map((s) => `**A run that did not finish:** ${s}`),
      ...(big
        ? [
            `200 MB case: ${p.count.toLocaleString('en-US')} requests of ${p.bigBodyBytes} bytes, a ${big.fileMb.toFixed(0)} MB input ` +
              `file (just under the openai profile's 200 MiB limit; each request's size beyond a short prompt sits in a tool ` +
              "definition, because text-only requests reach the profile's 20 M estimated-token cap at about 80 MB), " +
              `one run: ${big.seconds.toFixed(1)} s, packer RSS ` +
              `${(big.rssPeakMb - big.rssGrowthMb).toFixed(0)} → ${big.rssPeakMb.toFixed(0)} MB.`,
          ]
        : []),
    ],
    charts: [],
  };
}
