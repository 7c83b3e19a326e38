/**
 * batchbridge services as separate processes, exactly as deployed: `node --import tsx services/<name>/src/main.ts`
 * (node itself with tsx's loader, not the tsx CLI, whose grandchild a SIGKILL would not reach). Every child's output
 * is drained (a full pipe would stall it) and its last lines kept for the failure message; `stopAll` ends every child
 * a test started, gracefully first.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export type ServiceName = 'ingest-api' | 'packer' | 'poller' | 'dispatcher';

export interface ServiceProcess {
  name: string;
  child: ChildProcess;
  /** The last output lines, for failure messages. */
  tail(): string;
}

export class ServiceProcesses {
  readonly #all: ServiceProcess[] = [];

  /** Spawns `services/<service>/src/main.ts` with `env` (plus PATH/HOME/TMPDIR) and waits for `readyUrl` to answer 200. */
  async start(
    name: string,
    service: ServiceName,
    env: Record<string, string>,
    readyUrl: string,
  ): Promise<ServiceProcess> {
    const child = spawn(process.execPath, ['--import', 'tsx', `services/${service}/src/main.ts`], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        TMPDIR: process.env.TMPDIR ?? '/tmp',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: string[] = [];
    const keep = (chunk: Buffer) => {
      lines.push(chunk.toString());
      if (lines.length > 30) lines.shift();
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const proc: ServiceProcess = { name, child, tail: () => lines.join('').slice(-3000) };
    this.#all.push(proc);
    await waitReady(proc, readyUrl);
    return proc;
  }

  /** Processes that exited although nobody stopped them. */
  exitedEarly(): ServiceProcess[] {
    return this.#all.filter((p) => p.child.exitCode !== null || p.child.signalCode !== null);
  }

  /** SIGTERM to every child (graceful shutdown), SIGKILL to any still alive after `graceMs`. Idempotent. */
  async stopAll(graceMs = 10_000): Promise<void> {
    await Promise.all(
      this.#all.splice(0).map(async ({ child }) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }),
    );
  }
}

async function waitReady(proc: ServiceProcess, url: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
      throw new Error(`${proc.name} exited before it was ready: ${proc.tail()}`);
    }
    const ok = await fetch(url).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${proc.name} not ready after ${timeoutMs} ms: ${proc.tail()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
