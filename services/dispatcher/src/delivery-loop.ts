/**
 * The bulk delivery loop (issue 26): per partition, a dispatcher claims up to `batch` due deliveries with one script
 * call (dlv-claim: leased until `leaseMs` from now), runs each through the outcome deliverer — at most `concurrency`
 * in flight — and completes them in bulk: the verdicts that arrive in one turn of the event loop are written by one
 * dlv-complete call (log entry, delivered/gone mark, ended or due again), fenced by the claim's lease end so that a
 * claim taken over after its lease ran out is left to its new holder.
 *
 * The leases of the deliveries in flight are extended every leaseMs / 3 (one call per partition); extensions and
 * completions of a partition run one after the other, so a completion always shows the claim's latest fence.
 *
 * What if the process dies here? A claimed delivery whose completion was not written stays in the lease zset until
 * its lease ends; the next claim of any dispatcher moves it back to due and it is sent again with the same
 * `webhook-id` (a receiver dedupes), or skipped when the dead process had recorded it delivered. A completion written
 * after the lease ran out changes nothing of the schedule (the fence), so two dispatchers never both reschedule it.
 */
import type { ClaimedDelivery, DeliveryCompletion, PartitionId, Store } from '@batchbridge/domain';
import type { Logger } from '@batchbridge/logger';
import type { MetricsCatalog } from '@batchbridge/metrics';
import type { DeliveryVerdict, OutcomeDeliverer } from './deliver-processor.js';

export interface DeliveryLoopOptions {
  store: Store;
  partitions: readonly PartitionId[];
  deliver: OutcomeDeliverer;
  logger: Logger;
  metrics: MetricsCatalog;
  /** Deliveries in flight per partition (WEBHOOK_CONCURRENCY). */
  concurrency: number;
  /** Claimed per call at most. @defaultValue concurrency */
  batch?: number;
  /**
   * How long a claim is this dispatcher's without news: the leases of deliveries still being sent are extended every
   * third of it (one dlv-extend call per partition), so only a dead or stalled dispatcher's claims run out.
   */
  leaseMs: number;
  /** Longest sleep when nothing is due (a delivery made due meanwhile waits at most this long). */
  idleMs: number;
  /** Attempts kept per delivery log (WEBHOOK_LOG_ATTEMPTS). */
  logAttempts: number;
  /** Told of each finished delivery (tests, benchmarks). */
  onDone?: (partition: PartitionId, delivery: ClaimedDelivery, verdict: DeliveryVerdict) => void;
}

export interface DeliveryLoops {
  /** Every partition's loop is running. */
  running(): boolean;
  /** Stops claiming; waits for the deliveries in flight and their completions. */
  close(): Promise<void>;
}

/** Completions written per dlv-complete call at most. */
const COMPLETE_SLICE = 200;

export function startDeliveryLoops(o: DeliveryLoopOptions): DeliveryLoops {
  let stopped = false;
  const loops = o.partitions.map((p) => partitionLoop(p));
  const sleepers = new Set<() => void>();

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, Math.max(1, ms));
      sleepers.add(wake);
    });
  }

  function partitionLoop(p: PartitionId) {
    let inFlight = 0;
    let slotFreed: (() => void) | undefined;
    const pending: Array<{ verdict: DeliveryVerdict; delivery: ClaimedDelivery }> = [];
    let flushing = false;
    const batch = Math.max(1, o.batch ?? o.concurrency);
    /** Claims of this dispatcher not yet completed (their leases are extended). */
    const active = new Set<ClaimedDelivery>();
    /** Extensions and completions of the partition, one after the other (see above). */
    let serial: Promise<unknown> = Promise.resolve();
    const inTurn = <T>(fn: () => Promise<T>): Promise<T> => {
      const next = serial.then(fn, fn);
      serial = next.catch(() => undefined);
      return next;
    };
    const extendEvery = Math.max(50, Math.floor(o.leaseMs / 3));
    const extender = setInterval(() => {
      if (active.size === 0) return;
      void inTurn(async () => {
        const lost = await o.store.deliveries.extend(p, [...active], o.leaseMs);
        for (const d of lost) {
          o.logger.warn(
            { requestId: d.requestId, partition: p },
            'a delivery being sent lost its lease (taken over by another dispatcher)',
          );
        }
      }).catch((err: Error) => o.logger.warn({ err: err.message, partition: p }, 'extending delivery leases failed'));
    }, extendEvery);
    extender.unref();

    const freeSlots = (n: number) => {
      inFlight -= n;
      const wake = slotFreed;
      slotFreed = undefined;
      wake?.();
    };

    /** Writes every completion waiting, one call per COMPLETE_SLICE; a failure leaves them to their lease. */
    const flush = async () => {
      flushing = true;
      try {
        while (pending.length > 0) {
          const slice = pending.splice(0, COMPLETE_SLICE);
          try {
            // Built in turn: the fences are the ones the last extension answered.
            const answers = await inTurn(() =>
              o.store.deliveries.complete(
                p,
                slice.map((s) => completion(s.delivery, s.verdict)),
                o.logAttempts,
              ),
            );
            slice.forEach((s, i) => {
              const a = answers[i];
              if (a && s.verdict.onMarked) s.verdict.onMarked(a.marked);
              if (a && !a.ours) {
                o.logger.warn(
                  { requestId: s.delivery.requestId, partition: p },
                  'delivery completed after its lease ran out; its new holder decides what follows',
                );
              }
              o.onDone?.(p, s.delivery, s.verdict);
            });
          } catch (err) {
            // Not written: these claims go back to due when their lease ends (the receiver dedupes a resend).
            o.logger.warn(
              { err: (err as Error).message, partition: p, deliveries: slice.length },
              'delivery completions not written; their leases will run out and they are sent again',
            );
          } finally {
            for (const s of slice) active.delete(s.delivery);
            freeSlots(slice.length);
          }
        }
      } finally {
        flushing = false;
      }
    };

    const completion = (delivery: ClaimedDelivery, verdict: DeliveryVerdict): DeliveryCompletion => ({
      member: delivery.member,
      requestId: delivery.requestId,
      fence: delivery.fence,
      result: verdict.result,
      ...(verdict.bodyMark !== undefined ? { bodyMark: verdict.bodyMark } : {}),
      ...(verdict.log ? { log: verdict.log as unknown as Record<string, unknown> } : {}),
      ...(verdict.mark ? { mark: verdict.mark } : {}),
      ...(verdict.retryAtMs !== undefined
        ? { at: verdict.retryAtMs, countsAttempt: true }
        : verdict.parkUntilMs !== undefined
          ? { at: verdict.parkUntilMs }
          : {}),
    });

    const complete = (delivery: ClaimedDelivery, verdict: DeliveryVerdict) => {
      pending.push({ verdict, delivery });
      // Every verdict of this turn in one call; the next turn's go into the next one.
      if (!flushing && pending.length === 1) {
        setImmediate(() => {
          if (!flushing) void flush();
        });
      } else if (!flushing && pending.length >= COMPLETE_SLICE) void flush();
    };

    const run = async (delivery: ClaimedDelivery) => {
      let verdict: DeliveryVerdict;
      try {
        verdict = await o.deliver(p, delivery);
      } catch (err) {
        // Redis trouble or a bug: try again a little later without spending an attempt.
        o.logger.warn(
          { err: (err as Error).message, requestId: delivery.requestId, partition: p },
          'delivery attempt failed before an answer; due again shortly',
        );
        verdict = { result: 'parked', parkUntilMs: Date.now() + 1_000 + Math.round(1_000 * Math.random()) };
      }
      complete(delivery, verdict);
    };

    const loop = async () => {
      while (!stopped) {
        const room = o.concurrency - inFlight;
        if (room <= 0) {
          await new Promise<void>((resolve) => {
            slotFreed = resolve;
          });
          continue;
        }
        let claimed: Awaited<ReturnType<Store['deliveries']['claim']>>;
        try {
          claimed = await o.store.deliveries.claim(p, Math.min(room, batch), o.leaseMs);
        } catch (err) {
          if (stopped) break;
          o.logger.warn({ err: (err as Error).message, partition: p }, 'claiming deliveries failed; trying again');
          await sleep(o.idleMs * 5);
          continue;
        }
        if (claimed.reclaimed > 0) {
          o.metrics.webhookLeasesReclaimed.inc(claimed.reclaimed);
          o.logger.warn(
            { partition: p, deliveries: claimed.reclaimed },
            'deliveries whose lease ran out (their dispatcher died or stalled) are due again',
          );
        }
        inFlight += claimed.deliveries.length;
        for (const d of claimed.deliveries) {
          active.add(d);
          void run(d);
        }
        if (claimed.deliveries.length === 0) {
          const untilNext = claimed.nextDueAt === undefined ? o.idleMs : claimed.nextDueAt - Date.now();
          await sleep(Math.min(o.idleMs, Math.max(1, untilNext)));
        }
      }
      // Closing: the deliveries in flight finish and their completions are written.
      while (inFlight > 0) {
        await new Promise<void>((resolve) => {
          slotFreed = resolve;
        });
      }
      clearInterval(extender);
    };

    return loop();
  }

  let alive = loops.length;
  const done = Promise.all(
    loops.map((l) =>
      l
        .catch((err: unknown) => {
          o.logger.error({ err: (err as Error).message }, 'delivery loop stopped on an error');
        })
        .finally(() => {
          alive -= 1;
        }),
    ),
  );

  return {
    running: () => !stopped && alive === o.partitions.length,
    close: async () => {
      stopped = true;
      for (const wake of [...sleepers]) wake();
      await done;
    },
  };
}
