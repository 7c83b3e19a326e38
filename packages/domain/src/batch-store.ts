/**
 * The batch aggregate: provider batches from the moment the packer records one (finish-submission, flush store) to
 * their routing (hash `T:batch:<id>`, statuses and moves in lifecycle.ts BATCH_TRANSITIONS). Its status changes only
 * through record-poll and finish-batch, which check the move (batch_move) and take none once the batch is routed.
 */
import type { PartitionId } from './keys.js';
import type { StoreContext } from './store-context.js';

export interface BatchRecord {
  id: string;
  flush_id: string;
  group: string;
  count: number;
  submitted_at: number;
  status: string;
  file_id: string | undefined;
  routed_at: number | undefined;
  /** The provider that holds the batch (SPEC §11); `default` for the one provider of UPSTREAM_*. */
  provider: string;
  /** How its requests came out when it was routed (absent while live, and for batches routed before this existed). */
  outcomes?: BatchOutcomes | undefined;
  /** When the provider says the batch reached its terminal status (ms; recorded by the poll that saw it terminal). */
  terminal_at?: number | undefined;
  /** When the deadline scheduler marked it for cancellation (ms; ESCALATE_CANCEL_BATCHES, SPEC §10). */
  escalated_at?: number | undefined;
}

/** Requests of a routed batch by outcome: completed, failed for good, sent back to the queue for another batch. */
export interface BatchOutcomes {
  completed: number;
  failed: number;
  retried: number;
}

/** What one poll saw of a batch at the provider. */
export interface BatchPoll {
  status: string;
  total: number;
  completed: number;
  failed: number;
  /** Polls of the batch so far, this one included. */
  polls: number;
  /** When the provider says the batch reached its terminal status (ms), when it is terminal and says so. */
  terminalAt?: number | undefined;
}

/** `recorded`; `routed`: the batch was routed meanwhile (nothing written); `missing`: its record is gone. */
export type PollRecorded = 'recorded' | 'routed' | 'missing';

/** How many routed batches per partition `T:recent` keeps for the operator page. */
const RECENT_BATCHES = 200;

export class BatchStore {
  private readonly ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.ctx = ctx;
  }

  async get(p: PartitionId, batchId: string): Promise<BatchRecord | undefined> {
    const h = (await this.ctx.redis.hgetall(this.ctx.keys.partitionKeys(p).batch(batchId))) as Record<string, string>;
    if (!h.id) return undefined;
    return {
      id: h.id,
      flush_id: h.flush_id ?? '',
      group: h.group ?? '',
      count: Number(h.count ?? 0),
      submitted_at: Number(h.submitted_at ?? 0),
      status: h.status ?? 'submitted',
      file_id: h.file_id || undefined,
      routed_at: h.routed_at ? Number(h.routed_at) : undefined,
      provider: h.provider || 'default',
      outcomes:
        h.n_completed === undefined
          ? undefined
          : { completed: Number(h.n_completed), failed: Number(h.n_failed ?? 0), retried: Number(h.n_retried ?? 0) },
      terminal_at: h.terminal_at ? Number(h.terminal_at) : undefined,
      escalated_at: h.escalated_at ? Number(h.escalated_at) : undefined,
    };
  }

  /** Routed batches of a partition, most recently routed first (records gone after retention are left out). */
  async recent(p: PartitionId, limit = 50): Promise<BatchRecord[]> {
    const key = this.ctx.keys.partitionKeys(p).recentBatches;
    const ids = (await this.ctx.redis.zrevrange(key, 0, limit - 1)) as string[];
    const records = await Promise.all(ids.map((id) => this.get(p, id)));
    return records.filter((b): b is BatchRecord => b !== undefined);
  }

  /** Batches submitted and not yet routed. */
  async live(p: PartitionId): Promise<string[]> {
    return (await this.ctx.redis.zrange(this.ctx.keys.partitionKeys(p).batches, '0', '-1')) as string[];
  }

  /** A poll of a live batch: its provider status (a checked move) and request counts. */
  async recordPoll(p: PartitionId, batchId: string, poll: BatchPoll): Promise<PollRecorded> {
    const options = JSON.stringify({ ...poll, now: Date.now() });
    const key = this.ctx.keys.partitionKeys(p).batch(batchId);
    return (await this.ctx.redis.bbRecordPoll(key, options)) as PollRecorded;
  }

  /**
   * The batch is fully routed (or abandoned): its final status (a checked move), no longer live; its flush's id list
   * is no longer needed after retention. It joins the partition's recent batches (operator page), with its requests'
   * outcomes when the caller counted them. A batch routed already is left as it is: answers false.
   */
  async finish(p: PartitionId, batch: BatchRecord, status: string, outcomes?: BatchOutcomes): Promise<boolean> {
    const k = this.ctx.keys.partitionKeys(p);
    const options = {
      tag: k.tag,
      batchId: batch.id,
      flushId: batch.flush_id,
      status,
      now: Date.now(),
      retention: this.ctx.options.retentionMs,
      recent: RECENT_BATCHES,
      outcomes,
    };
    return (await this.ctx.redis.bbFinishBatch(k.batch(batch.id), JSON.stringify(options))) === 1;
  }
}
