/**
 * Runs the provider simulator alone: `pnpm --filter @batchbridge/provider-sim start` (env vars in README).
 * The only file of this package that touches `process`.
 */
import { createLogger } from '@batchbridge/logger';
import { createProviderSim } from './create-provider-sim.js';
import { optionsFromEnv } from './env.js';

const logger = createLogger({
  service: 'provider-sim',
  level: process.env.LOG_LEVEL ?? 'info',
  pretty: process.env.LOG_PRETTY === 'true',
});

try {
  const sim = await createProviderSim({ ...optionsFromEnv(process.env), logger });
  logger.info(
    { url: sim.url, adminUrl: sim.adminUrl, profile: sim.profile },
    `provider simulator ready: OPENAI_BASE_URL=${sim.url}`,
  );
  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      logger.error('shutdown timed out');
      process.exit(1);
    }, 10_000);
    force.unref();
    sim.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
} catch (err) {
  logger.fatal({ err }, 'provider simulator failed to start');
  process.exit(1);
}
