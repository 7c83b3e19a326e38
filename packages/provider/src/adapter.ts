/**
 * The provider-adapter seam (SPEC §11): what the packer and the poller ask of a provider's Batch API, whatever its
 * wire shape. The packer and poller hold a `ProviderAdapter` per provider and never call an SDK themselves.
 *
 * ```ts
 * interface ProviderAdapter {
 *   readonly id: string;                 // the provider's id (PROVIDERS_FILE), `default` for UPSTREAM_*
 *   readonly profile: ProviderProfile;   // limits, windows, endpoints, quirks
 *   readonly inputMode: 'file' | 'inline';
 *   uploadInput(input: BatchInputFile): Promise<{ fileId: string }>;              // 'file' adapters only
 *   deleteOrphanInputs(flushId: string, notBeforeSec: number): Promise<number>;   // 'file' adapters; inline: 0
 *   createBatch(params: CreateBatchParams): Promise<ProviderBatch>;
 *   retrieveBatch(batchId: string): Promise<ProviderBatch>;
 *   findBatchByFlushId(flushId: string, options: FindBatchOptions): Promise<FlushBatchLookup>;
 *   cancelBatch(batchId: string): Promise<ProviderBatch>;
 *   resultSources(batch: ProviderBatch): ResultSource[];
 *   deleteFiles(fileIds: readonly string[]): Promise<void>;
 *   listModels(options: { timeoutMs: number }): Promise<string[]>;
 * }
 * ```
 *
 * The contract every adapter keeps, so that the flush's crash safety (lease/fence, `uploaded`, create_started and
 * find-by-flush-id, invariant I2: one provider batch per flush) holds for every shape:
 * - **Input.** The packer always writes the flush as an OpenAI batch JSONL file on disk (`{custom_id, method, url,
 *   body}` per line, line n = the flush's n-th id), models already renamed to the provider's own names. A `file`
 *   adapter uploads it (`uploadInput`, the flush becomes `uploaded` with the file id) and creates the batch from the
 *   id; an `inline` adapter (Anthropic Message Batches: `requests[{custom_id, params}]`) gets the file in
 *   `createBatch({input})` and translates each line itself, streaming it from disk. No adapter keeps the input in
 *   memory longer than one create call.
 * - **Tagging.** `createBatch` tags the batch with `params.flushId` in whatever way the provider lets it be found
 *   again (`metadata.batchbridge_flush_id` for OpenAI and Mistral). `findBatchByFlushId` answers `found` with that
 *   batch, `absent` only when it is certain no batch of the flush exists at the provider (back to
 *   `options.notBeforeSec`), and `undecided` otherwise: the packer then holds the flush rather than create a second
 *   batch. An adapter whose provider has no metadata must answer `undecided` unless it can prove absence.
 * - **Status.** Every batch comes back normalised (`ProviderBatch`): `status` in OpenAI's vocabulary (`validating`,
 *   `in_progress`, `finalizing`, `completed`, `failed`, `expired`, `cancelling`, `cancelled`), `request_counts`
 *   {total, completed, failed}, `errors.data[{code, line, message}]` for a failed validation. Anthropic maps
 *   `in_progress → in_progress`, `canceling → cancelling`, `ended → completed` (or `cancelled`/`expired` when every
 *   unanswered line was cancelled or expired); Mistral `QUEUED → validating`, `RUNNING → in_progress`,
 *   `SUCCESS → completed`, `FAILED → failed`, `TIMEOUT_EXCEEDED → expired`, `CANCELLATION_REQUESTED → cancelling`,
 *   `CANCELLED → cancelled`.
 * - **Results.** `resultSources(batch)` names the JSONL streams of a terminal batch (OpenAI: output then error file;
 *   Anthropic: the `results_url`). Each line is turned into OpenAI's result line `{custom_id, response:{status_code,
 *   body}, error:{code, message}}` by `toResultLine` (identity for OpenAI), which the poller judges as usual:
 *   Anthropic `succeeded` → status 200 with a `chat.completion` body, `errored` → the error's HTTP status (or
 *   `error.code` `server_error` for a 5xx-like one: retried), `canceled` → `error.code: batch_cancelled`, `expired` →
 *   `batch_expired` (both retried). A source that is gone answers its `open` with an error whose `status` is 404.
 * - **Errors.** Calls throw the SDK's errors or `ProviderError`; `classifyProviderError` decides what is retried, and
 *   the health wrapper (health.ts) counts 5xx, 429, timeouts and connection errors against the provider's circuit.
 *   Adapters never retry themselves (the queues do, honouring Retry-After).
 */
import type { Readable } from 'node:stream';
import type { BatchEndpoint, ProviderProfile } from '@batchbridge/config';
import type { FindBatchOptions, FlushBatchLookup, ProviderBatch } from './batch.js';

/** The flush's JSONL file, written by the packer (OpenAI batch line format, the provider's model names). */
export interface BatchInputFile {
  path: string;
  /** The file name to upload it as (`batchbridge-<flushId>.jsonl`: orphan uploads are found by it). */
  filename: string;
  lines: number;
  bytes: number;
  /** The upload's call timeout (large files get longer). */
  timeoutMs: number;
}

export interface CreateBatchParams {
  flushId: string;
  partition: number;
  endpoint: BatchEndpoint;
  /** As configured (`24h`, `1h`, `7d`); the adapter maps it to the provider's field (Mistral `timeout_hours`). */
  completionWindow: string;
  /** The flush's model, the provider's own name (Mistral jobs name one model); undefined for a mixed-model group. */
  model?: string | undefined;
  /** The uploaded input (file adapters). */
  fileId?: string | undefined;
  /** The input file on disk (inline adapters translate and send its lines in the create call). */
  input?: BatchInputFile | undefined;
}

/** One JSONL stream of a finished batch. */
export interface ResultSource {
  /** For logs and errors: a file id or the results URL. */
  readonly ref: string;
  /**
   * Opens the byte stream (a web stream, or a Node Readable: the OpenAI-compatible adapter's downloads); a source the
   * provider no longer has rejects with an error whose `status` is 404.
   */
  open(signal: AbortSignal): Promise<ReadableStream<Uint8Array> | Readable | null>;
  /** Maps one parsed JSON line to OpenAI's result line shape. @defaultValue identity */
  toResultLine?(json: unknown): unknown;
}

export interface ProviderAdapter {
  readonly id: string;
  readonly profile: ProviderProfile;
  readonly inputMode: 'file' | 'inline';
  uploadInput(input: BatchInputFile): Promise<{ fileId: string }>;
  deleteOrphanInputs(flushId: string, notBeforeSec: number): Promise<number>;
  createBatch(params: CreateBatchParams): Promise<ProviderBatch>;
  retrieveBatch(batchId: string): Promise<ProviderBatch>;
  findBatchByFlushId(flushId: string, options: FindBatchOptions): Promise<FlushBatchLookup>;
  cancelBatch(batchId: string): Promise<ProviderBatch>;
  resultSources(batch: ProviderBatch): ResultSource[];
  deleteFiles(fileIds: readonly string[]): Promise<void>;
  listModels(options: { timeoutMs: number }): Promise<string[]>;
  /**
   * One synchronous call of the realtime lane (SPEC §10) in the provider's own protocol, answered in OpenAI's shape
   * exactly as a batch line of this adapter would carry it (`status_code` and body). Unset: the provider speaks
   * OpenAI's API and the lane worker calls it through the openai SDK. Throws a `ProviderError` for what the caller
   * should retry or back off from (429, 5xx, connection), and for a 4xx refusal with `error` set to the OpenAI-shaped
   * error body.
   */
  realtime?(call: RealtimeCall): Promise<{ status_code: number; body: unknown }>;
}

/** A realtime-lane call: the request's OpenAI body (its provider model already resolved). */
export interface RealtimeCall {
  endpoint: BatchEndpoint;
  body: Record<string, unknown>;
  timeoutMs: number;
}

/** The name of a flush's input file at the provider. */
export function flushFileName(flushId: string): string {
  return `batchbridge-${flushId}.jsonl`;
}
