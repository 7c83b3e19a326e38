export {
  type BatchOutcomes,
  type BatchPoll,
  type BatchRecord,
  BatchStore,
  type PollRecorded,
} from './batch-store.js';
export { DeadLetters } from './dead-letters.js';
export {
  DEFAULT_GROUP_PROVIDER,
  ENDPOINTS,
  type Endpoint,
  endpointOfGroup,
  groupPart,
  isEndpoint,
  providerOfGroup,
  providerPartOf,
} from './endpoints.js';
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
  isRequestId,
  newFlushId,
  newRequestId,
  partitionOfRequestId,
  webhookIdFor,
} from './ids.js';
export { JOB_ID_PREFIXES, type JobIdKind, jobIds } from './job-ids.js';
export { KeySpace, PARTITION_KEYS, type PartitionId, PartitionKeys } from './keys.js';
export { Ledger, type ModelSavings } from './ledger.js';
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
export {
  type CircuitSettings,
  type CircuitState,
  type HealthOperation,
  type ProviderHealthState,
  ProviderHealthStore,
} from './provider-health.js';
export {
  batchLine,
  estimateInputTokens,
  groupFor,
  isolationGroup,
  modelOfGroup,
  outcomeType,
  parseRecord,
  type RequestObject,
  type RequestRecord,
  toRequestObject,
} from './request-record.js';
export {
  type EnqueueResult,
  type NewRequest,
  RequestStore,
  type SettleKind,
  type SettleOutcome,
} from './request-store.js';
export { Store } from './store.js';
export type { StoreOptions } from './store-context.js';
