/**
 * S1 ingest: 2 KB chat bodies POSTed to the ingest API (its own process, no packer running so nothing is flushed),
 * closed-loop at the maximum and open-loop at fixed offered rates, beside a bare `node:http` + one `RPUSH` baseline
 * measured the same way in the same run. Redis is emptied before every measured run.
 */

import { freePort } from '@batchbridge/redis';
import autocannon from 'autocannon';
import { BENCH_API_KEY, chatBody } from '../fixtures.js';
import type { Harness } from '../harness.js';
import { type Plan, progress, type Row, type ScenarioResult } from '../model.js';
import { type Child, spawnTs, waitHttpOk } from '../procs.js';
import { fmt, round, type Summary, summarize } from '../stats.js';
import { lineChart } from '../svg-chart.js';

export interface Shot {
  acceptedPerS: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  rssPeakMb: number;
}

export type Target = {
  name: 'batchbridge' | 'baseline';
  child: Child;
  url: string;
  path: string;
  headers: Record<string, string>;
};

export function cannon(
  target: Target,
  body: string,
  seconds: number,
  connections: number,
  rate?: number,
): Promise<autocannon.Result> {
  return autocannon({
    url: `${target.url}${target.path}`,
    method: 'POST',
    headers: target.headers,
    body,
    connections,
    duration: seconds,
    ...(rate ? { overallRate: rate } : {}),
  });
}

export async function shot(
  h: Harness,
  target: Target,
  body: string,
  seconds: number,
  connections: number,
  rate?: number,
): Promise<Shot> {
  await h.flush();
  const since = Date.now();
  const r = await cannon(target, body, seconds, connections, rate);
  return {
    acceptedPerS: r['2xx'] / r.duration,
    p50: r.latency.p50,
    p99: r.latency.p99,
    non2xx: r.non2xx,
    errors: r.errors,
    rssPeakMb: target.child.rss.peak(since),
  };
}

/**
 * Starts one side of S1 in its own process: the ingest API (`batchbridge`) or the bare `node:http` + `RPUSH` baseline,
 * each on a fresh key prefix. S11 measures the same two the same way.
 */
export async function startTarget(h: Harness, name: Target['name'], profile = false): Promise<Target> {
  const prefix = h.prefix('s1');
  if (name === 'batchbridge') {
    const svc = await h.startService('ingest-api', prefix, {}, { profile });
    return {
      name,
      child: svc.child,
      url: svc.url,
      path: '/v1/chat/completions',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${BENCH_API_KEY}`,
        'x-callback-url': 'http://127.0.0.1:9/hook',
      },
    };
  }
  const port = await freePort();
  const child = spawnTs('ingest-baseline', 'bench/src/children/ingest-baseline.ts', {
    env: { REDIS_URL: h.redisUrl, PORT: String(port), BASELINE_KEY: prefix },
  });
  const url = `http://127.0.0.1:${port}`;
  await waitHttpOk(child, `${url}/`);
  return { name, child, url, path: '/v1/chat/completions', headers: { 'content-type': 'application/json' } };
}

export async function runS1(h: Harness, plan: Plan): Promise<ScenarioResult> {
  const p = plan.s1;
  const body = chatBody(1, p.bodyBytes).json;
  const results: Record<'batchbridge' | 'baseline', { closed: Shot[]; open: Map<number, Shot[]> }> = {
    batchbridge: { closed: [], open: new Map() },
    baseline: { closed: [], open: new Map() },
  };
  for (let rep = 1; rep <= plan.reps; rep++) {
    for (const name of ['batchbridge', 'baseline'] as const) {
      const target = await startTarget(h, name, plan.profile && rep === 1);
      try {
        await cannon(target, body, p.warmupS, p.connections); // JIT warm-up, not recorded
        const closed = await shot(h, target, body, p.closedS, p.connections);
        results[name].closed.push(closed);
        progress(
          'S1',
          `rep ${rep}/${plan.reps} ${name} closed-loop: ${Math.round(closed.acceptedPerS)}/s, p99 ${closed.p99} ms`,
        );
        for (const rate of p.rates) {
          const open = await shot(h, target, body, p.openS, p.connections, rate);
          const list = results[name].open.get(rate) ?? [];
          list.push(open);
          results[name].open.set(rate, list);
          progress(
            'S1',
            `rep ${rep}/${plan.reps} ${name} open-loop ${rate}/s: ${Math.round(open.acceptedPerS)}/s, p50 ${open.p50} ms, p99 ${open.p99} ms`,
          );
        }
      } finally {
        await target.child.stop();
      }
    }
  }

  const s = (shots: Shot[], key: keyof Shot): Summary => summarize(shots.map((x) => x[key]));
  const bb = results.batchbridge;
  const base = results.baseline;
  const closedBb = s(bb.closed, 'acceptedPerS');
  const closedBase = s(base.closed, 'acceptedPerS');
  const ratio = closedBb.median / closedBase.median;
  const at1500 = bb.open.get(1500);
  const p99At1500 = at1500 ? s(at1500, 'p99') : undefined;
  const failures = [...bb.closed, ...[...bb.open.values()].flat()].reduce((n, x) => n + x.non2xx + x.errors, 0);

  const rows: Row[] = [
    {
      metric: 'closed-loop accepted/s',
      value: fmt(closedBb),
      baseline: fmt(closedBase),
      ratio: `${Math.round(ratio * 100)} %`,
      target: '≥ 3 000/s and ≥ 50 % of baseline',
      met: closedBb.median >= 3000 && ratio >= 0.5,
    },
    { metric: 'closed-loop p99 ms', value: fmt(s(bb.closed, 'p99')), baseline: fmt(s(base.closed, 'p99')) },
  ];
  if (p99At1500) {
    rows.push({
      metric: 'open-loop 1 500/s p99 ms',
      value: fmt(p99At1500),
      baseline: fmt(s(base.open.get(1500) ?? [], 'p99')),
      target: '≤ 50 ms',
      met: p99At1500.median <= 50,
    });
  }
  rows.push({
    metric: 'ingest RSS peak MB',
    value: fmt(s(bb.closed, 'rssPeakMb')),
    baseline: fmt(s(base.closed, 'rssPeakMb')),
  });

  const openJson = (which: typeof bb) =>
    Object.fromEntries(
      [...which.open.entries()].map(([rate, shots]) => [
        `offered_${rate}_per_s`,
        {
          accepted_per_s: round(s(shots, 'acceptedPerS').median, 0),
          p50_ms: s(shots, 'p50').median,
          p99_ms: s(shots, 'p99').median,
          p99_ms_min: s(shots, 'p99').min,
          p99_ms_max: s(shots, 'p99').max,
        },
      ]),
    );
  const json = {
    body_bytes: Buffer.byteLength(body),
    connections: p.connections,
    runs: plan.reps,
    closed_loop: {
      accepted_per_s: round(closedBb.median, 0),
      accepted_per_s_min: round(closedBb.min, 0),
      accepted_per_s_max: round(closedBb.max, 0),
      p50_ms: s(bb.closed, 'p50').median,
      p99_ms: s(bb.closed, 'p99').median,
      rss_peak_mb: round(s(bb.closed, 'rssPeakMb').median),
      non_2xx_or_errors: failures,
    },
    baseline_closed_loop: {
      accepted_per_s: round(closedBase.median, 0),
      accepted_per_s_min: round(closedBase.min, 0),
      accepted_per_s_max: round(closedBase.max, 0),
      p50_ms: s(base.closed, 'p50').median,
      p99_ms: s(base.closed, 'p99').median,
      rss_peak_mb: round(s(base.closed, 'rssPeakMb').median),
    },
    ratio_to_baseline: round(ratio, 2),
    open_loop: openJson(bb),
    baseline_open_loop: openJson(base),
    targets: {
      accepted_per_s_min: 3000,
      ratio_to_baseline_min: 0.5,
      p99_ms_at_1500_per_s_max: 50,
      met: rows.filter((r) => r.met !== undefined).every((r) => r.met),
    },
  };

  const series = (which: typeof bb, name: string) => ({
    name,
    points: [...which.open.entries()].map(([rate, shots]) => ({ x: rate, y: s(shots, 'p99').median })),
  });
  const series50 = (which: typeof bb, name: string) => ({
    name,
    points: [...which.open.entries()].map(([rate, shots]) => ({ x: rate, y: s(shots, 'p50').median })),
  });
  const chart = lineChart({
    title: 'S1 ingest: latency against offered rate (2 KB bodies, open loop)',
    xLabel: 'offered requests/s',
    yLabel: 'latency ms',
    series: [
      series(bb, 'batchbridge p99'),
      series50(bb, 'batchbridge p50'),
      series(base, 'baseline p99'),
      series50(base, 'baseline p50'),
    ],
    hLine: { y: 50, label: 'p99 target 50 ms' },
    logY: true,
  });

  return {
    id: 'S1',
    title: 'S1 ingest',
    rows,
    json,
    notes: [
      `Load: autocannon in the benchmark process, ${p.connections} connections, ${Buffer.byteLength(body)}-byte chat bodies, ` +
        `closed loop ${p.closedS} s after a ${p.warmupS} s warm-up, open loop ${p.openS} s per offered rate ` +
        '(autocannon `overallRate`, latency corrected for coordinated omission). The ingest API runs alone in its own ' +
        'process (no packer: nothing is flushed); Redis is emptied before every measured run.',
      'Baseline: bare `node:http`, body read, one `RPUSH` per request, 202 — no auth, validation, idempotency, quota or ' +
        'request record; same Redis, same load generator.',
      `Requests not answered 2xx by batchbridge over all runs: ${failures}.`,
    ],
    charts: [{ file: 'bench-s1-latency.svg', svg: chart, alt: 'S1 latency against offered rate' }],
  };
}
