/**
 * Simulator options from environment variables (see README): pure, so that `main.ts` stays the only place touching
 * `process` and tests can call it with a plain object.
 */
import { z } from 'zod';
import type { SimFaultsInput } from './faults.js';
import type { ProviderSimOptions, SimTimings } from './options.js';

const int = z.coerce.number().int();
const num = z.coerce.number();
const list = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.string()).min(1));

const envSchema = z.object({
  SIM_PORT: int.min(0).max(65_535).default(9090),
  SIM_HOST: z.string().min(1).default('127.0.0.1'),
  PROVIDER_PROFILE: z
    .enum(['openai', 'kluster', 'doubleword', 'together', 'groq', 'mistral', 'generic'])
    .default('openai'),
  SIM_DATA_DIR: z.string().min(1).optional(),
  SIM_API_KEYS: list.optional(),
  SIM_ADMIN_KEY: z.string().min(1).optional(),
  SIM_MODELS: list.optional(),
  SIM_MAX_LINES: int.positive().optional(),
  SIM_MAX_BYTES: int.positive().optional(),
  SIM_SEED: int.optional(),
  SIM_SHUFFLE_WINDOW: int.positive().optional(),
  SIM_VALIDATING_MS: num.min(0).optional(),
  SIM_LINES_PER_SECOND: num.min(0).optional(),
  SIM_FINALIZING_MS: num.min(0).optional(),
  SIM_CANCELLING_MS: num.min(0).optional(),
  SIM_FAULTS: z
    .string()
    .transform((s, ctx) => {
      try {
        return JSON.parse(s) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'SIM_FAULTS must be JSON' });
        return z.NEVER;
      }
    })
    .pipe(z.record(z.string(), z.unknown()))
    .optional(),
  SIM_FAULT_429_FRACTION: num.min(0).max(1).optional(),
  SIM_FAULT_5XX_FRACTION: num.min(0).max(1).optional(),
  SIM_LATENCY_MS: int.min(0).optional(),
  SIM_RETRY_AFTER_MS: int.min(0).optional(),
  SIM_CHAT_RPM: int.positive().optional(),
  SIM_CHAT_CONCURRENCY: int.positive().optional(),
  SIM_FLEX_UNAVAILABLE_FRACTION: num.min(0).max(1).optional(),
  SIM_FLEX_LATENCY_MS: int.min(0).optional(),
  /** Push batch webhooks here (SPEC §13), signed with SIM_WEBHOOK_SECRET (`whsec_…`). */
  SIM_WEBHOOK_URL: z.url().optional(),
  SIM_WEBHOOK_SECRET: z.string().min(1).optional(),
});

/** Reads simulator options from an environment; throws a ZodError naming the bad variable. */
export function optionsFromEnv(env: Record<string, string | undefined>): ProviderSimOptions {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const e = envSchema.parse(cleaned);

  const timings: Partial<SimTimings> = {};
  if (e.SIM_VALIDATING_MS !== undefined) timings.validatingMs = e.SIM_VALIDATING_MS;
  if (e.SIM_LINES_PER_SECOND !== undefined) timings.linesPerSecond = e.SIM_LINES_PER_SECOND;
  if (e.SIM_FINALIZING_MS !== undefined) timings.finalizingMs = e.SIM_FINALIZING_MS;
  if (e.SIM_CANCELLING_MS !== undefined) timings.cancellingMs = e.SIM_CANCELLING_MS;

  const faults: Record<string, unknown> = { ...e.SIM_FAULTS };
  const addPerOp = (key: string, op: string, value: number | undefined) => {
    if (value === undefined) return;
    faults[key] = { ...(faults[key] as Record<string, unknown> | undefined), [op]: value };
  };
  addPerOp('rateLimitFraction', '*', e.SIM_FAULT_429_FRACTION);
  addPerOp('serverErrorFraction', '*', e.SIM_FAULT_5XX_FRACTION);
  addPerOp('latencyMs', '*', e.SIM_LATENCY_MS);
  addPerOp('requestsPerMinute', 'chat.completions', e.SIM_CHAT_RPM);
  addPerOp('maxConcurrent', 'chat.completions', e.SIM_CHAT_CONCURRENCY);
  if (e.SIM_RETRY_AFTER_MS !== undefined) faults.retryAfterMs = e.SIM_RETRY_AFTER_MS;
  if (e.SIM_FLEX_UNAVAILABLE_FRACTION !== undefined) faults.flexUnavailableFraction = e.SIM_FLEX_UNAVAILABLE_FRACTION;
  if (e.SIM_FLEX_LATENCY_MS !== undefined) faults.flexLatencyMs = e.SIM_FLEX_LATENCY_MS;

  const options: ProviderSimOptions = {
    // `generic` providers get the most permissive built-in profile.
    profile: e.PROVIDER_PROFILE === 'generic' ? 'kluster' : e.PROVIDER_PROFILE,
    port: e.SIM_PORT,
    host: e.SIM_HOST,
    timings,
    faults: faults as SimFaultsInput,
  };
  if (e.SIM_DATA_DIR) options.dataDir = e.SIM_DATA_DIR;
  if (e.SIM_API_KEYS) options.apiKeys = e.SIM_API_KEYS;
  if (e.SIM_ADMIN_KEY) options.adminKey = e.SIM_ADMIN_KEY;
  if (e.SIM_MODELS) options.models = e.SIM_MODELS;
  if (e.SIM_MAX_LINES) options.maxLines = e.SIM_MAX_LINES;
  if (e.SIM_MAX_BYTES) options.maxBytes = e.SIM_MAX_BYTES;
  if (e.SIM_SEED !== undefined) options.seed = e.SIM_SEED;
  if (e.SIM_SHUFFLE_WINDOW) options.shuffleWindow = e.SIM_SHUFFLE_WINDOW;
  if (e.SIM_WEBHOOK_URL || e.SIM_WEBHOOK_SECRET) {
    if (!e.SIM_WEBHOOK_URL || !e.SIM_WEBHOOK_SECRET)
      throw new Error('SIM_WEBHOOK_URL and SIM_WEBHOOK_SECRET: set both, or neither');
    options.webhook = { url: e.SIM_WEBHOOK_URL, secret: e.SIM_WEBHOOK_SECRET };
  }
  return options;
}
