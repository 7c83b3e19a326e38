/**
 * S8 deadlines and lanes (SPEC §10): `count` prompts with deadlines drawn log-uniformly from 10 s to 1 h against the
 * simulator with slow batches (each stays `validating` for a minute: time scaled so that the full run stays near 3 min), through every service in its own process.
 * The scheduler puts each on the cheapest lane expected to meet its deadline (batch, flex at batch price, realtime);
 * the realtime/flex budget is 32 calls in flight across the services, and 5 % of flex calls are answered 429
 * `resource_unavailable`; half the prompts ask gpt-5-mini (flex at OpenAI), half gpt-4o-mini (no flex). Figures: share of deadlines met, share of requests answered at batch price (batch or
 * flex), and cost against the baseline — the same workload in the same run from a tenant limited to realtime.
 * Cost counts a request at 1 on realtime and 0.5 on batch or flex (OpenAI's batch and flex discount; same tokens).
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import { BENCH_TENANT, chatBody } from '../fixtures.js';
import type { Harness } from '../harness.js';
import { type Plan, progress, type Row, type ScenarioResult } from '../model.js';
import { startPipeline } from '../pipeline.js';
import { waitUntil } from '../procs.js';
import { round } from '../stats.js';

const REALTIME_TENANT = {
  ...BENCH_TENANT,
  id: 'bench-realtime',
  api_keys: ['bb_bench_realtime_key_0123456789'],
  lanes: ['realtime' as const],
};

export const S8_SIM = {
  SIM_VALIDATING_MS: '60000',
  SIM_LINES_PER_SECOND: '0',
  SIM_FINALIZING_MS: '0',
  SIM_FLEX_UNAVAILABLE_FRACTION: '0.05',
};
export const S8_ENV = {
  BATCH_MAX_WAIT_MS: '5000',
  POLL_INTERVAL_MS: '1000',
  POLL_MAX_INTERVAL_MS: '2000',
  BATCH_TURNAROUND: '80s',
  DEADLINE_MARGIN: '10s',
  REALTIME_CONCURRENCY: '32',
};
const CONCURRENCY = 32;
const MET_TARGET = 0.99;

interface Shot {
  met: number;
  lanes: Record<string, number>;
  /** Deadlines missed, by the lane that answered. */
  missed: Record<string, number>;
  cost: number;
  submitS: number;
  allDoneS: number;
}

/** Half the prompts ask gpt-4o-mini (no flex tier at OpenAI), half gpt-5-mini (which has one). */
const FLEX_MODEL = 'gpt-5-mini';
function s8Body(i: number): string {
  const body = JSON.parse(chatBody(i, 1024).json) as { model: string };
  if (i % 2 === 1) body.model = FLEX_MODEL;
  return JSON.stringify(body);
}

/** Deadline i of the workload, seconds: log-uniform in [10, 3600], the same for both runs. */
function deadlineS(i: number): number {
  const u = ((i * 2654435761) >>> 0) / 2 ** 32;
  return Math.round(10 * 360 ** u);
}

async function runOnce(h: Harness, n: number, apiKey: string, label: string): Promise<Shot> {
  const pipe = await startPipeline(h, S8_SIM, S8_ENV);
  try {
    const agent = new Agent({ connections: CONCURRENCY });
    const ids: string[] = [];
    const t0 = Date.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < n) {
          const i = next++;
          for (let attempt = 0; ; attempt++) {
            const res = await request(`${pipe.ingest.url}/v1/chat/completions`, {
              method: 'POST',
              dispatcher: agent,
              headers: {
                'content-type': 'application/json',
                authorization: `Bearer ${apiKey}`,
                'x-callback-url': pipe.receiver.url,
                'x-deadline': String(deadlineS(i)),
                'idempotency-key': randomUUID(),
              },
              body: s8Body(i),
            });
            const text = await res.body.text();
            if (res.statusCode === 202) {
              ids.push((JSON.parse(text) as { id: string }).id);
              break;
            }
            if (attempt > 20) throw new Error(`S8: ingest refused a prompt: ${res.statusCode} ${text}`);
            await new Promise((r) => setTimeout(r, 100));
          }
        }
      }),
    );
    await agent.close();
    const submitS = (Date.now() - t0) / 1000;
    progress('S8', `${label}: ${n} accepted in ${submitS.toFixed(1)} s; waiting for every outcome`);
    await waitUntil('every webhook', async () => ((await pipe.receiver.stats()).count >= n ? true : undefined), {
      timeoutMs: 900_000,
      everyMs: 500,
      children: [...pipe.services.map((s) => s.child), pipe.sim.child],
    });
    const allDoneS = (Date.now() - t0) / 1000;
    const rt = await h.runtime(pipe.prefix);
    let met = 0;
    let cost = 0;
    const lanes: Record<string, number> = {};
    const missed: Record<string, number> = {};
    for (const id of ids) {
      const r = await rt.store.requests.get(id);
      const lane = r?.lane ?? 'batch';
      lanes[lane] = (lanes[lane] ?? 0) + 1;
      if (r?.deadline_met) met += 1;
      else missed[lane] = (missed[lane] ?? 0) + 1;
      cost += lane === 'realtime' ? 1 : 0.5;
    }
    progress(
      'S8',
      `${label}: met ${met}/${n}; lanes ${JSON.stringify(lanes)}; missed by lane ${JSON.stringify(missed)}; ` +
        `all done after ${allDoneS.toFixed(0)} s`,
    );
    return { met: met / n, lanes, missed, cost, submitS, allDoneS };
  } finally {
    await pipe.stop();
  }
}

export async function runS8(h: Harness, plan: Plan): Promise<ScenarioResult> {
  const n = plan.s8.count;
  // The baseline tenant beside the bench tenant: the services read the file when they start.
  writeFileSync(h.tenantsFile, JSON.stringify({ tenants: [BENCH_TENANT, REALTIME_TENANT] }));
  const mixed = await runOnce(h, n, BENCH_TENANT.api_keys[0] as string, 'lanes');
  await h.flush();
  const base = await runOnce(h, n, REALTIME_TENANT.api_keys[0] as string, 'all realtime');
  const atBatchPrice = ((mixed.lanes.batch ?? 0) + (mixed.lanes.flex ?? 0)) / n;
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  const rows: Row[] = [
    {
      metric: `deadlines met (${n.toLocaleString('en-US')} prompts, 10 s – 1 h)`,
      value: pct(mixed.met),
      baseline: pct(base.met),
      target: `≥ ${pct(MET_TARGET)}`,
      met: mixed.met >= MET_TARGET,
    },
    { metric: 'answered at batch price (batch or flex)', value: pct(atBatchPrice), baseline: pct(0) },
    {
      metric: 'cost vs all-realtime (same workload)',
      value: `${round(mixed.cost, 1)}`,
      baseline: `${round(base.cost, 1)}`,
      ratio: `${((mixed.cost / base.cost) * 100).toFixed(0)} %`,
    },
  ];
  return {
    id: 'S8',
    title: 'S8 deadlines and lanes',
    rows,
    json: {
      requests: n,
      deadlines_met: round(mixed.met, 4),
      deadlines_met_all_realtime: round(base.met, 4),
      lanes: mixed.lanes,
      missed_by_lane: mixed.missed,
      missed_by_lane_all_realtime: base.missed,
      submit_s: round(mixed.submitS, 1),
      submit_s_all_realtime: round(base.submitS, 1),
      at_batch_price: round(atBatchPrice, 4),
      cost_units: mixed.cost,
      cost_units_all_realtime: base.cost,
      all_done_s: round(mixed.allDoneS, 1),
      settings: { ...S8_SIM, ...S8_ENV },
    },
    notes: [
      `${n.toLocaleString('en-US')} prompts (1 KB; half gpt-4o-mini, which has no flex tier, half gpt-5-mini) with deadlines drawn log-uniformly from 10 s to 1 h are POSTed ` +
        `(${CONCURRENCY} in flight) with \`X-Deadline\`; every service runs in its own process, the simulator with slow ` +
        'batches (a minute in `validating`) and 5 % of flex calls answered 429 `resource_unavailable`. ' +
        `Settings: ${Object.entries({ ...S8_SIM, ...S8_ENV })
          .map(([k, v]) => `\`${k}=${v}\``)
          .join(', ')}. ` +
        `Lanes taken: ${Object.entries(mixed.lanes)
          .map(([lane, c]) => `${lane} ${c}`)
          .join(', ')}; deadlines missed by lane: ${
          Object.entries(mixed.missed)
            .map(([lane, c]) => `${lane} ${c}`)
            .join(', ') || 'none'
        } (baseline: ${
          Object.entries(base.missed)
            .map(([lane, c]) => `${lane} ${c}`)
            .join(', ') || 'none'
        }). The baseline is the same workload from a tenant limited to the realtime lane, in the same run. ` +
        'Cost: 1 per realtime request, 0.5 per batch or flex request (the same tokens at half price).',
    ],
    charts: [],
  };
}
