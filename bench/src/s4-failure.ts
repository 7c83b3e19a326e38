/**
 * S4 under failure (issue 24, SPEC §16): the dispatcher alone in its own process (the service bundle) delivers a
 * backlog of outcomes spread evenly over 20 receiver hosts, of which 2 (10 %) answer 500 to everything and 1 (5 %)
 * never answers (the attempt times out after WEBHOOK_TIMEOUT_MS). Measured at the 17 healthy hosts: webhooks/s (first
 * to last arrival) and the latency from each outcome (its `completed_at`) to its first successful delivery, p50/p99.
 * Baseline, in the same run and alternated with it: the same backlog with every host healthy.
 *
 *   pnpm --filter @batchbridge/bench exec tsx src/s4-failure.ts [--outcomes 10000] [--runs 2]
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { groupFor, newFlushId, newRequestId } from '@batchbridge/domain';
import type { Runtime } from '@batchbridge/runtime';
import { buildBundles } from '../../infra/build/bundle.mjs';
import { BENCH_TENANT, MODEL } from './fixtures.js';
import { Harness } from './harness.js';
import { stopAll, waitUntil } from './procs.js';
import { fmt, percentile, summarize } from './stats.js';

const argv = process.argv.slice(2);
const arg = (name: string, fallback: number) => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
const OUTCOMES = arg('--outcomes', 10_000);
const RUNS = arg('--runs', 2);
const HOSTS = 20;
const FAILING_500 = 2;
const HANGING = 1;
const TIMEOUT_MS = 15_000;
const GROUP = groupFor('/v1/chat/completions', MODEL, false);

type Mode = 'healthy' | 'failing';
interface Host {
  server: Server;
  url: string;
  kind: 'ok' | '500' | 'hang';
  arrivals: Map<string, number>;
  hits: number;
}

async function startHost(kind: Host['kind']): Promise<Host> {
  const host: Host = { server: createServer(), url: '', kind, arrivals: new Map(), hits: 0 };
  host.server.on('request', (req, res) => {
    req.resume();
    req.on('end', () => {
      host.hits += 1;
      if (host.kind === 'hang') return; // never answers: the dispatcher's attempt times out
      if (host.kind === '500') {
        res.writeHead(500, { 'content-length': '0' });
        res.end();
        return;
      }
      const id = String(req.headers['webhook-id'] ?? '').replace(/^msg_/, '');
      if (id && !host.arrivals.has(id)) host.arrivals.set(id, Date.now());
      res.writeHead(200, { 'content-length': '2' });
      res.end('ok');
    });
  });
  host.server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => host.server.listen(0, '127.0.0.1', resolve));
  host.url = `http://127.0.0.1:${(host.server.address() as AddressInfo).port}/hook`;
  return host;
}

/** `count` finished outcomes, round-robin over the hosts; answers each id's completion time (ms). */
async function makeOutcomes(rt: Runtime, hosts: Host[], count: number): Promise<Map<string, number>> {
  const { store } = rt;
  const ids: string[] = [];
  for (let start = 0; start < count; start += 1_000) {
    const jobs: Array<Promise<unknown>> = [];
    for (let i = start; i < Math.min(count, start + 1_000); i++) {
      const id = newRequestId(0);
      const body = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: `question ${i}` }] });
      ids.push(id);
      jobs.push(
        store.requests.enqueue(
          {
            id,
            partition: 0,
            tenant: BENCH_TENANT.id,
            model: MODEL,
            group: GROUP,
            body,
            bytes: body.length + 100,
            tokens: 8,
            callbackUrl: (hosts[i % hosts.length] as Host).url,
          },
          {},
        ),
      );
    }
    await Promise.all(jobs);
  }
  const flushId = newFlushId();
  const limits = { maxRequests: count, maxBytes: 1e12, maxTokens: 1e12, maxWaitMs: 0 };
  const claim = await store.flushes.claim(0, GROUP, flushId, limits, true);
  if (!claim.claimed) throw new Error('claim failed');
  await rt.redis.zrem(rt.keys.partitionKeys(0).outbox, claim.outbox);
  const flush = await store.flushes.get(0, flushId);
  if (!flush) throw new Error('flush missing');
  const batchId = `batch_${flushId}`;
  await store.flushes.recordSubmission(0, flush, batchId, `file_${flushId}`);
  const outbox: string[] = [];
  for (let start = 0; start < ids.length; start += 1_000) {
    const slice = ids.slice(start, start + 1_000);
    const settled = await store.requests.settle(
      0,
      batchId,
      slice.map((id) => ({ id, kind: 'completed' as const, response: { status_code: 200, body: { id } } })),
    );
    outbox.push(...settled.outbox);
  }
  for (let start = 0; start < outbox.length; start += 1_000) {
    await rt.relay.relay(0, outbox.slice(start, start + 1_000));
  }
  const completed = new Map<string, number>();
  const pipeline = rt.redis.pipeline();
  for (const id of ids) pipeline.hget(rt.keys.partitionKeys(0).req(id), 'completed_at');
  const replies = (await pipeline.exec()) ?? [];
  ids.forEach((id, i) => {
    completed.set(id, Number(replies[i]?.[1]));
  });
  return completed;
}

interface Shot {
  perS: number;
  p50: number;
  p99: number;
  healthy: number;
  failingHits: number;
}

async function once(h: Harness, mode: Mode): Promise<Shot> {
  await h.flush();
  const kinds: Host['kind'][] = Array.from({ length: HOSTS }, (_, i) =>
    mode === 'healthy' ? 'ok' : i < FAILING_500 ? '500' : i < FAILING_500 + HANGING ? 'hang' : 'ok',
  );
  const hosts = await Promise.all(kinds.map(startHost));
  const prefix = h.prefix('s4f');
  const rt = await h.runtime(prefix);
  try {
    const completed = await makeOutcomes(rt, hosts, OUTCOMES);
    const healthyHosts = hosts.filter((x) => x.kind === 'ok');
    const wanted = [...completed.keys()].filter((_, i) => (hosts[i % HOSTS] as Host).kind === 'ok').length;
    const dispatcher = await h.startService('dispatcher', prefix, {
      WEBHOOK_CONCURRENCY: '64',
      WEBHOOK_TIMEOUT_MS: String(TIMEOUT_MS),
    });
    try {
      await waitUntil(
        'every healthy outcome delivered',
        async () => (healthyHosts.reduce((n, x) => n + x.arrivals.size, 0) >= wanted ? true : undefined),
        { timeoutMs: 600_000, everyMs: 50, children: [dispatcher.child] },
      );
    } finally {
      await dispatcher.child.stop();
    }
    const latencies: number[] = [];
    let first = Number.POSITIVE_INFINITY;
    let last = 0;
    for (const host of healthyHosts) {
      for (const [id, at] of host.arrivals) {
        latencies.push(at - (completed.get(id) ?? at));
        first = Math.min(first, at);
        last = Math.max(last, at);
      }
    }
    return {
      perS: latencies.length / Math.max(0.001, (last - first) / 1000),
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      healthy: latencies.length,
      failingHits: hosts.filter((x) => x.kind !== 'ok').reduce((n, x) => n + x.hits, 0),
    };
  } finally {
    for (const host of hosts) host.server.closeAllConnections();
    await Promise.all(hosts.map((x) => new Promise((resolve) => x.server.close(resolve))));
  }
}

async function main(): Promise<void> {
  await buildBundles({ quiet: true });
  const h = new Harness();
  await h.start();
  const load = [loadavg()[0] ?? 0];
  const shots: Record<Mode, Shot[]> = { healthy: [], failing: [] };
  try {
    for (let run = 0; run < RUNS; run++) {
      for (const mode of ['healthy', 'failing'] as const) {
        const shot = await once(h, mode);
        shots[mode].push(shot);
        load.push(loadavg()[0] ?? 0);
        process.stderr.write(`S4F ${mode} run ${run + 1}: ${JSON.stringify(shot)}\n`);
      }
    }
  } finally {
    await stopAll();
    await h.close();
  }
  const row = (mode: Mode) => {
    const s = shots[mode];
    return `| ${mode} | ${fmt(summarize(s.map((x) => x.perS)))} | ${fmt(summarize(s.map((x) => x.p50)))} | ${fmt(summarize(s.map((x) => x.p99)))} | ${s[0]?.healthy ?? 0} | ${fmt(summarize(s.map((x) => x.failingHits)))} |`;
  };
  process.stdout.write(
    [
      `S4 under failure: ${OUTCOMES} outcomes over ${HOSTS} hosts (${FAILING_500} answer 500, ${HANGING} hangs; timeout ${TIMEOUT_MS} ms), WEBHOOK_CONCURRENCY 64, ${RUNS} runs each, 1-min load ${load.map((l) => l.toFixed(1)).join(' → ')}`,
      '',
      '| receivers | webhooks/s at healthy hosts | p50 outcome → first success (ms) | p99 (ms) | healthy outcomes | attempts at failing hosts |',
      '| --- | --- | --- | --- | --- | --- |',
      row('healthy'),
      row('failing'),
      '',
    ].join('\n'),
  );
}

await main();
