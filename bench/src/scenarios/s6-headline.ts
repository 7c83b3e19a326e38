/**
 * S6 the headline: a provider whose realtime tier allows 60 chat requests a minute and 10 at once (the simulator's
 * `requestsPerMinute` / `maxConcurrent` faults on `chat.completions`), batch timings at the simulator's defaults.
 * A direct realtime client — the `openai` SDK, 10 requests in flight, waiting out each 429's Retry-After as a careful
 * client would — runs for a fixed time; meanwhile batchbridge (every service its own process) takes `prompts` prompts,
 * `reps` times in a row. Prompts completed per minute for each, and the ratio.
 */
import OpenAI from 'openai';
import { chatBody, MODEL } from '../fixtures.js';
import type { Harness } from '../harness.js';
import { type Plan, progress, type Row, type ScenarioResult } from '../model.js';
import { startPipeline, submitPrompts } from '../pipeline.js';
import { sleep, waitUntil } from '../procs.js';
import { fmt, round, summarize } from '../stats.js';
import { lineChart } from '../svg-chart.js';

const SIM_DEFAULTS = { validatingMs: 1000, linesPerSecond: 2000, finalizingMs: 1000 };
export const S6_ENV = {
  BATCH_MAX_WAIT_MS: '2000',
  POLL_INTERVAL_MS: '1000',
  POLL_MAX_INTERVAL_MS: '2000',
  WEBHOOK_CONCURRENCY: '64',
  WEBHOOK_HOST_CONCURRENCY: '64',
};

/** The direct client: returns the completion times (ms since `t0`). */
async function directClient(
  baseURL: string,
  seconds: number,
  t0: number,
): Promise<{ done: number[]; rateLimited: number }> {
  const client = new OpenAI({ baseURL, apiKey: 'sk-direct', maxRetries: 0 });
  const deadline = t0 + seconds * 1000;
  const done: number[] = [];
  let rateLimited = 0;
  let i = 0;
  await Promise.all(
    Array.from({ length: 10 }, async () => {
      while (Date.now() < deadline) {
        const body = JSON.parse(chatBody(i++, 1024).json) as OpenAI.ChatCompletionCreateParamsNonStreaming;
        try {
          await client.chat.completions.create(
            { ...body, model: MODEL },
            { timeout: Math.max(1, deadline - Date.now()) },
          );
          if (Date.now() <= deadline) done.push(Date.now() - t0);
        } catch (err) {
          if (err instanceof OpenAI.RateLimitError) {
            rateLimited += 1;
            const ms = Number(
              err.headers?.get('retry-after-ms') ?? Number(err.headers?.get('retry-after') ?? 1) * 1000,
            );
            await sleep(Math.min(Math.max(ms, 50), Math.max(0, deadline - Date.now())));
          } else if (Date.now() < deadline) {
            throw err;
          }
        }
      }
    }),
  );
  return { done, rateLimited };
}

export async function runS6(h: Harness, plan: Plan): Promise<ScenarioResult> {
  const p = plan.s6;
  const pipe = await startPipeline(
    h,
    {
      SIM_CHAT_RPM: '60',
      SIM_CHAT_CONCURRENCY: '10',
      SIM_VALIDATING_MS: String(SIM_DEFAULTS.validatingMs),
      SIM_LINES_PER_SECOND: String(SIM_DEFAULTS.linesPerSecond),
      SIM_FINALIZING_MS: String(SIM_DEFAULTS.finalizingMs),
    },
    S6_ENV,
  );
  const runs: Array<{ perMin: number; seconds: number; curve: number[] }> = [];
  let direct: { done: number[]; rateLimited: number };
  try {
    const t0 = Date.now();
    const directRun = directClient(pipe.sim.url, p.directS, t0);
    let delivered = 0;
    for (let rep = 1; rep <= p.reps; rep++) {
      const start = Date.now();
      await submitPrompts(pipe.ingest.url, pipe.receiver.url, p.prompts, 32, 'S6');
      await waitUntil(
        'every webhook',
        async () => ((await pipe.receiver.stats()).count >= delivered + p.prompts ? true : undefined),
        { timeoutMs: 900_000, everyMs: 100, children: [...pipe.services.map((s) => s.child), pipe.sim.child] },
      );
      delivered += p.prompts;
      const arrivals = Object.values(await pipe.receiver.arrivals())
        .filter((t) => t >= start)
        .sort((a, b) => a - b);
      const seconds = ((arrivals[arrivals.length - 1] ?? start) - start) / 1000;
      runs.push({ perMin: (p.prompts / seconds) * 60, seconds, curve: arrivals.map((t) => t - start) });
      progress(
        'S6',
        `batchbridge run ${rep}/${p.reps}: ${p.prompts} prompts completed in ${seconds.toFixed(1)} s = ${Math.round((p.prompts / seconds) * 60)}/min`,
      );
    }
    progress('S6', `waiting for the direct client's ${p.directS} s to end`);
    direct = await directRun;
  } finally {
    await pipe.stop();
  }
  const directPerMin = (direct.done.length / p.directS) * 60;
  progress(
    'S6',
    `direct client: ${direct.done.length} prompts in ${p.directS} s = ${directPerMin.toFixed(1)}/min (${direct.rateLimited} answered 429)`,
  );
  const bb = summarize(runs.map((r) => r.perMin));
  const ratio = bb.median / Math.max(directPerMin, 1e-9);
  const rows: Row[] = [
    {
      metric: 'prompts completed per minute',
      value: fmt(bb),
      baseline: `${directPerMin.toFixed(1)} (direct realtime)`,
      ratio: `${Math.round(ratio).toLocaleString('en-US')}×`,
      target: '≥ 100×',
      met: ratio >= 100,
    },
    {
      metric: `time for ${p.prompts.toLocaleString('en-US')} prompts, s`,
      value: fmt(summarize(runs.map((r) => r.seconds)), 1),
    },
  ];

  // Cumulative completions against time, both clients on the same axis (the first batchbridge run).
  const first = runs[0]?.curve ?? [];
  const cum = (times: number[], horizonS: number) => {
    const pts: Array<{ x: number; y: number }> = [{ x: 0, y: 0 }];
    const step = Math.max(1, Math.floor(times.length / 200));
    for (let i = step - 1; i < times.length; i += step) pts.push({ x: (times[i] as number) / 1000, y: i + 1 });
    pts.push({ x: horizonS, y: times.length });
    return pts;
  };
  const horizon = p.directS;
  const chart = lineChart({
    title: 'S6: prompts completed over time (realtime tier: 60/min, 10 concurrent)',
    xLabel: 'seconds since start',
    yLabel: 'prompts completed',
    series: [
      {
        name: `batchbridge (${p.prompts.toLocaleString('en-US')} prompts)`,
        points: cum(first, horizon),
        noMarkers: true,
      },
      { name: 'direct realtime client (openai SDK, 10 in flight)', points: cum(direct.done, horizon), noMarkers: true },
    ],
  });
  const chartLog = lineChart({
    title: 'S6 (log scale): the direct client is still visible',
    xLabel: 'seconds since start',
    yLabel: 'prompts completed',
    logY: true,
    series: [
      { name: 'batchbridge', points: cum(first, horizon).filter((pt) => pt.y > 0), noMarkers: true },
      { name: 'direct realtime client', points: cum(direct.done, horizon).filter((pt) => pt.y > 0), noMarkers: true },
    ],
  });

  return {
    id: 'S6',
    title: 'S6 the headline: throughput under provider limits',
    rows,
    json: {
      prompts: p.prompts,
      runs: p.reps,
      batchbridge_prompts_per_min: round(bb.median, 0),
      batchbridge_prompts_per_min_min: round(bb.min, 0),
      batchbridge_prompts_per_min_max: round(bb.max, 0),
      batchbridge_seconds: round(summarize(runs.map((r) => r.seconds)).median, 1),
      direct_prompts_per_min: round(directPerMin, 1),
      direct_prompts_completed: direct.done.length,
      direct_run_s: p.directS,
      direct_rate_limited_429: direct.rateLimited,
      ratio: round(ratio, 0),
      simulator: {
        realtime_requests_per_min: 60,
        realtime_max_concurrent: 10,
        batch_validating_ms: SIM_DEFAULTS.validatingMs,
        batch_lines_per_s: SIM_DEFAULTS.linesPerSecond,
        batch_finalizing_ms: SIM_DEFAULTS.finalizingMs,
      },
      settings: S6_ENV,
      targets: { ratio_min: 100, met: ratio >= 100 },
    },
    notes: [
      'The simulator limits realtime `chat.completions` to 60 requests a minute and 10 in flight (a standard tier), ' +
        `and runs batches at its **default timings: validating ${SIM_DEFAULTS.validatingMs} ms, ${SIM_DEFAULTS.linesPerSecond} lines/s, ` +
        `finalizing ${SIM_DEFAULTS.finalizingMs} ms**. Real providers take minutes to hours per batch; the ratio here says what the ` +
        'plumbing allows, not what a given provider promises.',
      `Direct client: the \`openai\` SDK, 10 requests in flight, each 429 waited out for its Retry-After, for a fixed ${p.directS} s ` +
        `(its rate is flat: the limit decides it). It completed ${direct.done.length} prompts and was answered 429 ` +
        `${direct.rateLimited} times.` +
        (p.directS < 120
          ? ' In a run this short the one-minute window lets an initial burst of 60 through, which flatters the direct ' +
            'client (and so understates the ratio); the full run uses 2 minutes.'
          : ''),
      `batchbridge: ${p.prompts.toLocaleString('en-US')} prompts POSTed to the ingest API (32 in flight), ${p.reps} run${p.reps > 1 ? 's' : ''} in a ` +
        'row while the direct client runs; rate = prompts ÷ (last webhook − first POST). Every service in its own ' +
        `process; settings ${Object.entries(S6_ENV)
          .map(([k, v]) => `\`${k}=${v}\``)
          .join(', ')} (the default ` +
        '`BATCH_MAX_WAIT_MS` of 60 s would add up to a minute of waiting before a partly filled batch goes out).',
    ],
    charts: [
      {
        file: 'bench-s6-throughput.svg',
        svg: chart,
        alt: 'S6 prompts completed over time, batchbridge and the direct client',
      },
      { file: 'bench-s6-throughput-log.svg', svg: chartLog, alt: 'S6 prompts completed over time, log scale' },
    ],
  };
}
