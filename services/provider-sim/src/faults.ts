/**
 * Fault configuration: what the simulator does wrong on purpose, and how partial updates merge into it.
 *
 * Every fault is off by default. Per-operation faults are keyed by operation name (`'batches.create'`, …) or by `'*'`
 * for every operation without its own entry.
 */
import { z } from 'zod';

export const SIM_OPERATIONS = [
  'files.create',
  'files.list',
  'files.retrieve',
  'files.content',
  'files.delete',
  'batches.create',
  'batches.retrieve',
  'batches.list',
  'batches.cancel',
  'models.list',
  'chat.completions',
  'embeddings',
  'responses',
  'completions',
  'moderations',
] as const;

/** One API operation of the simulator, named after the openai SDK method. */
export type SimOperation = (typeof SIM_OPERATIONS)[number];

const operationKey = z.enum([...SIM_OPERATIONS, '*']);
const fraction = z.number().min(0).max(1);
const perOperation = <T extends z.ZodType>(value: T) => z.partialRecord(operationKey, value);

export const simFaultsSchema = z.strictObject({
  /** Fraction of calls answered `429` (with `Retry-After`), per operation. */
  rateLimitFraction: perOperation(fraction).default({}),
  /** Delay announced in `Retry-After` (seconds, rounded up) and `retry-after-ms` on every 429. */
  retryAfterMs: z.number().int().min(0).default(1000),
  /** Fraction of calls answered with `serverErrorStatus`, per operation. */
  serverErrorFraction: perOperation(fraction).default({}),
  /** Status of injected server errors. */
  serverErrorStatus: z.number().int().min(500).max(599).default(500),
  /** Added latency before a call is handled, per operation (ms). */
  latencyMs: perOperation(z.number().int().min(0)).default({}),
  /** Sliding one-minute request limit per operation; calls over it get 429. */
  requestsPerMinute: perOperation(z.number().int().positive()).default({}),
  /** Most calls in flight per operation; calls over it get 429. */
  maxConcurrent: perOperation(z.number().int().positive()).default({}),
  /**
   * `POST /files` without a `Content-Length` (a chunked upload) → 411 Length Required, as load balancers that refuse
   * chunked request bodies answer. Off by default: the simulator then takes chunked uploads too.
   */
  requireContentLength: z.boolean().default(false),
  /** Throttle file content downloads to this rate. */
  downloadBytesPerSecond: z.number().positive().nullable().default(null),
  /** Destroy the connection of a content download after this many bytes (Content-Length still announces all). */
  truncateDownloadAfterBytes: z.number().int().min(0).nullable().default(null),
  /** Fraction of content downloads that the truncation applies to. */
  truncateDownloadFraction: fraction.default(1),
  /** Fail new batches with `token_limit_exceeded` when enqueued (unfinished) batches would exceed this many tokens. */
  enqueuedTokenLimit: z.number().int().positive().nullable().default(null),
  /** Batches expire after this fraction of their lines: partial output plus `batch_expired` error lines. */
  expireAfterFraction: fraction.nullable().default(null),
  /** Fraction of batch lines answered with `lineErrorStatus` in the error file. */
  lineErrorFraction: fraction.default(0),
  /** Status code of lines failed by `lineErrorFraction`. */
  lineErrorStatus: z.number().int().min(400).max(599).default(500),
  /** Fraction of batch lines silently missing from both output and error file. */
  dropLineFraction: fraction.default(0),
  /**
   * Structured outputs: the next this many batch answers to requests with a JSON schema (chat `response_format`,
   * Responses `text.format`) break it (their text is not JSON), once each.
   */
  schemaBreakingAnswers: z.number().int().min(0).default(0),
  /** Batch webhooks (webhook-pusher.ts): the next this many events are never sent. */
  webhookLost: z.number().int().min(0).default(0),
  /** The next this many events are sent twice (same webhook-id and body). */
  webhookDuplicate: z.number().int().min(0).default(0),
  /** The next this many events are signed with a wrong secret. */
  webhookBadSignature: z.number().int().min(0).default(0),
  /** How long a batch stays `cancelling` (ms); null uses `timings.cancellingMs`. */
  cancelDelayMs: z.number().int().min(0).nullable().default(null),
  /**
   * `batches.create` creates the batch, then either answers only after `delayMs` (`delay`) or destroys the connection
   * (`drop`) — for the next `times` calls.
   */
  createBatchTimeout: z
    .strictObject({
      mode: z.enum(['delay', 'drop']).default('drop'),
      delayMs: z.number().int().min(0).default(30_000),
      times: z.number().int().positive().default(1),
    })
    .nullable()
    .default(null),
});

/** The full, resolved fault set. */
export type SimFaults = z.output<typeof simFaultsSchema>;
/** A partial fault update, as accepted by `setFaults` and `PUT /_sim/faults`. */
export type SimFaultsInput = z.input<typeof simFaultsSchema>;

const RECORD_KEYS = [
  'rateLimitFraction',
  'serverErrorFraction',
  'latencyMs',
  'requestsPerMinute',
  'maxConcurrent',
] as const satisfies readonly (keyof SimFaults)[];

/** Faults with nothing switched on. */
export function noFaults(): SimFaults {
  return simFaultsSchema.parse({});
}

/**
 * Applies a partial update: per-operation maps merge key by key (an entry set to `null` is removed), every other
 * field is replaced. Throws a ZodError on invalid input.
 */
export function mergeFaults(current: SimFaults, update: unknown): SimFaults {
  // Merge the raw update, then validate the result: parsing the update alone would fill in defaults for the fields it
  // does not mention and so wipe the current ones.
  const patch = z.record(z.string(), z.unknown()).parse(update ?? {});
  const merged: Record<string, unknown> = { ...current, ...patch };
  for (const key of RECORD_KEYS) {
    const value = patch[key];
    if (!value || typeof value !== 'object') continue;
    const map: Record<string, unknown> = { ...current[key] };
    for (const [op, v] of Object.entries(value)) {
      if (v === null) delete map[op];
      else map[op] = v;
    }
    merged[key] = map;
  }
  return simFaultsSchema.parse(merged);
}

/** The value for one operation of a per-operation fault map, falling back to `'*'`. */
export function forOperation<T>(map: Partial<Record<SimOperation | '*', T>>, op: SimOperation): T | undefined {
  return map[op] ?? map['*'];
}
