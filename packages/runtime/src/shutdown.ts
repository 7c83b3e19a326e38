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
