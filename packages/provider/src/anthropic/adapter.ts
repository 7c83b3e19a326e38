/**
 * The `anthropic` adapter (SPEC §11): Anthropic's Message Batches behind the provider seam (adapter.ts), so that a
 * PROVIDERS_FILE entry with profile `anthropic` is packed, submitted, polled and routed by the same packer and poller
 * paths as an OpenAI-compatible one. Registered for the protocol `anthropic` when `@batchbridge/provider` is imported.
 *
 * - **Input** (`inline`): no upload. `createBatch` reads the flush's OpenAI batch JSONL from disk one line at a time,
 *   translates each body to Messages `params` (`toAnthropicParams`: system prompt, `max_tokens` from the body or the
 *   provider's default, stop sequences, tools, images) with the line's `custom_id` (the request id `breq_…`: 30
 *   characters of `[a-z0-9_]`, inside Anthropic's `^[a-zA-Z0-9_-]{1,64}$`), writes the create body to a temporary file
 *   and streams it (`createFromFile`): memory does not grow with the batch (I4). A line that does not translate (the
 *   door refuses such requests, so only a changed setting can cause it) or a custom_id Anthropic would refuse fails
 *   the create with a 400, before anything is sent.
 * - **Tagging**: Message Batches carry no metadata. `findBatchByFlushId` uses `findBatchForFlush`: batches created
 *   since the flush's create started with exactly its request count, confirmed by the first results line's
 *   `custom_id` once ended (the packer passes `requestCount` and `isFlushRequest`); without them it answers
 *   `undecided`, never `absent`.
 * - **Status**: `in_progress`, `canceling → cancelling`, `ended → completed`, or `cancelled` / `expired`
 *   (`neutralBatchStatus`); `request_counts` {total, completed: succeeded, failed: errored}.
 * - **Results**: one source, the batch's results JSONL (`results_url` when on the API's origin, else the documented
 *   `/v1/messages/batches/{id}/results`), each line turned into OpenAI's result line by `judgeAnthropicResult` +
 *   `toOpenAIResultLine`: `succeeded` → 200 with a `chat.completion`, `errored` → the error's status (retryable
 *   types as `server_error`), `canceled` → `batch_cancelled`, `expired` → `batch_expired`.
 * - **Files**: none; `deleteFiles` and `deleteOrphanInputs` do nothing.
 */
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { ProviderProfile } from '@batchbridge/config';
import type { BatchInputFile, CreateBatchParams, ProviderAdapter, RealtimeCall, ResultSource } from '../adapter.js';
import { type FindBatchOptions, type FlushBatchLookup, normalizeBatch, type ProviderBatch } from '../batch.js';
import { ProviderError } from '../errors.js';
import { type AdapterFactory, registerAdapterFactory } from '../registry.js';
import {
  ANTHROPIC_CUSTOM_ID,
  type AnthropicBatchesClient,
  type AnthropicBatchRequest,
  type AnthropicMessageBatch,
  batchRequestTotal,
  createAnthropicBatchesClient,
  judgeAnthropicResult,
  neutralBatchStatus,
  toOpenAIResultLine,
  writeCreateBody,
} from './batches-client.js';
import {
  AnthropicTranslationError,
  anthropicErrorToOpenAI,
  type ChatCompletionBody,
  toAnthropicParams,
} from './translate.js';

export interface AnthropicAdapterOptions {
  id: string;
  profile: ProviderProfile;
  client: AnthropicBatchesClient;
  /** `max_tokens` of a request that gives none. @defaultValue the profile's */
  defaultMaxTokens?: number | undefined;
}

/** The only endpoint Message Batches take (chat completions, translated). */
const CHAT = '/v1/chat/completions';

function refused(message: string, code = 'invalid_request_error'): ProviderError {
  return new ProviderError({ retryable: false, status: 400, retryAfterMs: undefined, message, code });
}

/** An Anthropic batch in the seam's shape (OpenAI's vocabulary). */
export function toProviderBatch(batch: AnthropicMessageBatch): ProviderBatch {
  const c = batch.request_counts;
  return normalizeBatch({
    id: batch.id,
    status: neutralBatchStatus(batch),
    input_file_id: null,
    output_file_id: null,
    error_file_id: null,
    created_at: batch.created_at,
    completed_at: batch.ended_at,
    expires_at: batch.expires_at,
    metadata: null,
    request_counts: { total: batchRequestTotal(batch), completed: c.succeeded, failed: c.errored },
    errors: null,
  });
}

/** Most results URLs remembered (one per batch seen; the documented path is the fallback). */
const MAX_REMEMBERED = 10_000;

export class AnthropicAdapter implements ProviderAdapter {
  readonly id: string;
  readonly profile: ProviderProfile;
  readonly inputMode = 'inline' as const;
  readonly #client: AnthropicBatchesClient;
  readonly #defaultMaxTokens: number | undefined;
  /** The last `results_url` seen per batch id. */
  readonly #resultsUrls = new Map<string, string>();

  constructor(options: AnthropicAdapterOptions) {
    this.id = options.id;
    this.profile = options.profile;
    this.#client = options.client;
    this.#defaultMaxTokens = options.defaultMaxTokens ?? options.profile.defaultMaxTokens;
  }

  /** The Message Batches client, for what is not part of the seam (tests, tools). */
  get client(): AnthropicBatchesClient {
    return this.#client;
  }

  #seen(batch: AnthropicMessageBatch): ProviderBatch {
    if (batch.results_url) {
      if (this.#resultsUrls.size >= MAX_REMEMBERED) this.#resultsUrls.clear();
      this.#resultsUrls.set(batch.id, batch.results_url);
    }
    return toProviderBatch(batch);
  }

  async uploadInput(_input: BatchInputFile): Promise<{ fileId: string }> {
    throw new Error(`${this.id}: Message Batches take their requests inline; there is no input file to upload`);
  }

  async deleteOrphanInputs(): Promise<number> {
    return 0;
  }

  /** The flush's lines as Message Batches requests, translated one at a time from the file on disk. */
  async *#requests(input: BatchInputFile): AsyncGenerator<AnthropicBatchRequest> {
    const lines = createInterface({ input: createReadStream(input.path), crlfDelay: Number.POSITIVE_INFINITY });
    let n = 0;
    for await (const text of lines) {
      if (text.trim() === '') continue;
      n++;
      const line = JSON.parse(text) as { custom_id?: unknown; url?: unknown; body?: unknown };
      const customId = line.custom_id;
      if (typeof customId !== 'string' || !ANTHROPIC_CUSTOM_ID.test(customId)) {
        throw refused(`line ${n}: custom_id ${String(customId)} does not match ^[a-zA-Z0-9_-]{1,64}$`);
      }
      if (line.url !== CHAT) throw refused(`line ${n}: Message Batches take ${CHAT} only, not ${String(line.url)}`);
      try {
        const params = toAnthropicParams(line.body as ChatCompletionBody, { defaultMaxTokens: this.#defaultMaxTokens });
        yield { custom_id: customId, params };
      } catch (err) {
        if (err instanceof AnthropicTranslationError) throw refused(`line ${n} (${customId}): ${err.message}`);
        throw err;
      }
    }
  }

  async createBatch(params: CreateBatchParams): Promise<ProviderBatch> {
    if (params.endpoint !== CHAT) throw refused(`Message Batches take ${CHAT} only, not ${params.endpoint}`);
    const input = params.input;
    if (!input) throw new Error(`${this.id}: createBatch needs the flush's input file`);
    const bodyPath = `${input.path}.anthropic.json`;
    try {
      let written: { count: number };
      try {
        written = await writeCreateBody(this.#requests(input), bodyPath);
      } catch (err) {
        // Over 100 000 requests or 256 MB: the profile's limits keep flushes below them, so this is a refusal.
        if (err instanceof RangeError) throw refused(err.message, 'request_too_large');
        throw err;
      }
      if (written.count === 0) throw refused('a Message Batch needs at least one request');
      return this.#seen(await this.#client.createFromFile(bodyPath));
    } finally {
      await rm(bodyPath, { force: true });
    }
  }

  async retrieveBatch(batchId: string): Promise<ProviderBatch> {
    return this.#seen(await this.#client.retrieve(batchId));
  }

  async findBatchByFlushId(_flushId: string, options: FindBatchOptions): Promise<FlushBatchLookup> {
    const { requestCount, isFlushRequest } = options;
    if (requestCount === undefined || !isFlushRequest) {
      return { kind: 'undecided', pages: 0, reason: 'Message Batches carry no tag: the flush request ids are needed' };
    }
    const found = await this.#client.findBatchForFlush({
      notBeforeSec: options.notBeforeSec,
      requestCount,
      isFlushRequest,
      ...(options.maxMs === undefined ? {} : { maxMs: options.maxMs }),
      ...(options.maxPages === undefined ? {} : { maxPages: options.maxPages }),
    });
    if (found.kind === 'found') return { kind: 'found', batch: this.#seen(found.batch) };
    return found.kind === 'absent'
      ? { kind: 'absent', pages: found.pages }
      : { kind: 'undecided', pages: found.pages, reason: found.reason };
  }

  async cancelBatch(batchId: string): Promise<ProviderBatch> {
    return this.#seen(await this.#client.cancel(batchId));
  }

  resultSources(batch: ProviderBatch): ResultSource[] {
    const url = this.#resultsUrls.get(batch.id);
    const target = url ? ({ id: batch.id, results_url: url } as AnthropicMessageBatch) : batch.id;
    const ref = url ?? `${batch.id}/results`;
    return [
      {
        ref,
        open: (signal) => this.#client.openResults(target, { signal }),
        toResultLine: (json) => toOpenAIResultLine(judgeAnthropicResult(json)),
      },
    ];
  }

  async deleteFiles(): Promise<void> {}

  listModels(options: { timeoutMs: number }): Promise<string[]> {
    return this.#client.listModels(options);
  }

  /**
   * The realtime lane over the Messages API (`POST /v1/messages`): the chat body translated as a batch line's is, and
   * the message read back through the batch path's own judge (`judgeAnthropicResult` + `toOpenAIResultLine`, as if it
   * were a `succeeded` results line), so a realtime answer is the same `chat.completion` a batch would have given. A
   * 4xx is rendered as the OpenAI-shaped error a batch line's `errored` result becomes.
   */
  async realtime(call: RealtimeCall): Promise<{ status_code: number; body: unknown }> {
    if (call.endpoint !== CHAT) throw refused(`the Messages API takes ${CHAT} only, not ${call.endpoint}`);
    let params: ReturnType<typeof toAnthropicParams>;
    try {
      params = toAnthropicParams(call.body as unknown as ChatCompletionBody, {
        defaultMaxTokens: this.#defaultMaxTokens,
      });
    } catch (err) {
      if (err instanceof AnthropicTranslationError) throw withOpenAIError(refused(err.message));
      throw err;
    }
    let message: unknown;
    try {
      message = await this.#client.createMessage(params, { signal: AbortSignal.timeout(call.timeoutMs) });
    } catch (err) {
      if (err instanceof ProviderError && !err.retryable) throw withOpenAIError(err);
      throw err;
    }
    const line = toOpenAIResultLine(
      judgeAnthropicResult({ custom_id: 'realtime', result: { type: 'succeeded', message } }),
    );
    if (!line.response) throw new Error('unreachable: a succeeded result always has a response');
    return { status_code: line.response.status_code, body: line.response.body };
  }
}

/** A refusal with the OpenAI-shaped error body (`error`) an Anthropic error becomes on the batch path too. */
function withOpenAIError(err: ProviderError): ProviderError {
  const { body } = anthropicErrorToOpenAI({ type: err.providerCode ?? 'invalid_request_error', message: err.message });
  return Object.assign(err, { error: body.error });
}

/** The factory of protocol `anthropic`: Message Batches over `base_url` (`https://api.anthropic.com`). */
export const anthropicAdapterFactory: AdapterFactory = (config, context) =>
  new AnthropicAdapter({
    id: config.id,
    profile: config.profile,
    defaultMaxTokens: config.defaultMaxTokens,
    client: createAnthropicBatchesClient({
      baseUrl: config.baseUrl,
      apiKey: config.apiKey,
      timeoutMs: config.timeoutMs,
      ...(context.metrics ? { metrics: context.metrics } : {}),
    }),
  });

registerAdapterFactory('anthropic', anthropicAdapterFactory);
