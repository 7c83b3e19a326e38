export {
  BATCH_STATUSES,
  type BatchStatus,
  type FindBatchOptions,
  FLUSH_METADATA_KEY,
  type FlushBatchLookup,
  findBatchByFlushId,
  isTerminalBatch,
  normalizeBatch,
  type ProviderBatch,
  ProviderBatchSchema,
  TERMINAL_BATCH_STATUSES,
} from './batch.js';
export { createProviderClient, operationOf, type ProviderClientOptions } from './client.js';
export {
  classifyProviderError,
  ProviderError,
  type ProviderErrorInfo,
  toProviderError,
} from './errors.js';
export { judgeLine, type LineVerdict, RETRYABLE_LINE_CODES, type ResultLine, ResultLineSchema } from './result-line.js';
