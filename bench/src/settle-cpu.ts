/**
 * Redis CPU per settled line of the poller's routing path (not part of `pnpm bench`): a private redis-server (AOF and
 * RDB off, as the benchmark's), `--lines` chat requests queued, claimed into one flush and recorded submitted in one
 * batch through the stores, then settled `completed` and billed in chunks of 500 exactly as the poller's chunked
 * settler calls the store (`schemas` then `settle` per chunk, answers as body bytes, `--in-flight` chunks at once).
 * Redis' own accounting, reset before the settle: `INFO commandstats` (EVALSHA usec, so the schemas-many and
 * settle-many scripts together, and each inner command) and `INFO cpu` (the server process, user + sys) ÷ the lines.
 * On a shared box this is a much steadier measure of a script change than S3's lines/s: run old and new back to back.
 *
 *   pnpm exec tsx bench/src/settle-cpu.ts [--lines 50000] [--reps 3] [--in-flight 4] [--listpack 8192|default]
 *   pnpm exec tsx bench/src/settle-cpu.ts --ab ../other-checkout   # paired A/B of the two checkouts' scripts
 *
 * `--ab DIR`: the settle-many and schemas-many scripts of another checkout (its packages/domain sources) against this
 * one's, chunk by chunk in turns (A B B A …, one chunk at a time, Redis CPU read around each), on the same server and
 * data: the differences show through the noise of a shared box. Only for scripts whose arguments did not change.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadPriceTable, parseConfig } from '@batchbridge/config';
import { billItemFor, newFlushId } from '@batchbridge/domain';
import { silentLogger } from '@batchbridge/logger';
import { freePort, spawnRedisServer } from '@batchbridge/redis';
import { createRuntime, TenantDirectory } from '@batchbridge/runtime';
import { BENCH_TENANT, chatBody, GROUP, MODEL, seedRequests } from './fixtures.js';

const argv = process.argv.slice(2);
const arg = (name: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const lines = Number(arg('--lines') ?? 50_000);
const reps = Number(arg('--reps') ?? 3);
const inFlight = Number(arg('--in-flight') ?? 4);
const listpack = arg('--listpack') ?? 'default';
const CHUNK = 500;
/** `--perf FILE`: record the redis-server with `perf record -g` while the last rep settles. */
const perfOut = arg('--perf');
const abDir = arg('--ab');

function answerBody(i: number): Buffer {
  return Buffer.from(
    JSON.stringify({
      id: `chatcmpl-${i}`,
      object: 'chat.completion',
      created: 1_765_000_000,
      model: MODEL,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: chatBody(i + 7, 700).json, refusal: null, annotations: [] },
          finish_reason: 'stop',
        },
      ],
      usage: { prompt_tokens: 120, completion_tokens: 180, total_tokens: 300 },
    }),
  );
}

/** The JSON item options of settle-many from its compact form (request-store.ts compactOptions). */
function jsonOptions(text: string): string {
  if (!text.startsWith('\x01')) return text;
  const [flag, provider, model, rtText, usage, ...lanes] = text.slice(1).split('\x01') as string[];
  const options: Record<string, unknown> = { kind: 'completed', message: '', group: '' };
  if (flag === '1') options.truncated = true;
  if (provider !== undefined) {
    options.bill = {
      provider,
      model,
      usage,
      lanes: Object.fromEntries(lanes.map((l) => [l.split('\x02')[0], Number(l.split('\x02')[1])])),
      ...(rtText ? { rt: Number(rtText) } : {}),
    };
  }
  return JSON.stringify(options);
}

const stat = (info: string, name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
function commandStats(info: string): Map<string, { calls: number; usec: number }> {
  const out = new Map<string, { calls: number; usec: number }>();
  for (const m of info.matchAll(/^cmdstat_(\w+):calls=(\d+),usec=(\d+)/gm)) {
    out.set(m[1] as string, { calls: Number(m[2]), usec: Number(m[3]) });
  }
  return out;
}

const dir = mkdtempSync(join(tmpdir(), 'bb-settle-cpu-'));
const port = await freePort();
const extra = ['--appendonly', 'no', '--save', ''];
if (listpack !== 'default') extra.push('--hash-max-listpack-value', listpack);
const redis = await spawnRedisServer('redis-server', port, dir, extra);
try {
  const parsed = parseConfig({
    REDIS_KEY_PREFIX: 'cpu',
    UPSTREAM_BASE_URL: 'http://127.0.0.1:9/v1',
    UPSTREAM_API_KEY: 'sk-bench',
    WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8',
  });
  if (!parsed.ok) throw new Error(parsed.message);
  const rt = await createRuntime({
    config: parsed.config,
    redisUrl: `redis://127.0.0.1:${port}`,
    logger: silentLogger(),
    service: 'bench',
    tenants: new TenantDirectory([BENCH_TENANT]),
  });
  (rt.redis.options as { commandTimeout?: number | undefined }).commandTimeout = undefined;
  const prices = loadPriceTable(rt.config.priceTableFile);
  const perLine: number[] = [];
  // --ab: the other checkout's scripts (A) beside this one's (B).
  const variants: Array<{ name: string; settle: string; schemas: string; cpuS: number; lines: number }> = [];
  if (abDir) {
    const other = (await import(join(resolve(abDir), 'packages/domain/src/index.ts'))) as {
      scriptSource: (name: string) => string;
    };
    const { scriptSource } = await import('@batchbridge/domain');
    for (const [name, source] of [
      ['A', other.scriptSource],
      ['B', scriptSource],
    ] as const) {
      variants.push({
        name,
        settle: String(await rt.redis.script('LOAD', source('settle-many'))),
        schemas: String(await rt.redis.script('LOAD', source('schemas-many'))),
        cpuS: 0,
        lines: 0,
      });
    }
  }
  const use = (v: (typeof variants)[number]) => {
    const r = rt.redis as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    r.bbSettleMany = (...args: unknown[]) => {
      const [n, ...rest] = args as [number, ...Array<string | Buffer>];
      // `--ab-json`: variant A gets every item's options in the JSON form (a checkout before the compact form).
      if (v.name === 'A' && argv.includes('--ab-json')) {
        for (let i = n + 1; i < rest.length; i += 2) rest[i] = jsonOptions(String(rest[i]));
      }
      return rt.redis.evalsha(v.settle, n, ...rest);
    };
    r.bbSchemasMany = (...args: unknown[]) => rt.redis.evalsha(v.schemas, ...(args as [number, ...string[]]));
  };
  const serverCpuS = async () => {
    const info = await rt.redis.info('cpu');
    return stat(info, 'used_cpu_sys') + stat(info, 'used_cpu_user');
  };
  const originals = new Map<string, Record<string, string>>();
  // One batch through the stores (enqueue, claim, record the submission); later reps clone its records under new ids
  // (same fields, their batch id), which is quicker than queueing again and settles the same way.
  const seeded = await seedRequests(rt.store, { count: lines, bodyBytes: 400, callbackUrl: 'http://127.0.0.1:9/hook' });
  const k = rt.keys.partitionKeys(0);
  for (let rep = 1; rep <= reps; rep++) {
    const batchId = `batch_cpu${rep}`;
    let ids = seeded;
    if (rep === 1) await submit(batchId);
    else ids = await clone(rep, batchId);
    await measure(rep, ids, batchId);
  }

  async function clone(rep: number, batchId: string): Promise<string[]> {
    const ids: string[] = [];
    for (let start = 0; start < seeded.length; start += 1_000) {
      const write = rt.redis.pipeline();
      for (const id of seeded.slice(start, start + 1_000)) {
        const copy = `${id}r${rep}`;
        ids.push(copy);
        write.hset(k.req(copy), { ...originals.get(id), id: copy, batch_id: batchId });
      }
      await write.exec();
    }
    return ids;
  }

  async function submit(batchId: string): Promise<void> {
    const ids = seeded;
    const flushId = newFlushId();
    const claim = await rt.store.flushes.claim(
      0,
      GROUP,
      flushId,
      { maxRequests: lines, maxBytes: 1e12, maxTokens: 1e12, maxWaitMs: 0 },
      true,
    );
    if (!claim.claimed || claim.count !== lines) throw new Error('set-up: claim failed');
    await rt.redis.zrem(rt.keys.partitionKeys(0).outbox, claim.outbox);
    const flush = await rt.store.flushes.get(0, flushId);
    if (!flush) throw new Error('set-up: flush missing');
    await rt.store.flushes.recordSubmission(0, flush, batchId, 'file-cpu');
    // The submitted records as they were, before their settle: the template of every clone.
    for (let start = 0; start < ids.length; start += 1_000) {
      const read = rt.redis.pipeline();
      for (const id of ids.slice(start, start + 1_000)) read.hgetall(k.req(id));
      const replies = (await read.exec()) ?? [];
      replies.forEach((r, i) => {
        originals.set(ids[start + i] as string, r[1] as Record<string, string>);
      });
    }
  }

  async function measure(rep: number, ids: string[], batchId: string): Promise<void> {
    const items = ids.map((id, i) => {
      const bytes = answerBody(i);
      const response = { status_code: 200, body: JSON.parse(bytes.toString()) as unknown };
      return {
        id,
        kind: 'completed' as const,
        response,
        // The stored response whole (what the store wraps a body into), so that every call goes through bbSettleMany
        // (a body as bytes would be sent by evalSpread, past --ab's choice of script).
        responseJson: Buffer.concat([Buffer.from('{"status_code":200,"body":'), bytes, Buffer.from('}')]),
        bill: billItemFor(prices, ['default', 'openai'], 'default', response),
      };
    });
    const perf =
      perfOut && rep === reps
        ? spawn(
            'perf',
            [
              'record',
              '-F',
              '4000',
              ...(process.env.PERF_CALLGRAPH ? ['--call-graph', process.env.PERF_CALLGRAPH] : ['-g']),
              '-o',
              perfOut,
              '-p',
              String(redis.pid),
            ],
            { stdio: 'ignore' },
          )
        : undefined;
    if (perf) await new Promise((r) => setTimeout(r, 500));
    await rt.redis.config('RESETSTAT');
    const cpu0 = await rt.redis.info('cpu');
    const t0 = process.hrtime.bigint();
    const running = new Set<Promise<void>>();
    let completed = 0;
    for (let start = 0; start < items.length; start += CHUNK) {
      const chunk = items.slice(start, start + CHUNK);
      if (variants.length > 0) {
        // A B B A A B …: each variant as often first of its pair.
        const j = start / CHUNK;
        const v = variants[(j + (Math.floor(j / 2) % 2)) % 2] as (typeof variants)[number];
        use(v);
        const before = await serverCpuS();
        await rt.store.requests.schemas(
          0,
          chunk.map((item) => item.id),
        );
        const r = await rt.store.requests.settle(0, batchId, chunk);
        completed += r.outcomes.filter((o) => o === 'completed').length;
        v.cpuS += (await serverCpuS()) - before;
        v.lines += chunk.length;
        continue;
      }
      while (running.size >= inFlight) await Promise.race(running);
      const p: Promise<void> = (async () => {
        await rt.store.requests.schemas(
          0,
          chunk.map((item) => item.id),
        );
        const r = await rt.store.requests.settle(0, batchId, chunk);
        completed += r.outcomes.filter((o) => o === 'completed').length;
      })().finally(() => running.delete(p));
      running.add(p);
    }
    await Promise.all(running);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (perf) {
      perf.kill('SIGINT');
      await new Promise((r) => perf.once('exit', r));
    }
    const cpu1 = await rt.redis.info('cpu');
    const stats = commandStats(await rt.redis.info('commandstats'));
    if (completed !== lines) throw new Error(`settled ${completed} of ${lines}`);
    const cpuUs =
      ((stat(cpu1, 'used_cpu_sys') +
        stat(cpu1, 'used_cpu_user') -
        (stat(cpu0, 'used_cpu_sys') + stat(cpu0, 'used_cpu_user'))) *
        1e6) /
      lines;
    const evalsha = stats.get('evalsha') ?? { calls: 0, usec: 0 };
    const evalUs = evalsha.usec / lines;
    perLine.push(cpuUs);
    const inner = [...stats.entries()]
      .filter(([name]) => name !== 'evalsha' && name !== 'info' && name !== 'config')
      .sort((a, b) => b[1].usec - a[1].usec)
      .map(([name, s]) => `${name} ${(s.calls / lines).toFixed(2)}/line ${(s.usec / lines).toFixed(2)}µs`)
      .join(', ');
    console.log(
      `rep ${rep}: ${lines} lines in ${seconds.toFixed(2)} s (${Math.round(lines / seconds)} lines/s); Redis EVALSHA ` +
        `${evalUs.toFixed(2)} µs/line (${evalsha.calls} calls), server CPU ${cpuUs.toFixed(2)} µs/line; ${inner}`,
    );
  }
  for (const v of variants) {
    console.log(`variant ${v.name}: server CPU ${((v.cpuS * 1e6) / v.lines).toFixed(2)} µs/line over ${v.lines} lines`);
  }
  perLine.sort((a, b) => a - b);
  console.log(
    `listpack ${listpack}: server CPU µs/line median ${perLine[Math.floor(perLine.length / 2)]?.toFixed(2)} min ${perLine[0]?.toFixed(2)} (${perLine.map((v) => v.toFixed(1)).join(' ')})`,
  );
  await rt.close();
} finally {
  redis.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
