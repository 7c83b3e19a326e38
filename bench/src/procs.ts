/**
 * Child processes under test. Every server the benchmark measures runs in its own process, so the load generator and
 * the server do not share one event loop. On this 2-core machine they still share the CPU, and the report says so.
 *
 * A batchbridge service runs as production runs it: its esbuild bundle (`pnpm build`, which `pnpm bench` runs first)
 * with plain `node` — so its RSS and start-up are those of the deployed process, not of the sources under tsx. The
 * benchmark's own children (load generators, receivers, baselines) run their TypeScript with `node --import tsx`. Either
 * way there is no wrapper process: the pid is the server's own and its RSS is sampled directly.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SERVICE_NODE_FLAGS } from '@batchbridge/runtime';
import { bundlePath } from '../../infra/build/bundle.mjs';
import { RssSampler } from './rss.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface Child {
  name: string;
  pid: number;
  rss: RssSampler;
  /** Last few KB of the child's stdout and stderr, for error messages. */
  tail(): string;
  /** Resolves with the exit code once the process is gone. */
  exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnOptions {
  env: Record<string, string>;
  /** Write a V8 CPU profile of the child into this directory on exit. */
  cpuProfDir?: string | undefined;
}

const live = new Set<Child>();

/** Runs a TypeScript file of the repo (path relative to the repo root) with `node --import tsx`. */
export function spawnTs(name: string, file: string, options: SpawnOptions): Child {
  return spawnNode(name, ['--import', 'tsx', file], options);
}

/**
 * Runs a batchbridge service (`services/<service>`) as production does: `node services/<service>/dist/main.mjs`.
 *
 * Except under a CPU profile: V8 names the bundle as the file of every function, so the profile summary could no longer
 * tell packages apart. A profiling run (separate from the measured runs, see run.ts) starts the service's sources
 * under tsx instead — the same code, compiled by the same esbuild, in files of their own.
 */
export function spawnService(name: string, service: string, options: SpawnOptions): Child {
  // The node flags production starts the service with (its k8s manifest, its start scripts); BENCH_NO_NODE_FLAGS=1
  // leaves them out, for an A/B run.
  const flags = process.env.BENCH_NO_NODE_FLAGS ? [] : (SERVICE_NODE_FLAGS[service] ?? []);
  if (options.cpuProfDir)
    return spawnNode(name, [...flags, '--import', 'tsx', `services/${service}/src/main.ts`], options);
  const bundle = bundlePath(service);
  if (!existsSync(join(REPO_ROOT, bundle))) throw new Error(`${bundle} is missing: run \`pnpm build\` first`);
  return spawnNode(name, [...flags, bundle], options);
}

function spawnNode(name: string, script: string[], options: SpawnOptions): Child {
  const args = [...(options.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`] : []), ...script];
  // A clean environment: only what the service needs, never the caller's REDIS_URL or provider keys.
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    NODE_ENV: 'production',
    ...options.env,
  };
  const proc: ChildProcess = spawn(process.execPath, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  if (proc.pid === undefined) throw new Error(`${name}: could not spawn`);
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-4096);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  let stopping: Promise<void> | undefined;
  const child: Child = {
    name,
    pid: proc.pid,
    rss: new RssSampler(proc.pid),
    tail: () => tail,
    exited,
    stop: (graceMs = 10_000) => {
      stopping ??= (async () => {
        if (proc.exitCode === null && proc.signalCode === null) {
          proc.kill('SIGTERM');
          const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
          await exited;
          clearTimeout(timer);
        }
        child.rss.stop();
        live.delete(child);
      })();
      return stopping;
    },
  };
  live.add(child);
  void exited.then(() => child.rss.stop());
  return child;
}

/** Stops every child still running (on the way out, also after a failure). */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((c) => c.stop(3_000)));
}

/** Polls `url` until it answers 2xx; fails with the child's output if it exits or `timeoutMs` passes. */
export async function waitHttpOk(child: Child, url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void child.exited.then(() => {
    exited = true;
  });
  for (;;) {
    if (exited) throw new Error(`${child.name} exited during start-up:\n${child.tail()}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline)
      throw new Error(`${child.name} not ready at ${url} after ${timeoutMs} ms:\n${child.tail()}`);
    await sleep(100);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` every `everyMs` until it returns a value other than undefined. */
export async function waitUntil<T>(
  what: string,
  check: () => Promise<T | undefined>,
  options: { timeoutMs: number; everyMs?: number; children?: Child[] },
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    for (const c of options.children ?? []) {
      if (c.rss.sample() === undefined) throw new Error(`${c.name} died while waiting for ${what}:\n${c.tail()}`);
    }
    if (Date.now() > deadline) {
      const tails = (options.children ?? []).map((c) => `--- ${c.name}:\n${c.tail()}`).join('\n');
      throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${what}\n${tails}`);
    }
    await sleep(options.everyMs ?? 50);
  }
}
