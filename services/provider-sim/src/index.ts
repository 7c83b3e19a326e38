/**
 * @batchbridge/provider-sim — an OpenAI/kluster-compatible Batch API simulator ("LocalStack for batch APIs"): the
 * embedded default upstream of batchbridge and the ground truth of its tests and benchmarks.
 */

export {
  chatJsonSchema,
  estimateTokens,
  messagesHash,
  type SimChatCompletion,
  type SimChatRequest,
  type SimMarkers,
  sampleForSchema,
  simMarkers,
  simulatedCompletion,
} from './completion.js';
export type { SimCountersSnapshot } from './counters.js';
export { createProviderSim, type ProviderSim } from './create-provider-sim.js';
export {
  DEFAULT_EMBEDDING_DIMENSIONS,
  EMBEDDING_DIMENSIONS,
  embeddingDimensions,
  float32ToBase64,
  type SimEmbeddingsRequest,
  type SimEmbeddingsResponse,
  simulatedEmbedding,
  simulatedEmbeddings,
} from './embeddings.js';
export { BATCH_ENDPOINTS, type SimEndpoint } from './endpoints.js';
export { optionsFromEnv } from './env.js';
export {
  noFaults,
  SIM_OPERATIONS,
  type SimFaults,
  type SimFaultsInput,
  type SimOperation,
  simFaultsSchema,
} from './faults.js';
export {
  DEFAULT_MODERATION_MODEL,
  MODERATION_CATEGORIES,
  type ModerationCategory,
  type SimModeration,
  type SimModerationsRequest,
  simulatedModeration,
} from './moderations.js';
export { DEFAULT_TIMINGS, FAST_TIMINGS, type ProviderSimOptions, type SimTimings } from './options.js';
export { PROFILES, type ProfileName, type SimProfile } from './profiles.js';
export {
  responseInputHash,
  type SimResponse,
  type SimResponsesRequest,
  simulatedResponse,
} from './responses.js';
export {
  type SimTextCompletion,
  type SimTextCompletionRequest,
  simulatedTextCompletion,
} from './text-completion.js';
export { type SimWebhookStats, type SimWebhookTarget, standardWebhookSignature } from './webhook-pusher.js';
