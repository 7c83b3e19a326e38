export {
  choosePartition,
  isRequestId,
  newFlushId,
  newRequestId,
  partitionOfRequestId,
  webhookIdFor,
} from './ids.js';
export { KeySpace, type PartitionId, PartitionKeys } from './keys.js';
export {
  canTransition,
  FAILURE_CODES,
  type FailureCode,
  isTerminal,
  OPEN_STATUSES,
  REQUEST_STATUSES,
  type RequestStatus,
  TERMINAL_STATUSES,
  TRANSITIONS,
} from './lifecycle.js';
export {
  batchLine,
  estimateInputTokens,
  groupFor,
  modelOfGroup,
  outcomeType,
  parseRecord,
  type RequestObject,
  type RequestRecord,
  toRequestObject,
} from './request-record.js';
export {
  type BatchOutcomes,
  type BatchRecord,
  type ClaimResult,
  type EnqueueResult,
  type FlushLimits,
  type FlushRecord,
  type GroupStats,
  type ModelSavings,
  type NewRequest,
  RequestStore,
  type SettleKind,
  type SettleOutcome,
  type StoreOptions,
} from './store.js';
