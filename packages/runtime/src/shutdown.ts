/**
 * Ordered, bounded shutdown (graphile-worker style): stop intake, close workers, then Redis, metrics last. Every step
 * runs even if an earlier one fails; the whole is bounded by a timeout; a second signal forces exit.
 */
import type { Logger } from '@batchbridge/logger';

export interface ShutdownStep {
  name: string;
  run: () => Promise<unknown>;
}

/** Returns `shutdown(signal)` resolving to the exit code; calling it again returns the same promise. */
export function createShutdown(steps: () => ShutdownStep[], logger: Logger, timeoutMs = 30_000) {
  let running: Promise<number> | undefined;
  return (signal: string): Promise<number> => {
    running ??= (async () => {
      logger.info({ signal }, 'shutting down');
      let code = 0;
      const all = (async () => {
        for (const step of steps()) {
          try {
            await step.run();
          } catch (err) {
            code = 1;
            logger.error({ step: step.name, err: (err as Error).message }, 'shutdown step failed');
          }
        }
      })();
      const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs).unref());
      if ((await Promise.race([all.then(() => 'done' as const), timer])) === 'timeout') {
        logger.error({ timeoutMs }, 'shutdown timed out');
        code = 1;
      }
      logger.info({ code }, 'stopped');
      return code;
    })();
    return running;
  };
}

/**
 * The cleanup of a process that is still starting: each step is pushed as soon as the thing it closes exists, so a
 * signal during start-up (or a failed start) closes exactly what was started, last started first.
 */
export class CloseStack {
  readonly #steps: ShutdownStep[] = [];

  push(name: string, run: () => Promise<unknown>): void {
    this.#steps.push({ name, run });
  }

  /** The steps in closing order (last pushed first). */
  steps(): ShutdownStep[] {
    return [...this.#steps].reverse();
  }
}

/**
 * Installs the SIGINT/SIGTERM handlers of a process (every composition root calls this before it starts anything, so a
 * SIGTERM during start-up still shuts down in order): the first signal runs `steps` once and exits with the shutdown's
 * code; a second one exits at once (130).
 */
export function handleSignals(
  proc: NodeJS.Process,
  logger: Logger,
  steps: () => ShutdownStep[],
  timeoutMs?: number,
): void {
  const shutdown = createShutdown(steps, logger, timeoutMs);
  let signals = 0;
  const onSignal = (signal: string) => {
    signals += 1;
    if (signals > 1) {
      logger.warn('second signal: exiting now');
      proc.exit(130);
    }
    void shutdown(signal).then((code) => proc.exit(code));
  };
  proc.on('SIGINT', onSignal);
  proc.on('SIGTERM', onSignal);
}
