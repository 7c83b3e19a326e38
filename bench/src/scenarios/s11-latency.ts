/**
 * S11 added latency of intake, TensorZero-style: the same open-loop load (autocannon `overallRate`, 2 KB chat bodies)
 * at fixed offered rates against the ingest API and against S1's bare `node:http` + `RPUSH` baseline, each alone in its
 * own process on the same private Redis; added latency = batchbridge's percentile − the baseline's, per rate. The
 * targets and processes are S1's (`startTarget`, `shot`); only the rates and the table differ.
 */
import { chatBody } from '../fixtures.js';
import type { Harness } from '../harness.js';
import { type Plan, progress, type Row, type ScenarioResult } from '../model.js';
import { round, summarize } from '../stats.js';
import { lineChart } from '../svg-chart.js';
import { cannon, type Shot, shot, startTarget } from './s1-ingest.js';

type Side = 'batchbridge' | 'baseline';

const signed = (v: number) => (v >= 0 ? `+${round(v, 1)}` : `−${round(-v, 1)}`);

export async function runS11(h: Harness, plan: Plan): Promise<ScenarioResult> {
  const p = plan.s11;
  const connections = plan.s1.connections;
  const body = chatBody(1, plan.s1.bodyBytes).json;
  const shots: Record<Side, Map<number, Shot[]>> = { batchbridge: new Map(), baseline: new Map() };
  for (let rep = 1; rep <= p.reps; rep++) {
    for (const name of ['batchbridge', 'baseline'] as const) {
      const target = await startTarget(h, name);
      try {
        await cannon(target, body, p.warmupS, connections); // JIT warm-up, not recorded
        for (const rate of p.rates) {
          const s = await shot(h, target, body, p.seconds, connections, rate);
          shots[name].set(rate, [...(shots[name].get(rate) ?? []), s]);
          progress(
            'S11',
            `rep ${rep}/${p.reps} ${name} ${rate}/s offered: ${Math.round(s.acceptedPerS)}/s accepted, p50 ${s.p50} ms, p99 ${s.p99} ms`,
          );
        }
      } finally {
        await target.child.stop();
      }
    }
  }

  const med = (side: Side, rate: number, key: keyof Shot) =>
    summarize((shots[side].get(rate) ?? []).map((x) => x[key])).median;
  const table = p.rates.map((rate) => {
    const bb = { p50: med('batchbridge', rate, 'p50'), p99: med('batchbridge', rate, 'p99') };
    const base = { p50: med('baseline', rate, 'p50'), p99: med('baseline', rate, 'p99') };
    return {
      rate,
      accepted: med('batchbridge', rate, 'acceptedPerS'),
      baseAccepted: med('baseline', rate, 'acceptedPerS'),
      failures: (shots.batchbridge.get(rate) ?? []).reduce((n, x) => n + x.non2xx + x.errors, 0),
      bb,
      base,
      added: { p50: bb.p50 - base.p50, p99: bb.p99 - base.p99 },
    };
  });
  const rows: Row[] = table.flatMap((t) => [
    {
      metric: `${t.rate.toLocaleString('en-US')}/s offered: p50 / p99 ms`,
      value: `${t.bb.p50} / ${t.bb.p99}`,
      baseline: `${t.base.p50} / ${t.base.p99}`,
      ratio: `${signed(t.added.p50)} / ${signed(t.added.p99)} ms added`,
    },
  ]);
  const json = {
    body_bytes: Buffer.byteLength(body),
    connections,
    seconds_per_rate: p.seconds,
    runs: p.reps,
    rates: Object.fromEntries(
      table.map((t) => [
        `offered_${t.rate}_per_s`,
        {
          accepted_per_s: Math.round(t.accepted),
          baseline_accepted_per_s: Math.round(t.baseAccepted),
          non_2xx_or_errors: t.failures,
          p50_ms: t.bb.p50,
          p99_ms: t.bb.p99,
          baseline_p50_ms: t.base.p50,
          baseline_p99_ms: t.base.p99,
          added_p50_ms: round(t.added.p50, 1),
          added_p99_ms: round(t.added.p99, 1),
        },
      ]),
    ),
  };
  const chart = lineChart({
    title: 'S11 intake: latency added over the bare baseline (2 KB bodies, open loop)',
    xLabel: 'offered requests/s',
    yLabel: 'added latency ms',
    series: [
      { name: 'added p50', points: table.map((t) => ({ x: t.rate, y: t.added.p50 })) },
      { name: 'added p99', points: table.map((t) => ({ x: t.rate, y: t.added.p99 })) },
    ],
  });
  return {
    id: 'S11',
    title: 'S11 intake added latency',
    rows,
    json,
    notes: [
      `Open loop at ${p.rates.map((r) => r.toLocaleString('en-US')).join(', ')} requests/s offered (autocannon ` +
        `\`overallRate\`, ${connections} connections, ${Buffer.byteLength(body)}-byte chat bodies, ${p.seconds} s per ` +
        `rate after a ${p.warmupS} s warm-up, ${p.reps} run${p.reps > 1 ? 's' : ''}, median shown), against the ingest ` +
        "API and against S1's baseline (bare `node:http`, one `RPUSH`, 202), each alone in its own process; Redis " +
        'emptied before every measured run. Added latency = batchbridge − baseline at the same percentile and rate, ' +
        "as TensorZero reports its gateway's overhead. autocannon measures in whole milliseconds.",
      [
        '| offered/s | accepted/s | p50 ms | p99 ms | baseline p50 ms | baseline p99 ms | added p50 ms | added p99 ms |',
        '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
        ...table.map(
          (t) =>
            `| ${t.rate.toLocaleString('en-US')} | ${Math.round(t.accepted).toLocaleString('en-US')} | ${t.bb.p50} | ` +
            `${t.bb.p99} | ${t.base.p50} | ${t.base.p99} | ${signed(t.added.p50)} | ${signed(t.added.p99)} |`,
        ),
      ].join('\n'),
      `What limits it: ${table
        .map((t) => {
          const kept = t.accepted / t.rate;
          return kept < 0.95
            ? `at ${t.rate.toLocaleString('en-US')}/s batchbridge accepted only ${Math.round(t.accepted).toLocaleString('en-US')}/s (${Math.round(kept * 100)} %): the offered rate is past what the ingest process gets of the CPU, and its latency is queueing`
            : `at ${t.rate.toLocaleString('en-US')}/s it kept up (${Math.round(kept * 100)} % accepted)`;
        })
        .join('; ')}. The ingest process, the baseline, autocannon and Redis share this machine's 2 cores (S1's ` +
        'closed-loop maximum is the ceiling), so the added latency is the extra CPU per request (auth, validation, ' +
        'the enqueue-many script and its bookkeeping) turned into waiting once the cores are busy. Non-2xx or errors ' +
        `from batchbridge: ${table.map((t) => `${t.failures} at ${t.rate.toLocaleString('en-US')}/s`).join(', ')}.`,
    ],
    charts: [{ file: 'bench-s11-added-latency.svg', svg: chart, alt: 'S11 added latency against offered rate' }],
  };
}
