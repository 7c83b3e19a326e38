/**
 * Provider profiles: the limits and quirks of each real Batch API that the simulator reproduces.
 *
 * A profile decides what validation refuses (one model per file, line and byte caps, completion windows) and how
 * objects are rendered (kluster answers batch retrieve/list with string timestamps and adds page fields to lists).
 */
import type { SimEndpoint } from './endpoints.js';

export type ProfileName = 'openai' | 'kluster' | 'doubleword' | 'together' | 'groq' | 'mistral';
export const PROFILE_NAMES: readonly ProfileName[] = ['openai', 'kluster', 'doubleword', 'together', 'groq', 'mistral'];

export interface SimProfile {
  readonly name: ProfileName;
  /** Models accepted in batch lines and realtime calls, and listed by `GET /v1/models` (any model at any endpoint). */
  readonly models: readonly string[];
  /** Batch `endpoint`s accepted; realtime calls to the others answer 404. */
  readonly endpoints: readonly SimEndpoint[];
  /** Most embedding inputs across all lines of one `/v1/embeddings` batch. */
  readonly maxEmbeddingInputs: number;
  /** Owner shown in `GET /v1/models`. */
  readonly modelOwner: string;
  /** Whether one input file may mix models (openai: no). */
  readonly mixedModels: boolean;
  /** Most lines in one batch input file. */
  readonly maxLines: number;
  /** Most bytes in one batch input file. */
  readonly maxBytes: number;
  /** Accepted `completion_window` values. */
  readonly completionWindows: readonly string[];
  /** kluster renders timestamps of retrieved and listed objects as strings (`"1733832777"`). */
  readonly stringTimestamps: boolean;
  /** kluster adds `count`, `page`, `page_count`, `items_per_page` to batch lists. */
  readonly pageFields: boolean;
  /** Shape of generated ids. */
  readonly idStyle: 'openai' | 'objectid';
  /**
   * What is done with `completion_window`: checked against `completionWindows` (default); `ignores` (Together: any
   * value is taken, the batch is best-effort 24 h and reads back `24h`); `label` (Doubleword: read back as a label
   * such as "Standard (24h)").
   */
  readonly windowQuirk?: 'ignores' | 'label';
  /**
   * Mistral's Batch API: no `/v1/batches`; jobs at `/v1/batch/jobs` (`mistral-jobs-router.ts`), input lines
   * `{custom_id, body}` (`method` and `url` may be left out), statuses QUEUED … CANCELLED, `timeout_hours`.
   */
  readonly batchApi?: 'mistral';
  /**
   * The models whose realtime calls take `service_tier: "flex"` (others answer 400, as OpenAI does). Unset: any model.
   */
  readonly flexModels?: readonly string[];
}

/** How a `label` profile renders a window (Doubleword). The 24 h label is Doubleword's; the 1 h one is modelled on it. */
export function windowLabel(window: string): string {
  return window === '1h' ? 'Priority (1h)' : `Standard (${window})`;
}

const MB = 1024 * 1024;

export const PROFILES: Readonly<Record<ProfileName, SimProfile>> = {
  openai: {
    name: 'openai',
    models: [
      'gpt-4o-mini',
      'gpt-4o',
      'gpt-4.1-mini',
      'gpt-4.1-nano',
      'gpt-4.1',
      'gpt-5-mini',
      'text-embedding-3-small',
      'text-embedding-3-large',
      'text-embedding-ada-002',
      'omni-moderation-latest',
      'gpt-3.5-turbo-instruct',
    ],
    endpoints: ['/v1/chat/completions', '/v1/embeddings', '/v1/responses', '/v1/completions', '/v1/moderations'],
    maxEmbeddingInputs: 50_000,
    modelOwner: 'system',
    // OpenAI offers flex for the gpt-5 family, o3 and o4-mini: of the models above, gpt-5-mini.
    flexModels: ['gpt-5-mini'],
    mixedModels: false,
    maxLines: 50_000,
    maxBytes: 200 * MB,
    completionWindows: ['24h'],
    stringTimestamps: false,
    pageFields: false,
    idStyle: 'openai',
  },
  kluster: {
    name: 'kluster',
    models: [
      'klusterai/Meta-Llama-3.1-8B-Instruct-Turbo',
      'klusterai/Meta-Llama-3.1-405B-Instruct-Turbo',
      'klusterai/Meta-Llama-3.3-70B-Instruct-Turbo',
      'deepseek-ai/DeepSeek-R1',
      'deepseek-ai/DeepSeek-V3',
    ],
    // kluster's Batch API documents chat completions only.
    endpoints: ['/v1/chat/completions'],
    maxEmbeddingInputs: 50_000,
    modelOwner: 'klusterai',
    mixedModels: true,
    maxLines: 50_000,
    maxBytes: 100 * MB,
    completionWindows: ['24h', '48h', '72h'],
    stringTimestamps: true,
    pageFields: true,
    idStyle: 'objectid',
  },
  doubleword: {
    // OpenAI-compatible; 1 h and 24 h windows, the window read back as a label.
    name: 'doubleword',
    models: ['Qwen/Qwen3-30B-A3B-Instruct-2507-FP8', 'meta-llama/Llama-3.3-70B-Instruct', 'Qwen/Qwen3-Embedding-8B'],
    endpoints: ['/v1/chat/completions', '/v1/embeddings'],
    maxEmbeddingInputs: 50_000,
    modelOwner: 'doubleword',
    mixedModels: false,
    maxLines: 50_000,
    maxBytes: 200 * MB,
    completionWindows: ['1h', '24h'],
    stringTimestamps: false,
    pageFields: false,
    idStyle: 'openai',
    windowQuirk: 'label',
  },
  together: {
    // docs.together.ai: 50 000 requests and 100 MB per file, chat only, best-effort 24 h whatever the window.
    name: 'together',
    models: ['meta-llama/Llama-3.3-70B-Instruct-Turbo', 'meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo'],
    endpoints: ['/v1/chat/completions'],
    maxEmbeddingInputs: 50_000,
    modelOwner: 'together',
    mixedModels: false,
    maxLines: 50_000,
    maxBytes: 100 * MB,
    completionWindows: ['24h'],
    stringTimestamps: false,
    pageFields: false,
    idStyle: 'openai',
    windowQuirk: 'ignores',
  },
  groq: {
    // Groq: OpenAI's shape, completion_window from 24h to 7d.
    name: 'groq',
    models: ['llama-3.3-70b-versatile', 'llama-3.1-8b-instant'],
    endpoints: ['/v1/chat/completions'],
    maxEmbeddingInputs: 50_000,
    modelOwner: 'groq',
    mixedModels: false,
    maxLines: 50_000,
    maxBytes: 200 * MB,
    completionWindows: ['24h', '48h', '72h', '4d', '5d', '6d', '7d'],
    stringTimestamps: false,
    pageFields: false,
    idStyle: 'openai',
  },
  mistral: {
    // docs.mistral.ai batch processing: files as OpenAI's, jobs at /v1/batch/jobs, one model per job, up to 1M lines.
    name: 'mistral',
    models: ['mistral-small-latest', 'mistral-large-latest', 'ministral-8b-latest', 'mistral-embed'],
    endpoints: ['/v1/chat/completions', '/v1/embeddings', '/v1/moderations'],
    maxEmbeddingInputs: 1_000_000,
    modelOwner: 'mistralai',
    mixedModels: false,
    maxLines: 1_000_000,
    maxBytes: 200 * MB,
    completionWindows: ['24h'],
    stringTimestamps: false,
    pageFields: false,
    idStyle: 'openai',
    batchApi: 'mistral',
  },
};

/** Seconds in a completion window such as `24h` or `7d`. */
export function completionWindowSeconds(window: string): number {
  const match = /^(\d+)([hd])$/.exec(window);
  if (!match) return 24 * 3600;
  return Number(match[1]) * (match[2] === 'd' ? 86_400 : 3600);
}
