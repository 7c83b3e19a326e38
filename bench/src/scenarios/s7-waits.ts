/**
 * S7 waiting connections (transparent mode, SPEC §8): one ingest process (its bundle, alone: no packer, poller or
 * dispatcher) holds `connections` concurrent `POST /v1/chat/completions` with `Prefer: wait=600`, opened by a client in
 * its own process; its RSS is sampled before and once all of them wait (`batchbridge_waiting_connections`). Then the
 * benchmark settles every request the way the pipeline does — the packer's claim into a flush, the submission recorded
 * against a batch, the poller's `RequestStore.settle` with the simulator's completion, in the poller's chunks — and the
 * per-request latency is the client's arrival time of the answer minus the record's `completed_at` (set by the Lua
 * `finish()` that also announces the outcome), both on this machine's clock. The baseline is a bare `node:http` server
 * holding the same number of idle keep-alive connections, one unanswered request each, for the same client, released
 * all at once.
 */
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newFlushId, type PartitionId } from '@batchbridge/domain';
import { simulatedCompletion } from '@batchbridge/provider-sim';
import { freePort } from '@batchbridge/redis';
import { Agent, request } from 'undici';
import { BENCH_API_KEY, chatBody } from '../fixtures.js';
import type { Harness } from '../harness.js';
import { type Plan, progress, type Row, type ScenarioResult } from '../model.js';
import { type Child, sleep, spawnTs, waitHttpOk, waitUntil } from '../procs.js';
import { profileIn, profileMarkdown, summarizeProfile } from '../profile.js';
import { percentile, round } from '../stats.js';

const WAIT_S = 600;
const WARMUP = 500;
/** The poller's settle chunk and chunks in flight (services/poller/src/options.ts defaults). */
const SETTLE_CHUNK = 500;
const SETTLE_IN_FLIGHT = 4;
const RSS_TARGET_MB = 200;
const P99_TARGET_MS = 1_000;

interface ClientOut {
  written: number;
  errors: number;
  firstError: string;
  answers: Array<[string, number, number]>;
}

interface Shot {
  rssBeforeMb: number;
  rssAtNMb: number;
  rssPeakMb: number;
  growthMb: number;
  /** Time for all N to be waiting (ms, from the client's start). */
  openMs: number;
  latencies: number[];
  answered: number;
  ok: number;
  errors: number;
  firstError: string;
  /** First settle call to the last one returned (ms). */
  settleMs: number;
  /** Last settle returned to last answer arrived (ms). */
  drainMs: number;
  outcomes: Record<string, number>;
  cpuS: number | undefined;
  /** The ingest's own V8 figures at N (its /metrics), MB: heap used (live and not yet collected), heap total, external. */
  heapAtN?: { usedMb: number; totalMb: number; externalMb: number };
}

function startClient(h: Harness, url: string, n: number, headers: Record<string, string>, label: string) {
  const out = join(h.dir, `s7-${label}-${Date.now()}.json`);
  const child = spawnTs(`wait-client-${label}`, 'bench/src/children/wait-client.ts', {
    env: { WC_URL: url, WC_COUNT: String(n), WC_HEADERS: JSON.stringify(headers), WC_OUT: out },
  });
  return {
    child,
    result: async (): Promise<ClientOut> => {
      const code = await child.exited;
      if (code !== 0) throw new Error(`${child.name} exited ${code}:\n${child.tail()}`);
      return JSON.parse(readFileSync(out, 'utf8')) as ClientOut;
    },
  };
}

/** Sends `WARMUP` plain (not waiting) requests, so that both servers are measured with their request path compiled. */
async function warmUp(url: string, headers: Record<string, string>): Promise<void> {
  const agent = new Agent({ connections: 16 });
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < WARMUP) {
        const i = next++;
        const res = await request(url, { method: 'POST', dispatcher: agent, headers, body: chatBody(i, 1024).json });
        await res.body.dump();
        if (res.statusCode !== 202) throw new Error(`S7 warm-up: ${url} answered ${res.statusCode}`);
      }
    }),
  );
  await agent.close();
}

/** Settles every queued request of the prefix as completed, as packer and poller would; returns the settle window. */
async function settleAll(h: Harness, prefix: string): Promise<{ firstAt: number; lastAt: number; ids: string[] }> {
  const rt = await h.runtime(prefix);
  const store = rt.store;
  const submitted: Array<{ p: PartitionId; batchId: string; ids: string[]; bodies: Array<string | undefined> }> = [];
  for (const p of rt.keys.allPartitions()) {
    for (const g of await store.flushes.groups(p)) {
      for (;;) {
        const flushId = newFlushId();
        const claim = await store.flushes.claim(
          p,
          g.group,
          flushId,
          { maxRequests: 1e9, maxBytes: 1e15, maxTokens: 1e15, maxWaitMs: 0 },
          true,
        );
        if (!claim.claimed) break;
        const flush = await store.flushes.get(p, flushId);
        if (!flush) throw new Error('S7 set-up: flush missing');
        const batchId = `batch_s7_${flushId}`;
        await store.flushes.recordSubmission(p, flush, batchId, `file_s7_${flushId}`);
        const ids = await store.flushes.ids(p, flushId, 0, -1);
        submitted.push({ p, batchId, ids, bodies: await store.requests.bodies(p, ids) });
      }
    }
  }
  // The answers are built before the clock starts; what is timed is settle → notice → re-read → answer written.
  const chunks: Array<() => Promise<void>> = [];
  for (const s of submitted) {
    for (let start = 0; start < s.ids.length; start += SETTLE_CHUNK) {
      const items = s.ids.slice(start, start + SETTLE_CHUNK).map((id, j) => ({
        id,
        kind: 'completed' as const,
        response: {
          status_code: 200,
          request_id: `req_${id}`,
          body: simulatedCompletion(JSON.parse(s.bodies[start + j] ?? '{}')),
        },
      }));
      chunks.push(async () => {
        const { outcomes } = await store.requests.settle(s.p, s.batchId, items);
        const bad = outcomes.filter((o) => o !== 'completed').length;
        if (bad > 0) throw new Error(`S7: ${bad} of ${items.length} settles not completed (${outcomes[0]})`);
      });
    }
  }
  const firstAt = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: SETTLE_IN_FLIGHT }, async () => {
      while (next < chunks.length) await (chunks[next++] as () => Promise<void>)();
    }),
  );
  return { firstAt, lastAt: Date.now(), ids: submitted.flatMap((s) => s.ids) };
}

async function completedAt(h: Harness, prefix: string, ids: string[]): Promise<Map<string, number>> {
  const rt = await h.runtime(prefix);
  const at = new Map<string, number>();
  for (let start = 0; start < ids.length; start += 2_000) {
    const slice = ids.slice(start, start + 2_000);
    const pipe = rt.redis.pipeline();
    for (const id of slice)
      pipe.hget(rt.keys.partitionKeys(rt.store.requests.partitionOf(id) ?? 0).req(id), 'completed_at');
    const replies = (await pipe.exec()) ?? [];
    slice.forEach((id, i) => {
      const v = replies[i]?.[1];
      if (v !== null && v !== undefined) at.set(id, Number(v));
    });
  }
  return at;
}

async function metricsOf(url: string): Promise<string> {
  const res = await fetch(`${url}/metrics`);
  return res.text();
}

function gauge(text: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

function waitOutcomes(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^batchbridge_wait_outcomes_total\{[^}]*outcome="(\w+)"[^}]*\} (\S+)$/gm)) {
    out[m[1] as string] = Number(m[2]);
  }
  return out;
}

/** CPU seconds (user + system) the process has used so far, from /proc. */
function cpuSeconds(pid: number): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

async function runIngest(h: Harness, n: number, profile = false): Promise<Shot> {
  await h.flush();
  const prefix = h.prefix('s7');
  const svc = await h.startService('ingest-api', prefix, {}, { profile });
  const url = `${svc.url}/v1/chat/completions`;
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${BENCH_API_KEY}` };
  try {
    await warmUp(url, { ...headers, 'x-callback-url': 'http://127.0.0.1:9/hook' });
    await sleep(1_000);
    const rssBeforeMb = svc.child.rss.sample() ?? Number.NaN;
    const t0 = Date.now();
    const client = startClient(h, url, n, { ...headers, prefer: `wait=${WAIT_S}` }, 'ingest');
    await waitUntil(
      `${n} waiting connections`,
      async () => (gauge(await metricsOf(svc.url), 'batchbridge_waiting_connections') >= n ? true : undefined),
      { timeoutMs: 300_000, everyMs: 250, children: [svc.child, client.child] },
    );
    const openMs = Date.now() - t0;
    progress('S7', `batchbridge: ${n} connections waiting after ${openMs} ms`);
    // A few seconds of holding: the recheck sweep runs (1 s, 2 s, 4 s, … per waiter) and the heap settles.
    await sleep(5_000);
    const rssAtNMb = svc.child.rss.sample() ?? Number.NaN;
    const atN = await metricsOf(svc.url);
    const mb = (name: string) => round(gauge(atN, name) / 1e6);
    const heapAtN = {
      usedMb: mb('batchbridge_nodejs_heap_size_used_bytes'),
      totalMb: mb('batchbridge_nodejs_heap_size_total_bytes'),
      externalMb: mb('batchbridge_nodejs_external_memory_bytes'),
    };
    const cpuBefore = cpuSeconds(svc.child.pid);
    const settle = await settleAll(h, prefix);
    const out = await client.result();
    const cpuAfter = cpuSeconds(svc.child.pid);
    const at = await completedAt(h, prefix, settle.ids);
    const latencies: number[] = [];
    let lastArrival = 0;
    let ok = 0;
    for (const [id, status, arrived] of out.answers) {
      if (status === 200) ok += 1;
      const settled = at.get(id);
      if (settled === undefined) continue;
      latencies.push(arrived - settled);
      lastArrival = Math.max(lastArrival, arrived);
    }
    const metrics = await metricsOf(svc.url);
    const warnings = svc.child
      .tail()
      .split('\n')
      .filter((l) => l.includes('"level":40') || l.includes('warn'));
    if (warnings.length > 0) progress('S7', `ingest warnings (last 4 KB of its output):\n${warnings.join('\n')}`);
    return {
      rssBeforeMb,
      rssAtNMb,
      rssPeakMb: svc.child.rss.peak(t0),
      growthMb: rssAtNMb - rssBeforeMb,
      openMs,
      latencies,
      answered: out.answers.length,
      ok,
      errors: out.errors,
      firstError: out.firstError,
      settleMs: settle.lastAt - settle.firstAt,
      drainMs: lastArrival - settle.lastAt,
      outcomes: waitOutcomes(metrics),
      cpuS: cpuBefore !== undefined && cpuAfter !== undefined ? round(cpuAfter - cpuBefore, 2) : undefined,
      heapAtN,
    };
  } finally {
    await svc.child.stop();
  }
}

async function runBaseline(h: Harness, n: number): Promise<Shot> {
  const port = await freePort();
  const server: Child = spawnTs('hold-baseline', 'bench/src/children/hold-baseline.ts', {
    env: { PORT: String(port) },
  });
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitHttpOk(server, `${base}/held`);
    await warmUp(`${base}/v1/chat/completions`, { 'content-type': 'application/json' });
    await sleep(1_000);
    const rssBeforeMb = server.rss.sample() ?? Number.NaN;
    const t0 = Date.now();
    const client = startClient(h, `${base}/v1/chat/completions`, n, { prefer: `wait=${WAIT_S}` }, 'baseline');
    await waitUntil(
      `${n} held connections`,
      async () => {
        const res = await fetch(`${base}/held`);
        return ((await res.json()) as { held: number }).held >= n ? true : undefined;
      },
      { timeoutMs: 300_000, everyMs: 250, children: [server, client.child] },
    );
    const openMs = Date.now() - t0;
    progress('S7', `baseline: ${n} connections held after ${openMs} ms`);
    await sleep(5_000);
    const rssAtNMb = server.rss.sample() ?? Number.NaN;
    const cpuBefore = cpuSeconds(server.pid);
    const released = (await (await fetch(`${base}/release`, { method: 'POST' })).json()) as { releasedAt: number };
    const out = await client.result();
    const cpuAfter = cpuSeconds(server.pid);
    const latencies = out.answers.map(([, , arrived]) => arrived - released.releasedAt);
    return {
      rssBeforeMb,
      rssAtNMb,
      rssPeakMb: server.rss.peak(t0),
      growthMb: rssAtNMb - rssBeforeMb,
      openMs,
      latencies,
      answered: out.answers.length,
      ok: out.answers.filter(([, status]) => status === 200).length,
      errors: out.errors,
      firstError: out.firstError,
      settleMs: 0,
      drainMs: Math.max(0, ...latencies),
      outcomes: {},
      cpuS: cpuBefore !== undefined && cpuAfter !== undefined ? round(cpuAfter - cpuBefore, 2) : undefined,
    };
  } finally {
    await server.stop();
  }
}

const figures = (s: Shot) => ({
  rss_before_mb: round(s.rssBeforeMb),
  rss_at_n_mb: round(s.rssAtNMb),
  rss_peak_mb: round(s.rssPeakMb),
  rss_growth_mb: round(s.growthMb),
  rss_growth_kb_per_connection: round((s.growthMb * 1024) / Math.max(1, s.answered), 1),
  all_waiting_after_ms: s.openMs,
  answered: s.answered,
  answered_200: s.ok,
  client_errors: s.errors,
  answer_latency_ms: {
    p50: percentile(s.latencies, 50),
    p99: percentile(s.latencies, 99),
    max: percentile(s.latencies, 100),
    samples: s.latencies.length,
  },
  answer_cpu_s: s.cpuS,
});

export async function runS7(h: Harness, plan: Plan): Promise<ScenarioResult> {
  const n = plan.s7.connections;
  // `--profile`: the ingest runs from its sources with a V8 CPU profile (opening, holding and answering all in it).
  const profileDir = plan.profile ? join(h.dir, 'profiles-S7') : undefined;
  const savedProfDir = h.cpuProfDir;
  if (profileDir) {
    mkdirSync(profileDir, { recursive: true });
    h.cpuProfDir = profileDir;
  }
  let bb: Shot;
  try {
    bb = await runIngest(h, n, profileDir !== undefined);
  } finally {
    h.cpuProfDir = savedProfDir;
  }
  const profileFile = profileDir ? profileIn(join(profileDir, 'ingest-api')) : undefined;
  if (profileFile) {
    // Kept past the harness's temporary directory: the answering phase is the last seconds of it.
    const kept = join(tmpdir(), `bb-s7-ingest-${Date.now()}.cpuprofile`);
    copyFileSync(profileFile, kept);
    progress('S7', `ingest CPU profile: ${kept}`);
  }
  progress(
    'S7',
    `batchbridge: RSS ${round(bb.rssBeforeMb)} → ${round(bb.rssAtNMb)} MB, ${bb.ok}/${n} answered 200, ` +
      `p99 settle→answer ${percentile(bb.latencies, 99)} ms`,
  );
  if (bb.errors > 0) progress('S7', `batchbridge client errors: ${bb.errors} (${bb.firstError})`);
  await h.flush();
  const base = await runBaseline(h, n);
  progress(
    'S7',
    `baseline: RSS ${round(base.rssBeforeMb)} → ${round(base.rssAtNMb)} MB, p99 release→answer ${percentile(base.latencies, 99)} ms`,
  );
  const p99 = percentile(bb.latencies, 99);
  const complete = bb.ok === n && bb.latencies.length === n;
  const rows: Row[] = [
    {
      metric: `RSS growth at ${n.toLocaleString('en-US')} waiting MB`,
      value: String(round(bb.growthMb)),
      baseline: String(round(base.growthMb)),
      ratio: `${round(bb.growthMb / base.growthMb, 1)}×`,
      target: `≤ ${RSS_TARGET_MB} MB`,
      met: bb.growthMb <= RSS_TARGET_MB,
    },
    {
      metric: 'settle→answer p99 ms',
      value: String(p99),
      baseline: String(percentile(base.latencies, 99)),
      target: `≤ ${P99_TARGET_MS} ms, all answered`,
      met: complete && p99 <= P99_TARGET_MS,
    },
    {
      metric: 'settle→answer p50 / max ms',
      value: `${percentile(bb.latencies, 50)} / ${percentile(bb.latencies, 100)}`,
      baseline: `${percentile(base.latencies, 50)} / ${percentile(base.latencies, 100)}`,
    },
  ];
  const json = {
    connections: n,
    wait_s: WAIT_S,
    body_bytes: Buffer.byteLength(chatBody(0, 1024).json),
    settle_chunk: SETTLE_CHUNK,
    settle_in_flight: SETTLE_IN_FLIGHT,
    batchbridge: {
      ...figures(bb),
      settle_ms: bb.settleMs,
      last_settle_to_last_answer_ms: bb.drainMs,
      wait_outcomes: bb.outcomes,
      v8_at_n_mb: bb.heapAtN && {
        heap_used: bb.heapAtN.usedMb,
        heap_total: bb.heapAtN.totalMb,
        external: bb.heapAtN.externalMb,
      },
    },
    baseline: figures(base),
    targets: {
      rss_growth_mb_max: RSS_TARGET_MB,
      settle_to_answer_p99_ms_max: P99_TARGET_MS,
      met: rows.filter((r) => r.met !== undefined).every((r) => r.met),
    },
  };
  return {
    id: 'S7',
    title: 'S7 waiting connections',
    rows,
    json,
    notes: [
      `One ingest API process (its bundle, alone) holds ${n.toLocaleString('en-US')} concurrent ` +
        `\`POST /v1/chat/completions\` with \`Prefer: wait=${WAIT_S}\` (${json.body_bytes}-byte chat bodies), opened by a ` +
        'client in its own process (`bench/src/children/wait-client.ts`: `node:http`, one keep-alive connection per ' +
        `request, at most 200 being opened at a time) after ${WARMUP} plain requests as warm-up. RSS is sampled ` +
        'before the client starts and 5 s after `batchbridge_waiting_connections` reached the count.',
      'No packer, poller or dispatcher runs: the benchmark moves the requests through the real store code itself — ' +
        '`FlushStore.claim` into one flush, `recordSubmission` against a batch id, then `RequestStore.settle` with the ' +
        `simulator's completion for each request (built beforehand), in the poller's chunks of ${SETTLE_CHUNK} with ` +
        `${SETTLE_IN_FLIGHT} in flight. The settle time of a request is its record's \`completed_at\`, written by the Lua ` +
        '`finish()` that also PUBLISHes the outcome; the answer time is when the client had read the whole answer. ' +
        `Both on the same machine clock; the latency includes the client process reading ${n.toLocaleString('en-US')} answers on the ` +
        'shared CPU.',
      `Settling all ${n.toLocaleString('en-US')} took ${bb.settleMs} ms; the last answer arrived ${bb.drainMs} ms after ` +
        `the last settle returned. Answers: ${bb.ok} × 200 of ${n}, client errors ${bb.errors}; ingest wait outcomes ` +
        `${JSON.stringify(bb.outcomes)}; the ingest used ${bb.cpuS ?? 'n/a'} CPU s from the first settle to the last ` +
        `answer (baseline: ${base.cpuS ?? 'n/a'} s). Ingest RSS ${round(bb.rssBeforeMb)} MB before, ` +
        `${round(bb.rssAtNMb)} MB with all waiting (V8 heap used ${bb.heapAtN?.usedMb} MB of ${bb.heapAtN?.totalMb} MB, ` +
        `external ${bb.heapAtN?.externalMb} MB: used counts garbage not yet collected), peak ${round(bb.rssPeakMb)} MB ` +
        'while answering.',
      'Baseline: a bare `node:http` server (`bench/src/children/hold-baseline.ts`) holding the same number of idle ' +
        'keep-alive connections from the same client, each with one unanswered request, released all at once with a ' +
        `small JSON answer; its latency is answer arrival − release. Baseline RSS ${round(base.rssBeforeMb)} MB before, ` +
        `${round(base.rssAtNMb)} MB at ${n.toLocaleString('en-US')}.`,
      ...(profileFile ? [profileMarkdown('ingest-api', summarizeProfile(profileFile))] : []),
    ],
    charts: [],
  };
}
