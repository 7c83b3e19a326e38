/**
 * Provider batch objects, validated at the boundary and normalised: kluster returns string timestamps and some
 * providers uppercase statuses; everything downstream sees one shape.
 */
import type OpenAI from 'openai';
import { z } from 'zod';

export const BATCH_STATUSES = [
  'validating',
  'failed',
  'in_progress',
  'finalizing',
  'completed',
  'expired',
  'cancelling',
  'cancelled',
] as const;
export type BatchStatus = (typeof BATCH_STATUSES)[number];
export const TERMINAL_BATCH_STATUSES: readonly BatchStatus[] = ['completed', 'failed', 'expired', 'cancelled'];

const timestamp = z
  .union([z.number(), z.string()])
  .nullish()
  .transform((v) => {
    if (v === null || v === undefined || v === '') return undefined;
    if (typeof v === 'number') return v;
    const n = Number(v);
    if (Number.isFinite(n)) return n;
    const d = Date.parse(v);
    return Number.isNaN(d) ? undefined : Math.floor(d / 1000);
  });

export const ProviderBatchSchema = z.object({
  id: z.string(),
  status: z
    .string()
    .transform((s) => s.toLowerCase())
    .pipe(z.enum(BATCH_STATUSES)),
  input_file_id: z.string().nullish(),
  output_file_id: z.string().nullish(),
  error_file_id: z.string().nullish(),
  created_at: timestamp,
  completed_at: timestamp,
  failed_at: timestamp,
  expired_at: timestamp,
  cancelled_at: timestamp,
  expires_at: timestamp,
  metadata: z.record(z.string(), z.string()).nullish(),
  request_counts: z
    .object({ total: z.coerce.number(), completed: z.coerce.number(), failed: z.coerce.number() })
    .partial()
    .nullish(),
  errors: z
    .object({
      data: z
        .array(
          z.object({
            code: z.string().nullish(),
            line: z.coerce.number().nullish(),
            message: z.string().nullish(),
            param: z.string().nullish(),
          }),
        )
        .nullish(),
    })
    .nullish(),
});

export type ProviderBatch = z.infer<typeof ProviderBatchSchema>;

/** When the provider says a terminal batch reached its status (ms), when it says so. */
export function terminalAtMs(batch: ProviderBatch): number | undefined {
  const seconds =
    batch.status === 'completed'
      ? batch.completed_at
      : batch.status === 'failed'
        ? batch.failed_at
        : batch.status === 'expired'
          ? batch.expired_at
          : batch.status === 'cancelled'
            ? batch.cancelled_at
            : undefined;
  return typeof seconds === 'number' && seconds > 0 ? seconds * 1000 : undefined;
}

export function normalizeBatch(raw: unknown): ProviderBatch {
  return ProviderBatchSchema.parse(raw);
}

export function isTerminalBatch(status: BatchStatus): boolean {
  return TERMINAL_BATCH_STATUSES.includes(status);
}

/** The metadata key batchbridge tags every batch with, to find it again after a crash (invariant I2). */
export const FLUSH_METADATA_KEY = 'batchbridge_flush_id';

/** What a look for a flush's batch found: the batch, certainly none, or no answer within the bound. */
export type FlushBatchLookup =
  | { kind: 'found'; batch: ProviderBatch }
  | { kind: 'absent'; pages: number }
  | { kind: 'undecided'; pages: number; reason: string };

export interface FindBatchOptions {
  /** Batches created before this (unix seconds) cannot be the flush's: the walk stops at the first one. */
  notBeforeSec: number;
  /** Give up (undecided) after this long. @defaultValue 120 000 ms */
  maxMs?: number;
  /** Give up (undecided) after this many pages of 100. @defaultValue 2 000 (200 000 batches) */
  maxPages?: number;
  /**
   * For adapters whose batches carry no tag (Anthropic): how many requests the flush's create carried, and whether a
   * `custom_id` is one of the flush's. Without them such an adapter answers `undecided`.
   */
  requestCount?: number;
  isFlushRequest?: (customId: string) => boolean;
}

/**
 * Looks for the batch created for this flush among the provider's batches, newest first, page by page until it is
 * found, the list ends, or a batch older than `notBeforeSec` shows that no older page can hold it. It never answers
 * "absent" because it stopped early: past its time or page bound the answer is `undecided`, and the caller must not
 * create a batch then (a second paid batch, invariant I2). A batch without `created_at` does not end the walk.
 */
export async function findBatchByFlushId(
  client: OpenAI,
  flushId: string,
  options: FindBatchOptions,
): Promise<FlushBatchLookup> {
  const maxMs = options.maxMs ?? 120_000;
  const maxPages = options.maxPages ?? 2_000;
  const started = Date.now();
  let after: string | undefined;
  for (let page = 1; ; page++) {
    const res = await client.batches.list({ limit: 100, ...(after ? { after } : {}) });
    const items = (res.data as unknown[]).map(normalizeBatch);
    for (const b of items) if (b.metadata?.[FLUSH_METADATA_KEY] === flushId) return { kind: 'found', batch: b };
    const last = items.at(-1);
    if (!res.hasNextPage() || !last) return { kind: 'absent', pages: page };
    if (items.some((b) => b.created_at !== undefined && b.created_at < options.notBeforeSec)) {
      return { kind: 'absent', pages: page };
    }
    if (page >= maxPages) return { kind: 'undecided', pages: page, reason: `still searching after ${page} pages` };
    if (Date.now() - started > maxMs) {
      return { kind: 'undecided', pages: page, reason: `still searching after ${Math.round(maxMs / 1000)} s` };
    }
    after = last.id;
  }
}
