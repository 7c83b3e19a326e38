/**
 * S5 end to end: `count` prompts through every service (each its own process) with the simulator at zero timings:
 * time from the last 202 to the last webhook, and per-request overhead = webhook arrival − 202, p50/p99. The overhead
 * includes waiting for the flush (`BATCH_MAX_WAIT_MS`) and the poll interval, which the settings below keep small.
 */
import type { Harness } from '../harness.js';
import { type Plan, progress, type Row, type ScenarioResult } from '../model.js';
import { startPipeline, submitPrompts } from '../pipeline.js';
import { waitUntil } from '../procs.js';
import { fmt, percentile, round, summarize } from '../stats.js';

export const S5_ENV = {
  BATCH_MAX_WAIT_MS: '500',
  POLL_INTERVAL_MS: '100',
  POLL_MAX_INTERVAL_MS: '500',
  WEBHOOK_CONCURRENCY: '64',
  WEBHOOK_HOST_CONCURRENCY: '64',
};

interface Shot {
  tailS: number;
  p50: number;
  p99: number;
  acceptS: number;
  rssPeakMb: Record<string, number>;
}

export async function runS5(h: Harness, plan: Plan): Promise<ScenarioResult> {
  const n = plan.s5.count;
  const shots: Shot[] = [];
  for (let rep = 1; rep <= plan.reps; rep++) {
    const pipe = await startPipeline(
      h,
      { SIM_VALIDATING_MS: '0', SIM_LINES_PER_SECOND: '0', SIM_FINALIZING_MS: '0' },
      S5_ENV,
    );
    try {
      const t0 = Date.now();
      const accepted = await submitPrompts(pipe.ingest.url, pipe.receiver.url, n, plan.s5.clientConcurrency, 'S5');
      const lastAccept = Math.max(...accepted.values());
      await waitUntil('every webhook', async () => ((await pipe.receiver.stats()).count >= n ? true : undefined), {
        timeoutMs: 600_000,
        everyMs: 50,
        children: [...pipe.services.map((s) => s.child), pipe.sim.child],
      });
      const arrivals = await pipe.receiver.arrivals();
      const overhead: number[] = [];
      let lastArrival = 0;
      for (const [id, at] of accepted) {
        const got = arrivals[id];
        if (got === undefined) throw new Error(`S5: no webhook for ${id}`);
        overhead.push(got - at);
        lastArrival = Math.max(lastArrival, got);
      }
      const rssPeakMb = Object.fromEntries(pipe.services.map((s) => [s.child.name, round(s.child.rss.peak(t0))]));
      const shot = {
        tailS: (lastArrival - lastAccept) / 1000,
        p50: percentile(overhead, 50),
        p99: percentile(overhead, 99),
        acceptS: (lastAccept - t0) / 1000,
        rssPeakMb,
      };
      shots.push(shot);
      progress(
        'S5',
        `rep ${rep}/${plan.reps}: ${n} accepted in ${shot.acceptS.toFixed(1)} s; last accept → last webhook ${shot.tailS.toFixed(2)} s; overhead p50 ${shot.p50} ms, p99 ${shot.p99} ms`,
      );
    } finally {
      await pipe.stop();
    }
  }
  const tail = summarize(shots.map((s) => s.tailS));
  const p50 = summarize(shots.map((s) => s.p50));
  const p99 = summarize(shots.map((s) => s.p99));
  const rows: Row[] = [
    { metric: `last accept → last webhook, s (${n.toLocaleString('en-US')} prompts)`, value: fmt(tail, 2) },
    { metric: 'per-request overhead p50 ms', value: fmt(p50) },
    { metric: 'per-request overhead p99 ms', value: fmt(p99) },
  ];
  return {
    id: 'S5',
    title: 'S5 end to end',
    rows,
    json: {
      requests: n,
      runs: plan.reps,
      last_accept_to_last_delivery_s: round(tail.median, 2),
      last_accept_to_last_delivery_s_min: round(tail.min, 2),
      last_accept_to_last_delivery_s_max: round(tail.max, 2),
      overhead_p50_ms: p50.median,
      overhead_p99_ms: p99.median,
      overhead_p99_ms_min: p99.min,
      overhead_p99_ms_max: p99.max,
      submit_s: round(summarize(shots.map((s) => s.acceptS)).median, 2),
      rss_peak_mb: shots[0]?.rssPeakMb,
      settings: S5_ENV,
    },
    notes: [
      `${n.toLocaleString('en-US')} prompts (1 KB) are POSTed by the benchmark process (${plan.s5.clientConcurrency} in flight) to ` +
        'the ingest API; packer, poller and dispatcher each run in their own process, the simulator in another with zero ' +
        'timings (validation, processing and finalizing as fast as it can), the recording receiver in another. ' +
        `Settings: ${Object.entries(S5_ENV)
          .map(([k, v]) => `\`${k}=${v}\``)
          .join(', ')}. ` +
        'Per-request overhead = webhook arrival at the receiver − 202 at the client; it includes the wait for the flush ' +
        'and the poll interval, i.e. what batching itself costs in latency when the provider is instant.',
    ],
    charts: [],
  };
}
