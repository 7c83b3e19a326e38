// Issue 14.3: the first run as a newcomer does it — `pnpm start` in one terminal, `pnpm receiver` in another, then the
// curl line the banner prints. Both are the real entry points (`node --import tsx`, as `pnpm start` runs them) in a
// scratch data folder (REDIS_DATA_DIR) against the test Redis; neither gets a secret, a key or a key prefix: the
// receiver finds the webhook secret where `pnpm start` keeps it. The webhook the receiver prints verified is the proof.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '@batchbridge/redis';
import { deletePrefixKeys, sharedRedisUrl } from '@batchbridge/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..', '..');

interface Proc {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
}

function run(entry: string, args: string[], env: Record<string, string>): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, entry), ...args], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d) => {
    out += d;
  });
  child.stderr?.on('data', (d) => {
    err += d;
  });
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Waits until `pattern` shows in the output (the guard only keeps a broken run from hanging). */
async function waitFor(proc: Proc, pattern: RegExp, what: string): Promise<RegExpExecArray> {
  const deadline = Date.now() + 45_000;
  for (;;) {
    const m = pattern.exec(proc.stdout());
    if (m) return m;
    if (Date.now() > deadline || proc.child.exitCode !== null) {
      throw new Error(`${what}: no ${pattern}\nstdout:\n${proc.stdout()}\nstderr:\n${proc.stderr()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

let work = '';
let redis: { url: string; stop: () => Promise<void> };
const procs: Proc[] = [];

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'bb-first-run-'));
  redis = await sharedRedisUrl();
});

afterAll(async () => {
  for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  await redis?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

it('pnpm start + pnpm receiver: the banner curl line ends as a verified webhook printed by the receiver', async () => {
  const dataDir = join(work, 'data', 'redis');
  const receiverPort = await freePort();
  const apiPort = await freePort();
  // Started first, before the dev tenant exists: it reads the secret file on each delivery.
  const receiver = run('services/all-in-one/src/receiver.ts', ['--port', String(receiverPort)], {
    REDIS_DATA_DIR: dataDir,
  });
  procs.push(receiver);
  await waitFor(receiver, /batchbridge receiver: POST webhooks to (\S+)/, 'pnpm receiver');

  const start = run('services/all-in-one/src/main.ts', [], {
    REDIS_URL: redis.url,
    REDIS_DATA_DIR: dataDir,
    PORT: String(apiPort),
    LOG_LEVEL: 'warn',
    // Quicker simulator and polls only; nothing the first run needs to know about.
    SIM_VALIDATING_MS: '0',
    SIM_FINALIZING_MS: '0',
    POLL_INTERVAL_MS: '100',
  });
  procs.push(start);
  await waitFor(start, /Ctrl-C stops everything\./, 'pnpm start');
  const banner = start.stdout();
  const url = /^ {2}curl -s (\S+) \\$/m.exec(banner)?.[1];
  const key = /-H 'Authorization: Bearer (\S+)'/.exec(banner)?.[1];
  const callback = /-H 'X-Callback-URL: (\S+)'/.exec(banner)?.[1];
  const body = /-d '(.+)'$/m.exec(banner)?.[1];
  expect(banner).toMatch(/`pnpm receiver`/);
  expect(url).toBe(`http://127.0.0.1:${apiPort}/v1/chat/completions`);
  expect(callback).toBe('http://127.0.0.1:9999/hook');
  expect(banner).toMatch(/WEBHOOK_ALLOW_CIDRS=127\.0\.0\.0\/8,::1\/128/);

  // The banner's curl line, with the receiver's port of this test run (9999 may be taken on a shared machine).
  const res = await fetch(url!, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${key}`,
      'content-type': 'application/json',
      'x-callback-url': callback!.replace(':9999/', `:${receiverPort}/`),
      'x-custom-id': 'first-run-1',
    },
    body: body!,
  });
  expect(res.status).toBe(202);
  const { id } = (await res.json()) as { id: string };
  const line = await waitFor(receiver, new RegExp(`^verified \\S+ .*id=${id}.*$`, 'm'), 'the verified webhook');
  expect(line[0]).toMatch(
    new RegExp(`^verified msg_\\S+ request\\.completed completed id=${id} custom_id=first-run-1 ".+"$`),
  );
  expect(receiver.stderr()).toBe('');

  // A delivery signed with another secret is refused and warned about.
  const forged = await fetch(`http://127.0.0.1:${receiverPort}/hook`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'webhook-id': 'msg_forged',
      'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
      'webhook-signature': 'v1,bm90IGEgc2lnbmF0dXJl',
    },
    body: '{"type":"request.completed"}',
  });
  expect(forged.status).toBe(401);
  // The child's stderr may reach us a moment after its answer.
  await expect
    .poll(() => receiver.stderr(), { timeout: 5_000 })
    .toMatch(/^WARNING: bad signature \(No matching signature found\) on msg_forged/);

  start.child.kill('SIGINT');
  receiver.child.kill('SIGINT');
  expect(await start.exited, start.stderr()).toBe(0);
  expect(await receiver.exited, receiver.stderr()).toBe(0);

  // The checkout prefix `pnpm start` chose for this data folder; its keys go, and none are left.
  const prefix = readFileSync(join(work, 'data', 'key-prefix'), 'utf8').trim();
  expect(prefix).toMatch(/^bb[0-9a-f]{8}$/);
  const client = new Redis(redis.url);
  try {
    await deletePrefixKeys(client, prefix);
    expect(await client.keys(`*${prefix}:*`)).toEqual([]);
  } finally {
    client.disconnect();
  }
});
