/**
 * Runs the provider simulator alone: `pnpm --filter @batchbridge/provider-sim start` (env vars in README).
 * The only file of this package that touches `process`.
 */
import { createLogger } from '@batchbridge/logger';
import { handleSignals } from '@batchbridge/runtime';
import { createProviderSim, type ProviderSim } from './create-provider-sim.js';
import { optionsFromEnv } from './env.js';

const logger = createLogger({
  service: 'provider-sim',
  level: process.env.LOG_LEVEL ?? 'info',
  pretty: process.env.LOG_PRETTY === 'true',
});

// As runMain does: the handlers go in before start-up, so that a SIGTERM while the simulator starts still closes it.
let sim: ProviderSim | undefined;
handleSignals(process, logger, () => [{ name: 'provider-sim', run: async () => sim?.close() }]);
try {
  sim = await createProviderSim({ ...optionsFromEnv(process.env), logger });
  logger.info(
    { url: sim.url, adminUrl: sim.adminUrl, profile: sim.profile },
    `provider simulator ready: OPENAI_BASE_URL=${sim.url}`,
  );
} catch (err) {
  logger.fatal({ err }, 'provider simulator failed to start');
  process.exit(1);
}
