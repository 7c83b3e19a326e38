/**
 * Applies routed results to the store in chunks (one `SETTLE` script per request, sent concurrently so that ioredis
 * pipelines them), relays each chunk's delivery jobs at once, and keeps a few chunks in flight while the caller reads
 * the next lines: per-line work stays small and memory stays bounded by chunk size × chunks in flight.
 */
import { type TokenUsage, usageOf } from '@batchbridge/config';
import {
  answerText,
  type Billed,
  type BillItem,
  type PartitionId,
  type SettleKind,
  type SettleOutcome,
  type Store,
} from '@batchbridge/domain';
import type { Logger } from '@batchbridge/logger';
import type { MetricsCatalog } from '@batchbridge/metrics';
import type { OutboxRelay } from '@batchbridge/queues';
import { logSettled } from './log-settled.js';
import type { SchemaChecker } from './schema-check.js';

export interface SettleItem {
  id: string;
  kind: SettleKind;
  response?: unknown;
  /** `response` as JSON (UTF-8 bytes), when routing already has it. */
  responseJson?: string | Buffer;
  /**
   * `response.body` as JSON (UTF-8 bytes), a large line's body as the provider wrote it (a view of the downloaded
   * bytes): the store wraps it into `{"status_code":…,"body":…}`, one buffer per settle call, so nothing is copied
   * here.
   */
  responseBody?: Buffer;
  message?: string;
  /** Moves a requeued request to this packing group (a failed batch split in halves). */
  group?: string;
  /** The answer was cut off (`finish_reason: length`): kept on the record as `truncated`. */
  truncated?: boolean;
}

export type OutcomeCounts = Record<SettleOutcome, number>;

export function emptyCounts(): OutcomeCounts {
  return { completed: 0, failed: 0, retried: 0, stale: 0, unknown: 0 };
}

export interface ChunkedSettlerOptions {
  store: Store;
  relay: OutboxRelay;
  metrics: MetricsCatalog;
  partition: PartitionId;
  batchId: string;
  chunk: number;
  /** Chunks being settled at once while the next one is read (a deeper pipeline to Redis). */
  maxInFlight: number;
  /** Count `stale` outcomes in the results metric (not when sweeping requests that are expected to be settled). */
  countStale: boolean;
  /** The poll job's logger: at debug level, one line per settled request (log-settled.ts). */
  logger?: Logger | undefined;
  /**
   * Checks each answer of a request that asked for a JSON schema (SPEC §14) before it is settled; one that breaks it is
   * settled `invalid` (batched again, or `schema_validation_failed` after MAX_ATTEMPTS). Absent: no check.
   */
  schemas?: SchemaChecker | undefined;
  /** Prices a completed answer for the settle script to bill (SPEC §15); none: nothing is billed. */
  price?: ((response: unknown) => BillItem | undefined) | undefined;
  /** Told of every request the settle billed (metrics, budgets), with what it was priced from. */
  onBilled?: ((billed: Billed, item: BillItem) => void) | undefined;
}

/** A chunk is settled once its items hold this much response text, even before `chunk` items (embeddings answers). */
export const CHUNK_TEXT_CHARS = 2 * 1024 * 1024;

export class ChunkedSettler {
  readonly counts: OutcomeCounts = emptyCounts();
  /** Token usage of the results this settler completed (not of stale lines), per model the provider answered with. */
  readonly usage = new Map<string, TokenUsage>();
  private items: SettleItem[] = [];
  /** Response text held by `items` (large answers close a chunk early, so memory does not grow with answer size). */
  private bytes = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private failure: { error: unknown } | undefined;

  constructor(private readonly o: ChunkedSettlerOptions) {}

  async add(item: SettleItem): Promise<void> {
    this.items.push(item);
    this.bytes += item.responseBody?.length ?? item.responseJson?.length ?? 0;
    if (this.items.length >= this.o.chunk || this.bytes >= CHUNK_TEXT_CHARS) await this.flush();
  }

  /** Waits for every added item to be settled and relayed; throws the first failure. */
  async drain(): Promise<void> {
    await this.flush();
    await Promise.all(this.inFlight);
    this.throwIfFailed();
  }

  private async flush(): Promise<void> {
    if (this.items.length === 0) return;
    const items = this.items;
    this.items = [];
    this.bytes = 0;
    while (this.inFlight.size >= this.o.maxInFlight) await Promise.race(this.inFlight);
    this.throwIfFailed();
    // Not awaited here: the caller reads the next chunk meanwhile. A failure is kept and rethrown on the next call,
    // so a rejected chunk is never an unhandled rejection.
    const done: Promise<void> = this.settle(items)
      .catch((error: unknown) => {
        this.failure ??= { error };
      })
      .finally(() => this.inFlight.delete(done));
    this.inFlight.add(done);
  }

  private addUsage(response: unknown): void {
    const u = usageOf((response as { body?: unknown } | undefined)?.body);
    if (!u) return;
    const sum = this.usage.get(u.model) ?? { inputTokens: 0, outputTokens: 0 };
    sum.inputTokens += u.inputTokens;
    if (u.cachedTokens) sum.cachedTokens = (sum.cachedTokens ?? 0) + u.cachedTokens;
    if (u.cacheWriteTokens) sum.cacheWriteTokens = (sum.cacheWriteTokens ?? 0) + u.cacheWriteTokens;
    sum.outputTokens += u.outputTokens;
    this.usage.set(u.model, sum);
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure.error;
  }

  /**
   * Structured outputs and truncation (SPEC §14), for the answered items of one chunk: one pipelined read of their
   * requests' schemas (a short reply for the many without one), then each answer is checked with its schema.
   */
  private async checkAnswers(items: SettleItem[]): Promise<void> {
    const answered = items.filter((item) => item.kind === 'completed');
    if (answered.length === 0) return;
    for (const item of answered) {
      const answer = answerText((item.response as { body?: unknown } | undefined)?.body);
      if (answer?.truncated) item.truncated = true;
    }
    const checker = this.o.schemas;
    if (!checker) return;
    const schemas = await this.o.store.requests.schemas(
      this.o.partition,
      answered.map((item) => item.id),
    );
    answered.forEach((item, i) => {
      const schema = schemas[i];
      if (schema === undefined) return;
      const answer = answerText((item.response as { body?: unknown } | undefined)?.body);
      // A refusal is the model's answer, told as it is (`refusal`), not a broken one.
      if (!answer || answer.refusal) return;
      const verdict = checker.check(schema, answer);
      if (!verdict.ok) {
        item.kind = 'invalid';
        item.message = verdict.message;
      }
    });
  }

  private async settle(items: SettleItem[]): Promise<void> {
    const { store, relay, metrics, partition, batchId, price } = this.o;
    // The schema check first: an answer that breaks its schema is settled `invalid`, not billed as completed.
    await this.checkAnswers(items);
    const priced = price
      ? items.map((item) => (item.kind === 'completed' ? { ...item, bill: price(item.response) } : item))
      : items;
    const { outcomes, outbox, billed } = await store.requests.settle(partition, batchId, priced);
    // A crash between settle and relay leaves the entries in the outbox; the sweep relays them.
    await relay.relay(partition, outbox);
    if (this.o.logger) await logSettled(store, this.o.logger, partition, items, outcomes);
    const chunkCounts = emptyCounts();
    outcomes.forEach((outcome, i) => {
      chunkCounts[outcome] += 1;
      // Counted when it changed the request (not for a line routed again after a crash: stale).
      if (items[i]?.kind === 'invalid' && outcome !== 'stale' && outcome !== 'unknown') metrics.schemaRejected.inc();
      if (outcome === 'completed') this.addUsage(items[i]?.response);
      const b = billed[i];
      const bill = (priced[i] as { bill?: BillItem } | undefined)?.bill;
      if (b && bill) this.o.onBilled?.(b, bill);
    });
    for (const [outcome, n] of Object.entries(chunkCounts) as Array<[SettleOutcome, number]>) {
      if (n === 0) continue;
      this.counts[outcome] += n;
      if (outcome !== 'stale' || this.o.countStale) metrics.results.inc({ outcome }, n);
    }
  }
}
