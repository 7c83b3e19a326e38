/**
 * S12 Redis ceilings: `redis-benchmark` (on PATH) against the benchmark's private `redis-server`, in the same run, of
 * the scripts and commands each stage runs per request; each stage's figure of this run (S1–S4) is then stated as a
 * share of its ceiling.
 *
 * The scripts are the ones the services run (their sources from `@batchbridge/domain`, loaded with SCRIPT LOAD, called
 * with EVALSHA and arguments built as the stores build them), on records set up for them through the stores:
 * - intake: enqueue-many with 1 and with 32 requests per call (ingest coalesces the requests of one event-loop turn),
 *   and its nearest primitives (HSET of the record, ZADD pending) for comparison;
 * - packer: claim-1 taking 1 000 queued requests per call (fresh queued requests set up beforehand), plus the HGET of
 *   each body the JSONL file needs;
 * - poller: settle-many, 100 completed results of 1 KB per call, billed, on requests submitted in one batch;
 * - dispatcher: what the delivery loop runs per delivery: dlv-claim-1 claiming 64 due deliveries per call with their
 *   records (the partition's due zset filled beforehand with the settle set's requests), and dlv-complete-1 completing
 *   64 per call as delivered (attempt log entry, delivered mark, webhook body mark fixed, lease dropped).
 * redis-benchmark draws keys at random (`__rand_int__`), so a claim or settle call may hit a request already taken:
 * the requests really claimed or settled are counted in Redis afterwards and divided by the calls' time. A stage made
 * of several scripts or commands has the ceiling 1 ÷ Σ (calls per request ÷ calls/s): Redis runs one at a time.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadPriceTable } from '@batchbridge/config';
import {
  billItemFor,
  groupFor,
  ledgerDay,
  scriptSource,
  settleItemOptions,
  webhookBodyMark,
} from '@batchbridge/domain';
import type { Runtime } from '@batchbridge/runtime';
import { BENCH_TENANT, chatBody, GROUP, MODEL } from '../fixtures.js';
import type { Harness } from '../harness.js';
import { type Plan, progress, type Row, type ScenarioResult } from '../model.js';
import { REPO_ROOT } from '../procs.js';
import { round } from '../stats.js';

const run = promisify(execFile);
/** Clients and pipeline depth of the single-request commands; a call carrying many requests runs alone, unpipelined. */
const CLIENTS = 16;
const PIPELINE = 16;
const BODY = chatBody(7, 2048).json;
/** The record fields a request brings (enqueue-many's field/value strings after its options). */
const CLIENT_FIELDS = ['model', MODEL, 'body', BODY, 'callback_url', 'http://127.0.0.1:9/hook'];
const CLAIM_PER_CALL = 1_000;
const SETTLE_PER_CALL = 100;
/** Deliveries per dlv-claim / dlv-complete call: the dispatcher's claim step at S4's concurrency. */
const DELIVERIES_PER_CALL = 64;
const LEASE_MS = 30_000;
/** The settle set's group: not the claim set's, so that claiming never takes them. */
const SETTLE_GROUP = groupFor('/v1/chat/completions', 'gpt-4o', false);

type Stage = 'intake' | 'packer' | 'poller' | 'dispatcher';

interface Command {
  stage: Stage;
  label: string;
  /** Calls per request (a call carrying many requests: 1 / perCall). */
  weight: number;
  args: string[];
  /** Requests per call (a script call carrying many requests). */
  perCall?: number;
  /** Calls to make (default: plan ops ÷ perCall). */
  calls?: number;
  /** Requests this command really handled, read from Redis after it ran (claims and settles may hit taken ones). */
  handled?: () => Promise<number>;
  /** Set-up right before this command runs (not measured). */
  before?: () => Promise<void>;
}

interface Measured extends Command {
  rps: number;
  p99Ms: number;
  /** Requests handled per second (calls/s × requests per call, or as counted). */
  requestsPerS: number;
}

async function bench(
  port: number,
  calls: number,
  keyspace: number,
  args: string[],
  alone: boolean,
): Promise<{ rps: number; p99Ms: number }> {
  const { stdout } = await run(
    'redis-benchmark',
    [
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '-c',
      String(alone ? 1 : CLIENTS),
      '-P',
      String(alone ? 1 : PIPELINE),
      '-n',
      String(calls),
      '-r',
      String(keyspace),
      '--csv',
      ...args,
    ],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  // `"test","rps",…,"p99_latency_ms","max_latency_ms"`: the test name may hold commas and quotes, so read from the end.
  const last = stdout.trim().split('\n').pop() ?? '';
  const cells = last.split(',').map((c) => c.replace(/"/g, ''));
  return { rps: Number(cells[cells.length - 7]), p99Ms: Number(cells[cells.length - 2]) };
}

/** A request id of set `set` (one letter) whose last 12 characters are redis-benchmark's `__rand_int__`. */
const idOf = (set: string, i: number) => `breq_00${set}${String(i).padStart(12, '0')}`;
const randomId = (set: string) => `breq_00${set}__rand_int__`;

/** The enqueue-many call of `k` requests, as request-store.ts builds it (random ids from redis-benchmark). */
function enqueueArgs(sha: string, tag: string, k: number): string[] {
  const keys: string[] = [];
  const args = [JSON.stringify({ tag, idemTtl: 86_400_000 })];
  for (let i = 0; i < k; i++) {
    const id = randomId('i');
    keys.push(`${tag}:req:${id}`);
    args.push(
      JSON.stringify({
        id,
        tenant: BENCH_TENANT.id,
        group: groupFor('/v1/chat/completions', 'gpt-4.1', false),
        now: Date.now(),
        idemKey: '',
        bodyHash: '',
        tenantLimit: 0,
        tenantElsewhere: 0,
        globalLimit: 0,
        globalElsewhere: 0,
        bytes: BODY.length + 80,
        tokens: 512,
        inputs: 1,
        deadlineAt: 0,
        n: 6,
      }),
      ...CLIENT_FIELDS,
    );
  }
  return ['EVALSHA', sha, String(k), ...keys, ...args];
}

/** Enqueues `count` requests of set `set` into `group` through the store (the enqueue-many script). */
async function enqueueSet(rt: Runtime, set: string, count: number, group: string): Promise<void> {
  for (let start = 0; start < count; start += 1_000) {
    const jobs: Array<Promise<unknown>> = [];
    for (let i = start; i < Math.min(count, start + 1_000); i++) {
      jobs.push(
        rt.store.requests.enqueue(
          {
            id: idOf(set, i),
            partition: 0,
            tenant: BENCH_TENANT.id,
            model: MODEL,
            group,
            body: BODY,
            bytes: BODY.length + 80,
            tokens: 512,
            callbackUrl: 'http://127.0.0.1:9/hook',
          },
          {},
        ),
      );
    }
    await Promise.all(jobs);
  }
}

const ANSWER = {
  status_code: 200,
  body: {
    id: 'chatcmpl-s12',
    object: 'chat.completion',
    created: 1_765_000_000,
    model: MODEL,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: chatBody(9, 700).json, refusal: null, annotations: [] },
        finish_reason: 'stop',
      },
    ],
    usage: { prompt_tokens: 512, completion_tokens: 180, total_tokens: 692 },
  },
};

async function commands(rt: Runtime, plan: Plan): Promise<{ list: Command[]; keyspace: number }> {
  const tag = rt.keys.partitionKeys(0).tag;
  const k = rt.keys.partitionKeys(0);
  const load = async (name: string) => String(await rt.redis.script('LOAD', scriptSource(name)));
  const [enqueueSha, claimSha, settleSha, dlvClaimSha, dlvCompleteSha] = (await Promise.all(
    ['enqueue-many', 'claim-1', 'settle-many', 'dlv-claim-1', 'dlv-complete-1'].map(load),
  )) as [string, string, string, string, string];
  // Set-up through the stores: queued requests for the claims, requests submitted in one batch for the settles.
  const claimSet = Math.max(CLAIM_PER_CALL * 20, Math.round(plan.s12.ops / 2));
  const settleSet = Math.max(SETTLE_PER_CALL * 100, Math.round(plan.s12.ops / 4));
  const t0 = Date.now();
  await enqueueSet(rt, 'c', claimSet, GROUP);
  await enqueueSet(rt, 's', settleSet, SETTLE_GROUP);
  const flushId = 'flush_s12settle';
  const claimed = await rt.store.flushes.claim(
    0,
    SETTLE_GROUP,
    flushId,
    { maxRequests: settleSet, maxBytes: 1e12, maxTokens: 1e12, maxWaitMs: 0 },
    true,
  );
  if (!claimed.claimed || claimed.count !== settleSet) throw new Error('S12 set-up: settle set not claimed');
  const flush = await rt.store.flushes.get(0, flushId);
  if (!flush) throw new Error('S12 set-up: flush missing');
  const batchId = 'batch_s12settle';
  await rt.store.flushes.recordSubmission(0, flush, batchId, 'file-s12');
  await rt.redis.del(k.outbox);
  progress('S12', `set-up: ${claimSet} queued, ${settleSet} submitted in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  const status = async (set: string, n: number, want: string) => {
    const pipe = rt.redis.pipeline();
    for (let i = 0; i < n; i++) pipe.hget(k.req(idOf(set, i)), 'status');
    return ((await pipe.exec()) ?? []).filter((r) => r[1] === want).length;
  };
  const now = Date.now();
  const claimOptions = JSON.stringify({
    tag,
    group: GROUP,
    flushId: 'flush_s12c__rand_int__',
    maxCount: CLAIM_PER_CALL,
    maxBytes: 1e12,
    maxTokens: 1e12,
    partition: 0,
    slice: CLAIM_PER_CALL,
    now,
    maxWait: 0,
    force: true,
  });
  const prices = loadPriceTable(rt.config.priceTableFile);
  const bill = billItemFor(prices, ['default', 'openai'], 'default', ANSWER);
  const settleCall = JSON.stringify({
    tag,
    batchId,
    now,
    maxAttempts: rt.config.maxAttempts,
    retention: 86_400_000,
    partition: 0,
    ledger: { ...ledgerDay(now), keepDays: 31 },
  });
  const settleKeys: string[] = [];
  const settleArgs: string[] = [settleCall];
  for (let i = 0; i < SETTLE_PER_CALL; i++) {
    settleKeys.push(k.req(randomId('s')));
    settleArgs.push(settleItemOptions({ kind: 'completed', bill }), JSON.stringify(ANSWER));
  }
  const rec = k.req(randomId('s'));
  // The first attempt's body mark (webhook-body.ts), fixed on the record by its completion.
  const bodyMark = webhookBodyMark(
    JSON.stringify({ type: 'request.completed', timestamp: new Date(now).toISOString(), data: ANSWER }),
  );
  const attempt = {
    at: new Date(now).toISOString(),
    status_code: 200,
    error: null,
    duration_ms: 2,
    next_attempt_at: null,
  };
  // Deliveries: every settle-set request due (its record exists, a third of them completed by the settle calls),
  // claimed 64 per call with their records; then completed 64 per call, delivered, as deliveries.ts builds the call.
  const dlvCalls = Math.floor(settleSet / DELIVERIES_PER_CALL);
  const dlvClaimOptions = JSON.stringify({ tag, now, n: DELIVERIES_PER_CALL, lease: LEASE_MS, records: 'json' });
  const dlvCompleteArgs = [JSON.stringify({ tag, now, max: 20, retention: 86_400_000 })];
  for (let i = 0; i < DELIVERIES_PER_CALL; i++) {
    const id = randomId('s');
    dlvCompleteArgs.push(
      JSON.stringify({ m: id, id, fence: now + LEASE_MS, log: attempt, mark: 'delivered', result: 'delivered' }),
      bodyMark,
    );
  }
  const fillDue = async () => {
    await rt.redis.del(k.dlvDue, k.dlvLease, k.dlvTries);
    for (let start = 0; start < settleSet; start += 5_000) {
      const args: Array<string | number> = [];
      for (let i = start; i < Math.min(settleSet, start + 5_000); i++) args.push(now - 1_000, idOf('s', i));
      await rt.redis.zadd(k.dlvDue, ...args);
    }
  };
  // A third of the claim set's calls and of the settle set's: most random draws still find a request to take.
  const claimCalls = Math.max(5, Math.floor(claimSet / CLAIM_PER_CALL / 3));
  const settleCalls = Math.max(20, Math.floor(settleSet / SETTLE_PER_CALL / 3));
  const list: Command[] = [
    {
      stage: 'intake',
      label: 'EVALSHA enqueue-many, 1 request per call',
      weight: 1,
      args: enqueueArgs(enqueueSha, tag, 1),
    },
    {
      stage: 'intake',
      label: 'EVALSHA enqueue-many, 32 requests per call',
      weight: 1 / 32,
      perCall: 32,
      args: enqueueArgs(enqueueSha, tag, 32),
    },
    {
      stage: 'intake',
      label: 'HSET record (13 fields, 2 KB body), primitive',
      weight: 1,
      args: [
        'HSET',
        k.req(randomId('p')),
        'id',
        randomId('p'),
        'tenant',
        'bench',
        'group',
        GROUP,
        'status',
        'queued',
        'created_at',
        String(now),
        'updated_at',
        String(now),
        'attempts',
        '0',
        'bytes',
        '2100',
        'tokens',
        '512',
        'inputs',
        '1',
        ...CLIENT_FIELDS,
      ],
    },
    {
      stage: 'intake',
      label: 'ZADD pending, primitive',
      weight: 1,
      args: ['ZADD', k.pending('primitive'), String(now), randomId('p')],
    },
    {
      stage: 'packer',
      label: `EVALSHA claim-1, ${CLAIM_PER_CALL.toLocaleString('en-US')} requests per call`,
      weight: 1 / CLAIM_PER_CALL,
      perCall: CLAIM_PER_CALL,
      calls: claimCalls,
      args: ['EVALSHA', claimSha, '1', k.pending(GROUP), claimOptions],
      handled: async () => claimSet - (await status('c', claimSet, 'queued')),
    },
    { stage: 'packer', label: 'HGET body (JSONL line)', weight: 1, args: ['HGET', rec, 'body'] },
    {
      stage: 'poller',
      label: `EVALSHA settle-many, ${SETTLE_PER_CALL} results of 1 KB per call, billed`,
      weight: 1 / SETTLE_PER_CALL,
      perCall: SETTLE_PER_CALL,
      calls: settleCalls,
      args: ['EVALSHA', settleSha, String(SETTLE_PER_CALL), ...settleKeys, ...settleArgs],
      handled: () => status('s', settleSet, 'completed'),
    },
    {
      stage: 'dispatcher',
      label: `EVALSHA dlv-claim-1 with records, ${DELIVERIES_PER_CALL} deliveries per call`,
      weight: 1 / DELIVERIES_PER_CALL,
      perCall: DELIVERIES_PER_CALL,
      calls: dlvCalls,
      before: fillDue,
      args: ['EVALSHA', dlvClaimSha, '1', k.dlvDue, dlvClaimOptions],
      handled: () => rt.redis.zcard(k.dlvLease),
    },
    {
      stage: 'dispatcher',
      label: `EVALSHA dlv-complete-1, ${DELIVERIES_PER_CALL} delivered per call (log, mark, body mark)`,
      weight: 1 / DELIVERIES_PER_CALL,
      perCall: DELIVERIES_PER_CALL,
      calls: dlvCalls,
      args: ['EVALSHA', dlvCompleteSha, '1', k.dlvLease, ...dlvCompleteArgs],
    },
  ];
  return { list, keyspace: settleSet };
}

/**
 * The stage figures: from the scenarios before S12 in this run, else from the last run of this mode (bench/results,
 * when `--only` skipped them), else from the committed full run (docs/benchmarks.json); each says where it came from.
 */
function stageFigures(
  earlier: ScenarioResult[],
  mode: Plan['mode'],
): Record<Stage, { perS: number; what: string; from: string } | undefined> {
  const read = (file: string) => (existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : undefined);
  const last = (read(join(REPO_ROOT, `bench/results/${mode}-scenarios.json`)) ?? []) as ScenarioResult[];
  const docs = (read(join(REPO_ROOT, 'docs/benchmarks.json')) ?? {}) as Record<string, unknown>;
  const find = (id: ScenarioResult['id']) => {
    const now = earlier.find((r) => r.id === id);
    if (now) return { json: now.json, from: 'this run' };
    const before = last.find((r) => r.id === id);
    if (before) return { json: before.json, from: `last ${mode} run` };
    const committed = docs[id] as Record<string, unknown> | undefined;
    const at = String(docs.generated_at ?? '').slice(0, 10);
    return committed ? { json: committed, from: `docs/benchmarks.json (${docs.mode} run of ${at})` } : undefined;
  };
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  const s1 = find('S1');
  const s2 = find('S2');
  const s3 = find('S3');
  const s4 = find('S4');
  const s1v = num((s1?.json.closed_loop as { accepted_per_s?: unknown } | undefined)?.accepted_per_s);
  const s2v = s2 ? (num(s2.json.requests) ?? 0) / (num(s2.json.seconds) ?? Number.NaN) : undefined;
  const s3v = num(s3?.json.lines_per_s);
  const s4v = num(s4?.json.webhooks_per_s);
  return {
    intake: s1 && s1v ? { perS: s1v, what: 'S1 closed-loop accepted/s', from: s1.from } : undefined,
    packer: s2 && s2v && Number.isFinite(s2v) ? { perS: s2v, what: 'S2 requests packed/s', from: s2.from } : undefined,
    poller: s3 && s3v ? { perS: s3v, what: 'S3 lines routed/s', from: s3.from } : undefined,
    dispatcher: s4 && s4v ? { perS: s4v, what: 'S4 signed webhooks/s', from: s4.from } : undefined,
  };
}

export async function runS12(h: Harness, plan: Plan, earlier: ScenarioResult[] = []): Promise<ScenarioResult> {
  await h.flush();
  const rt = await h.runtime(h.prefix('s12'));
  const port = Number(new URL(h.redisUrl).port);
  const measured: Measured[] = [];
  const { list, keyspace } = await commands(rt, plan);
  for (const c of list) {
    const calls = c.calls ?? Math.max(1_000, Math.round(plan.s12.ops / (c.perCall ?? 1)));
    await c.before?.();
    // `__rand_int__` (12 digits below the keyspace) spans the settle set: every record read or written exists.
    const r = await bench(port, calls, keyspace, c.args, c.perCall !== undefined);
    if (!Number.isFinite(r.rps) || r.rps <= 0) throw new Error(`S12: redis-benchmark gave no figure for ${c.label}`);
    let requestsPerS = r.rps * (c.perCall ?? 1);
    if (c.handled) {
      const handled = await c.handled();
      if (handled <= 0) throw new Error(`S12: ${c.label} handled no request`);
      requestsPerS = handled / (calls / r.rps);
    }
    measured.push({ ...c, ...r, requestsPerS });
    progress(
      'S12',
      `${c.stage}: ${c.label}: ${Math.round(r.rps).toLocaleString('en-US')} calls/s = ${Math.round(requestsPerS).toLocaleString('en-US')} requests/s`,
    );
  }
  await h.flush();

  // A stage's ceiling: requests/s if Redis did nothing but its per-request scripts and commands.
  const ceilingOf = (list: Measured[]) => 1 / list.reduce((s, m) => s + (m.perCall ? 1 : m.weight) / m.requestsPerS, 0);
  const pick = (label: string) => measured.find((m) => m.label.startsWith(label)) as Measured;
  const script32 = pick('EVALSHA enqueue-many, 32');
  const script1 = pick('EVALSHA enqueue-many, 1 ');
  const ceilings: Record<Stage, { perS: number; how: string }> = {
    intake: { perS: script32.requestsPerS, how: 'enqueue-many, 32 per call' },
    packer: { perS: ceilingOf(measured.filter((m) => m.stage === 'packer')), how: 'claim-1 + body reads' },
    poller: { perS: ceilingOf(measured.filter((m) => m.stage === 'poller')), how: 'settle-many' },
    dispatcher: {
      perS: ceilingOf(measured.filter((m) => m.stage === 'dispatcher')),
      how: `dlv-claim-1 with records + dlv-complete-1, ${DELIVERIES_PER_CALL} per call`,
    },
  };
  const primitiveIntake = ceilingOf(measured.filter((m) => m.stage === 'intake' && !m.label.startsWith('EVALSHA')));
  const figures = stageFigures(earlier, plan.mode);
  const rows: Row[] = (Object.keys(ceilings) as Stage[]).map((stage) => {
    const f = figures[stage];
    const c = ceilings[stage];
    return {
      metric: `${stage} Redis ceiling, requests/s (${c.how})`,
      value: f
        ? `${Math.round(f.perS).toLocaleString('en-US')} (${f.what}${f.from === 'this run' ? '' : `, ${f.from}`})`
        : 'n/a',
      baseline: Math.round(c.perS).toLocaleString('en-US'),
      ratio: f ? `${round((f.perS / c.perS) * 100, 1)} %` : '',
    };
  });
  const json = {
    redis_benchmark: { clients: CLIENTS, pipeline: PIPELINE, keyspace, ops_per_command: plan.s12.ops },
    commands: measured.map((m) => ({
      stage: m.stage,
      command: m.label,
      per_request: m.weight,
      requests_per_call: m.perCall ?? 1,
      calls_per_s: Math.round(m.rps),
      p99_ms: m.p99Ms,
    })),
    ceilings_requests_per_s: Object.fromEntries(
      (Object.keys(ceilings) as Stage[]).map((s) => [s, Math.round(ceilings[s].perS)]),
    ),
    intake_script_1_per_call_requests_per_s: Math.round(script1.rps),
    intake_primitives_requests_per_s: Math.round(primitiveIntake),
    stages: Object.fromEntries(
      (Object.keys(ceilings) as Stage[]).map((s) => {
        const f = figures[s];
        return [
          s,
          f
            ? {
                figure: f.what,
                per_s: Math.round(f.perS),
                from: f.from,
                share_of_ceiling: round(f.perS / ceilings[s].perS, 3),
              }
            : null,
        ];
      }),
    ),
  };
  return {
    id: 'S12',
    title: 'S12 Redis ceilings per stage',
    rows,
    json,
    notes: [
      `\`redis-benchmark\` against the benchmark's private \`redis-server\` (single-threaded: one core's worth of ` +
        `Redis on this shared machine), in the same run as the stage figures; single-request commands with ${CLIENTS} ` +
        `clients and pipeline ${PIPELINE}, calls carrying many requests one at a time; random keys over ` +
        `${keyspace.toLocaleString('en-US')} records of 2 KB bodies. The scripts are the services' own (EVALSHA, ` +
        'arguments as the stores build them); claims and settles are counted in Redis afterwards (a random draw may ' +
        'hit a request taken already). A stage ceiling is 1 ÷ Σ (calls per request ÷ calls/s). A stage figure from ' +
        'another run (when `--only` skipped its scenario: the last run of this mode, else the committed full run) says ' +
        'so.',
      [
        '| stage | script or command | calls per request | calls/s | requests/s | p99 ms |',
        '| --- | --- | ---: | ---: | ---: | ---: |',
        ...measured.map(
          (m) =>
            `| ${m.stage} | ${m.label} | ${m.perCall ? `1/${m.perCall.toLocaleString('en-US')}` : m.weight} | ` +
            `${Math.round(m.rps).toLocaleString('en-US')} | ${Math.round(m.requestsPerS).toLocaleString('en-US')} | ${m.p99Ms} |`,
        ),
      ].join('\n'),
      [
        '| stage | figure | per s | from | Redis ceiling per s | share |',
        '| --- | --- | ---: | --- | ---: | ---: |',
        ...(Object.keys(ceilings) as Stage[]).map((s) => {
          const f = figures[s];
          const c = ceilings[s];
          return f
            ? `| ${s} | ${f.what} | ${Math.round(f.perS).toLocaleString('en-US')} | ${f.from} | ${Math.round(c.perS).toLocaleString('en-US')} (${c.how}) | ${round((f.perS / c.perS) * 100, 1)} % |`
            : `| ${s} | not measured | | | ${Math.round(c.perS).toLocaleString('en-US')} (${c.how}) | |`;
        }),
      ].join('\n'),
      `Intake with one request per script call would top out at ${Math.round(script1.rps).toLocaleString('en-US')} ` +
        `requests/s and with its nearest primitives (HSET of the record + ZADD, pipelined) at ` +
        `${Math.round(primitiveIntake).toLocaleString('en-US')}/s, against ${Math.round(script32.requestsPerS).toLocaleString('en-US')}/s ` +
        'at 32 per call: coalescing the requests of one event-loop turn into one call is what lifts the ceiling. ' +
        `What limits each stage: ${(Object.keys(ceilings) as Stage[])
          .map((st) => {
            const f = figures[st];
            if (!f) return `${st} not measured`;
            const share = f.perS / ceilings[st].perS;
            if (f.from !== 'this run')
              return `${st}: its figure is from another run under another load, no share to read`;
            return share >= 0.5
              ? `${st} at ${Math.round(share * 100)} % of its ceiling is bound by Redis`
              : `${st} at ${Math.round(share * 100)} % is bound by its own process (CPU: parsing, JSON, HTTP, signing), not by Redis`;
          })
          .join('; ')}. On this 2-core machine Redis, the service and the load generator share the cores, so the ` +
        'ceilings are lower than on a dedicated Redis core.',
    ],
    charts: [],
  };
}
