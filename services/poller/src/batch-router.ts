/**
 * Routes a batch that reached a terminal status: every answered line of its output and error files goes to the
 * request named by its `custom_id` at once (SETTLE, which only applies to a request still `submitted` in this batch,
 * so routing twice changes nothing); the other lines (errors, expired) are held until both files are read and settled
 * then, so that a request with two lines — a retryable 5xx and a 200 — takes the answer, whatever the order (issue 16,
 * finding 12). Then every request of the batch that got no line is settled: a retry (missing lines, the unfinished
 * lines of an expired or cancelled batch), except for a batch that failed as a whole, which must not charge the
 * innocent (issue 16, finding 1):
 * - it names lines: those requests fail (I5), the others go back to the queue with their attempt given back;
 * - it names none: its requests go back in two halves (isolation groups, attempts given back), so that repeated
 *   failures split the batch until a poison request fails alone; a batch of one is retried with its attempt counted;
 * - the provider's enqueued-token limit: the group is held and its requests retried, as a capacity matter.
 * Finally the batch is marked routed and its files deleted.
 */
import { estimateSavingsUsd, loadPriceTable, type PriceTable, priceFor, type TokenUsage } from '@batchbridge/config';
import {
  type BatchOutcomes,
  type BatchRecord,
  type Billed,
  type BillItem,
  billItemFor,
  isolationGroup,
  type ModelSavings,
  type PartitionId,
  type Store,
  turnaroundSeries,
} from '@batchbridge/domain';
import type { Logger } from '@batchbridge/logger';
import {
  classifyProviderError,
  judgeLine,
  type ProviderAdapter,
  type ProviderBatch,
  providerLabel,
  type ResultSource,
} from '@batchbridge/provider';
import type { Runtime } from '@batchbridge/runtime';
import { checkBudgets } from './budget-alerts.js';
import { ChunkedSettler, emptyCounts, type OutcomeCounts, type SettleItem } from './chunked-settler.js';
import { PollerError } from './errors.js';
import { type PollerOptions, type ResolvedPollerOptions, resolvePollerOptions } from './options.js';
import { readResultSource } from './result-file.js';
import { SchemaChecker } from './schema-check.js';

/** Line-level validation codes that are not the request's fault: the request is retried, not rejected. */
const NOT_THE_REQUEST: ReadonlySet<string> = new Set([
  'duplicate_custom_id',
  'mismatched_model',
  'token_limit_exceeded',
  'too_many_lines',
  'file_too_large',
]);

/** The provider's enqueued-token limit (OpenAI `token_limit_exceeded`; other providers word it differently). */
export function isTokenLimitError(e: { code?: string | null | undefined; message?: string | null | undefined }) {
  return /token_limit|enqueued.?token/i.test(e.code ?? '') || /enqueued token limit/i.test(e.message ?? '');
}

const ID_SLICE = 1_000;

/** What becomes of a failed batch's requests that no line names (see the module comment). */
type LeftoverMode = 'retry' | 'requeue' | 'split' | 'escalate';

/** Non-answered lines held until both files are read, per request id (bounded by the batch's line count). */
type HeldLines = Map<string, SettleItem>;

const SAMPLE_LOGS = 5;

export interface RouteSummary {
  status: string;
  /** Outcomes of the lines found in the result files. */
  lines: OutcomeCounts;
  /** Outcomes of the requests that had no line (retried, or rejected by a failed batch's validation). */
  leftovers: OutcomeCounts;
  unknown: number;
  malformed: number;
  /** Time spent streaming and settling the result files, and settling the requests without a line. */
  filesMs: number;
  leftoversMs: number;
}

export interface RouteContext {
  logger: Logger;
  /** Attempts the job has already failed (bounds how long a 404 for a result file is retried). */
  attemptsMade: number;
}

/** One string per distinct message: an expired batch's error file repeats the same few thousands of times. */
const interned = new Map<string, string>();
function intern(message: string): string {
  const known = interned.get(message);
  if (known !== undefined) return known;
  if (interned.size > 10_000) interned.clear();
  interned.set(message, message);
  return message;
}

export class BatchRouter {
  private readonly options: ResolvedPollerOptions;
  private readonly prices: PriceTable;
  /**
   * The store routing writes through: on the worker connection, not the runtime's fail-fast producer one (1 s command
   * timeout, right for the request path). A SETTLE_MANY call carries its lines' whole answers — 100 embeddings lines of
   * 1 536 float dimensions are about 3 MB — and on a busy machine such calls ran past 1 s: the poll job failed with
   * "Command timed out" and routed the whole file again from the start, over and over (found by the S3 embeddings
   * benchmark). Routing is background work, like the packer's claims.
   */
  private readonly store: Store;
  /** Compiled JSON schemas of structured-output requests (SPEC §14), shared by every batch this poller routes. */
  private readonly schemas = new SchemaChecker();

  constructor(
    private readonly runtime: Runtime,
    options: PollerOptions = {},
  ) {
    if (!runtime.provider && !runtime.config.providersFile)
      throw new Error('the poller needs a provider (UPSTREAM_BASE_URL)');
    this.options = resolvePollerOptions(options, runtime.config.upstream.timeoutMs);
    this.prices = loadPriceTable(runtime.config.priceTableFile);
    this.store = runtime.workerStore;
  }

  async route(p: PartitionId, batch: BatchRecord, remote: ProviderBatch, ctx: RouteContext): Promise<RouteSummary> {
    const summary: RouteSummary = {
      status: remote.status,
      lines: emptyCounts(),
      leftovers: emptyCounts(),
      unknown: 0,
      malformed: 0,
      filesMs: 0,
      leftoversMs: 0,
    };
    const started = Date.now();
    const billedTenants = new Set<string>();
    const settler = this.settler(p, batch.id, true, ctx.logger, this.billing(batch, billedTenants));
    const held: HeldLines = new Map();
    const adapter = this.adapterOf(batch);
    try {
      for (const source of adapter.resultSources(remote)) {
        await this.routeFile(p, source, settler, held, summary, ctx);
      }
      // After every answer: a request answered by one line is no longer submitted, so its other line is stale.
      for (const item of held.values()) await settler.add(item);
      held.clear();
    } catch (err) {
      // Let the chunk in flight land before the job fails, so that a retry starts from a quiet store.
      await settler.drain().catch(() => undefined);
      throw err;
    }
    await settler.drain();
    summary.lines = settler.counts;
    summary.filesMs = Date.now() - started;
    await this.recordSavings(batch, settler.usage, ctx.logger);
    if (billedTenants.size > 0) {
      // Operational events only: never a reason to route the batch again.
      await checkBudgets(this.runtime, this.store, billedTenants, ctx.logger).catch((err: unknown) =>
        ctx.logger.warn({ err: (err as Error).message }, 'could not check budgets'),
      );
    }

    const { rejected, message, mode } = await this.leftoverPlan(p, batch, remote, ctx.logger);
    // Each non-stale outcome is a distinct request of this batch leaving `submitted`, and the batch has `count` of them:
    // when the files accounted for all, nothing is left and the walk (one script per request) can be skipped.
    const settledByLines = settler.counts.completed + settler.counts.failed + settler.counts.retried;
    if (batch.count === 0 || settledByLines < batch.count) {
      summary.leftovers = await this.settleLeftovers(p, batch, rejected, message, mode, ctx.logger);
    }
    summary.leftoversMs = Date.now() - started - summary.filesMs;
    const outcomes: BatchOutcomes = {
      completed: summary.lines.completed + summary.leftovers.completed,
      failed: summary.lines.failed + summary.leftovers.failed,
      retried: summary.lines.retried + summary.leftovers.retried,
    };
    await this.finish(
      p,
      batch,
      remote.status,
      outcomes,
      [batch.file_id ?? remote.input_file_id, remote.output_file_id, remote.error_file_id],
      ctx.logger,
    );
    return summary;
  }

  /** The provider does not know the batch any more: its requests go back to the queue (attempt counted). */
  async abandon(p: PartitionId, batch: BatchRecord, reason: string, logger: Logger): Promise<OutcomeCounts> {
    const counts = await this.settleLeftovers(p, batch, new Map(), reason, 'retry', logger);
    await this.finish(
      p,
      batch,
      'not_found',
      { completed: 0, failed: counts.failed, retried: counts.retried },
      [batch.file_id],
      logger,
    );
    return counts;
  }

  /**
   * How this batch's answers are billed (SPEC §15): each completed answer priced in every lane the price table knows
   * for its provider (the batch's provider id, then its profile name) and model; the settle script picks the
   * request's lane and writes the cost with the outcome. Billed requests count in the cost metrics and their tenants
   * are checked against their budgets once the batch is routed.
   */
  private billing(
    batch: BatchRecord,
    tenants: Set<string>,
  ): Pick<ConstructorParameters<typeof ChunkedSettler>[0], 'price' | 'onBilled'> {
    const adapter = this.adapterOf(batch);
    const provider = providerLabel(adapter.id, adapter.profile);
    const providers = [adapter.id, adapter.profile.name];
    const { m } = this.runtime.metrics;
    const tenantLabel = this.runtime.config.metrics.tenantLabel;
    return {
      price: (response: unknown): BillItem | undefined => billItemFor(this.prices, providers, provider, response),
      onBilled: (billed: Billed, item: BillItem) => {
        tenants.add(billed.tenant);
        if (!billed.priced) return;
        const labels = {
          lane: billed.lane,
          provider: item.provider,
          model: item.model,
          tenant: tenantLabel ? billed.tenant : '',
        };
        m.costUsd.inc(labels, billed.usdNano / 1e9);
        m.savedUsd.inc(labels, (billed.realtimeNano - billed.usdNano) / 1e9);
      },
    };
  }

  private settler(
    p: PartitionId,
    batchId: string,
    countStale: boolean,
    logger?: Logger,
    billing?: Pick<ConstructorParameters<typeof ChunkedSettler>[0], 'price' | 'onBilled'>,
  ): ChunkedSettler {
    return new ChunkedSettler({
      ...billing,
      logger,
      store: this.store,
      relay: this.runtime.relay,
      metrics: this.runtime.metrics.m,
      partition: p,
      batchId,
      chunk: this.options.settleChunk,
      maxInFlight: this.options.settleInFlight,
      countStale,
      schemas: this.schemas,
    });
  }

  /** The adapter of the provider that holds the batch (its record says which, also after a restart). */
  adapterOf(batch: BatchRecord): ProviderAdapter {
    return this.runtime.providers.adapter(batch.provider);
  }

  private async routeFile(
    p: PartitionId,
    source: ResultSource,
    settler: ChunkedSettler,
    held: HeldLines,
    summary: RouteSummary,
    ctx: RouteContext,
  ): Promise<void> {
    const { metrics } = this.runtime;
    const store = this.store;
    const log = ctx.logger;
    const fileId = source.ref;
    const unknownSamples: string[] = [];
    let unknown = 0;
    let malformed = 0;
    try {
      for await (const item of readResultSource(source, {
        idleTimeoutMs: this.options.downloadIdleTimeoutMs,
      })) {
        if (item.kind === 'malformed') {
          malformed++;
          if (malformed <= SAMPLE_LOGS)
            log.warn({ fileId, line: item.lineNumber, reason: item.reason }, 'malformed result line');
          continue;
        }
        const { line } = item;
        if (store.requests.partitionOf(line.custom_id) !== p) {
          unknown++;
          if (unknownSamples.length < SAMPLE_LOGS) unknownSamples.push(line.custom_id.slice(0, 64));
          continue;
        }
        const verdict = judgeLine(line);
        const settle: SettleItem = { id: line.custom_id, kind: verdict.kind };
        if (verdict.kind !== 'retry' && verdict.response !== undefined) {
          settle.response = verdict.response;
          // The body's text as the provider sent it: the same JSON as serialising `response`, without doing so (the
          // store wraps it with the status code, one buffer per settle call: no copy of each body here).
          if (item.bodyBytes !== undefined) settle.responseBody = item.bodyBytes;
        }
        if (verdict.kind !== 'completed') {
          // Held until both files are read: an answered line for the same request wins (see the module comment).
          settle.message = intern(verdict.message);
          if (!held.has(line.custom_id)) held.set(line.custom_id, settle);
          continue;
        }
        await settler.add(settle);
      }
    } catch (err) {
      const info = classifyProviderError(err);
      if (info.status !== 404) throw err;
      // The file is gone (deleted or expired at the provider): after a few tries its requests count as missing.
      if (ctx.attemptsMade + 1 < this.options.notFoundAttempts) {
        log.error({ fileId, attemptsMade: ctx.attemptsMade }, 'result file not found at the provider; retrying');
        throw new PollerError('poller.file_not_found', `result file ${fileId} not found`, { cause: err });
      }
      log.error({ fileId }, 'result file still not found; its requests are retried as missing lines');
    } finally {
      // Counted even when the download breaks: the metric is about what the provider sent.
      if (unknown > 0) {
        metrics.m.results.inc({ outcome: 'unknown' }, unknown);
        log.warn({ fileId, count: unknown, samples: unknownSamples }, 'result lines for unknown custom_ids');
      }
      if (malformed > 0) metrics.m.results.inc({ outcome: 'malformed' }, malformed);
      summary.unknown += unknown;
      summary.malformed += malformed;
    }
  }

  /**
   * Adds the estimated savings of the results just completed (stale lines are not counted again). A model missing from
   * the price table counts its tokens but no money; the metric is labelled with table names only (bounded).
   */
  private async recordSavings(batch: BatchRecord, usage: Map<string, TokenUsage>, log: Logger): Promise<void> {
    if (usage.size === 0) return;
    const adapter = this.adapterOf(batch);
    const providers = [adapter.id, adapter.profile.name];
    const entries: ModelSavings[] = [];
    for (const [model, tokens] of usage) {
      const priced = priceFor(this.prices, providers, model);
      const usd = priced ? estimateSavingsUsd(priced.entry, tokens) : 0;
      entries.push({ model: priced?.name ?? model, usd, ...tokens });
      if (priced && usd > 0) this.runtime.metrics.m.estimatedSavings.inc({ model: priced.name }, usd);
    }
    try {
      await this.store.ledger.addSavings(entries);
    } catch (err) {
      // An estimate for the operator page: never a reason to route the batch again.
      log.warn({ err: (err as Error).message }, 'could not record estimated savings');
    }
  }

  /** What becomes of the requests that got no result line. */
  private async leftoverPlan(
    p: PartitionId,
    batch: BatchRecord,
    remote: ProviderBatch,
    log: Logger,
  ): Promise<{ rejected: Map<number, string>; message: string; mode: LeftoverMode }> {
    const rejected = new Map<number, string>();
    if (remote.status === 'completed')
      return { rejected, message: 'missing_from_output: no result line for this request', mode: 'retry' };
    if (remote.status === 'expired')
      return { rejected, message: 'batch_expired: the batch expired before this request ran', mode: 'retry' };
    // Cancelled by the deadline scheduler (SPEC §10): the cancel is confirmed and the output read, so the requests it
    // did not answer may go to a faster lane now (settle kind `escalate`); the others are requeued, attempt given back.
    if (remote.status === 'cancelled' && batch.escalated_at !== undefined)
      return { rejected, message: 'batch_cancelled: cancelled to meet deadlines', mode: 'escalate' };
    if (remote.status === 'cancelled')
      return { rejected, message: 'batch_cancelled: the batch was cancelled before this request ran', mode: 'retry' };

    const errors = remote.errors?.data ?? [];
    for (const e of errors) {
      const code = e.code ?? 'invalid_request';
      if (typeof e.line === 'number' && e.line > 0 && !NOT_THE_REQUEST.has(code)) {
        rejected.set(e.line, `${code}: ${e.message ?? 'rejected by the provider'}`.slice(0, 1_000));
      }
    }
    const first = errors.find((e) => !(typeof e.line === 'number' && rejected.has(e.line))) ?? errors[0];
    const where = first?.line ? ` (line ${first.line})` : '';
    const message = first
      ? `batch_failed: ${first.code ?? 'unknown'}${where}: ${first.message ?? 'no message'}`.slice(0, 1_000)
      : 'batch_failed: the provider failed the batch without saying why';
    const tokenLimit = errors.some(isTokenLimitError);
    if (tokenLimit && batch.group) {
      // Stop the packer from submitting this group again at once: the provider would fail it the same way.
      await this.store.flushes.holdGroup(p, batch.group, this.options.groupHoldMs);
    }
    const namesLines = errors.some((e) => typeof e.line === 'number' && e.line > 0);
    // A batch of one that failed whole: its one request is the cause, or the failure is not about requests at all;
    // either way the attempt counts, so that MAX_ATTEMPTS ends it.
    const mode: LeftoverMode = tokenLimit ? 'retry' : namesLines ? 'requeue' : batch.count > 1 ? 'split' : 'retry';
    if (mode === 'split') this.runtime.metrics.m.batchesSplit.inc();
    log.warn(
      {
        errors: errors.length,
        rejectedLines: rejected.size,
        tokenLimit,
        mode,
        holdMs: tokenLimit ? this.options.groupHoldMs : undefined,
      },
      `batch failed: ${message}`,
    );
    return { rejected, message, mode };
  }

  /** Walks the batch's request ids in line order and settles them; those already settled are no-ops ('stale'). */
  private async settleLeftovers(
    p: PartitionId,
    batch: BatchRecord,
    rejected: Map<number, string>,
    message: string,
    mode: LeftoverMode,
    logger?: Logger,
  ): Promise<OutcomeCounts> {
    const settler = this.settler(p, batch.id, false, logger);
    const half = Math.ceil(batch.count / 2);
    for (let start = 0; ; start += ID_SLICE) {
      const ids = await this.store.flushes.ids(p, batch.flush_id, start, start + ID_SLICE - 1);
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i] as string;
        const line = start + i + 1;
        const reject = rejected.get(line);
        if (reject) await settler.add({ id, kind: 'rejected', message: reject });
        else if (mode === 'retry') await settler.add({ id, kind: 'retry', message });
        else if (mode === 'requeue' || mode === 'escalate') await settler.add({ id, kind: mode, message });
        else {
          const group = isolationGroup(batch.group, batch.flush_id, line <= half ? 'a' : 'b');
          await settler.add({ id, kind: 'requeue', message, group });
        }
      }
      if (ids.length < ID_SLICE) break;
    }
    await settler.drain();
    return settler.counts;
  }

  private async finish(
    p: PartitionId,
    batch: BatchRecord,
    status: string,
    outcomes: BatchOutcomes,
    files: Array<string | null | undefined>,
    log: Logger,
  ): Promise<void> {
    const { metrics, config } = this.runtime;
    const store = this.store;
    const routedNow = await store.batches.finish(p, batch, status, outcomes);
    const adapter = this.adapterOf(batch);
    const label = providerLabel(adapter.id, adapter.profile);
    metrics.m.batchesFinished.inc({ provider: label, status });
    if (batch.submitted_at > 0) {
      const turnaroundMs = Math.max(0, Date.now() - batch.submitted_at);
      metrics.m.batchDuration.observe({ provider: label }, turnaroundMs / 1000);
      // What the deadline scheduler predicts with (SPEC §10): answered batches only, once per batch.
      if (routedNow && (status === 'completed' || status === 'expired')) {
        metrics.m.batchTurnaround.observe({ provider: batch.provider }, turnaroundMs / 1000);
        await store.lanes
          .recordTurnaround(batch.provider, turnaroundSeries(batch.group), turnaroundMs)
          .catch((err: unknown) => log.warn({ err: (err as Error).message }, 'could not record batch turnaround'));
      }
    }
    if (routedNow && status === 'cancelled' && batch.escalated_at !== undefined) {
      // How long an escalation cancel took to free its requests: what the escalation pass expects next (SPEC §10).
      await store.lanes
        .recordCancelDelay(batch.provider, Date.now() - batch.escalated_at)
        .catch((err: unknown) => log.warn({ err: (err as Error).message }, 'could not record cancel delay'));
    }
    if (!config.deleteProviderFiles) return;
    // After finishBatch: a crash before it must still find the result files to route them again.
    for (const fileId of new Set(files)) {
      if (!fileId) continue;
      try {
        await adapter.deleteFiles([fileId]);
      } catch (err) {
        const info = classifyProviderError(err);
        if (info.status !== 404)
          log.warn({ fileId, status: info.status, err: info.message }, 'could not delete provider file');
      }
    }
  }
}
