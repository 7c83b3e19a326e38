export type { BatchWebhookEvent, BatchWebhookEventType } from '@batchbridge/client';
export { type AggregateEnvelope, Aggregates, callbackUrlHash } from './aggregates.js';
export {
  type BatchOutcomes,
  type BatchPoll,
  type BatchRecord,
  BatchStore,
  type PollRecorded,
} from './batch-store.js';
export { billItemFor } from './billing.js';
export { DeadLetters } from './dead-letters.js';
export {
  type ClaimedDelivery,
  Deliveries,
  type DeliveryClaim,
  type DeliveryCompletion,
  deliveryMember,
  parseDeliveryMember,
} from './deliveries.js';
export {
  type EndpointGate,
  EndpointHealth,
  type EndpointHealthOptions,
  type EndpointResult,
  type EndpointState,
} from './endpoint-health.js';
export {
  countInputs,
  DEFAULT_GROUP_PROVIDER,
  ENDPOINTS,
  type Endpoint,
  endpointOfGroup,
  estimateEndpointTokens,
  groupPart,
  isEndpoint,
  providerOfGroup,
  providerPartOf,
  windowOfGroup,
  withWindow,
} from './endpoints.js';
export {
  encodeFacadeLine,
  FACADE_CHUNK_BYTES,
  FACADE_CHUNK_LINES,
  type FacadeBatchRecord,
  type FacadeFileRecord,
  type FacadeLine,
  type FacadeLineResult,
  FacadeStore,
} from './facade-store.js';
export {
  CLAIM_SLICE,
  type ClaimResult,
  type FlushLimits,
  type FlushRecord,
  FlushStore,
  type GroupStats,
  StaleFlushRunError,
} from './flush-store.js';
export {
  choosePartition,
  FACADE_LINE_ID_LIMIT,
  facadeLineId,
  facadePartition,
  isFacadeBatchId,
  isRequestId,
  newFacadeBatchId,
  newFacadeFileId,
  newFlushId,
  newRequestId,
  parseResultFileId,
  partitionOfFacadeId,
  partitionOfRequestId,
  resultFileId,
  webhookIdFor,
} from './ids.js';
export { aggregateRun, JOB_ID_PREFIXES, type JobIdKind, jobIds } from './job-ids.js';
export { KeySpace, PARTITION_KEYS, type PartitionId, PartitionKeys } from './keys.js';
export {
  type DeadlineCandidate,
  type FastLane,
  type LaneBudget,
  type LaneClaim,
  LaneStore,
  type LiveDeadline,
  percentile,
  TURNAROUND_SAMPLES,
} from './lane-store.js';
export { Ledger, type ModelSavings, type UsageGroupBy, type UsageReport, type UsageRow } from './ledger.js';
export {
  BATCH_STATES,
  BATCH_TRANSITIONS,
  type BatchState,
  canTransition,
  FAILURE_CODES,
  type FailureCode,
  FINISHED_BATCH_STATES,
  FLUSH_STATES,
  FLUSH_TRANSITIONS,
  type FlushState,
  isBatchState,
  isTerminal,
  LIVE_BATCH_STATES,
  OPEN_STATUSES,
  REQUEST_STATUSES,
  type RequestStatus,
  TERMINAL_STATUSES,
  TRANSITIONS,
} from './lifecycle.js';
/** The full source of a script (prelude + includes): for tools that load it themselves (bench S12). */
export { scriptSource } from './lua.js';
export {
  type CircuitSettings,
  type CircuitState,
  type HealthOperation,
  type ProviderHealthState,
  ProviderHealthStore,
} from './provider-health.js';
export { type ReplayJob, ReplayJobs, type ReplayState, type ReplayStatusFilter } from './replays.js';
export {
  batchLine,
  type DeliveryState,
  deliveryState,
  estimateInputTokens,
  groupFor,
  isolationGroup,
  type Lane,
  modelOfGroup,
  outcomeType,
  parseRecord,
  type RequestObject,
  type RequestRecord,
  toRequestObject,
  turnaroundSeries,
} from './request-record.js';
export {
  type Billed,
  type BillItem,
  type DeliveryAttempt,
  type DeliveryAttemptInput,
  type EnqueueResult,
  ledgerDay,
  type NewRequest,
  type RequestOutcome,
  RequestStore,
  type SettleKind,
  type SettleOutcome,
  settleItemOptions,
} from './request-store.js';
export { Store } from './store.js';
export type { StoreOptions } from './store-context.js';
export { type AnswerText, answerText, structuredOutputSchema } from './structured-output.js';
export {
  buildWebhookBody,
  WEBHOOK_BODY_FORMAT,
  type WebhookBodyChoice,
  webhookBodyFor,
  webhookBodyMark,
} from './webhook-body.js';
export { type RotatedSecret, WebhookSecrets } from './webhook-secrets.js';
