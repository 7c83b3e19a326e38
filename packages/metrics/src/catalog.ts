/**
 * The metrics catalogue: every batchbridge metric, its type, labels and buckets, in one place. The README's metrics
 * table mirrors this file. Label values are bounded: reasons, outcomes, states, provider and model names — never
 * request ids; a tenant label only when METRICS_TENANT_LABEL is on.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const LONG_SECONDS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14_400, 43_200, 86_400];

export function createMetricsCatalog(registry: Registry) {
  const registers = [registry];
  const catalog = {
    requestsAccepted: new Counter({
      name: 'batchbridge_requests_accepted_total',
      help: 'Chat requests accepted (answered 202).',
      labelNames: ['tenant'] as const,
      registers,
    }),
    requestsRejected: new Counter({
      name: 'batchbridge_requests_rejected_total',
      help: 'Requests refused at intake, by reason (invalid, unauthorized, model, rate_limited, quota, capacity, callback_url, too_large, unavailable, ...).',
      labelNames: ['reason'] as const,
      registers,
    }),
    facadeLinesUploaded: new Counter({
      name: 'batchbridge_facade_lines_uploaded_total',
      help: 'Lines of Batch API input files uploaded and checked (POST /v1/files, purpose=batch).',
      registers,
    }),
    facadeBatchesCreated: new Counter({
      name: 'batchbridge_facade_batches_created_total',
      help: 'Batch API batches created (POST /v1/batches), by status at creation (validating, or failed when a line does not match the endpoint).',
      labelNames: ['status'] as const,
      registers,
    }),
    waitOutcomes: new Counter({
      name: 'batchbridge_wait_outcomes_total',
      help: 'Requests that held their connection for the outcome (Prefer: wait), by how the wait ended: finished (answered with the outcome), timeout (202 after the wait), aborted (the client went away), closed (shutdown).',
      labelNames: ['outcome'] as const,
      registers,
    }),
    waitRetriesJoined: new Counter({
      name: 'batchbridge_wait_retries_joined_total',
      help: 'SDK retries (X-Stainless-Retry-Count ≥ 1, no Idempotency-Key) of a waiting request that joined the request their first attempt created instead of creating another.',
      registers,
    }),
    waitingConnections: new Gauge({
      name: 'batchbridge_waiting_connections',
      help: 'Connections of this process currently held waiting for their request outcome (Prefer: wait).',
      registers,
    }),
    requestsByState: new Gauge({
      name: 'batchbridge_requests',
      help: 'Requests currently in each non-terminal state (queued, batched, submitted), summed over partitions.',
      labelNames: ['state'] as const,
      registers,
    }),
    httpRequestDuration: new Histogram({
      name: 'batchbridge_http_request_duration_seconds',
      help: 'Ingest API request duration by route and status class.',
      labelNames: ['route', 'status'] as const,
      buckets: SECONDS,
      registers,
    }),
    batchFlushes: new Counter({
      name: 'batchbridge_batch_flushes_total',
      help: 'Batches flushed by the packer, by trigger (count, bytes, tokens, inputs, age, forced).',
      labelNames: ['reason'] as const,
      registers,
    }),
    batchRequests: new Histogram({
      name: 'batchbridge_batch_requests',
      help: 'Requests per flushed batch.',
      buckets: [1, 10, 100, 500, 1_000, 5_000, 10_000, 25_000, 50_000],
      registers,
    }),
    batchBytes: new Histogram({
      name: 'batchbridge_batch_bytes',
      help: 'Bytes of the JSONL input file per flushed batch.',
      buckets: [1e3, 1e4, 1e5, 1e6, 1e7, 5e7, 1e8, 2e8],
      registers,
    }),
    batchesSubmitted: new Counter({
      name: 'batchbridge_batches_submitted_total',
      help: 'Provider batches created (or adopted after a crash).',
      labelNames: ['provider', 'model'] as const,
      registers,
    }),
    flushesHeld: new Counter({
      name: 'batchbridge_flushes_held_total',
      help: "Flush runs that stopped without creating a batch to keep I2: reason undecided (the provider's batch list could not tell whether one exists) or stale_run (a newer run of the flush took over).",
      labelNames: ['reason'] as const,
      registers,
    }),
    batchesSplit: new Counter({
      name: 'batchbridge_batches_split_total',
      help: 'Provider batches that failed as a whole without naming a line, whose requests were split in two groups to isolate the cause (their attempts given back).',
      registers,
    }),
    batchesFinished: new Counter({
      name: 'batchbridge_batches_finished_total',
      help: 'Provider batches that reached a terminal status and were routed.',
      labelNames: ['provider', 'status'] as const,
      registers,
    }),
    batchDuration: new Histogram({
      name: 'batchbridge_batch_duration_seconds',
      help: 'Time from batch submission to its terminal status.',
      labelNames: ['provider'] as const,
      buckets: LONG_SECONDS,
      registers,
    }),
    results: new Counter({
      name: 'batchbridge_results_total',
      help: 'Result lines routed, by outcome (completed, failed, retried, unknown, stale).',
      labelNames: ['outcome'] as const,
      registers,
    }),
    schemaRejected: new Counter({
      name: 'batchbridge_schema_validation_failures_total',
      help: "Answers that broke their request's JSON schema (structured outputs, SPEC §14): each is batched again, or fails the request with schema_validation_failed after MAX_ATTEMPTS.",
      registers,
    }),
    webhookDeliveries: new Counter({
      name: 'batchbridge_webhook_deliveries_total',
      help: 'Webhook delivery attempts, by outcome (delivered, retry, gone, aborted, refused, dead_letter, skipped, aggregated: buffered for an aggregated delivery).',
      labelNames: ['outcome'] as const,
      registers,
    }),
    webhookBodyChanged: new Counter({
      name: 'batchbridge_webhook_body_changed_total',
      help: "Webhook attempts whose body, rebuilt from the terminal record, is not the first attempt's (its mark names a format this version cannot build, or does not match): sent anyway under the same webhook-id. Expected 0.",
      registers,
    }),
    webhookDeliveryDuration: new Histogram({
      name: 'batchbridge_webhook_delivery_duration_seconds',
      help: 'Duration of one webhook delivery attempt.',
      buckets: SECONDS,
      registers,
    }),
    webhookCircuit: new Counter({
      name: 'batchbridge_webhook_circuit_total',
      help: 'Endpoint health events: opened (consecutive failures), delayed (a delivery waited for an open circuit), probe, closed, disabled.',
      labelNames: ['event'] as const,
      registers,
    }),
    webhookEvents: new Counter({
      name: 'batchbridge_webhook_operational_events_total',
      help: "Operational events for tenants' operations_url, by type and outcome (queued, delivered, retry, failed).",
      labelNames: ['type', 'outcome'] as const,
      registers,
    }),
    webhookFairParked: new Counter({
      name: 'batchbridge_webhook_fair_share_parked_total',
      help: "Deliveries that waited because their tenant held its fair share of a partition's delivery slots.",
      registers,
    }),
    webhookReplays: new Counter({
      name: 'batchbridge_webhook_replayed_total',
      help: 'Outcomes queued for redelivery by replay jobs (POST /v1/deliveries/replay).',
      registers,
    }),
    webhookDeliveriesPending: new Gauge({
      name: 'batchbridge_webhook_deliveries_pending',
      help: 'Outcome deliveries per state of the bulk delivery structure (issue 26): due (waiting for their time or a dispatcher; retries and parked ones included) and leased (claimed by a dispatcher, being sent).',
      labelNames: ['state'] as const,
      registers,
    }),
    webhookLeasesReclaimed: new Counter({
      name: 'batchbridge_webhook_leases_reclaimed_total',
      help: 'Claimed deliveries whose lease ran out (their dispatcher died or stalled) and that went back to due.',
      registers,
    }),
    webhookDeadLetters: new Gauge({
      name: 'batchbridge_webhook_dead_letters',
      help: 'Outcomes whose delivery gave up after the last attempt and await a redeliver.',
      registers,
    }),
    requestTurnaround: new Histogram({
      name: 'batchbridge_request_turnaround_seconds',
      help: 'Time from acceptance (202) to the first successful delivery of the outcome.',
      buckets: LONG_SECONDS,
      registers,
    }),
    laneDecisions: new Counter({
      name: 'batchbridge_lane_decisions_total',
      help: 'Requests with a deadline given a lane at intake (SPEC §10), by lane (batch, flex, realtime) and provider.',
      labelNames: ['lane', 'provider'] as const,
      registers,
    }),
    laneMoves: new Counter({
      name: 'batchbridge_lane_moves_total',
      help: 'Queued requests moved to a faster lane by the deadline pass because their batch expectation turned bad, by from, to and provider.',
      labelNames: ['from', 'to', 'provider'] as const,
      registers,
    }),
    escalationCancels: new Counter({
      name: 'batchbridge_escalation_cancels_total',
      help: 'Live provider batches the deadline scheduler asked to cancel because their at-risk share passed ESCALATE_CANCEL_AT_RISK_SHARE (SPEC §10), by provider and result (requested, refused, error).',
      labelNames: ['provider', 'result'] as const,
      registers,
    }),
    escalatedRequests: new Counter({
      name: 'batchbridge_escalated_requests_total',
      help: 'At-risk requests of batches cancelled by the deadline scheduler, marked for a faster lane once the cancel is confirmed (those the partial output answers settle from it), by lane and provider.',
      labelNames: ['lane', 'provider'] as const,
      registers,
    }),
    laneCallsAfterStall: new Counter({
      name: 'batchbridge_lane_calls_after_stall_total',
      help: 'Fast-lane calls made by a job that stalled before (its worker died or lost its lock, perhaps mid-call): the provider may have answered and charged the earlier call too; one answer is settled. By lane and provider.',
      labelNames: ['lane', 'provider'] as const,
      registers,
    }),
    laneCalls: new Counter({
      name: 'batchbridge_lane_calls_total',
      help: 'Synchronous provider calls of the fast lanes, by lane, provider and result (ok, rejected, rate_limited, unavailable, error).',
      labelNames: ['lane', 'provider', 'result'] as const,
      registers,
    }),
    laneBudgetWaits: new Counter({
      name: 'batchbridge_lane_budget_waits_total',
      help: 'Fast-lane calls that found the provider budget (requests/tokens per minute, concurrency, Retry-After) used up and waited, by lane and provider.',
      labelNames: ['lane', 'provider'] as const,
      registers,
    }),
    laneInflight: new Gauge({
      name: 'batchbridge_lane_inflight',
      help: 'Fast-lane calls in flight at a provider, all replicas (its concurrency budget in use). Refreshed at each scrape.',
      labelNames: ['provider'] as const,
      registers,
    }),
    deadlineOutcomes: new Gauge({
      name: 'batchbridge_deadline_outcomes',
      help: 'Finished requests with a deadline, by lane, provider, model and outcome (met, missed), all replicas (a running count kept in Redis). Refreshed at each scrape.',
      labelNames: ['lane', 'provider', 'model', 'outcome'] as const,
      registers,
    }),
    batchTurnaround: new Histogram({
      name: 'batchbridge_batch_turnaround_seconds',
      help: 'Observed provider batch turnaround (submitted to routed), by provider: what the deadline scheduler predicts with (p90 of the last 50 per provider and model).',
      labelNames: ['provider'] as const,
      buckets: LONG_SECONDS,
      registers,
    }),
    providerEvents: new Counter({
      name: 'batchbridge_provider_events_total',
      help: "Providers' batch events (POST /v1/provider-events/{provider}, SPEC §13), by step: received; verified (signature good and fresh) or refused (401: unsigned, forged or stale); then duplicate (event id seen before), ignored (not a batch event), unknown_batch, or polled (the batch's poll job run at once).",
      labelNames: ['provider', 'outcome'] as const,
      registers,
    }),
    providerTerminalToDelivery: new Histogram({
      name: 'batchbridge_provider_terminal_to_delivery_seconds',
      help: "Time from the provider's terminal status of a batch (its completed_at, failed_at, expired_at or cancelled_at) to the first successful delivery of each of its outcomes: what push (SPEC §13) shortens.",
      labelNames: ['provider'] as const,
      buckets: [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600],
      registers,
    }),
    providerCircuitOpen: new Gauge({
      name: 'batchbridge_provider_circuit_open',
      help: 'Per provider (SPEC §11): 1 while its circuit is open (new flushes go to another provider that serves the model), else 0. Refreshed at each scrape.',
      labelNames: ['provider'] as const,
      registers,
    }),
    providerCallFailures: new Gauge({
      name: 'batchbridge_provider_consecutive_failures',
      help: 'Per provider and operation (upload, create, poll, download): failed calls in a row, as the circuit counts them. Refreshed at each scrape.',
      labelNames: ['provider', 'operation'] as const,
      registers,
    }),
    providerFailovers: new Counter({
      name: 'batchbridge_provider_failovers_total',
      help: "Flushes sent to another provider than the one their group was routed to, because that one's circuit was open.",
      labelNames: ['from', 'to'] as const,
      registers,
    }),
    upstreamRequests: new Counter({
      name: 'batchbridge_upstream_requests_total',
      help: 'Calls to the provider API, by operation and HTTP status (or "error" when no status came back).',
      labelNames: ['operation', 'status'] as const,
      registers,
    }),
    upstreamRequestDuration: new Histogram({
      name: 'batchbridge_upstream_request_duration_seconds',
      help: 'Duration of calls to the provider API, by operation.',
      labelNames: ['operation'] as const,
      buckets: SECONDS,
      registers,
    }),
    queueJobs: new Gauge({
      name: 'batchbridge_queue_jobs',
      help: 'BullMQ jobs per queue and state, summed over partitions.',
      labelNames: ['queue', 'state'] as const,
      registers,
    }),
    costUsd: new Counter({
      name: 'batchbridge_cost_usd_total',
      help: 'What answered requests cost at the price table, in their lane (SPEC §15); unpriced answers add nothing.',
      labelNames: ['lane', 'provider', 'model', 'tenant'] as const,
      registers,
    }),
    savedUsd: new Counter({
      name: 'batchbridge_saved_usd_total',
      help: 'What answered requests saved against realtime prices (realtime cost − cost in their lane).',
      labelNames: ['lane', 'provider', 'model', 'tenant'] as const,
      registers,
    }),
    budgetRefused: new Counter({
      name: 'batchbridge_budget_refused_total',
      help: 'Requests refused at intake with 429 budget_exceeded, by budget period (month, day).',
      labelNames: ['period'] as const,
      registers,
    }),
    estimatedSavings: new Counter({
      name: 'batchbridge_estimated_savings_usd_total',
      help: 'Estimated money saved against realtime prices (tokens x price difference from the price table).',
      labelNames: ['model'] as const,
      registers,
    }),
  };
  // Rare events still get a series at 0, so a dashboard or alert can tell "never happened" from "not exposed".
  for (const reason of ['undecided', 'stale_run'] as const) catalog.flushesHeld.inc({ reason }, 0);
  for (const status of ['validating', 'failed'] as const) catalog.facadeBatchesCreated.inc({ status }, 0);
  for (const event of ['opened', 'delayed', 'probe', 'closed', 'disabled'] as const) {
    catalog.webhookCircuit.inc({ event }, 0);
  }
  for (const period of ['month', 'day'] as const) catalog.budgetRefused.inc({ period }, 0);
  for (const type of ['endpoint.disabled', 'message.attempt.exhausted', 'budget.threshold'] as const) {
    catalog.webhookEvents.inc({ type, outcome: 'queued' }, 0);
  }
  return catalog;
}

export type MetricsCatalog = ReturnType<typeof createMetricsCatalog>;
