export {
  type BatchInputFile,
  type CreateBatchParams,
  flushFileName,
  type ProviderAdapter,
  type RealtimeCall,
  type ResultSource,
} from './adapter.js';
// Registers the `anthropic` protocol's factory (after the registry, which the module imports).
export {
  AnthropicAdapter,
  type AnthropicAdapterOptions,
  anthropicAdapterFactory,
  toProviderBatch as anthropicToProviderBatch,
} from './anthropic/adapter.js';
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
  terminalAtMs,
} from './batch.js';
export { createProviderClient, operationOf, type ProviderClientOptions } from './client.js';
export { downloadFetch, nodeBodyOf, responseHeaders } from './download-fetch.js';
export {
  classifyProviderError,
  ProviderError,
  type ProviderErrorInfo,
  toProviderError,
} from './errors.js';
export { type HealthHooks, type HealthOp, withHealth } from './health.js';
// Registers the `mistral` protocol's factory.
export {
  fromMistralJob,
  MISTRAL_STATUSES,
  MistralAdapter,
  type MistralAdapterOptions,
  type MistralBatchJob,
  mistralAdapterFactory,
  timeoutHours,
  writeMistralInput,
} from './mistral-adapter.js';
export { OpenAIAdapter, type OpenAIAdapterOptions } from './openai-adapter.js';
export {
  type AdapterContext,
  type AdapterFactory,
  adapterFactoryFor,
  defaultAdapter,
  openAIAdapterFactory,
  ProviderRegistry,
  providerLabel,
  registerAdapterFactory,
} from './registry.js';
export { judgeLine, type LineVerdict, RETRYABLE_LINE_CODES, type ResultLine, ResultLineSchema } from './result-line.js';
