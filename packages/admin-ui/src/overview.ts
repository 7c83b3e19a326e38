/**
 * What the operator page shows, read from the request store: each provider's circuit, recent provider batches (live and routed, with the
 * flush that made them), dead-lettered outcomes, the savings estimate and the request and queue counts. Read-only; no
 * prompt text or callback URL path ever leaves here (a URL's path or query may carry a receiver's token).
 */
import {
  type BatchOutcomes,
  type ModelSavings,
  modelOfGroup,
  type PartitionId,
  providerOfGroup,
} from '@batchbridge/domain';
import { QUEUE_KINDS, type QueueKind } from '@batchbridge/queues';
import type { Runtime } from '@batchbridge/runtime';

export interface BatchRow {
  partition: PartitionId;
  /** The provider's batch id. */
  id: string;
  status: string;
  live: boolean;
  model: string;
  requests: number;
  outcomes: BatchOutcomes | undefined;
  submittedAt: number;
  routedAt: number | undefined;
  flushId: string;
  /** Why the packer flushed: count, bytes, tokens, age, forced. */
  reason: string | undefined;
  bytes: number | undefined;
  /** The provider's input file id. */
  fileId: string | undefined;
}

export interface DeadLetterRow {
  id: string;
  tenant: string;
  status: string;
  model: string;
  batchId: string | undefined;
  completedAt: number | undefined;
  /** Host of the callback URL only. */
  callbackHost: string | undefined;
  errorCode: string | undefined;
  /** Why it was dead-lettered: exhausted, endpoint_disabled, refused, no_tenant. */
  reason: string | undefined;
}

/** A failing or disabled callback host of a tenant (SPEC §16). */
export interface EndpointRow {
  tenant: string;
  host: string;
  state: 'failing' | 'open' | 'disabled';
  fails: number;
  failingSince: number;
  disabledAt: number | undefined;
  lastError: string | undefined;
}

/** A tenant's ledger this month (SPEC §15) against its budgets. */
export interface TenantCostRow {
  tenant: string;
  month: string;
  usd: number;
  realtimeUsd: number;
  savedUsd: number;
  requests: number;
  unpricedRequests: number;
  monthlyBudgetUsd: number | undefined;
  dailyBudgetUsd: number | undefined;
}

/** Tenants shown in the cost table (each costs one ledger read per partition). */
const MAX_TENANT_ROWS = 200;

/** One provider's circuit (SPEC §11 failover), as every replica sees it (`G:provider:<id>`). */
export interface ProviderRow {
  id: string;
  profile: string;
  priority: number;
  state: 'closed' | 'open';
  /** The operation whose failures opened the circuit. */
  openedBy: string | undefined;
  /** Consecutive failures per operation (upload, create, poll, download). */
  failures: Record<string, number>;
  /** While open: when the next probe may go (ms). */
  probeAt: number | undefined;
  /** Times the circuit opened. */
  opened: number;
  lastFailure: string | undefined;
  lastFailureAt: number | undefined;
}

export interface Overview {
  generatedAt: number;
  /** Cost per tenant this month (UTC), largest first. */
  tenants: TenantCostRow[];
  providers: ProviderRow[];
  batches: BatchRow[];
  deadLetters: DeadLetterRow[];
  deadLetterTotal: number;
  endpoints: EndpointRow[];
  savings: { totalUsd: number; models: ModelSavings[] };
  /** Finished requests with a deadline (SPEC §10), met and missed, per lane, provider and model. */
  deadlines: DeadlineRow[];
  /** What the escalation pass did (ESCALATE_CANCEL_BATCHES, SPEC §10), per provider, all replicas. */
  escalations: EscalationRow[];
  /** Whether this deployment runs the escalation pass (ESCALATE_CANCEL_BATCHES). */
  escalateEnabled: boolean;
  requests: Record<'queued' | 'batched' | 'submitted', number>;
  queues: Record<QueueKind, Record<string, number>>;
}

export interface DeadlineRow {
  lane: string;
  provider: string;
  model: string;
  met: number;
  missed: number;
}

export interface EscalationRow {
  provider: string;
  /** Live batches it asked the provider to cancel, by what the provider answered. */
  cancels: { requested: number; refused: number; error: number };
  /** At-risk requests of those batches, marked for a fast lane once the cancel is confirmed. */
  requests: { flex: number; realtime: number };
}

export interface OverviewLimits {
  /** Batches shown. @defaultValue 50 */
  batches?: number;
  /** Dead letters shown. @defaultValue 50 */
  deadLetters?: number;
}

export async function readOverview(runtime: Runtime, limits: OverviewLimits = {}): Promise<Overview> {
  const maxBatches = limits.batches ?? 50;
  const maxDead = limits.deadLetters ?? 50;
  const { store, keys } = runtime;

  const batches: BatchRow[] = [];
  const deadIds: Array<{ p: PartitionId; id: string }> = [];
  for (const p of keys.allPartitions()) {
    const live = (await store.batches.live(p)).slice(-maxBatches);
    const liveRecords = await Promise.all(live.map((id) => store.batches.get(p, id)));
    const routed = await store.batches.recent(p, maxBatches);
    for (const b of [...liveRecords, ...routed]) {
      if (!b) continue;
      const flush = await store.flushes.get(p, b.flush_id);
      batches.push({
        partition: p,
        id: b.id,
        status: b.status,
        live: b.routed_at === undefined,
        model: modelOfGroup(b.group),
        requests: b.count,
        outcomes: b.outcomes,
        submittedAt: b.submitted_at,
        routedAt: b.routed_at,
        flushId: b.flush_id,
        reason: flush?.reason || undefined,
        bytes: flush?.bytes,
        fileId: b.file_id,
      });
    }
    for (const id of await store.deadLetters.list(p, maxDead)) deadIds.push({ p, id });
  }
  batches.sort((a, b) => b.submittedAt - a.submittedAt);

  const deadLetters: DeadLetterRow[] = [];
  for (const { id } of deadIds.slice(0, maxDead)) {
    const r = await store.requests.get(id);
    if (!r) continue;
    deadLetters.push({
      id,
      tenant: r.tenant,
      status: r.status,
      model: r.model,
      batchId: r.batch_id,
      completedAt: r.completed_at,
      callbackHost: hostOf(r.callback_url ?? runtime.tenants.get(r.tenant)?.default_callback_url),
      errorCode: r.error?.code,
      reason: r.dead_reason,
    });
  }

  const deadlines = new Map<string, DeadlineRow>();
  for (const p of keys.allPartitions()) {
    for (const [field, n] of Object.entries(await store.lanes.deadlineStats(p))) {
      const [lane = 'batch', outcome = 'met', ...rest] = field.split('|');
      const group = rest.join('|');
      const row = { lane, provider: providerOfGroup(group), model: modelOfGroup(group), met: 0, missed: 0 };
      const key = `${row.lane} ${row.provider} ${row.model}`;
      const seen = deadlines.get(key) ?? row;
      if (outcome === 'met') seen.met += n;
      else seen.missed += n;
      deadlines.set(key, seen);
    }
  }

  const escalations = new Map<string, EscalationRow>();
  for (const p of keys.allPartitions()) {
    for (const [field, n] of Object.entries(await store.lanes.escalationStats(p))) {
      const [kind, provider = '', what = ''] = field.split('|');
      const row = escalations.get(provider) ?? {
        provider,
        cancels: { requested: 0, refused: 0, error: 0 },
        requests: { flex: 0, realtime: 0 },
      };
      if (kind === 'cancels' && (what === 'requested' || what === 'refused' || what === 'error'))
        row.cancels[what] += n;
      else if (kind === 'requests' && (what === 'flex' || what === 'realtime')) row.requests[what] += n;
      escalations.set(provider, row);
    }
  }

  const models = await store.ledger.savings();
  const today = new Date().toISOString().slice(0, 10);
  const month = today.slice(0, 7);
  const tenants: TenantCostRow[] = [];
  for (const t of runtime.tenants.tenants.slice(0, MAX_TENANT_ROWS)) {
    const { total } = await store.ledger.usage(t.id, `${month}-01`, today);
    tenants.push({
      tenant: t.id,
      month,
      usd: total.usd,
      realtimeUsd: total.realtime_usd,
      savedUsd: total.saved_usd,
      requests: total.requests,
      unpricedRequests: total.unpriced_requests,
      monthlyBudgetUsd: t.monthly_budget_usd,
      dailyBudgetUsd: t.daily_budget_usd,
    });
  }
  tenants.sort((a, b) => b.usd - a.usd || a.tenant.localeCompare(b.tenant));
  const queues = {} as Record<QueueKind, Record<string, number>>;
  for (const kind of QUEUE_KINDS) queues[kind] = await runtime.queues.counts(kind);
  const providers: ProviderRow[] = [];
  for (const c of runtime.providers.configs) {
    const h = await store.providers.get(c.id);
    providers.push({
      id: c.id,
      profile: c.profile.name,
      priority: c.priority,
      state: h.state,
      openedBy: h.openedBy,
      failures: h.failures as Record<string, number>,
      probeAt: h.state === 'open' ? h.until : undefined,
      opened: h.opened,
      lastFailure: h.lastFailure,
      lastFailureAt: h.lastFailureAt,
    });
  }
  return {
    generatedAt: Date.now(),
    tenants,
    providers,
    batches: batches.slice(0, maxBatches),
    deadLetters,
    deadLetterTotal: await store.deadLetters.count(),
    endpoints: (await store.endpoints.unhealthy(undefined, 100)).map((e) => ({
      tenant: e.tenant,
      host: e.host,
      state: e.disabledAt !== undefined ? 'disabled' : (e.openUntil ?? 0) > Date.now() ? 'open' : 'failing',
      fails: e.fails,
      failingSince: e.failingSince,
      disabledAt: e.disabledAt,
      lastError: e.lastError,
    })),
    savings: { totalUsd: models.reduce((sum, m) => sum + m.usd, 0), models },
    deadlines: [...deadlines.values()].sort((a, b) => a.lane.localeCompare(b.lane) || a.model.localeCompare(b.model)),
    escalations: [...escalations.values()].sort((a, b) => a.provider.localeCompare(b.provider)),
    escalateEnabled: runtime.config.deadlines.escalate.enabled,
    requests: await store.requests.stateCounts(),
    queues,
  };
}

function hostOf(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    return new URL(url).host;
  } catch {
    return undefined;
  }
}
