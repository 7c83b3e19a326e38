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

export function normalizeBatch(raw: unknown): ProviderBatch {
  return ProviderBatchSchema.parse(raw);
}

export function isTerminalBatch(status: BatchStatus): boolean {
  return TERMINAL_BATCH_STATUSES.includes(status);
}

/** The metadata key batchbridge tags every batch with, to find it again after a crash (invariant I2). */
export const FLUSH_METADATA_KEY = 'batchbridge_flush_id';

/**
 * Looks for a batch created for this flush among the provider's batches (newest first), stopping at batches created
 * before `notBeforeSec` or after `maxPages` pages.
 */
export async function findBatchByFlushId(
  client: OpenAI,
  flushId: string,
  notBeforeSec: number,
  maxPages = 20,
): Promise<ProviderBatch | undefined> {
  let after: string | undefined;
  for (let page = 0; page < maxPages; page++) {
    const res = await client.batches.list({ limit: 100, ...(after ? { after } : {}) });
    const items = (res.data as unknown[]).map(normalizeBatch);
    for (const b of items) if (b.metadata?.[FLUSH_METADATA_KEY] === flushId) return b;
    const last = items.at(-1);
    if (!res.hasNextPage() || !last || (last.created_at !== undefined && last.created_at < notBeforeSec))
      return undefined;
    after = last.id;
  }
  return undefined;
}
