/**
 * Runs each batch through its lifecycle: `validating → in_progress → finalizing → completed`, or `failed`, `expired`,
 * `cancelling → cancelled`. The input is read as a stream and output/error files are written as streams, so memory
 * stays flat whatever the batch size. Faults that act on batches (expiry, line errors, dropped lines, token limit,
 * cancellation delay) are applied here.
 */

import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { setTimeout as sleep, setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { BatchbridgeError } from '@batchbridge/errors';
import { validateBatchInput } from './batch-validation.js';
import { chatJsonSchema, type SimMarkers, simMarkersInText } from './completion.js';
import { ENDPOINTS, type SimEndpoint } from './endpoints.js';
import { errorBodyForStatus } from './errors.js';
import { newId } from './ids.js';
import { responsesJsonSchema } from './responses.js';
import { ShuffledJsonlWriter } from './shuffled-jsonl-writer.js';
import type { SimState } from './sim-state.js';
import { type BatchErrorItem, type BatchRecord, type FileRecord, TERMINAL_STATUSES } from './store.js';

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

const NO_MARKERS: SimMarkers = { errorStatus: null, drop: false };

function* chunked(head: string, body: Iterable<string>, tail: string): Generator<string> {
  yield head;
  yield* body;
  yield tail;
}

/** Thrown inside a run when the simulator closes: the run stops without touching the batch again. */
class Closing extends BatchbridgeError {
  constructor() {
    super('sim.closing', 'the simulator is closing');
  }
}

interface LineEnvelope {
  custom_id: string;
  body: Record<string, unknown>;
}

export class BatchRunner {
  readonly #state: SimState;
  readonly #tasks = new Map<string, { done: Promise<void>; wake: AbortController }>();
  #closing = new AbortController();

  constructor(state: SimState) {
    this.#state = state;
  }

  /** Starts the lifecycle of a freshly created batch. */
  start(batch: BatchRecord): void {
    const wake = new AbortController();
    const done = this.#run(batch, wake.signal)
      .catch((err: unknown) => {
        if (err instanceof Closing) return;
        this.#state.logger.error({ err, batchId: batch.id }, 'batch run failed');
        this.#fail(batch, [
          { code: 'internal_error', message: 'The batch failed unexpectedly.', param: null, line: null },
        ]);
      })
      .then(() => {
        // The batch's one event (SPEC §13), when a webhook target is set; a run stopped by close() ends non-terminal.
        if (TERMINAL_STATUSES.has(batch.status)) this.#state.pusher?.batchEnded(batch);
      })
      .finally(() => this.#tasks.delete(batch.id));
    this.#tasks.set(batch.id, { done, wake });
  }

  /** Moves a batch to `cancelling`; the run notices between lines or wakes from its current pause. */
  cancel(batch: BatchRecord): void {
    if (TERMINAL_STATUSES.has(batch.status) || batch.cancelRequested) return;
    batch.cancelRequested = true;
    batch.status = 'cancelling';
    batch.cancelling_at = nowSeconds();
    this.#tasks.get(batch.id)?.wake.abort();
  }

  /** Stops every run and waits for them; batches stay in whatever state they were. */
  async close(): Promise<void> {
    this.#closing.abort();
    await Promise.all([...this.#tasks.values()].map((t) => t.done));
    this.#closing = new AbortController();
  }

  async #pause(ms: number, wake: AbortSignal): Promise<void> {
    if (ms > 0 && !wake.aborted) {
      await sleep(ms, undefined, { signal: AbortSignal.any([wake, this.#closing.signal]) }).catch(() => undefined);
    }
    if (this.#closing.signal.aborted) throw new Closing();
  }

  #fail(batch: BatchRecord, errors: BatchErrorItem[]): void {
    batch.status = 'failed';
    batch.failed_at = nowSeconds();
    batch.errors = { object: 'list', data: errors };
  }

  async #run(batch: BatchRecord, wake: AbortSignal): Promise<void> {
    const state = this.#state;
    const input = state.store.files.get(batch.input_file_id);
    if (!input) {
      this.#fail(batch, [
        { code: 'invalid_file', message: 'The input file no longer exists.', param: 'input_file_id', line: null },
      ]);
      return;
    }
    state.store.pin(input);
    try {
      await this.#pause(state.timings.validatingMs, wake);
      if (batch.cancelRequested) return await this.#finishCancel(batch, null, null);

      const validation = await validateBatchInput(input.path, input.bytes, {
        endpoint: batch.endpoint as SimEndpoint,
        models: state.models,
        mixedModels: state.profile.mixedModels,
        maxLines: state.maxLines,
        maxBytes: state.maxBytes,
        maxEmbeddingInputs: state.profile.maxEmbeddingInputs,
        envelope: state.profile.batchApi === 'mistral' ? 'mistral' : 'openai',
      });
      state.counters.linesReceived(validation.lines);
      if (this.#closing.signal.aborted) throw new Closing();
      if (batch.cancelRequested) return await this.#finishCancel(batch, null, null);
      if (validation.errors.length > 0) return this.#fail(batch, validation.errors);

      const limit = state.faults.enqueuedTokenLimit;
      if (limit !== null && state.store.enqueuedTokens() + validation.tokens > limit) {
        return this.#fail(batch, [
          {
            code: 'token_limit_exceeded',
            message: `Enqueued token limit reached for ${validation.model ?? 'this model'}. Limit: ${limit} enqueued tokens. Please try again once some in_progress batches have been completed.`,
            param: null,
            line: null,
          },
        ]);
      }
      batch.enqueuedTokens = validation.tokens;
      if (!state.profile.mixedModels) batch.model = validation.model;
      batch.status = 'in_progress';
      batch.in_progress_at = nowSeconds();
      batch.request_counts.total = validation.lines;

      await this.#process(batch, input, wake);
    } finally {
      await state.store.unpin(input);
    }
  }

  async #process(batch: BatchRecord, input: FileRecord, wake: AbortSignal): Promise<void> {
    const state = this.#state;
    const outputId = newId('file', state.profile.idStyle);
    const errorId = newId('file', state.profile.idStyle);
    const output = new ShuffledJsonlWriter(state.store.pathFor(outputId), state.shuffleWindow, state.rng);
    const errorsOut = new ShuffledJsonlWriter(state.store.pathFor(errorId), state.shuffleWindow, state.rng);
    const expireFraction = state.faults.expireAfterFraction;
    const expireAt =
      expireFraction === null ? Number.POSITIVE_INFINITY : Math.floor(batch.request_counts.total * expireFraction);
    const rate = state.timings.linesPerSecond;
    const started = Date.now();
    let index = 0;
    let expired = false;

    try {
      const reader = createInterface({ input: createReadStream(input.path), crlfDelay: Number.POSITIVE_INFINITY });
      try {
        for await (const raw of reader) {
          if (raw.trim() === '') continue;
          if (this.#closing.signal.aborted) throw new Closing();
          if (batch.cancelRequested) break;
          // Validated already: every non-blank line is an object with a string custom_id and an object body.
          const line = JSON.parse(raw) as LineEnvelope;
          index++;
          if (index > expireAt) {
            expired = true;
            await this.#errorLine(batch, errorsOut, line.custom_id, null, {
              code: 'batch_expired',
              message: 'This request could not be executed before the completion window expired.',
            });
            continue;
          }
          await this.#answer(batch, line, output, errorsOut);
          if (rate > 0) {
            const wait = started + (index * 1000) / rate - Date.now();
            if (wait > 5) await this.#pause(wait, wake);
          } else if (index % 256 === 0) {
            await yieldToEventLoop();
          }
        }
      } finally {
        reader.close();
      }

      if (batch.cancelRequested) return await this.#finishCancel(batch, { output, outputId }, { errorsOut, errorId });
      if (expired) {
        await this.#attachFiles(batch, output, outputId, errorsOut, errorId);
        batch.status = 'expired';
        batch.expired_at = nowSeconds();
        return;
      }
      batch.status = 'finalizing';
      batch.finalizing_at = nowSeconds();
      await this.#pause(state.timings.finalizingMs, wake);
      if (batch.cancelRequested) return await this.#finishCancel(batch, { output, outputId }, { errorsOut, errorId });
      await this.#attachFiles(batch, output, outputId, errorsOut, errorId);
      batch.status = 'completed';
      batch.completed_at = nowSeconds();
    } catch (err) {
      await Promise.all([output.discard(), errorsOut.discard()]);
      throw err;
    }
  }

  async #answer(
    batch: BatchRecord,
    line: LineEnvelope,
    output: ShuffledJsonlWriter,
    errorsOut: ShuffledJsonlWriter,
  ): Promise<void> {
    const state = this.#state;
    // The batch was created for a served endpoint, and validation refused every line whose url differs.
    const checked = ENDPOINTS[batch.endpoint as SimEndpoint].check(line.body);
    const markers = checked.ok ? simMarkersInText(checked.request.text) : NO_MARKERS;
    const dropFraction = state.faults.dropLineFraction;
    if (markers.drop || (dropFraction > 0 && state.rng() < dropFraction)) {
      // The provider believes it answered; the line is simply missing from both files.
      batch.request_counts.completed++;
      return;
    }
    if (!checked.ok) {
      const issue = checked.error.issues[0];
      const param = issue?.path.join('.') ?? '';
      return this.#errorLine(batch, errorsOut, line.custom_id, 400, {
        message: param
          ? `Invalid '${param}': ${issue?.message ?? 'invalid request body'}.`
          : (issue?.message ?? 'Invalid request body.'),
        param: param || null,
      });
    }
    if (markers.errorStatus !== null) {
      return this.#errorLine(batch, errorsOut, line.custom_id, markers.errorStatus, {
        message: `Simulated error ${markers.errorStatus} requested by [sim:error=${markers.errorStatus}].`,
      });
    }
    const lineErrorFraction = state.faults.lineErrorFraction;
    if (lineErrorFraction > 0 && state.rng() < lineErrorFraction) {
      return this.#errorLine(batch, errorsOut, line.custom_id, state.faults.lineErrorStatus, {});
    }
    const problem = checked.request.problem('batch');
    if (problem) return this.#errorLine(batch, errorsOut, line.custom_id, 400, problem);
    let answer = checked.request.answer(nowSeconds());
    if (state.faults.schemaBreakingAnswers > 0 && this.#hasJsonSchema(batch.endpoint, line.body)) {
      state.faults = { ...state.faults, schemaBreakingAnswers: state.faults.schemaBreakingAnswers - 1 };
      answer = {
        ...answer,
        json: [JSON.stringify(breakSchema(JSON.parse([...answer.json].join('')) as SimAnswerBody))],
      };
    }
    // The same line as JSON.stringify({id, custom_id, response: {status_code, request_id, body}, error: null}) would
    // give, written in the answer's chunks: an embeddings body can be far too large for one string.
    const head = `{"id":${JSON.stringify(newId('batch_req', 'openai'))},"custom_id":${JSON.stringify(line.custom_id)},"response":{"status_code":200,"request_id":${JSON.stringify(newId('request', 'openai'))},"body":`;
    await output.writeChunks(chunked(head, answer.json, '},"error":null}'));
    batch.request_counts.completed++;
    batch.usage.input_tokens += answer.inputTokens;
    batch.usage.output_tokens += answer.outputTokens;
    state.counters.outputLine(line.custom_id, batch.id);
  }

  /**
   * One error-file line. With a status: the request reached the model and was refused (`response` carries the status
   * and an OpenAI error body, `error` is null). Without: it never ran (`response` null, `error` says why).
   */
  async #errorLine(
    batch: BatchRecord,
    errorsOut: ShuffledJsonlWriter,
    customId: string,
    status: number | null,
    detail: { code?: string; message?: string; param?: string | null },
  ): Promise<void> {
    const line =
      status === null
        ? {
            id: newId('batch_req', 'openai'),
            custom_id: customId,
            response: null,
            error: { code: detail.code ?? 'error', message: detail.message ?? 'The request failed.' },
          }
        : {
            id: newId('batch_req', 'openai'),
            custom_id: customId,
            response: {
              status_code: status,
              request_id: newId('request', 'openai'),
              body: { error: { ...errorBodyForStatus(status, detail.message), param: detail.param ?? null } },
            },
            error: null,
          };
    await errorsOut.write(line);
    batch.request_counts.failed++;
    this.#state.counters.errorLine(customId, status);
  }

  async #attachFiles(
    batch: BatchRecord,
    output: ShuffledJsonlWriter,
    outputId: string,
    errorsOut: ShuffledJsonlWriter,
    errorId: string,
  ): Promise<void> {
    batch.output_file_id = await this.#register(output, outputId, `batch_${batch.id}_output.jsonl`);
    batch.error_file_id = await this.#register(errorsOut, errorId, `batch_${batch.id}_error.jsonl`);
  }

  async #register(writer: ShuffledJsonlWriter, id: string, filename: string): Promise<string | null> {
    const bytes = await writer.finish();
    if (bytes === null) return null;
    this.#state.store.files.set(id, {
      id,
      bytes,
      created_at: nowSeconds(),
      expires_at: null,
      filename,
      purpose: 'batch_output',
      path: writer.path,
    });
    return id;
  }

  #hasJsonSchema(endpoint: string, body: Record<string, unknown>): boolean {
    if (endpoint === '/v1/chat/completions') return chatJsonSchema(body) !== undefined;
    if (endpoint === '/v1/responses') return responsesJsonSchema(body) !== undefined;
    return false;
  }

  /** `cancelling` lasts the configured delay, then `cancelled` with whatever output was written (lines not yet run
   * get no line at all). */
  async #finishCancel(
    batch: BatchRecord,
    out: { output: ShuffledJsonlWriter; outputId: string } | null,
    err: { errorsOut: ShuffledJsonlWriter; errorId: string } | null,
  ): Promise<void> {
    const state = this.#state;
    const delay = state.faults.cancelDelayMs ?? state.timings.cancellingMs;
    // The wake signal already fired (that is how the run learnt of the cancel): pause on a fresh one.
    await this.#pause(delay, new AbortController().signal);
    if (out && err) await this.#attachFiles(batch, out.output, out.outputId, err.errorsOut, err.errorId);
    batch.status = 'cancelled';
    batch.cancelled_at = nowSeconds();
  }
}

interface SimAnswerBody {
  choices?: Array<{ message?: { content?: unknown } }>;
  output?: Array<{ content?: Array<{ text?: unknown }> }>;
}

/** The `schemaBreakingAnswers` fault: the answer's text is replaced by text that is not JSON at all. */
function breakSchema(body: SimAnswerBody): SimAnswerBody {
  const broken = 'sim: this answer breaks its JSON schema on purpose (fault schemaBreakingAnswers)';
  const message = body.choices?.[0]?.message;
  if (message) message.content = broken;
  const part = body.output?.[0]?.content?.[0];
  if (part) part.text = broken;
  return body;
}
