/**
 * S10 Redis memory: what a request costs in Redis at rest, against its raw payload.
 *
 * Queued curve: requests with 2 KB chat bodies are enqueued through `store.requests.enqueue` (the enqueue-many script
 * the ingest API runs) in steps up to `curve[last]`; after each step `INFO memory` gives `used_memory`, and the bytes
 * per queued request are the growth over the empty partition divided by the requests queued.
 *
 * Finished: `finished` requests go the whole way on the same private Redis — enqueued (2 KB bodies), claimed into one
 * flush, recorded as submitted, settled `completed` with a 1 KB chat.completion answer each (the settle-many script
 * the poller runs, billed as the poller bills, outbox relayed as the poller relays), then delivered by the real
 * dispatcher (its own process) to a bare receiver; the batch is finished as the poller finishes it. Bytes per
 * finished request = `used_memory` growth over the empty partition ÷ requests, against body + answer bytes. Where the
 * bytes go: every key is sized with `MEMORY USAGE … SAMPLES 0` and grouped by its name with ids taken out, and the
 * request hash's fields are summed over a sample. What compression would save: the large fields of that sample are
 * compressed with node:zlib (deflateRaw, brotli) and timed — an estimate, nothing is stored compressed.
 *
 * Two finished runs: Redis's default `hash-max-listpack-value` (64) and the one batchbridge's shipped configurations
 * set (8192: docker-compose.yml, the k8s dev overlay, the embedded redis-server), each set for its run and put back.
 */
import { brotliCompressSync, brotliDecompressSync, constants, deflateRawSync, inflateRawSync } from 'node:zlib';
import { loadPriceTable } from '@batchbridge/config';
import { billItemFor, newFlushId } from '@batchbridge/domain';
import { simulatedCompletion } from '@batchbridge/provider-sim';
import { RECOMMENDED_LISTPACK_VALUE } from '@batchbridge/redis';
import type { Runtime } from '@batchbridge/runtime';
import { GROUP, MODEL, seedRequests } from '../fixtures.js';
import type { Harness } from '../harness.js';
import { type Plan, progress, type Row, type ScenarioResult } from '../model.js';
import { sleep, waitUntil } from '../procs.js';
import { round } from '../stats.js';
import { lineChart } from '../svg-chart.js';

const BODY_BYTES = 2048;
const ANSWER_BYTES = 1024;
/** Target: Redis bytes per finished request ≤ 1.5 × its raw body + answer bytes (issue 26). */
const FINISHED_RATIO_MAX = 1.5;
/** Redis's default `hash-max-listpack-value`: a hash with a longer value is a hashtable. */
const DEFAULT_LISTPACK_VALUE = 64;
/** The `hash-max-listpack-value` of the second finished run (the shipped configurations'): one listpack a record. */
const LISTPACK_VALUE = RECOMMENDED_LISTPACK_VALUE;

async function usedMemory(rt: Runtime): Promise<{ used: number; rss: number }> {
  const info = await rt.redis.info('memory');
  const num = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? Number.NaN);
  return { used: num('used_memory'), rss: num('used_memory_rss') };
}

/** A key's name with its request, flush, batch, job and file ids replaced by `<id>` (one row per kind of key). */
export function keyKind(key: string): string {
  return key
    .replace(/^\{[^}]*\}/, 'T')
    .replace(/(?<=:)[a-z]+[-_][0-9A-Za-z_-]{8,}/g, '<id>')
    .replace(/(?<=:)\d+(?=$|:)/g, '<n>');
}

/** BullMQ's keys (its queues of a partition): job hashes, and the bounded completed set and event stream. */
export function isBullmq(kind: string): boolean {
  return (
    /^T:(deliver|poll|lane):/.test(kind) ||
    /^T:flush:(events|completed|failed|wait|paused|meta|id|active|delayed|prioritized|marker|stalled-check|pc|<n>)$/.test(
      kind,
    )
  );
}

interface KeyBreakdown {
  kind: string;
  keys: number;
  bytes: number;
}

/** Every key of the prefix (and its BullMQ queues), sized exactly and grouped by kind, largest first. */
async function breakdown(rt: Runtime, prefix: string): Promise<KeyBreakdown[]> {
  const kinds = new Map<string, KeyBreakdown>();
  let cursor = '0';
  do {
    const [next, keys] = (await rt.redis.scan(cursor, 'MATCH', `{${prefix}:*`, 'COUNT', 2000)) as [string, string[]];
    cursor = next;
    if (keys.length === 0) continue;
    const pipe = rt.redis.pipeline();
    for (const k of keys) pipe.memory('USAGE', k, 'SAMPLES', 0);
    const sizes = (await pipe.exec()) ?? [];
    keys.forEach((k, i) => {
      const kind = keyKind(k);
      const row = kinds.get(kind) ?? { kind, keys: 0, bytes: 0 };
      row.keys += 1;
      row.bytes += Number(sizes[i]?.[1] ?? 0);
      kinds.set(kind, row);
    });
  } while (cursor !== '0');
  return [...kinds.values()].sort((a, b) => b.bytes - a.bytes);
}

/**
 * A chat.completion answer whose JSON is about `bytes` bytes, different for every `i`: the simulator's completion
 * object with its content replaced by text of varied words (so compression is not handed repeated bytes).
 */
function answer(i: number, bytes: number): { status_code: number; body: unknown } {
  const completion = simulatedCompletion({ model: MODEL, messages: [{ role: 'user', content: `answer ${i}` }] });
  const message = completion.choices[0].message;
  message.content = '';
  const overhead = Buffer.byteLength(JSON.stringify(completion));
  let text = '';
  let x = i * 2_246_822_519 + 7;
  const words = 'the customer reported that shipment arrived late refund was issued within two days overall'.split(' ');
  while (text.length < bytes - overhead) {
    x = (x * 1_103_515_245 + 12_345) >>> 0;
    text += `${words[x % words.length]}${x % 7 === 0 ? '. ' : ' '}`;
  }
  message.content = text.slice(0, Math.max(0, bytes - overhead));
  return { status_code: 200, body: completion };
}

interface FieldStat {
  field: string;
  bytes: number;
  deflate: number;
  brotli: number;
}

interface Compression {
  /** Per request: bytes of the fields ≥ 512 B as stored and compressed, µs of CPU to compress and to decompress. */
  large: string[];
  rawBytes: number;
  deflateBytes: number;
  brotliBytes: number;
  deflateUs: number;
  inflateUs: number;
  brotliUs: number;
  unbrotliUs: number;
}

/** Fields of the request hash over `ids` (bytes per request, field name included), and what compression would do. */
async function fieldsOf(
  rt: Runtime,
  ids: string[],
): Promise<{ fields: FieldStat[]; fieldCount: number; compression: Compression }> {
  const pipe = rt.redis.pipeline();
  const k = rt.keys.partitionKeys(0);
  for (const id of ids) pipe.hgetall(k.req(id));
  const hashes = ((await pipe.exec()) ?? []).map((r) => r[1] as Record<string, string>);
  const stats = new Map<string, FieldStat>();
  let fieldCount = 0;
  const c: Compression = {
    large: [],
    rawBytes: 0,
    deflateBytes: 0,
    brotliBytes: 0,
    deflateUs: 0,
    inflateUs: 0,
    brotliUs: 0,
    unbrotliUs: 0,
  };
  const large = new Set<string>();
  const brotliParams = { params: { [constants.BROTLI_PARAM_QUALITY]: 4 } };
  for (const h of hashes) {
    for (const [field, value] of Object.entries(h)) {
      fieldCount += 1;
      const s = stats.get(field) ?? { field, bytes: 0, deflate: 0, brotli: 0 };
      const raw = Buffer.from(value);
      s.bytes += field.length + raw.length;
      if (raw.length >= 512) {
        large.add(field);
        let t = process.hrtime.bigint();
        const d = deflateRawSync(raw);
        c.deflateUs += Number(process.hrtime.bigint() - t) / 1000;
        t = process.hrtime.bigint();
        inflateRawSync(d);
        c.inflateUs += Number(process.hrtime.bigint() - t) / 1000;
        t = process.hrtime.bigint();
        const b = brotliCompressSync(raw, brotliParams);
        c.brotliUs += Number(process.hrtime.bigint() - t) / 1000;
        t = process.hrtime.bigint();
        brotliDecompressSync(b);
        c.unbrotliUs += Number(process.hrtime.bigint() - t) / 1000;
        s.deflate += d.length;
        s.brotli += b.length;
        c.rawBytes += raw.length;
        c.deflateBytes += d.length;
        c.brotliBytes += b.length;
      }
      stats.set(field, s);
    }
  }
  const n = Math.max(1, hashes.length);
  const per = (v: number) => v / n;
  return {
    fields: [...stats.values()]
      .map((s) => ({ field: s.field, bytes: per(s.bytes), deflate: per(s.deflate), brotli: per(s.brotli) }))
      .sort((a, b) => b.bytes - a.bytes),
    fieldCount: fieldCount / n,
    compression: {
      large: [...large],
      rawBytes: per(c.rawBytes),
      deflateBytes: per(c.deflateBytes),
      brotliBytes: per(c.brotliBytes),
      deflateUs: per(c.deflateUs),
      inflateUs: per(c.inflateUs),
      brotliUs: per(c.brotliUs),
      unbrotliUs: per(c.unbrotliUs),
    },
  };
}

interface CurvePoint {
  queued: number;
  usedMb: number;
  rssMb: number;
  bytesPerRequest: number;
  seedS: number;
}

async function queuedCurve(h: Harness, steps: number[]): Promise<CurvePoint[]> {
  await h.flush();
  const prefix = h.prefix('s10q');
  const rt = await h.runtime(prefix);
  const empty = await usedMemory(rt);
  const points: CurvePoint[] = [];
  let queued = 0;
  const t0 = Date.now();
  for (const target of steps) {
    // Four seeders side by side: more enqueue-many calls in flight, as a busy ingest has.
    const add = target - queued;
    const share = Math.ceil(add / 4);
    await Promise.all(
      [0, 1, 2, 3].map((i) =>
        seedRequests(rt.store, {
          count: Math.max(0, Math.min(share, add - i * share)),
          bodyBytes: BODY_BYTES,
          callbackUrl: 'http://127.0.0.1:9/hook',
        }),
      ),
    );
    queued = target;
    const m = await usedMemory(rt);
    const point = {
      queued,
      usedMb: round((m.used - empty.used) / 1e6),
      rssMb: round(m.rss / 1e6),
      bytesPerRequest: Math.round((m.used - empty.used) / queued),
      seedS: round((Date.now() - t0) / 1000),
    };
    points.push(point);
    progress(
      'S10',
      `${queued} queued: Redis used_memory +${point.usedMb} MB = ${point.bytesPerRequest} B per request (seeded in ${point.seedS} s)`,
    );
  }
  await h.flush();
  return points;
}

interface Finished {
  count: number;
  rawBytes: number;
  bodyBytes: number;
  answerBytes: number;
  queuedPerRequest: number;
  finishedPerRequest: number;
  queuedKinds: KeyBreakdown[];
  finishedKinds: KeyBreakdown[];
  queuedFields: Awaited<ReturnType<typeof fieldsOf>>;
  finishedFields: Awaited<ReturnType<typeof fieldsOf>>;
  settleS: number;
  deliverS: number;
}

/**
 * One finished run. `listpackValue`: Redis's `hash-max-listpack-value` for the run (64, Redis's default: a hash with
 * a longer value becomes a hashtable), put back afterwards.
 */
async function finishedRun(h: Harness, count: number, listpackValue: number): Promise<Finished> {
  await h.flush();
  const prefix = h.prefix('s10f');
  const receiver = await h.startReceiver(false);
  const rt = await h.runtime(prefix);
  const before = ((await rt.redis.config('GET', 'hash-max-listpack-value')) as string[])[1] ?? '64';
  await rt.redis.config('SET', 'hash-max-listpack-value', String(listpackValue));
  const tag = listpackValue === DEFAULT_LISTPACK_VALUE ? '' : `listpack values ≤ ${listpackValue} B: `;
  try {
    const k = rt.keys.partitionKeys(0);
    const empty = await usedMemory(rt);
    const ids = await seedRequests(rt.store, { count, bodyBytes: BODY_BYTES, callbackUrl: receiver.url });
    const bodies = await rt.store.requests.bodies(0, ids.slice(0, 200));
    const bodyBytes = bodies.reduce((n, b) => n + Buffer.byteLength(b ?? ''), 0) / bodies.length;
    const queued = await usedMemory(rt);
    const sample = ids.filter((_, i) => i % Math.max(1, Math.floor(count / 200)) === 0);
    const queuedKinds = await breakdown(rt, prefix);
    const queuedFields = await fieldsOf(rt, sample);
    progress(
      'S10',
      `${tag}${count} queued for the finished run: ${Math.round((queued.used - empty.used) / count)} B each`,
    );

    // Packer: one flush of every request (its flush job dropped: no packer runs); submitted as one batch.
    const flushId = newFlushId();
    const claim = await rt.store.flushes.claim(
      0,
      GROUP,
      flushId,
      { maxRequests: count, maxBytes: 1e12, maxTokens: 1e12, maxWaitMs: 0 },
      true,
    );
    if (!claim.claimed) throw new Error(`S10: claim failed (${claim.why})`);
    if (claim.count !== count) throw new Error(`S10: claimed ${claim.count} of ${count}`);
    await rt.redis.zrem(k.outbox, claim.outbox);
    const flush = await rt.store.flushes.get(0, flushId);
    if (!flush) throw new Error('S10: flush missing');
    const batchId = `batch_s10${Date.now().toString(36)}`;
    const poll = await rt.store.flushes.recordSubmission(0, flush, batchId, `file-s10${Date.now().toString(36)}`);
    await rt.redis.zrem(k.outbox, poll);

    // Poller: settled completed with 1 KB answers, billed and relayed as the poller does; then the batch finished.
    const prices = loadPriceTable(rt.config.priceTableFile);
    let answerBytes = 0;
    let settleMs = 0;
    for (let start = 0; start < count; start += 1_000) {
      const items = ids.slice(start, start + 1_000).map((id, j) => {
        const response = answer(start + j, ANSWER_BYTES);
        answerBytes += Buffer.byteLength(JSON.stringify(response.body));
        return {
          id,
          kind: 'completed' as const,
          response,
          bill: billItemFor(prices, ['default', 'openai'], 'default', response),
        };
      });
      const s0 = performance.now();
      const { outcomes, outbox } = await rt.store.requests.settle(0, batchId, items);
      settleMs += performance.now() - s0;
      if (outcomes.some((o) => o !== 'completed')) throw new Error(`S10: settle answered ${outcomes.join(',')}`);
      await rt.relay.relay(0, outbox);
    }
    answerBytes /= count;
    const batch = await rt.store.batches.get(0, batchId);
    if (batch) await rt.store.batches.finish(0, batch, 'completed', { completed: count, failed: 0, retried: 0 });

    // Dispatcher: every outcome delivered, signed, to the receiver; stopped once nothing is left undelivered.
    const t0 = Date.now();
    const dispatcher = await h.startService('dispatcher', prefix, {
      WEBHOOK_CONCURRENCY: '64',
      WEBHOOK_HOST_CONCURRENCY: '64',
    });
    try {
      await waitUntil(
        'every outcome delivered',
        async () => {
          const [got, left] = await Promise.all([receiver.stats(), rt.redis.zcard(k.undelivered)]);
          return got.count >= count && left === 0 ? true : undefined;
        },
        { timeoutMs: 300_000, everyMs: 100, children: [dispatcher.child, receiver.child] },
      );
    } finally {
      await dispatcher.child.stop();
    }
    const deliverS = (Date.now() - t0) / 1000;
    await sleep(200);
    const finished = await usedMemory(rt);
    const finishedKinds = await breakdown(rt, prefix);
    const finishedFields = await fieldsOf(rt, sample);
    const out = {
      count,
      bodyBytes,
      answerBytes,
      rawBytes: bodyBytes + answerBytes,
      queuedPerRequest: (queued.used - empty.used) / count,
      finishedPerRequest: (finished.used - empty.used) / count,
      queuedKinds,
      finishedKinds,
      queuedFields,
      finishedFields,
      settleS: settleMs / 1000,
      deliverS,
    };
    progress(
      'S10',
      `${tag}${count} finished and delivered: ${Math.round(out.finishedPerRequest)} B each, raw ${Math.round(out.rawBytes)} B (${(out.finishedPerRequest / out.rawBytes).toFixed(2)}×)`,
    );
    return out;
  } finally {
    await rt.redis.config('SET', 'hash-max-listpack-value', before);
    await receiver.child.stop();
    await h.flush();
  }
}

const kb = (v: number) => `${(v / 1024).toFixed(2)} KiB`;

export async function runS10(h: Harness, plan: Plan): Promise<ScenarioResult> {
  const p = plan.s10;
  const f = await finishedRun(h, p.finished, DEFAULT_LISTPACK_VALUE);
  const lp = await finishedRun(h, p.finished, LISTPACK_VALUE);
  const curve = await queuedCurve(h, p.curve);
  // BullMQ keeps at most 10 000 completed jobs and about 10 000 events per queue (bounded, whatever the traffic): at
  // this run's size they are all there; past it they stay as they are, so they are shown apart.
  const bullmq = f.finishedKinds.filter((r) => isBullmq(r.kind)).reduce((n, r) => n + r.bytes, 0) / f.count;
  const lpBullmq = lp.finishedKinds.filter((r) => isBullmq(r.kind)).reduce((n, r) => n + r.bytes, 0) / lp.count;
  const ownRatio = (f.finishedPerRequest - bullmq) / f.rawBytes;
  const lpRatio = lp.finishedPerRequest / lp.rawBytes;
  const lpOwnRatio = (lp.finishedPerRequest - lpBullmq) / lp.rawBytes;
  // What is left to take (outside BullMQ; the compression row estimated from the listpack run's large fields,
  // allocator rounding ignored).
  const lpOwn = lp.finishedPerRequest - lpBullmq;
  const lpc = lp.finishedFields.compression;
  const levers = [
    { lever: `hash-max-listpack-value ${LISTPACK_VALUE}, as shipped (measured)`, saved: 0 },
    {
      lever: `+ deflateRaw of ${lpc.large.map((x) => `\`${x}\``).join(', ') || 'no field'} (estimate)`,
      saved: lpc.rawBytes - lpc.deflateBytes,
    },
  ].map((l) => ({ ...l, bytes: lpOwn - l.saved, ratio: (lpOwn - l.saved) / lp.rawBytes }));

  const queuedRatio = f.queuedPerRequest / f.bodyBytes;
  const finishedRatio = f.finishedPerRequest / f.rawBytes;
  const top = curve[curve.length - 1] as CurvePoint;
  const fc = f.finishedFields.compression;
  const deflateSaved = fc.rawBytes - fc.deflateBytes;
  const withDeflate = (f.finishedPerRequest - deflateSaved) / f.rawBytes;
  const rows: Row[] = [
    {
      metric: 'Redis bytes per queued request (2 KB body)',
      value: `${Math.round(f.queuedPerRequest)} B`,
      baseline: `${Math.round(f.bodyBytes)} B body`,
      ratio: `${queuedRatio.toFixed(2)}×`,
    },
    {
      metric: 'Redis bytes per finished request (2 KB body, 1 KB answer, delivered)',
      value: `${Math.round(f.finishedPerRequest)} B`,
      baseline: `${Math.round(f.rawBytes)} B body+answer`,
      ratio: `${finishedRatio.toFixed(2)}×`,
      target: `≤ ${FINISHED_RATIO_MAX}×`,
      met: finishedRatio <= FINISHED_RATIO_MAX,
    },
    {
      metric: '… of which outside BullMQ (its bounded completed-job history and events left out)',
      value: `${Math.round(f.finishedPerRequest - bullmq)} B`,
      baseline: `${Math.round(f.rawBytes)} B body+answer`,
      ratio: `${ownRatio.toFixed(2)}×`,
    },
    {
      metric: `… with Redis hash-max-listpack-value ${LISTPACK_VALUE}, as shipped (finished; queued)`,
      value: `${Math.round(lp.finishedPerRequest)} B; ${Math.round(lp.queuedPerRequest)} B`,
      baseline: `${Math.round(lp.rawBytes)} B; ${Math.round(lp.bodyBytes)} B`,
      ratio: `${lpRatio.toFixed(2)}×; ${(lp.queuedPerRequest / lp.bodyBytes).toFixed(2)}×`,
    },
    {
      metric: `Redis used_memory at ${top.queued.toLocaleString('en-US')} queued`,
      value: `${top.usedMb.toLocaleString('en-US')} MB`,
      baseline: `${round((top.queued * f.bodyBytes) / 1e6).toLocaleString('en-US')} MB of bodies`,
      ratio: `${(top.bytesPerRequest / f.bodyBytes).toFixed(2)}×`,
    },
  ];

  const kindTable = (kinds: KeyBreakdown[], n: number) => [
    '| key (ids as `<id>`) | keys | bytes per request |',
    '| --- | ---: | ---: |',
    ...kinds
      .slice(0, 14)
      .map((r) => `| \`${r.kind}\` | ${r.keys.toLocaleString('en-US')} | ${Math.round(r.bytes / n)} |`),
  ];
  const fieldTable = (fields: FieldStat[]) => [
    '| field | bytes per request (name + value) | deflateRaw | brotli q4 |',
    '| --- | ---: | ---: | ---: |',
    ...fields
      .slice(0, 12)
      .map(
        (s) =>
          `| \`${s.field}\` | ${Math.round(s.bytes)} | ${s.deflate ? Math.round(s.deflate) : ''} | ${s.brotli ? Math.round(s.brotli) : ''} |`,
      ),
  ];
  const hashBytes = (kinds: KeyBreakdown[]) => kinds.find((r) => r.kind === 'T:req:<id>')?.bytes ?? 0;
  const finishedFieldBytes = f.finishedFields.fields.reduce((n, s) => n + s.bytes, 0);
  const json = {
    body_bytes: Math.round(f.bodyBytes),
    answer_bytes: Math.round(f.answerBytes),
    raw_bytes: Math.round(f.rawBytes),
    finished_requests: f.count,
    queued_bytes_per_request: Math.round(f.queuedPerRequest),
    queued_ratio_to_body: round(queuedRatio, 2),
    finished_bytes_per_request: Math.round(f.finishedPerRequest),
    finished_ratio_to_raw: round(finishedRatio, 2),
    finished_bytes_per_request_outside_bullmq: Math.round(f.finishedPerRequest - bullmq),
    finished_ratio_outside_bullmq: round(ownRatio, 2),
    finished_ratio_to_answer: round(f.finishedPerRequest / f.answerBytes, 2),
    hash_max_listpack_value: DEFAULT_LISTPACK_VALUE,
    settle_s: round(f.settleS, 3),
    deliver_s: round(f.deliverS, 2),
    listpack: {
      hash_max_listpack_value: LISTPACK_VALUE,
      queued_bytes_per_request: Math.round(lp.queuedPerRequest),
      finished_bytes_per_request: Math.round(lp.finishedPerRequest),
      finished_ratio_to_raw: round(lpRatio, 2),
      finished_ratio_outside_bullmq: round(lpOwnRatio, 2),
      settle_s: round(lp.settleS, 3),
      deliver_s: round(lp.deliverS, 2),
      request_hash_bytes_finished: Math.round(
        (lp.finishedKinds.find((r) => r.kind === 'T:req:<id>')?.bytes ?? 0) / lp.count,
      ),
    },
    levers_outside_bullmq: levers.map((l) => ({
      lever: l.lever,
      bytes_per_finished_request: Math.round(l.bytes),
      ratio_to_raw: round(l.ratio, 2),
    })),
    request_hash_fields_finished: round(f.finishedFields.fieldCount, 1),
    request_hash_bytes_finished: Math.round(hashBytes(f.finishedKinds) / f.count),
    request_hash_field_bytes_finished: Math.round(finishedFieldBytes),
    keys_finished: f.finishedKinds.map((r) => ({
      kind: r.kind,
      keys: r.keys,
      bytes_per_request: Math.round(r.bytes / f.count),
    })),
    keys_queued: f.queuedKinds.map((r) => ({
      kind: r.kind,
      keys: r.keys,
      bytes_per_request: Math.round(r.bytes / f.count),
    })),
    compression_estimate: {
      fields: fc.large,
      raw_bytes: Math.round(fc.rawBytes),
      deflate_raw_bytes: Math.round(fc.deflateBytes),
      brotli_q4_bytes: Math.round(fc.brotliBytes),
      deflate_us: round(fc.deflateUs),
      inflate_us: round(fc.inflateUs),
      brotli_us: round(fc.brotliUs),
      unbrotli_us: round(fc.unbrotliUs),
      finished_ratio_with_deflate: round(withDeflate, 2),
    },
    queued_curve: curve.map((c) => ({
      queued: c.queued,
      used_memory_mb: c.usedMb,
      used_memory_rss_mb: c.rssMb,
      bytes_per_request: c.bytesPerRequest,
    })),
    targets: { finished_ratio_max: FINISHED_RATIO_MAX, met: finishedRatio <= FINISHED_RATIO_MAX },
  };

  const chart = lineChart({
    title: 'S10 Redis used_memory against queued requests (2 KB bodies)',
    xLabel: 'queued requests',
    yLabel: 'MB',
    series: [
      { name: 'Redis used_memory growth', points: curve.map((c) => ({ x: c.queued, y: c.usedMb })) },
      { name: 'raw bodies', points: curve.map((c) => ({ x: c.queued, y: round((c.queued * f.bodyBytes) / 1e6) })) },
    ],
  });

  const notes = [
    `Private \`redis-server\` (persistence off), \`used_memory\` from \`INFO memory\` over the empty partition. ` +
      `Bodies: ${Math.round(f.bodyBytes)}-byte chat bodies (varied words, no repeated bytes), a callback URL each, ` +
      `enqueued by the enqueue-many script the ingest API runs. Answers: ${Math.round(f.answerBytes)}-byte ` +
      'chat.completion JSON (the provider output line\'s `response.body`). "Raw" = body + answer bytes.',
    `Finished run (${f.count.toLocaleString('en-US')} requests): claimed into one flush, recorded submitted, settled ` +
      'by the settle-many script (billed, outbox relayed — as the poller does), the batch finished, then every outcome ' +
      `delivered by the dispatcher (its own process, concurrency 64) to a bare receiver in ${f.deliverS.toFixed(1)} s; ` +
      'measured once nothing was left undelivered. Queued: ' +
      `${kb(f.queuedPerRequest)} per request (${queuedRatio.toFixed(2)}× the body); finished and delivered: ` +
      `${kb(f.finishedPerRequest)} (${finishedRatio.toFixed(2)}× body + answer).`,
    '**Queued curve** (one run, requests added step by step to one partition, no packer):',
    [
      '| queued requests | Redis used_memory growth | bytes per request | × body | Redis RSS | seeded by (s) |',
      '| ---: | ---: | ---: | ---: | ---: | ---: |',
      ...curve.map(
        (c) =>
          `| ${c.queued.toLocaleString('en-US')} | ${c.usedMb.toLocaleString('en-US')} MB | ${c.bytesPerRequest} | ` +
          `${(c.bytesPerRequest / f.bodyBytes).toFixed(2)} | ${c.rssMb.toLocaleString('en-US')} MB | ${c.seedS} |`,
      ),
    ].join('\n'),
    '**Where the bytes of a finished request go** (every key sized with `MEMORY USAGE … SAMPLES 0`, grouped by kind; ' +
      'BullMQ keys included):',
    kindTable(f.finishedKinds, f.count).join('\n'),
    `The request hash, finished: ${f.finishedFields.fieldCount.toFixed(0)} fields holding ${Math.round(finishedFieldBytes)} B ` +
      `of names and values, ${Math.round(hashBytes(f.finishedKinds) / f.count)} B in Redis (the hash has values over 64 B, ` +
      'so it is a hashtable: each field is a dict entry and two separately allocated strings). Its fields, largest first:',
    fieldTable(f.finishedFields.fields).join('\n'),
    `BullMQ's share (${f.finishedKinds
      .filter((r) => isBullmq(r.kind))
      .map((r) => `\`${r.kind}\``)
      .join(', ')}): ${Math.round(bullmq)} B per request here. It keeps at most 10 000 completed jobs (for an hour) ` +
      "and a stream of about 10 000 events per queue, so at this run's size all of it is present and beyond it the " +
      `total stays put: outside BullMQ a finished request takes ${Math.round(f.finishedPerRequest - bullmq)} B ` +
      `(${ownRatio.toFixed(2)}× raw).`,
    `**What a finished record keeps.** Its answer (\`response\`), its cost and usage, about 15 small fields and its ` +
      'delivery log (`T:attempts:<id>`) — not the request body (`finish` drops `body`, `schema` and the packing ' +
      'sizes: read by nothing once the request is terminal, part of neither the request object nor its webhook) ' +
      'and not the webhook body: every attempt rebuilds it from the terminal record, byte for byte, and the first one ' +
      'fixes only a short mark of it (`webhook_fp`: format and hash; docs/architecture.md says what guarantees ' +
      `the rebuild). So against the answer alone a finished request takes ${(f.finishedPerRequest / f.answerBytes).toFixed(2)}×. ` +
      `**What limits the ratio** with Redis's default settings: the request hash is ` +
      `${Math.round(hashBytes(f.finishedKinds) / f.count)} B for ${Math.round(finishedFieldBytes)} B of fields — a hash ` +
      'with a value longer than `hash-max-listpack-value` (64 B by default) is a hashtable, a dict entry and two ' +
      'separately allocated strings per field, each rounded up to its jemalloc size class. ' +
      `With \`hash-max-listpack-value ${LISTPACK_VALUE}\` (set by docker-compose.yml, the k8s dev overlay and the ` +
      'embedded redis-server; docs/scaling.md) each record is one listpack: ' +
      `${Math.round(json.listpack.request_hash_bytes_finished)} B per record, ${Math.round(lp.finishedPerRequest)} B per ` +
      `finished request (${lpRatio.toFixed(2)}×; ${lpOwnRatio.toFixed(2)}× outside BullMQ), ` +
      `${Math.round(lp.queuedPerRequest)} B per queued one (${(lp.queuedPerRequest / lp.bodyBytes).toFixed(2)}× the body). ` +
      `Its cost in time, same runs: settling the ${f.count.toLocaleString('en-US')} answers took ` +
      `${(f.settleS * 1000).toFixed(0)} ms with the default, ${(lp.settleS * 1000).toFixed(0)} ms with listpacks; ` +
      `delivering them ${f.deliverS.toFixed(1)} s and ${lp.deliverS.toFixed(1)} s (one run each, on a shared machine).`,
    "**What is left** (outside BullMQ; the first row measured, the second estimated by taking the compressed field's " +
      "saving out of the listpack run's records — allocator rounding ignored):",
    [
      '| with | bytes per finished request | × body + answer |',
      '| --- | ---: | ---: |',
      ...levers.map(
        (l) =>
          `| ${l.lever} | ${Math.round(l.bytes)} | ${l.ratio.toFixed(2)} ${l.ratio <= FINISHED_RATIO_MAX ? '(≤ 1.5)' : ''} |`,
      ),
    ].join('\n'),
    `**Compression** (estimate on the sampled records; not done): the fields of 512 B or more ` +
      `(${fc.large.map((x) => `\`${x}\``).join(', ')}) hold ${Math.round(fc.rawBytes)} B per finished request; deflateRaw ` +
      `makes them ${Math.round(fc.deflateBytes)} B (${fc.deflateUs.toFixed(0)} µs to compress, ${fc.inflateUs.toFixed(0)} µs ` +
      `to read back per request), brotli quality 4 ${Math.round(fc.brotliBytes)} B (${fc.brotliUs.toFixed(0)} µs / ` +
      `${fc.unbrotliUs.toFixed(0)} µs). With deflateRaw the finished request would take about ` +
      `${withDeflate.toFixed(2)}× its raw bytes with the default settings. It stays off: the target is met without it, ` +
      'and it would cost CPU on the poller for every answer and on every reader of `response` (API, waiting ' +
      'connections, Batch API output files, each webhook attempt), with binary values read as Buffers. The ' +
      "benchmark's texts are words of a small vocabulary in random order; real prompts and answers compress more or " +
      'less than these — not measured on real traffic.',
  ];
  return {
    id: 'S10',
    title: 'S10 Redis memory per request',
    rows,
    json,
    notes,
    charts: [{ file: 'bench-s10-memory.svg', svg: chart, alt: 'S10 Redis memory against queued requests' }],
  };
}
