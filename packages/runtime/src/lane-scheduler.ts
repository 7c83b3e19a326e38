/**
 * The deadline scheduler (SPEC §10): the cheapest lane expected to answer a request by its deadline.
 *
 *   expected batch completion = time to the group's next flush + observed batch turnaround (p90 of the last 50 batches
 *                               of that provider and model; the profile's default, or BATCH_TURNAROUND, until there
 *                               are some) + DEADLINE_MARGIN
 *
 * `batch` when that is by the deadline; else, for a provider whose completion windows are lanes of their own
 * (profile `batchWindows`: Doubleword's `1h` beside its `24h`), `batch` in the cheapest faster window expected in
 * time — the request's group in that window (`…chat.completions@1h|<model>`), each window predicted from its own
 * batches; else `flex` (batch price; where the provider has it and there is time for a slower call), else
 * `realtime`. A request whose provider and tenant allow no faster lane stays on `batch` and
 * completes late (`deadline_met: false`). Used at intake (ingest) and by the lane service's pass over queued requests.
 */
import {
  type BatchWindow,
  batchWindowsOf,
  defaultCancelConfirmMs,
  defaultTurnaroundMs,
  hasFlex,
  type Lane,
  type ProviderConfig,
  type Tenant,
} from '@batchbridge/config';
import {
  endpointOfGroup,
  type FastLane,
  modelOfGroup,
  type PartitionId,
  percentile,
  providerOfGroup,
  turnaroundSeries,
  windowOfGroup,
  withWindow,
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
  /**
   * The group whose batch lane `batch` means: the request's own, or the same group in a faster completion window
   * (the caller moves a queued request there, or enqueues a new one there).
   */
  group: string;
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

  /**
   * The lanes a request of `group` may take: its provider's, those its tenant allows; fast ones over OpenAI's API, and
   * realtime over Anthropic's Messages API (its adapter's `realtime`; Anthropic has no flex tier).
   */
  lanesFor(group: string, tenant: Tenant | undefined): Lane[] {
    const provider = this.providerConfig(providerOfGroup(group));
    const own: readonly Lane[] = provider?.lanes ?? ['batch'];
    const api = provider?.profile.api ?? 'openai';
    return own.filter((lane) => {
      if (tenant?.lanes && !tenant.lanes.includes(lane)) return false;
      if (lane === 'batch') return true;
      if (api === 'anthropic') return lane === 'realtime' && endpointOfGroup(group) === '/v1/chat/completions';
      if (api !== 'openai') return false;
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

  /**
   * The turnaround the scheduler assumes for a provider and series now (ms): the p90 of the series' observed batches,
   * else `assumeMs` (a completion window's own default), else BATCH_TURNAROUND, else the profile's default. A series
   * is a model, or `<model>@<window>` for a group in a window of its own (`turnaroundSeries`).
   */
  async turnaroundMs(providerId: string, series: string, assumeMs?: number): Promise<number> {
    const key = `${providerId}\n${series}`;
    const now = Date.now();
    const cached = this.turnaroundCache.get(key);
    if (cached && now - cached.at < TURNAROUND_CACHE_MS) return cached.ms;
    const samples = await this.runtime.store.lanes.turnarounds(providerId, series);
    const profile = this.providerConfig(providerId)?.profile ?? this.runtime.config.upstream.profile;
    const ms =
      percentile(samples, 90) ?? assumeMs ?? this.runtime.config.deadlines.turnaroundMs ?? defaultTurnaroundMs(profile);
    this.turnaroundCache.set(key, { at: now, ms });
    return ms;
  }

  /**
   * How long a batch cancel of this provider is expected to take to free its requests (ms): the p90 of the cancels
   * the escalation pass asked for and saw confirmed (marked → routed as cancelled), else the profile's
   * `cancelConfirmMs`.
   */
  async cancelDelayMs(providerId: string): Promise<number> {
    const key = `${providerId}\ncancel`;
    const now = Date.now();
    const cached = this.turnaroundCache.get(key);
    if (cached && now - cached.at < TURNAROUND_CACHE_MS) return cached.ms;
    const profile = this.providerConfig(providerId)?.profile ?? this.runtime.config.upstream.profile;
    const ms =
      percentile(await this.runtime.store.lanes.cancelDelays(providerId), 90) ?? defaultCancelConfirmMs(profile);
    this.turnaroundCache.set(key, { at: now, ms });
    return ms;
  }

  /** The turnaround assumed for a group's batches: its provider, model and completion window. */
  async groupTurnaroundMs(group: string): Promise<number> {
    const marked = windowOfGroup(group);
    const window = marked ?? this.runtime.config.batch.completionWindow;
    const own = this.windowsOf(providerOfGroup(group))?.find((w) => w.window === window)?.turnaroundMs;
    // BATCH_TURNAROUND stands for the deployment's own window; a faster one keeps its profile default.
    const assume = marked === undefined ? (this.runtime.config.deadlines.turnaroundMs ?? own) : own;
    return this.turnaroundMs(providerOfGroup(group), turnaroundSeries(group), assume);
  }

  /**
   * The completion windows of a provider that are batch lanes of their own, cheapest first, as the provider accepts
   * them; undefined for a provider with one batch lane (the deployment's COMPLETION_WINDOW).
   */
  windowsOf(providerId: string): readonly BatchWindow[] | undefined {
    const profile = this.providerConfig(providerId)?.profile ?? this.runtime.config.upstream.profile;
    return batchWindowsOf(profile)?.filter((w) => profile.completionWindows.includes(w.window));
  }

  /** `group` in `window` (no marker for the deployment's COMPLETION_WINDOW, so its groups stay as they were). */
  groupInWindow(group: string, window: string): string {
    return withWindow(group, window === this.runtime.config.batch.completionWindow ? undefined : window);
  }

  /**
   * The faster completion windows a request of `group` could still take, cheapest first: those of its provider priced
   * above its own window (never back to a cheaper, slower one: that expectation was already bad).
   */
  private fasterWindows(group: string): BatchWindow[] {
    const windows = this.windowsOf(providerOfGroup(group));
    if (!windows) return [];
    const own = windowOfGroup(group) ?? this.runtime.config.batch.completionWindow;
    const ownPrice = windows.find((w) => w.window === own)?.priceVsRealtime ?? 0;
    return windows.filter((w) => w.window !== own && w.priceVsRealtime > ownPrice);
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
      this.groupTurnaroundMs(input.group),
    ]);
    const expectedBatchAt = now + toFlush + turnaround + margin;
    const lanes = this.lanesFor(input.group, input.tenant);
    const left = input.deadlineAt - now;
    if (lanes.includes('batch') && expectedBatchAt <= input.deadlineAt) {
      return { lane: 'batch', expectedBatchAt, provider, group: input.group };
    }
    if (lanes.includes('batch')) {
      // A faster completion window of the same provider, still at a batch price (Doubleword's 1 h): the request would
      // join that window's group (not counted there yet).
      for (const w of this.fasterWindows(input.group)) {
        const group = this.groupInWindow(input.group, w.window);
        const [wFlush, wTurnaround] = await Promise.all([
          this.timeToFlushMs(input.partition, group, false),
          this.groupTurnaroundMs(group),
        ]);
        const at = now + wFlush + wTurnaround + margin;
        if (at <= input.deadlineAt) return { lane: 'batch', expectedBatchAt: at, provider, group };
      }
    }
    let lane: Lane = 'batch';
    const fast = fastLaneFor(lanes, left, margin);
    if (fast) lane = fast;
    else if (!lanes.includes('batch')) lane = lanes[0] ?? 'batch';
    return { lane, expectedBatchAt, provider, group: input.group };
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

/** How long a call of a fast lane is expected to take beyond the margin. */
export function fastLaneExpectedMs(lane: FastLane): number {
  return lane === 'flex' ? FLEX_EXPECTED_MS : REALTIME_EXPECTED_MS;
}

/** Whether a lane is a fast (synchronous) one. */
export function isFastLane(lane: Lane): lane is FastLane {
  return lane === 'flex' || lane === 'realtime';
}
