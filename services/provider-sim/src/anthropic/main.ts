/**
 * Runs the simulator's Anthropic mode alone: `pnpm --filter @batchbridge/provider-sim start:anthropic`.
 * Settings: `SIM_PORT` (default 9092), `SIM_HOST`, `SIM_API_KEYS` (comma-separated), `SIM_MODELS` (comma-separated),
 * `SIM_ANTHROPIC_PROCESSING_MS` (default 1000), `SIM_CANCELLING_MS` (default 500), `SIM_FAULTS` (JSON), `SIM_SEED`.
 */
import { createLogger } from '@batchbridge/logger';
import { handleSignals } from '@batchbridge/runtime';
import { z } from 'zod';
import { type AnthropicSim, createAnthropicSim } from './create-anthropic-sim.js';

const list = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.string()).min(1));
const int = z.coerce.number().int();
const envSchema = z.object({
  SIM_PORT: int.min(0).max(65_535).default(9092),
  SIM_HOST: z.string().min(1).default('127.0.0.1'),
  SIM_API_KEYS: list.optional(),
  SIM_MODELS: list.optional(),
  SIM_ANTHROPIC_PROCESSING_MS: int.min(0).default(1000),
  SIM_CANCELLING_MS: int.min(0).default(500),
  SIM_SEED: int.default(1),
  SIM_FAULTS: z
    .string()
    .transform((s, ctx) => {
      try {
        return JSON.parse(s) as Record<string, unknown>;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'SIM_FAULTS must be JSON' });
        return z.NEVER;
      }
    })
    .optional(),
});

const logger = createLogger({
  service: 'provider-sim-anthropic',
  level: process.env.LOG_LEVEL ?? 'info',
  pretty: process.env.LOG_PRETTY === 'true',
});

let sim: AnthropicSim | undefined;
handleSignals(process, logger, () => [{ name: 'provider-sim-anthropic', run: async () => sim?.close() }]);
const parsed = envSchema.safeParse(process.env);
if (!parsed.success) {
  for (const issue of parsed.error.issues) console.error(`${issue.path.join('.')}: ${issue.message}`);
  process.exit(1);
}
const env = parsed.data;
try {
  sim = await createAnthropicSim({
    port: env.SIM_PORT,
    host: env.SIM_HOST,
    processingMs: env.SIM_ANTHROPIC_PROCESSING_MS,
    cancellingMs: env.SIM_CANCELLING_MS,
    seed: env.SIM_SEED,
    logger,
    ...(env.SIM_API_KEYS ? { apiKeys: env.SIM_API_KEYS } : {}),
    ...(env.SIM_MODELS ? { models: env.SIM_MODELS } : {}),
    ...(env.SIM_FAULTS ? { faults: env.SIM_FAULTS } : {}),
  });
  logger.info({ url: sim.url, adminUrl: sim.adminUrl }, `Anthropic simulator ready: ANTHROPIC_BASE_URL=${sim.url}`);
} catch (err) {
  logger.fatal({ err }, 'Anthropic simulator failed to start');
  process.exit(1);
}
