/**
 * Options of `createProviderSim`, their defaults and their validation.
 */
import type { Logger } from '@batchbridge/logger';
import { z } from 'zod';
import type { SimFaultsInput } from './faults.js';
import type { ProfileName } from './profiles.js';

/** How fast batches move through their lifecycle. All may be 0 in tests. */
export interface SimTimings {
  /** Time a batch stays `validating` before its input is read (ms). @defaultValue `1000` */
  validatingMs: number;
  /** Lines processed per second while `in_progress`; `0` means as fast as possible. @defaultValue `2000` */
  linesPerSecond: number;
  /** Time a batch stays `finalizing` (ms). @defaultValue `1000` */
  finalizingMs: number;
  /** Time a batch stays `cancelling` before it is `cancelled` (ms). @defaultValue `1000` */
  cancellingMs: number;
}

export const DEFAULT_TIMINGS: Readonly<SimTimings> = {
  validatingMs: 1000,
  linesPerSecond: 2000,
  finalizingMs: 1000,
  cancellingMs: 1000,
};

/** Timings that make a batch finish as fast as the machine allows: for tests. */
export const FAST_TIMINGS: Readonly<SimTimings> = {
  validatingMs: 0,
  linesPerSecond: 0,
  finalizingMs: 0,
  cancellingMs: 0,
};

export interface ProviderSimOptions {
  /** Provider whose limits and quirks are reproduced. @defaultValue `'openai'` */
  profile?: ProfileName;
  /** TCP port; `0` picks a free one. @defaultValue `0` */
  port?: number;
  /** Interface to listen on. @defaultValue `'127.0.0.1'` */
  host?: string;
  /** Bearer keys accepted on `/v1`. @defaultValue any non-empty key */
  apiKeys?: readonly string[];
  /** Bearer key required on `/_sim` admin endpoints. @defaultValue none (admin API open) */
  adminKey?: string;
  /** Models accepted and listed. @defaultValue the profile's models */
  models?: readonly string[];
  /** Most lines per batch input file. @defaultValue the profile's (50 000) */
  maxLines?: number;
  /** Most bytes per batch input file. @defaultValue the profile's (openai 200 MB, kluster 100 MB) */
  maxBytes?: number;
  /** Largest upload accepted by `POST /files` (bytes). @defaultValue `536870912` (512 MB) */
  uploadMaxBytes?: number;
  /** Where uploaded and generated files are stored. @defaultValue a fresh temporary directory, removed on close */
  dataDir?: string;
  /** Lifecycle timings. @defaultValue `DEFAULT_TIMINGS` */
  timings?: Partial<SimTimings>;
  /** Faults active from the start (and restored by `reset()`). @defaultValue none */
  faults?: SimFaultsInput;
  /** Seed of the random choices (fault fractions, output order). @defaultValue `1` */
  seed?: number;
  /** Output lines are shuffled within windows of this many lines (memory stays bounded). @defaultValue `1000` */
  shuffleWindow?: number;
  /**
   * Push batch webhooks as OpenAI does (`batch.completed|failed|expired|cancelled`, Standard Webhooks signed with
   * `secret`) to `url` (SIM_WEBHOOK_URL, SIM_WEBHOOK_SECRET). @defaultValue none (no push; `setWebhook` sets one later)
   */
  webhook?: { url: string; secret: string };
  /** pino logger. @defaultValue a silent logger */
  logger?: Logger;
}

export const providerSimOptionsSchema = z.object({
  profile: z.enum(['openai', 'kluster', 'doubleword', 'together', 'groq', 'mistral']).default('openai'),
  port: z.number().int().min(0).max(65_535).default(0),
  host: z.string().min(1).default('127.0.0.1'),
  apiKeys: z.array(z.string().min(1)).readonly().optional(),
  adminKey: z.string().min(1).optional(),
  models: z.array(z.string().min(1)).min(1).readonly().optional(),
  maxLines: z.number().int().positive().optional(),
  maxBytes: z.number().int().positive().optional(),
  uploadMaxBytes: z
    .number()
    .int()
    .positive()
    .default(512 * 1024 * 1024),
  dataDir: z.string().min(1).optional(),
  timings: z
    .object({
      validatingMs: z.number().min(0),
      linesPerSecond: z.number().min(0),
      finalizingMs: z.number().min(0),
      cancellingMs: z.number().min(0),
    })
    .partial()
    .default({}),
  seed: z.number().int().default(1),
  webhook: z.object({ url: z.url(), secret: z.string().min(1) }).optional(),
  shuffleWindow: z.number().int().positive().default(1000),
});
