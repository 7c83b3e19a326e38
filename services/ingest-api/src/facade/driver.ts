/**
 * The driver of Batch API batches (SPEC §12), run by every ingest process: it enqueues a new batch's lines chunk by
 * chunk (facade-enqueue), starts the expiry of a batch whose window has passed (facade-expire) and runs the cancel or
 * expiry pass over its queued lines (facade-end-pass). Completion needs no driver: the last line's `finish` ends the
 * batch in the same script.
 *
 * Crash safety: every step is a script guarded by a cursor in the batch record, so a step replayed after a crash, or
 * run by two processes at once, changes nothing the second time. A batch that still needs steps stays in the
 * partition's live set with the time it is due; the sweep (every `sweepMs`) picks up what a dead process left, behind
 * a lease that only saves duplicate work. Steps run on the worker connection: a 1 000-line chunk's script may take
 * longer than the request path's 1 s command timeout on a busy box.
 */
import { randomUUID } from 'node:crypto';
import type { FacadeBatchRecord, PartitionId } from '@batchbridge/domain';
import type { Runtime } from '@batchbridge/runtime';

/** Lines per step of an end pass. */
const PASS_LINES = 1_000;
const TERMINAL = new Set(['completed', 'failed', 'expired', 'cancelled']);

export interface FacadeDriverOptions {
  /** @defaultValue 1 000 ms */
  sweepMs?: number;
  /** @defaultValue 30 000 ms */
  leaseMs?: number;
}

export class FacadeDriver {
  private readonly runtime: Runtime;
  private readonly sweepMs: number;
  private readonly leaseMs: number;
  private readonly token = randomUUID();
  private readonly running = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  private stopped = false;

  constructor(runtime: Runtime, options: FacadeDriverOptions = {}) {
    this.runtime = runtime;
    this.sweepMs = options.sweepMs ?? 1_000;
    this.leaseMs = options.leaseMs ?? 30_000;
  }

  start(): void {
    this.timer = setInterval(() => {
      if (this.sweeping || this.stopped) return;
      this.sweeping = this.sweep()
        .catch((err: Error) => this.runtime.logger.warn({ err: err.message }, 'batch driver sweep failed; retried'))
        .finally(() => {
          this.sweeping = undefined;
        });
    }, this.sweepMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.sweeping;
    while (this.running.size > 0) await new Promise((r) => setTimeout(r, 20));
  }

  /** Drives a batch now (after create or cancel), in the background; the sweep covers a failure. */
  kick(p: PartitionId, id: string): void {
    this.drive(p, id).catch((err: Error) =>
      this.runtime.logger.warn({ batchId: id, err: err.message }, 'batch driver step failed; the sweep resumes it'),
    );
  }

  private async sweep(): Promise<void> {
    for (const p of this.runtime.keys.allPartitions()) {
      const due = await this.runtime.workerStore.facade.dueBatches(p);
      for (const id of due) if (!this.stopped) await this.drive(p, id);
    }
  }

  async drive(p: PartitionId, id: string): Promise<void> {
    const facade = this.runtime.workerStore.facade;
    if (this.running.has(id) || this.stopped) return;
    this.running.add(id);
    try {
      if (!(await facade.lease(p, id, this.token, this.leaseMs))) return;
      try {
        let leasedAt = Date.now();
        for (;;) {
          if (this.stopped) return;
          if (Date.now() - leasedAt > this.leaseMs / 3) {
            await facade.releaseLease(p, id, this.token);
            if (!(await facade.lease(p, id, this.token, this.leaseMs))) return;
            leasedAt = Date.now();
          }
          const b = await facade.getBatch(id);
          if (!b || TERMINAL.has(b.status) || !(await this.step(p, b))) return;
        }
      } finally {
        await facade.releaseLease(p, id, this.token);
      }
    } finally {
      this.running.delete(id);
    }
  }

  /** One step of a batch; false when there is nothing to do now. */
  private async step(p: PartitionId, b: FacadeBatchRecord): Promise<boolean> {
    const facade = this.runtime.workerStore.facade;
    if ((b.status === 'validating' || b.status === 'cancelling') && b.next_chunk < b.chunks) {
      const reply = await facade.enqueueChunk(p, b.id, b.next_chunk);
      if (reply[0] === 'missing') {
        this.runtime.logger.warn({ batchId: b.id }, 'batch input file gone; batch failed');
        await this.relay(p, reply[1]);
      }
      return reply[0] === 'ok' || reply[0] === 'cursor';
    }
    if (b.ending === '' && Date.now() >= b.expires_at && b.status !== 'cancelling') {
      return facade.startExpiry(p, b.id);
    }
    if (b.ending !== '' && b.end_cursor < b.enq_lines) {
      const reply = await facade.endPass(p, b.id, b.end_cursor, PASS_LINES);
      if (reply[0] === 'ok') await this.relay(p, reply[3]);
      return reply[0] === 'ok' || reply[0] === 'cursor';
    }
    return false;
  }

  /** Hands a batch webhook's outbox entry to its queue now; the outbox sweep would, a few seconds later. */
  private async relay(p: PartitionId, member: unknown): Promise<void> {
    if (typeof member !== 'string' || member === '') return;
    await this.runtime.relay.relay(p, [member]);
  }
}
