/**
 * The deadline scheduler (SPEC §10): the cheapest lane expected to answer a request by its deadline.
 *
 *   expected batch completion = time to the group's next flush + observed batch turnaround (p90 of the last 50 batches
 *                               of that provider and model; the profile's default, or BATCH_TURNAROUND, until there
 *                               are some) + DEADLINE_MARGIN
 *
 * `batch` when that is by the deadline, else `flex` (batch price; where the provider has it and there is time for a
 * slower call), else `realtime`. A request whose provider and tenant allow no faster lane stays on `batch` and
 * completes late (`deadline_met: false`). Used at intake (ingest) and by the lane service's pass over queued requests.
 */
import { defaultTurnaroundMs, hasFlex, type Lane, type ProviderConfig, type Tenant } from '@batchbridge/config';
import {
  endpointOfGroup,
  type FastLane,
  modelOfGroup,
  type PartitionId,
  percentile,
  providerOfGroup,
} from '@batchbridge/domain';
import type { Runtime } from './runtime.js';

/** How long a flex call is expected to take beyond the margin (OpenAI: flex is slower and may be queued). */
export const FLEX_EXPECTED_MS = 10_000;
/** How long a realtime call is expected to take beyond the margin. */
export const REALTIME_EXPECTED_MS = 2_000;
/** How long an observed turnaround p90 is reused before it is read again from Redis. */
const TURNAROUND_CACHE_MS = 2_000;
/** The packer's pass interval at most: a due group is claimed within it. */
const PACK_TICK_MS = 250;

export interface LanePlan {
  lane: Lane;
  /** When the batch lane is expected to answer (ms since the epoch). */
  expectedBatchAt: number;
  provider: string;
}

export interface PlanInput {
  partition: PartitionId;
  group: string;
  tenant: Tenant | undefined;
  deadlineAt: number;
  /** The request is already counted in its group (queued), rather than about to join it. */
  queued: boolean;
  /** The group's time to flush when the caller has it already (one pass plans many requests of a group). */
  toFlushMs?: number | undefined;
}

export class LaneScheduler {
  private readonly turnaroundCache = new Map<string, { at: number; ms: number }>();

  constructor(private readonly runtime: Pick<Runtime, 'config' | 'store' | 'providers'>) {}

  /** The lanes a request of `group` may take: its provider's, those its tenant allows, fast ones only over OpenAI's API. */
  lanesFor(group: string, tenant: Tenant | undefined): Lane[] {
    const provider = this.providerConfig(providerOfGroup(group));
    const own: readonly Lane[] = provider?.lanes ?? ['batch'];
    const speaksOpenAI = (provider?.profile.api ?? 'openai') === 'openai';
    return own.filter((lane) => {
      if (tenant?.lanes && !tenant.lanes.includes(lane)) return false;
      if (lane === 'batch') return true;
      if (!speaksOpenAI) return false;
      // Flex is a tier of the chat and Responses endpoints only, and of the models the profile lists for it.
      if (lane === 'flex') {
        const endpoint = endpointOfGroup(group);
        if (!provider || (endpoint !== '/v1/chat/completions' && endpoint !== '/v1/responses')) return false;
        return hasFlex(provider.profile, this.runtime.providers.providerModel(provider.id, modelOfGroup(group)));
      }
      return true;
    });
  }

  providerConfig(id: string): ProviderConfig | undefined {
    return this.runtime.providers.config(id);
  }

  /** The turnaround the scheduler assumes for a provider and model now (ms). */
  async turnaroundMs(providerId: string, model: string): Promise<number> {
    const key = `${providerId}\n${model}`;
    const now = Date.now();
    const cached = this.turnaroundCache.get(key);
    if (cached && now - cached.at < TURNAROUND_CACHE_MS) return cached.ms;
    const samples = await this.runtime.store.lanes.turnarounds(providerId, model);
    const profile = this.providerConfig(providerId)?.profile ?? this.runtime.config.upstream.profile;
    const ms = percentile(samples, 90) ?? this.runtime.config.deadlines.turnaroundMs ?? defaultTurnaroundMs(profile);
    this.turnaroundCache.set(key, { at: now, ms });
    return ms;
  }

  /** When the group's next flush is expected to take a request (ms from now). */
  async timeToFlushMs(p: PartitionId, group: string, queued: boolean): Promise<number> {
    const { store, config } = this.runtime;
    const timing = await store.lanes.groupTiming(p, group);
    const limits = config.batch.endpoints[endpointOfGroup(group)];
    const now = Date.now();
    const count = timing.count + (queued ? 0 : 1);
    let untilDue: number;
    if (count >= limits.maxRequests) untilDue = 0;
    else if (timing.oldestAt === undefined) untilDue = config.batch.maxWaitMs;
    else untilDue = Math.max(0, timing.oldestAt + config.batch.maxWaitMs - now);
    return Math.max(untilDue, timing.holdMs) + PACK_TICK_MS;
  }

  /** The cheapest lane expected to meet the deadline (see the module comment). */
  async plan(input: PlanInput): Promise<LanePlan> {
    const now = Date.now();
    const provider = providerOfGroup(input.group);
    const margin = this.runtime.config.deadlines.marginMs;
    const [toFlush, turnaround] = await Promise.all([
      input.toFlushMs ?? this.timeToFlushMs(input.partition, input.group, input.queued),
      this.turnaroundMs(provider, modelOfGroup(input.group)),
    ]);
    const expectedBatchAt = now + toFlush + turnaround + margin;
    const lanes = this.lanesFor(input.group, input.tenant);
    const left = input.deadlineAt - now;
    let lane: Lane = 'batch';
    if (!(lanes.includes('batch') && expectedBatchAt <= input.deadlineAt)) {
      const fast = fastLaneFor(lanes, left, margin);
      if (fast) lane = fast;
      else if (!lanes.includes('batch')) lane = lanes[0] ?? 'batch';
    }
    return { lane, expectedBatchAt, provider };
  }
}

/**
 * The fast lane for a request with `leftMs` to its deadline, among the lanes it may use: flex when allowed and there
 * is time for it (or realtime is not allowed), else realtime when allowed, else none.
 */
export function fastLaneFor(lanes: readonly Lane[], leftMs: number, marginMs: number): FastLane | undefined {
  if (lanes.includes('flex') && (leftMs >= FLEX_EXPECTED_MS + marginMs || !lanes.includes('realtime'))) return 'flex';
  return lanes.includes('realtime') ? 'realtime' : undefined;
}

/** Whether a lane is a fast (synchronous) one. */
export function isFastLane(lane: Lane): lane is FastLane {
  return lane === 'flex' || lane === 'realtime';
}
