// The Batch API facade under SIGKILL (SPEC §6 I1, §12; issue 21): the ingest API runs as its own process, the
// official openai SDK is the client, and the process is killed from outside in the middle of an upload (some chunks of
// the file written) and in the middle of a create (some of the batch's lines enqueued, not all). After a restart:
// the upload is either absent (the client retries it) or complete, never a partial file, and what the dead upload
// wrote expires; the create completes with every line answered once — the simulator saw each line once and the
// output file holds each custom_id once.
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createProviderSim, FAST_TIMINGS, type ProviderSim } from '@batchbridge/provider-sim';
import { freePort } from '@batchbridge/redis';
import { createTestRuntime, sharedRedisUrl, TEST_TENANTS, type TestRuntime } from '@batchbridge/testkit';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ServiceProcess, ServiceProcesses } from '../replicas/service-processes.js';

const LINES = 20_000;
const KEY = String(TEST_TENANTS[0]?.api_keys[0]);

const processes = new ServiceProcesses();
let rt: TestRuntime;
let sim: ProviderSim;
let tmp: string;
let env: Record<string, string>;
let redisStop: () => Promise<void> = async () => undefined;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'bb-facade-crash-'));
  const tenantsFile = join(tmp, 'tenants.json');
  writeFileSync(tenantsFile, JSON.stringify({ tenants: TEST_TENANTS }));
  const redis = await sharedRedisUrl();
  redisStop = redis.stop;
  rt = await createTestRuntime({ redisUrl: redis.url });
  sim = await createProviderSim({ profile: 'openai', timings: FAST_TIMINGS });
  env = {
    REDIS_URL: redis.url,
    REDIS_KEY_PREFIX: rt.prefix,
    TENANTS_FILE: tenantsFile,
    UPSTREAM_BASE_URL: sim.url,
    UPSTREAM_API_KEY: 'sk-facade-crash',
    LOG_LEVEL: 'warn',
    BATCH_MAX_REQUESTS: '5000',
    BATCH_MAX_WAIT_MS: '500',
    POLL_INTERVAL_MS: '50',
    POLL_MAX_INTERVAL_MS: '200',
    REDIS_DATA_DIR: join(tmp, 'redis'),
  };
  const file = join(tmp, 'input.jsonl');
  writeFileSync(
    file,
    Array.from({ length: LINES }, (_, i) =>
      JSON.stringify({
        custom_id: `line-${i}`,
        method: 'POST',
        url: '/v1/chat/completions',
        body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `question ${i} ${'x'.repeat(200)}` }] },
      }),
    ).join('\n'),
  );
}, 60_000);

afterAll(async () => {
  await processes.stopAll();
  await sim?.close();
  await rt?.dispose();
  await redisStop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

async function startIngest(): Promise<{ proc: ServiceProcess; client: OpenAI }> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      const proc = await processes.start(
        'ingest-api',
        'ingest-api',
        { ...env, PORT: String(port) },
        `http://127.0.0.1:${port}/readyz`,
      );
      return { proc, client: new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: KEY, maxRetries: 0 }) };
    } catch (err) {
      if (attempt < 3 && String((err as Error).message).includes('EADDRINUSE')) continue;
      throw err;
    }
  }
}

async function kill(proc: ServiceProcess): Promise<void> {
  const exited = new Promise((resolve) => proc.child.once('exit', resolve));
  proc.child.kill('SIGKILL');
  await exited;
}

/** Keys of the test's prefix matching `pattern` (after the partition tag). */
async function keys(pattern: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await rt.redis.scan(cursor, 'MATCH', `{${rt.prefix}:p*}:${pattern}`, 'COUNT', 1000);
    cursor = next;
    out.push(...batch);
  } while (cursor !== '0');
  return out;
}

async function until<T>(what: string, read: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (done(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what}: timed out; last ${JSON.stringify(v).slice(0, 300)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const upload = (client: OpenAI) =>
  client.files.create({ file: createReadStream(join(tmp, 'input.jsonl')), purpose: 'batch' });

describe('the Batch API facade when the ingest process is SIGKILLed', () => {
  it('mid-upload: the file is absent (and what was written expires) until the retried upload completes it', async () => {
    const first = await startIngest();
    const pending = upload(first.client).then(
      (f) => ({ ok: true as const, f }),
      (err: unknown) => ({ ok: false as const, err }),
    );
    // Killed once some of the file's chunks are written.
    await until(
      'chunks written',
      () => keys('ffile:*:c:*'),
      (k) => k.length >= 2,
    );
    await kill(first.proc);
    const outcome = await pending;
    expect(outcome.ok).toBe(false);
    const left = await keys('ffile:*:c:*');
    expect(left.length).toBeGreaterThanOrEqual(2);
    // What the dead upload wrote is invisible and expires within the hour.
    for (const k of left) {
      const ttl = await rt.redis.pttl(k);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(3_600_000);
    }

    const second = await startIngest();
    expect((await second.client.files.list()).data).toEqual([]);
    const retried = await upload(second.client);
    const listed = (await second.client.files.list()).data;
    expect(listed.map((f) => f.id)).toEqual([retried.id]);
    const stored = await rt.redis.hget(rt.keys.partitionKeys(0).facadeFile(retried.id), 'lines');
    expect(Number(stored)).toBe(LINES);
    await kill(second.proc);
    // The next test starts from no input file of this one.
    await rt.redis.del(rt.keys.partitionKeys(0).facadeFile(retried.id));
  }, 240_000);

  it('mid-create: the restarted service enqueues the rest, and every line is answered once', async () => {
    const first = await startIngest();
    const file = await upload(first.client);
    const batch = await first.client.batches.create({
      input_file_id: file.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
    });
    const bkey = rt.keys.partitionKeys(0).facadeBatch(batch.id);
    // Killed once some lines are enqueued and before all are.
    await until(
      'some lines enqueued',
      async () => Number((await rt.redis.hget(bkey, 'enq_lines')) ?? 0),
      (n) => n > 0,
    );
    await kill(first.proc);
    const enqueuedAtKill = Number(await rt.redis.hget(bkey, 'enq_lines'));
    expect(enqueuedAtKill).toBeGreaterThan(0);
    expect(enqueuedAtKill).toBeLessThan(LINES);
    // The dead driver's lease would hold the batch for 30 s: expire it (as the packer crash test does its job lock).
    await rt.redis.pexpire(rt.keys.partitionKeys(0).facadeLease(batch.id), 1);

    const second = await startIngest();
    for (const service of ['packer', 'poller'] as const) {
      const port = await freePort();
      await processes.start(
        service,
        service,
        { ...env, METRICS_PORT: String(port) },
        `http://127.0.0.1:${port}/readyz`,
      );
    }
    const done = await until(
      'batch completed',
      () => second.client.batches.retrieve(batch.id),
      (b) => ['completed', 'failed', 'expired', 'cancelled'].includes(b.status),
      240_000,
    );
    expect(done.status).toBe('completed');
    expect(done.request_counts).toEqual({ total: LINES, completed: LINES, failed: 0 });

    const text = await (await second.client.files.content(done.output_file_id as string)).text();
    const lines = text.trimEnd().split('\n');
    expect(lines).toHaveLength(LINES);
    const ids = lines.map((l) => (JSON.parse(l) as { custom_id: string }).custom_id);
    expect(new Set(ids).size).toBe(LINES);
    expect(ids.slice(0, 3)).toEqual(['line-0', 'line-1', 'line-2']);
    const counters = sim.counters();
    expect(counters.linesReceived).toBe(LINES);
    expect(counters.customIdsAnsweredTwice).toEqual([]);
    // No open request left counted for the tenant (a line enqueued twice would leave one behind, or go negative).
    const k = rt.keys.partitionKeys(0);
    expect(Number((await rt.redis.get(k.openTenant('acme'))) ?? 0)).toBe(0);
  }, 420_000);
});
