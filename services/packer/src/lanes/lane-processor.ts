/**
 * The fast lanes' worker (SPEC §10): one job per lane claim (`lane-claim-1.lua` wrote it to the outbox in the same
 * step that moved the request queued → submitted), one synchronous provider call through the openai SDK —
 * `service_tier: "flex"` on the flex lane — or, for a provider with a protocol of its own, through its adapter's
 * `realtime` (Anthropic: `POST /v1/messages`, translated both ways by the batch path's own code) — and the answer settled by the same settle script as a batch line, so it is
 * delivered exactly like one (webhook, `Prefer: wait`, GET).
 *
 * - A stale job (the request settled, or claimed again under another run id) does nothing: the run id in the record's
 *   `batch_id` is the fence. Two workers running one job (a lost lock) may both call the provider; only the first
 *   settle applies (`stale` for the second), so the request is answered once.
 * - Budget: the provider's requests/tokens per minute and concurrency, shared by every replica in Redis, and the wait
 *   a 429's Retry-After asked for. No budget: the job waits in BullMQ's delayed set (no attempt spent); the request
 *   still completes, late if it must (`deadline_met: false`).
 * - Flex answered 429 `resource_unavailable` (capacity, not a rate limit): when realtime is allowed and the deadline is
 *   near, the same run calls realtime; otherwise it waits and tries flex again.
 * - A 4xx answer fails the request (`provider_rejected`, its body kept); 5xx and connection errors are retried by the
 *   queue, and the last attempt sends the request back to the batch queue (attempt counted, like a failed batch).
 */
import { type Lane, loadPriceTable } from '@batchbridge/config';
import {
  type BillItem,
  billItemFor,
  endpointOfGroup,
  type FastLane,
  type PartitionId,
  providerOfGroup,
  type Store,
} from '@batchbridge/domain';
import { classifyProviderError, createProviderClient, providerLabel, toProviderError } from '@batchbridge/provider';
import { type LaneJobData, QUEUES } from '@batchbridge/queues';
import { LaneScheduler, REALTIME_EXPECTED_MS, type Runtime } from '@batchbridge/runtime';
import { DelayedError, type Job } from 'bullmq';
import type OpenAI from 'openai';

/** A call's lease in the provider's in-flight set outlives the call's own timeout a little. */
const LEASE_SLACK_MS = 5_000;
/** Wait before asking flex again after a 429 without Retry-After. */
const FLEX_RETRY_MS = 2_000;

export interface LaneProcessorOptions {
  store: Store;
}

export function createLaneProcessor(runtime: Runtime, options: LaneProcessorOptions) {
  const { store } = options;
  const m = runtime.metrics.m;
  const log = runtime.logger;
  const scheduler = new LaneScheduler(runtime);
  // Fast-lane answers are billed like batch lines (SPEC §15), at the request's lane's price (the settle script's pick).
  const prices = loadPriceTable(runtime.config.priceTableFile);
  const tenantLabel = runtime.config.metrics.tenantLabel;
  const billFor = (providerId: string, response: unknown): BillItem | undefined => {
    const adapter = runtime.providers.has(providerId) ? runtime.providers.adapter(providerId) : undefined;
    const ids = adapter ? [adapter.id, adapter.profile.name] : [providerId];
    const label = adapter ? providerLabel(adapter.id, adapter.profile) : providerId;
    return billItemFor(prices, ids, label, response);
  };
  const clients = new Map<string, OpenAI>();
  const clientFor = (providerId: string): OpenAI => {
    if (providerId === 'default' && runtime.provider) return runtime.provider;
    let c = clients.get(providerId);
    if (!c) {
      const pc = runtime.providers.config(providerId);
      if (!pc) throw new Error(`lane call: no provider ${providerId}`);
      c = createProviderClient({ baseUrl: pc.baseUrl, apiKey: pc.apiKey, timeoutMs: pc.timeoutMs, metrics: m });
      clients.set(providerId, c);
    }
    return c;
  };

  const settle = async (
    p: PartitionId,
    runId: string,
    item: {
      id: string;
      kind: 'completed' | 'rejected' | 'retry';
      response?: unknown;
      message?: string;
      lane?: Lane;
      bill?: BillItem | undefined;
    },
  ) => {
    const { outcomes, outbox, billed } = await store.requests.settle(p, runId, [item]);
    await runtime.relay.relay(p, outbox);
    const b = billed[0];
    if (b?.priced && item.bill) {
      const labels = {
        lane: b.lane,
        provider: item.bill.provider,
        model: item.bill.model,
        tenant: tenantLabel ? b.tenant : '',
      };
      m.costUsd.inc(labels, b.usdNano / 1e9);
      m.savedUsd.inc(labels, (b.realtimeNano - b.usdNano) / 1e9);
    }
    return outcomes[0];
  };

  return async (job: Job<LaneJobData>, token: string | undefined, p: PartitionId): Promise<unknown> => {
    const { requestId, runId } = job.data;
    const record = await store.requests.get(requestId);
    if (!record || record.status !== 'submitted' || record.batch_id !== runId) return { stale: true };
    const providerId = providerOfGroup(record.group);
    const pc = runtime.providers.config(providerId);
    const tenant = runtime.tenants.get(record.tenant);
    const allowed = scheduler.lanesFor(record.group, tenant);
    // The lane this run is on: the claim's, or realtime once flex gave way (kept on the job across delays).
    const lane: FastLane = job.data.current ?? job.data.lane;
    const timeoutMs = pc?.timeoutMs ?? runtime.config.upstream.timeoutMs;
    const delay = async (ms: number, switched?: FastLane) => {
      if (switched) await job.updateData({ ...job.data, current: switched });
      await job.moveToDelayed(Date.now() + Math.max(25, ms), token);
      throw new DelayedError();
    };

    const budget = await store.lanes.acquire(providerId, lane, pc?.realtime ?? {}, {
      member: runId,
      tokens: record.tokens,
      leaseMs: timeoutMs + LEASE_SLACK_MS,
    });
    if (!budget.ok) {
      m.laneBudgetWaits.inc({ lane, provider: providerId });
      // Flex waiting on its budget while the deadline nears: realtime may have room (its 429 backoff is its own).
      if (lane === 'flex' && allowed.includes('realtime') && nearDeadline(record.deadline_at, budget.waitMs, runtime))
        return delay(0, 'realtime');
      return delay(budget.waitMs);
    }
    const endpoint = endpointOfGroup(record.group);
    const body = JSON.parse(record.body) as Record<string, unknown>;
    if (typeof body.model === 'string') body.model = runtime.providers.providerModel(providerId, body.model);
    if (lane === 'flex') body.service_tier = 'flex';
    // A job that stalled (its worker died or lost its lock) may have made this call already, and the provider may
    // have answered and charged it: only one answer is ever settled, but the call may be paid twice. Counted once
    // per stall (no extra write on the usual path).
    if (job.stalledCounter > (job.data.stallsSeen ?? 0)) {
      m.laneCallsAfterStall.inc({ lane, provider: providerId });
      log.warn({ requestId, runId, stalls: job.stalledCounter }, 'fast-lane call made again after a stalled run');
      await job.updateData({ ...job.data, stallsSeen: job.stalledCounter });
    }
    // A provider with a protocol of its own (Anthropic: the Messages API) answers through its adapter, in OpenAI's
    // shape as its batch lines are; an OpenAI-compatible one through the openai SDK.
    const adapter = runtime.providers.has(providerId) ? runtime.providers.adapter(providerId) : undefined;
    let answer: { status_code: number; body: unknown };
    try {
      answer = adapter?.realtime
        ? await adapter.realtime({ endpoint, body, timeoutMs })
        : {
            status_code: 200,
            body: await clientFor(providerId).post(endpoint.replace(/^\/v1/, ''), { body, timeout: timeoutMs }),
          };
    } catch (err) {
      const info = classifyProviderError(err);
      if (info.status === 429) {
        const unavailable = info.code === 'resource_unavailable';
        m.laneCalls.inc({ lane, provider: providerId, result: unavailable ? 'unavailable' : 'rate_limited' });
        const waitMs = info.retryAfterMs ?? FLEX_RETRY_MS;
        await store.lanes.backOff(providerId, lane, waitMs);
        if (lane === 'flex' && allowed.includes('realtime') && nearDeadline(record.deadline_at, waitMs, runtime))
          return delay(0, 'realtime');
        return delay(waitMs);
      }
      if (info.status !== undefined && info.status >= 400 && info.status < 500 && !info.retryable) {
        m.laneCalls.inc({ lane, provider: providerId, result: 'rejected' });
        const errorBody = (err as { error?: unknown }).error;
        await settle(p, runId, {
          id: requestId,
          kind: 'rejected',
          lane,
          response: { status_code: info.status, body: { error: errorBody ?? { message: info.message } } },
          message: info.message,
        });
        return { rejected: info.status };
      }
      m.laneCalls.inc({ lane, provider: providerId, result: 'error' });
      const attempts = job.opts.attempts ?? QUEUES.lane.jobOptions.attempts;
      if (job.attemptsMade + 1 >= attempts) {
        // Out of tries on this lane: back to the batch queue, where the scheduler may try again.
        log.warn({ requestId, lane, err: info.message }, 'fast-lane call failed for good; back to the batch queue');
        await settle(p, runId, { id: requestId, kind: 'retry', message: `${lane} call failed: ${info.message}` });
        return { requeued: true };
      }
      throw toProviderError(err);
    } finally {
      await store.lanes.release(providerId, runId).catch(() => undefined);
    }
    if (answer.status_code !== 200) {
      // Answered (and perhaps paid) but unreadable: failed like such a batch line, never called again.
      m.laneCalls.inc({ lane, provider: providerId, result: 'rejected' });
      await settle(p, runId, {
        id: requestId,
        kind: 'rejected',
        lane,
        response: answer,
        message: `the ${lane} answer could not be read (${answer.status_code})`,
      });
      return { rejected: answer.status_code };
    }
    m.laneCalls.inc({ lane, provider: providerId, result: 'ok' });
    const outcome = await settle(p, runId, {
      id: requestId,
      kind: 'completed',
      lane,
      response: answer,
      bill: billFor(providerId, { body: answer.body }),
    });
    return { outcome, lane };
  };
}

/** Whether waiting `waitMs` more would leave too little time for a realtime call before the deadline. */
function nearDeadline(deadlineAt: number | undefined, waitMs: number, runtime: Runtime): boolean {
  if (deadlineAt === undefined) return false;
  return Date.now() + waitMs + REALTIME_EXPECTED_MS + runtime.config.deadlines.marginMs > deadlineAt;
}
