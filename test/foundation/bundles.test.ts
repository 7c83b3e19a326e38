// What production runs: `pnpm build` makes one esbuild bundle per service entry point, and Docker, Kubernetes and the
// benchmark start it with plain `node`. This test runs the build once, then starts every bundle as an operator would —
// plain node, no tsx, from a directory outside the repository — against real Redis (a fresh key prefix) and the
// simulator's own bundle, waits until it is ready, and stops it with SIGTERM: each must exit 0. One request goes end to
// end through the all-in-one bundle, the operator page serves bull-board's assets (a package kept out of the bundle
// that reads its own files), LOG_PRETTY's worker-thread transport works, and the demo bundle passes its own checks.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { webhookSecrets } from '@batchbridge/config';
import { simulatedCompletion } from '@batchbridge/provider-sim';
import { freePort } from '@batchbridge/redis';
import { freshPrefix, sharedRedisUrl, startWebhookReceiver, TEST_TENANTS } from '@batchbridge/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundlePath, ENTRIES, EXTERNAL } from '../../infra/build/bundle.mjs';

const root = resolve(import.meta.dirname, '..', '..');
const tenant = TEST_TENANTS[0]!;
const ADMIN_KEY = 'bundle-test-admin-key-0123456789';

interface Proc {
  name: string;
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

const running = new Set<Proc>();
let cwd = '';
let redis: { url: string; stop: () => Promise<void> };
let tenantsFile = '';

/** Starts a bundle with plain node, in a scratch directory (a bundle must not depend on the working directory). */
function startBundle(service: string, env: Record<string, string>, args: string[] = [], entry = 'main'): Proc {
  const child = spawn(process.execPath, [join(root, bundlePath(service, entry)), ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d) => {
    output += d;
  });
  child.stderr?.on('data', (d) => {
    output += d;
  });
  const proc: Proc = {
    name: `${service}/${entry}`,
    child,
    output: () => output,
    exited: new Promise((done) => child.once('exit', (code) => done(code))),
  };
  running.add(proc);
  void proc.exited.then(() => running.delete(proc));
  return proc;
}

/** Polls `url` until it answers 2xx; fails with the process's output if it exits first or 30 s pass. */
async function waitReady(proc: Proc, url: string, headers: Record<string, string> = {}): Promise<void> {
  let gone = false;
  void proc.exited.then(() => {
    gone = true;
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (gone) throw new Error(`${proc.name} exited during start-up:\n${proc.output()}`);
    const ok = await fetch(url, { headers, signal: AbortSignal.timeout(2_000) }).then(
      async (res) => {
        await res.arrayBuffer();
        return res.ok;
      },
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${proc.name} not ready at ${url}:\n${proc.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits until the process's output matches (the guard only keeps a broken run from hanging). */
async function waitOutput(proc: Proc, pattern: RegExp): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!pattern.test(proc.output())) {
    if (Date.now() > deadline) throw new Error(`${proc.name}: no ${pattern} in:\n${proc.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** One SIGTERM (a second one means "exit now" to a batchbridge service); resolves with the exit code. */
async function stop(proc: Proc): Promise<number | null> {
  proc.child.kill('SIGTERM');
  const guard = setTimeout(() => proc.child.kill('SIGKILL'), 20_000);
  const code = await proc.exited;
  clearTimeout(guard);
  return code;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour codes of pino-pretty
const plain = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, '');

beforeAll(async () => {
  cwd = mkdtempSync(join(tmpdir(), 'bb-bundles-'));
  tenantsFile = join(cwd, 'tenants.json');
  writeFileSync(tenantsFile, JSON.stringify({ tenants: TEST_TENANTS }));
  redis = await sharedRedisUrl();
  // The build exactly as `pnpm build` runs it.
  const build = spawn(process.execPath, [join(root, 'infra/build/bundle.mjs')], { cwd: root, stdio: 'pipe' });
  let out = '';
  build.stdout.on('data', (d) => {
    out += d;
  });
  build.stderr.on('data', (d) => {
    out += d;
  });
  const code = await new Promise<number | null>((done) => build.once('exit', done));
  if (code !== 0) throw new Error(`pnpm build failed (${code}):\n${out}`);
});

afterAll(async () => {
  for (const proc of running) proc.child.kill('SIGKILL');
  await redis?.stop();
  if (cwd) rmSync(cwd, { recursive: true, force: true });
});

/** Every module specifier a bundle leaves to Node: its top-level imports, dynamic imports and esbuild's require calls. */
function specifiersOf(code: string): string[] {
  const patterns = [
    /^import\s[^;]*?from\s*"([^"]+)";/gm,
    /^import\s*"([^"]+)";/gm,
    /\bimport\("([^"]+)"\)/g,
    /__require\("([^"]+)"\)/g,
  ];
  return [...new Set(patterns.flatMap((re) => [...code.matchAll(re)].map((m) => m[1]!)))];
}

describe('pnpm build', () => {
  it('writes every bundle; what it leaves out, it imports from files of node_modules that exist beside it', () => {
    const externalNames = Object.keys(EXTERNAL);
    const imported = new Set<string>();
    for (const { service, entry } of ENTRIES) {
      const file = join(root, bundlePath(service, entry));
      const code = readFileSync(file, 'utf8');
      expect(code.startsWith("import { createRequire as __bb_createRequire } from 'node:module';"), file).toBe(true);
      for (const spec of specifiersOf(code)) {
        if (spec.startsWith('node:') || isBuiltin(spec)) continue;
        if (spec.startsWith('.')) {
          expect(spec, file).toMatch(/^(\.\.\/){3}node_modules\//);
          expect(existsSync(resolve(dirname(file), spec)), `${file}: ${spec}`).toBe(true);
          imported.add(externalNames.find((n) => spec.includes(`/node_modules/${n}/`)) ?? spec);
        } else {
          // A bare name would be looked up from dist/, where pnpm's strict layout has nothing. Only optional packages
          // that are not installed at all stay bare (esbuild could not resolve them either; they fail the same way
          // from the sources, inside the library's own try/catch).
          const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
          expect(externalNames, `${file}: bare "${spec}"`).not.toContain(name);
          expect(existsSync(join(root, 'node_modules/.pnpm/node_modules', name)), `${file}: bare "${spec}"`).toBe(
            false,
          );
        }
      }
    }
    expect([...imported].sort()).toEqual(['@bull-board/api', '@bull-board/express', 'msgpackr-extract', 'pino']);
  });
});

describe('each service bundle under plain node', () => {
  it('starts against real Redis and the simulator bundle, becomes ready, and exits 0 on SIGTERM', async () => {
    const prefix = freshPrefix('bundle');
    const simPort = await freePort();
    // LOG_PRETTY: pino's transport runs pino-pretty in a worker thread, which a bundle must still find.
    const sim = startBundle('provider-sim', {
      SIM_PORT: String(simPort),
      SIM_DATA_DIR: join(cwd, 'sim'),
      LOG_PRETTY: 'true',
    });
    await waitReady(sim, `http://127.0.0.1:${simPort}/_sim/counters`);
    await waitOutput(sim, /provider simulator ready/);
    const simLine = plain(sim.output())
      .split('\n')
      .find((l) => l.includes('provider simulator ready'));
    expect(simLine).toMatch(/^\[[\d:.]+\] INFO: provider simulator ready: OPENAI_BASE_URL=http:\/\/127\.0\.0\.1:/);

    const common = {
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: prefix,
      REDIS_DATA_DIR: join(cwd, 'redis-unused'),
      TENANTS_FILE: tenantsFile,
      UPSTREAM_BASE_URL: `http://127.0.0.1:${simPort}/v1`,
      UPSTREAM_API_KEY: 'sk-bundle-test',
      LOG_LEVEL: 'info',
    };
    const ports = { 'ingest-api': 0, packer: 0, poller: 0, dispatcher: 0 };
    for (const name of Object.keys(ports) as Array<keyof typeof ports>) ports[name] = await freePort();
    const services = (Object.keys(ports) as Array<keyof typeof ports>).map((name) => ({
      name,
      url: `http://127.0.0.1:${ports[name]}`,
      proc: startBundle(name, {
        ...common,
        ...(name === 'ingest-api' ? { PORT: String(ports[name]) } : { METRICS_PORT: String(ports[name]) }),
      }),
    }));
    await Promise.all(services.map((s) => waitReady(s.proc, `${s.url}/readyz`)));

    // What an operator sees of each: the API answers with its tenant's models, the workers export their metrics.
    const models = await fetch(`${services[0]!.url}/v1/models`, {
      headers: { authorization: `Bearer ${tenant.api_keys[0]}` },
    });
    expect(models.status).toBe(200);
    expect(((await models.json()) as { object: string }).object).toBe('list');
    for (const s of services.slice(1)) {
      const metrics = await (await fetch(`${s.url}/metrics`)).text();
      expect(metrics, s.name).toMatch(/^batchbridge_process_resident_memory_bytes \d+/m);
    }

    const codes = await Promise.all([...services.map((s) => stop(s.proc)), stop(sim)]);
    const outputs = [...services.map((s) => s.proc.output()), sim.output()];
    expect(codes, outputs.join('\n----\n')).toEqual([0, 0, 0, 0, 0]);
    for (const s of services) expect(s.proc.output(), s.name).toMatch(new RegExp(`${s.name} running`));
  });

  it('all-in-one: one request end to end (signed webhook with its own completion), the operator page, exit 0', async () => {
    const receiver = await startWebhookReceiver({ secrets: webhookSecrets(tenant) });
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const aio = startBundle('all-in-one', {
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: freshPrefix('bundleaio'),
      REDIS_DATA_DIR: join(cwd, 'redis-unused'),
      TENANTS_FILE: tenantsFile,
      PORT: String(port),
      ADMIN_KEY,
      LOG_LEVEL: 'warn',
      BATCH_MAX_WAIT_MS: '200',
      POLL_INTERVAL_MS: '50',
      POLL_MAX_INTERVAL_MS: '200',
      SIM_VALIDATING_MS: '0',
      SIM_FINALIZING_MS: '0',
      SIM_LINES_PER_SECOND: '0',
      WEBHOOK_RETRY_SCHEDULE: '100ms,200ms,400ms',
    });
    try {
      await waitReady(aio, `${url}/readyz`);
      expect(aio.output()).toMatch(/batchbridge is running \(all services in one process\)/);

      const body = {
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'Say hello from the bundle' }],
      };
      const res = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${tenant.api_keys[0]}`,
          'content-type': 'application/json',
          'x-callback-url': receiver.url('/hook'),
        },
        body: JSON.stringify(body),
      });
      expect(res.status).toBe(202);
      const { id } = (await res.json()) as { id: string };
      const [delivery] = await receiver.waitFor((d) => d.length >= 1, { timeoutMs: 30_000 });
      const event = delivery!.json as {
        type: string;
        data: { id: string; status: string; response: { body: { choices: Array<{ message: { content: string } }> } } };
      };
      expect(delivery!.verified).toBe(true);
      expect(event.type).toBe('request.completed');
      expect(event.data.id).toBe(id);
      expect(event.data.response.body.choices[0]?.message.content).toBe(
        simulatedCompletion(body).choices[0]?.message.content,
      );

      // bull-board's UI is served from the installed @bull-board/ui package, not from the bundle.
      const bearer = { authorization: `Bearer ${ADMIN_KEY}` };
      const page = await fetch(`${url}/admin/queues/`, { headers: bearer });
      expect(page.status).toBe(200);
      const script = /src="(static\/js\/main[^"]+\.js)"/.exec(await page.text())?.[1];
      expect(script).toBeDefined();
      const asset = await fetch(`${url}/admin/queues/${script}`, { headers: bearer });
      expect(asset.status).toBe(200);
      expect((await asset.text()).length).toBeGreaterThan(1_000);
    } finally {
      await receiver.close();
    }
    expect(await stop(aio), aio.output()).toBe(0);
  });

  it('demo: the bundled `pnpm demo` answers every prompt and exits 0', async () => {
    const demo = startBundle(
      'all-in-one',
      // Its own key prefix (and clean-up) per run; the dev tenant is written beside REDIS_DATA_DIR.
      { REDIS_URL: redis.url, REDIS_DATA_DIR: join(cwd, 'demo', 'redis') },
      ['--count', '10'],
      'demo',
    );
    const code = await demo.exited;
    expect(code, demo.output()).toBe(0);
    expect(demo.output()).toMatch(/completed\s+10\n/);
    expect(demo.output()).toMatch(/OK: every request answered once, signed, with its own result\./);
  });

  it('demo --wait: every prompt answered in its own response (transparent mode), exit 0', async () => {
    const demo = startBundle(
      'all-in-one',
      { REDIS_URL: redis.url, REDIS_DATA_DIR: join(cwd, 'demo-wait', 'redis') },
      ['--count', '10', '--wait'],
      'demo',
    );
    const code = await demo.exited;
    expect(code, demo.output()).toBe(0);
    expect(demo.output()).toMatch(/answers\s+10 completions in the responses themselves/);
    expect(demo.output()).toMatch(/routing\s+10 completions match their prompt, 0 do not/);
  });

  it('demo --endpoint embeddings: every vector routed to its own input, exit 0', async () => {
    const demo = startBundle(
      'all-in-one',
      { REDIS_URL: redis.url, REDIS_DATA_DIR: join(cwd, 'demo-embeddings', 'redis') },
      ['--count', '10', '--endpoint', 'embeddings'],
      'demo',
    );
    const code = await demo.exited;
    expect(code, demo.output()).toBe(0);
    expect(demo.output()).toMatch(/\/v1\/embeddings/);
    expect(demo.output()).toMatch(/routing\s+10 completions match their prompt, 0 do not/);
  });
});
