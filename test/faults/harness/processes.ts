/**
 * The fault run's process supervisor: every batchbridge service and the provider simulator run as child processes
 * (node with tsx's loader, so that a SIGKILL reaches the service itself and not a wrapper). Every line a child writes,
 * stdout and stderr, goes to a log file for the secret scan. A child that dies without being told to is restarted, as
 * an orchestrator would, and recorded as an unexpected exit.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SERVICE_MAIN = fileURLToPath(new URL('./service-main.ts', import.meta.url));
const SIM_MAIN = join(ROOT, 'services/provider-sim/src/main.ts');

export type ServiceKind = 'ingest-api' | 'packer' | 'poller' | 'dispatcher' | 'provider-sim';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface UnexpectedExit extends ExitInfo {
  name: string;
  at: number;
  /** The child's last stderr/stdout lines (already scanned for secrets with the rest of its log). */
  tail: string;
}

export interface ChildOptions {
  name: string;
  kind: ServiceKind;
  env: Record<string, string>;
  logDir: string;
  /** Called when the child exits on its own (not killed or stopped by the supervisor). */
  onUnexpectedExit: (exit: UnexpectedExit) => void;
  /** How long to wait for the ready line. @defaultValue 60 000 ms */
  readyTimeoutMs?: number;
}

/** One supervised child process; `start` may be called again after it exited. */
export class ServiceProcess {
  readonly name: string;
  readonly kind: ServiceKind;
  #child: ChildProcess | undefined;
  #expectingExit = false;
  #crashPoint: string | undefined;
  #log: WriteStream;
  #tail: string[] = [];
  #exited: Promise<ExitInfo> = Promise.resolve({ code: 0, signal: null });
  /** Crash points that fired (the packer killed itself there). */
  readonly crashesFired: string[] = [];

  constructor(private readonly options: ChildOptions) {
    this.name = options.name;
    this.kind = options.kind;
    this.#log = createWriteStream(join(options.logDir, `${options.name}.log`), { flags: 'a' });
  }

  get alive(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Spawns the child and resolves once it says it started; `extraEnv` applies to this start only. */
  async start(extraEnv: Record<string, string> = {}): Promise<void> {
    if (this.alive) throw new Error(`${this.name} is already running`);
    this.#expectingExit = false;
    this.#crashPoint = extraEnv.BB_FAULT_CRASH_AT;
    const entry = this.kind === 'provider-sim' ? SIM_MAIN : SERVICE_MAIN;
    const child = spawn(process.execPath, ['--import', 'tsx', entry], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        TMPDIR: process.env.TMPDIR ?? '/tmp',
        ...this.options.env,
        ...extraEnv,
        BB_FAULT_SERVICE: this.kind,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child = child;
    // runMain logs `<service> running` once the service is ready (`<service> started` in earlier versions).
    const readyText =
      this.kind === 'provider-sim' ? /provider simulator ready/ : new RegExp(`"msg":"${this.kind} (running|started)"`);
    let buffered = '';
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${this.name}: not ready after ${this.options.readyTimeoutMs ?? 60_000} ms`)),
        this.options.readyTimeoutMs ?? 60_000,
      );
      const onData = (chunk: Buffer) => {
        this.#record(chunk);
        buffered += chunk.toString();
        if (readyText.test(buffered)) {
          clearTimeout(timer);
          child.stdout?.off('data', onData);
          child.stdout?.on('data', (c: Buffer) => this.#record(c));
          resolve();
        } else if (buffered.length > 65_536) buffered = buffered.slice(-4096);
      };
      child.stdout?.on('data', onData);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        // A crash point reached during start-up is the fault we asked for, not a failed start.
        if (this.#crashPoint && signal === 'SIGKILL') resolve();
        else reject(new Error(`${this.name} exited before it was ready (${code ?? signal}): ${this.#tail.join('')}`));
      });
    });
    child.stderr?.on('data', (chunk: Buffer) => this.#record(chunk));
    this.#exited = new Promise<ExitInfo>((resolve) => {
      child.once('exit', (code, signal) => {
        const info = { code, signal };
        if (!this.#expectingExit) {
          if (this.#crashPoint && signal === 'SIGKILL') this.crashesFired.push(this.#crashPoint);
          else {
            this.options.onUnexpectedExit({
              name: this.name,
              ...info,
              at: Date.now(),
              tail: this.#tail.join('').slice(-2000),
            });
          }
        }
        resolve(info);
      });
    });
    await ready;
  }

  /** Resolves when the current child has exited. */
  exited(): Promise<ExitInfo> {
    return this.#exited;
  }

  /** Sends a signal and waits for the exit; SIGTERM is the graceful path, SIGKILL the crash. */
  async signal(signal: NodeJS.Signals, timeoutMs = 30_000): Promise<ExitInfo & { ms: number }> {
    const child = this.#child;
    const startedAt = Date.now();
    if (!child || !this.alive) return { ...(await this.#exited), ms: 0 };
    this.#expectingExit = true;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const info = await this.#exited;
    clearTimeout(timer);
    return { ...info, ms: Date.now() - startedAt };
  }

  /** Ends the child for good (the run is over); idempotent. */
  async stop(): Promise<void> {
    if (this.alive) await this.signal('SIGKILL');
    await new Promise<void>((resolve) => this.#log.end(resolve));
  }

  #record(chunk: Buffer): void {
    this.#log.write(chunk);
    this.#tail.push(chunk.toString());
    if (this.#tail.length > 20) this.#tail.shift();
  }
}
