/**
 * The flush worker: turns one claimed flush into one provider batch. It is a state machine over the flush hash and
 * idempotent on every re-run, so BullMQ retries, stalled-job recovery and the recovery sweep may run it any number
 * of times:
 *
 0. take the flush's fencing token (LEASE_FLUSH): every write below carries it, and a run whose token is no longer
    the newest (it lost its BullMQ lock and another worker took the job) is refused and stops (issue 16, finding 3).
 1. `submitted` or `submitting` → the batch id is recorded: finish recording (idempotent) and relay the poll job;
    `failed` → nothing to do.
 2. `create_started` set → a previous run may have created the batch. While that run's `batches.create` may still be
    answered (less than the call timeout ago) wait; then look for the batch by its metadata flush id and adopt it
    (invariant I2: never a second batch for the same requests). The look goes through the provider's whole list back
    to the create time; when it cannot finish, the flush is held (retried later, an error logged and counted), never
    created again.
 3. choose the provider (SPEC §11): the flush's recorded one, or — while that one's circuit is open and another
    provider that serves the model (and that the group's tenants may use) is healthy — the next by priority. The
    choice is recorded before any upload or create (set-flush-provider), and it changes only when the earlier
    provider certainly holds no batch of this flush (step 2 found none, or no create was ever started), so a batch at
    one provider is never duplicated at another (I2).
 4. `claimed` (no input file yet) → stream the JSONL to a temporary file (models renamed to the provider's own names)
    and, for a file adapter, upload it from disk (I4); record the file id (`uploaded`). An inline adapter (Anthropic)
    takes the file in its create call instead.
 5. take a create slot (the provider's limit, all replicas), set `create_started`, then create with the flush id as
    the tag the adapter can find it by.
 6. record the batch id on the flush, mark its requests submitted (Lua, guarded on `batched` in this flush), record the
    batch as live and relay the poll job.
 *
 * Provider errors: retryable ones (429, 5xx, timeouts, connection) are rethrown carrying `retryAfterMs` so that the
 * queue — the only retrier, the SDK has `maxRetries: 0` — backs off; a non-retryable refusal of the file or the batch
 * fails the flush's requests with `provider_rejected` and the provider's message. Two refusals are not the requests'
 * fault and are retried instead: 404 at `batches.create` (the input file is gone: upload again) and 401/403 (our
 * credentials: an operator can fix them without every queued request failing meanwhile).
 *
 * Known limit of step 2: a `batches.create` that the provider is still processing after the client gave up (timeout)
 * and that is still not listed when the retry looks, after the wait of step 2, could yield a second batch.
 */

import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  endpointOfGroup,
  type FlushRecord,
  modelOfGroup,
  type PartitionId,
  providerPartOf,
  StaleFlushRunError,
  type Store,
  windowOfGroup,
} from '@batchbridge/domain';
import type { Logger } from '@batchbridge/logger';
import {
  type BatchInputFile,
  classifyProviderError,
  flushFileName,
  type ProviderAdapter,
  type ProviderBatch,
  ProviderError,
  type ProviderRegistry,
  providerLabel,
} from '@batchbridge/provider';
import { FlushJob } from '@batchbridge/queues';
import type { Runtime } from '@batchbridge/runtime';
import { DelayedError, type Job, UnrecoverableError } from 'bullmq';
import type { CrashPoint } from './crash-points.js';
import type { BatchCreateLimiter } from './create-limiter.js';
import { writeFlushFile } from './jsonl-file.js';
import { logFlushRequests, logSubmittedRequests } from './log-submitted.js';

export interface FlushProcessorOptions {
  /** The packer's store (on a connection without the request path's 1 s command timeout). */
  store: Store;
  /** Every provider's adapter (uploads through a fetch that streams the request body from disk). */
  providers: ProviderRegistry;
  /** The create budget of each provider. */
  limiter: (providerId: string) => BatchCreateLimiter;
  crashPoint: (point: CrashPoint) => void;
  /** Directory of the temporary JSONL files. */
  tmpDir: string;
}

/** The batch lookup could not decide: retried after a long delay, never answered by creating a batch. */
class FlushHeldError extends ProviderError {}

export type FlushOutcome = 'submitted' | 'failed' | 'missing';

/** Which provider call a failure came from: only refusals of the file or the batch fail the requests. */
type Stage = 'lookup' | 'upload' | 'create';

/** Credentials refused: retry slowly (an operator fixes the key) rather than fail every queued request. */
const AUTH_RETRY_MS = 60_000;
/** Slowest upload rate we wait for: a 200 MB file gets about 7 minutes rather than the usual call timeout. */
const MIN_UPLOAD_BYTES_PER_SECOND = 512 * 1024;
/** Beyond the call timeout, how long an earlier run's `batches.create` may still be answered (clocks, queues). */
const CREATE_ANSWER_MARGIN_MS = 5_000;
/** How long a flush whose batch lookup could not decide waits before it looks again. */
const UNDECIDED_RETRY_MS = 5 * 60_000;

export function createFlushProcessor(runtime: Runtime, options: FlushProcessorOptions) {
  const { relay } = runtime;
  const { store, providers, limiter, crashPoint } = options;
  const m = runtime.metrics.m;

  /**
   * The flush's JSONL in a temporary file, models renamed to the provider's own names; undefined when no request of
   * the flush is left (the flush failed). The caller removes the file.
   */
  async function writeInput(
    p: PartitionId,
    flush: FlushRecord,
    adapter: ProviderAdapter,
    fence: number,
    log: Logger,
  ): Promise<BatchInputFile | undefined> {
    const path = join(options.tmpDir, `batchbridge-${flush.id}-${randomBytes(4).toString('hex')}.jsonl`);
    const aliases = providers.config(adapter.id)?.aliases ?? {};
    const rename = Object.keys(aliases).length > 0 ? (model: string) => aliases[model] ?? model : undefined;
    let file: Awaited<ReturnType<typeof writeFlushFile>>;
    try {
      file = await writeFlushFile(store, p, flush, path, () => crashPoint('mid-upload'), rename);
    } catch (err) {
      await rm(path, { force: true });
      throw err;
    }
    if (file.missing.length > 0) {
      log.error({ missing: file.missing.length }, 'request records of a batched flush are gone; leaving them out');
      await store.flushes.drop(p, flush.id, file.missing);
    }
    if (file.lines === 0) {
      await rm(path, { force: true });
      const members = await store.flushes.fail(p, flush.id, 'none of the requests of this flush is left', fence);
      await relay.relay(p, members);
      return undefined;
    }
    // Streamed from disk with a Content-Length: memory does not grow with the file (I4); see upload-file.ts.
    const timeoutMs = Math.max(
      providers.config(adapter.id)?.timeoutMs ?? runtime.config.upstream.timeoutMs,
      Math.ceil((file.bytes / MIN_UPLOAD_BYTES_PER_SECOND) * 1000),
    );
    return { path, filename: flushFileName(flush.id), lines: file.lines, bytes: file.bytes, timeoutMs };
  }

  /** Step 4 for a file adapter: JSONL to a temporary file, uploaded from disk. Undefined when nothing is left. */
  async function upload(
    job: Job,
    p: PartitionId,
    flush: FlushRecord,
    adapter: ProviderAdapter,
    fence: number,
    log: Logger,
  ): Promise<string | undefined> {
    if (job.attemptsStarted > 1) {
      // An earlier run may have uploaded a file and died before recording it.
      const deleted = await adapter
        .deleteOrphanInputs(flush.id, Math.floor(flush.created_at / 1000) - 60)
        .catch((err: unknown) => {
          log.warn({ err: classifyProviderError(err).message }, 'could not look for orphan input files');
          return 0;
        });
      if (deleted > 0) log.info({ deleted }, 'deleted orphan input files of an earlier run');
    }
    const input = await writeInput(p, flush, adapter, fence, log);
    if (!input) return undefined;
    try {
      const created = await adapter.uploadInput(input);
      crashPoint('after-upload');
      await store.flushes.recordUpload(p, flush.id, created.fileId, fence);
      log.info({ fileId: created.fileId, lines: input.lines, bytes: input.bytes }, 'input file uploaded');
      return created.fileId;
    } finally {
      await rm(input.path, { force: true });
    }
  }

  /**
   * Step 3: the provider for a flush that has no batch yet. The current one (recorded, else the group's) while its
   * circuit lets flushes through; else the first provider by priority that serves the group's model, that the
   * group's tenants may use, and whose circuit lets it through. When none does, the current one (its calls fail and
   * are retried with backoff, as with a single provider).
   */
  async function chooseProvider(flush: FlushRecord, current: string, log: Logger): Promise<string> {
    if (providers.size < 2) return current;
    const { allowed } = providerPartOf(flush.group);
    const model = modelOfGroup(flush.group);
    if (model === '*' || model === '') return current;
    if (await store.providers.allow(current)) return current;
    // A translating provider (Anthropic) takes only requests the door checked for it: no failover into it from
    // another protocol (a request with n > 1 or logprobs would fail there). Out of it, any protocol serves.
    const currentApi = providers.config(current)?.profile.api ?? 'openai';
    const others = providers
      .candidates(model, allowed)
      .serving.filter(
        (c) => c.id !== current && ((c.profile.api ?? 'openai') !== 'anthropic' || currentApi === 'anthropic'),
      );
    for (const other of others) {
      if (!providers.has(other.id) || !(await store.providers.allow(other.id))) continue;
      m.providerFailovers.inc({ from: current, to: other.id });
      log.warn({ from: current, to: other.id, model }, 'provider circuit open; this flush goes to another provider');
      return other.id;
    }
    return current;
  }

  /**
   * The flush's request count and ids, for the lookup of an inline batch (rare: only after a crash inside a create).
   * The list equals what the create carried: ids without a record were dropped before it (writeInput).
   */
  async function flushMembers(p: PartitionId, flush: FlushRecord) {
    const ids = new Set<string>();
    for (let start = 0; ; start += 1_000) {
      const slice = await store.flushes.ids(p, flush.id, start, start + 999);
      for (const id of slice) ids.add(id);
      if (slice.length < 1_000) break;
    }
    return { requestCount: ids.size, isFlushRequest: (customId: string) => ids.has(customId) };
  }

  /** The provider's own name of the flush's model (an alias resolved), or undefined for a mixed-model group. */
  function flushModel(providerId: string, flush: FlushRecord): string | undefined {
    const model = modelOfGroup(flush.group);
    return model === '*' || model === '' ? undefined : providers.providerModel(providerId, model);
  }

  /**
   * The completion window to ask a provider for: the group's own (a faster window the scheduler chose, SPEC §10:
   * `…@1h`) when the provider takes it, else the configured one, else the provider's own when it has no such one.
   */
  function windowFor(adapter: ProviderAdapter, group: string): string {
    const { completionWindows, windowQuirk } = adapter.profile;
    const own = windowOfGroup(group);
    if (own !== undefined && completionWindows.includes(own)) return own;
    const wanted = runtime.config.batch.completionWindow;
    if (windowQuirk === 'ignores' || completionWindows.includes(wanted)) return wanted;
    return completionWindows.includes('24h') ? '24h' : (completionWindows[0] ?? wanted);
  }

  const processFlush = async (job: Job, token: string | undefined, p: PartitionId): Promise<FlushOutcome> => {
    const { flushId } = FlushJob.parse(job.data);
    const log = runtime.logger.child({ flushId, partition: p, jobId: job.id });
    let flush = await store.flushes.get(p, flushId);
    if (flush?.state === 'claiming') {
      // Only recovery hands out the job of a flush still `claiming`: its packer died between CLAIM calls. The flush
      // keeps what it holds; sealing it also stops a packer that is merely slow from adding more.
      await store.flushes.seal(p, flushId);
      log.warn({ count: flush.count }, 'sealed a flush left claiming by a packer that stopped between claim calls');
      flush = await store.flushes.get(p, flushId);
    }
    if (!flush) {
      log.warn('flush not found (expired after retention?); nothing to do');
      return 'missing';
    }
    if (flush.state === 'failed') return 'failed';
    const fence = await store.flushes.lease(p, flushId);
    try {
      return await run(job, token, p, flush, fence, log);
    } catch (err) {
      if (err instanceof StaleFlushRunError) {
        // A newer run of this flush holds it: this one wrote nothing after losing its token and must not retry.
        m.flushesHeld.inc({ reason: 'stale_run' });
        log.warn('a newer run holds this flush; this run stops without writing');
        throw new UnrecoverableError(err.message);
      }
      throw err;
    }
  };

  async function run(
    job: Job,
    token: string | undefined,
    p: PartitionId,
    flush: FlushRecord,
    fence: number,
    log: Logger,
  ): Promise<FlushOutcome> {
    const flushId = flush.id;
    if ((flush.state === 'submitted' || flush.state === 'submitting') && flush.batch_id) {
      // An earlier run recorded the batch and died before (or while) marking its requests: finish that, idempotently.
      const entry = await store.flushes.recordSubmission(p, flush, flush.batch_id, flush.file_id ?? '', fence);
      await relay.relay(p, [entry]);
      if (flush.state === 'submitting') log.warn({ batchId: flush.batch_id }, 'finished recording an earlier run');
      return 'submitted';
    }

    let stage: Stage = 'lookup';
    // The provider of this run: the recorded choice, else the one intake routed the group to.
    let providerId = flush.provider ?? providerPartOf(flush.group).provider;
    try {
      let batch: ProviderBatch | undefined;
      if (flush.create_started) {
        // A run that died or stalled inside `batches.create` may still get its batch created until the call timeout:
        // look only after that (a run that saw its call end cleared `create_open`).
        const answerableUntil =
          (flush.create_started_at ?? 0) + runtime.config.upstream.timeoutMs + CREATE_ANSWER_MARGIN_MS;
        if (flush.create_open && Date.now() < answerableUntil) {
          log.info(
            { until: new Date(answerableUntil).toISOString() },
            'an earlier create may still be answered; waiting',
          );
          await job.moveToDelayed(answerableUntil, token);
          throw new DelayedError();
        }
        const notBefore = Math.floor((flush.create_started_at ?? flush.created_at) / 1000) - 60;
        const lookupAdapter = providers.adapter(providerId);
        const found = await lookupAdapter.findBatchByFlushId(flushId, {
          notBeforeSec: notBefore,
          // Inline batches carry no tag (Anthropic): the adapter matches by request count and custom_ids.
          ...(lookupAdapter.inputMode === 'inline' ? await flushMembers(p, flush) : {}),
        });
        if (found.kind === 'undecided') {
          m.flushesHeld.inc({ reason: 'undecided' });
          log.error(
            { pages: found.pages, reason: found.reason },
            'cannot tell whether the provider holds a batch for this flush; holding it rather than risk a second batch',
          );
          throw new FlushHeldError({
            retryable: true,
            status: undefined,
            retryAfterMs: UNDECIDED_RETRY_MS,
            message: `batch lookup undecided: ${found.reason}`,
            code: 'lookup_undecided',
          });
        }
        if (found.kind === 'found') {
          batch = found.batch;
          log.warn({ batchId: batch.id }, 'adopting the batch created for this flush by an earlier run');
        }
      }
      // `uploaded` holds the file id of an earlier run's upload; `claimed` (first run, or the file was lost) has none.
      let fileId = batch?.input_file_id ?? (flush.state === 'uploaded' ? flush.file_id : undefined);
      if (!batch) {
        // No batch of this flush exists at `providerId` (none was created, or the look found none): it may change.
        const chosen = await chooseProvider(flush, providerId, log);
        if (chosen !== flush.provider && !(chosen === 'default' && flush.provider === undefined)) {
          await store.flushes.setProvider(p, flushId, chosen, fence);
          if (chosen !== providerId) fileId = undefined; // an upload to the earlier provider is forgotten
        }
        providerId = chosen;
      }
      const adapter = providers.adapter(providerId);
      if (!batch) {
        let input: BatchInputFile | undefined;
        if (!fileId && adapter.inputMode === 'file') {
          stage = 'upload';
          fileId = await upload(job, p, flush, adapter, fence, log);
          if (fileId === undefined) return 'failed';
        }
        const slot = await limiter(providerId).take();
        if (!slot.ok) {
          log.info({ retryAt: new Date(slot.retryAt).toISOString() }, 'batch creates per minute used up; delaying');
          await job.moveToDelayed(slot.retryAt, token);
          throw new DelayedError();
        }
        if (adapter.inputMode === 'inline') {
          // No upload: the lines go in the create call (Anthropic Message Batches), read from the file on disk.
          input = await writeInput(p, flush, adapter, fence, log);
          if (!input) return 'failed';
        }
        try {
          await store.flushes.markCreateStarted(p, flushId, fence);
          crashPoint('before-create');
          stage = 'create';
          try {
            batch = await adapter.createBatch({
              flushId,
              partition: p,
              endpoint: endpointOfGroup(flush.group),
              completionWindow: windowFor(adapter, flush.group),
              model: flushModel(providerId, flush),
              fileId,
              input,
            });
          } finally {
            // Best effort: when this fails, the next run only waits out the call timeout before it looks.
            await store.flushes.markCreateEnded(p, flushId, fence).catch(() => undefined);
          }
        } finally {
          if (input) await rm(input.path, { force: true });
        }
        crashPoint('after-create');
      }
      // Re-read: dropFromFlush may have lowered the count since the flush was loaded.
      const current = (await store.flushes.get(p, flushId)) ?? flush;
      const entry = await store.flushes.recordSubmission(p, current, batch.id, fileId ?? '', fence, {
        beforeFinish: () => crashPoint('mid-record'),
      });
      crashPoint('after-record');
      await relay.relay(p, [entry]);
      m.batchesSubmitted.inc({
        provider: providerLabel(adapter.id, adapter.profile),
        model: modelOfGroup(flush.group),
      });
      log.info({ batchId: batch.id, fileId, count: current.count, provider: providerId }, 'batch submitted');
      await logSubmittedRequests(runtime, log, p, flushId, batch.id);
      return 'submitted';
    } catch (err) {
      if (err instanceof DelayedError || err instanceof StaleFlushRunError || err instanceof FlushHeldError) throw err;
      const info = classifyProviderError(err);
      if (info.retryable) {
        log.warn({ stage, status: info.status, err: info.message, retryAfterMs: info.retryAfterMs }, 'will retry');
        throw new ProviderError(info, { cause: err });
      }
      if (stage === 'create' && info.status === 404) {
        log.warn({ fileId: flush.file_id, err: info.message }, 'input file unknown to the provider; uploading again');
        await store.flushes.resetUpload(p, flushId, fence);
        throw new ProviderError({ ...info, retryable: true }, { cause: err });
      }
      if (info.status === 401 || info.status === 403) {
        log.error({ stage, status: info.status, err: info.message }, 'provider refused our credentials; will retry');
        const retryAfterMs = Math.max(info.retryAfterMs ?? 0, AUTH_RETRY_MS);
        throw new ProviderError({ ...info, retryable: true, retryAfterMs }, { cause: err });
      }
      if (stage === 'lookup') {
        // A refused `batches.list` says nothing about the requests; keep trying.
        throw new ProviderError({ ...info, retryable: true }, { cause: err });
      }
      const op = stage === 'upload' ? 'files.create' : 'batches.create';
      const message = `${op} refused (${info.status ?? 'no status'}): ${info.message}`;
      const members = await store.flushes.fail(p, flushId, message, fence);
      await relay.relay(p, members);
      log.error({ stage, status: info.status, err: info.message, requests: members.length }, 'provider refused flush');
      await logFlushRequests(runtime, log, p, flushId, 'request failed with its flush (provider refused it)');
      return 'failed';
    }
  }

  return processFlush;
}
