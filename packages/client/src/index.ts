/**
 * `@batchbridge/client`: talk to batchbridge from an application (SPEC §17). Only `fetch` and Web APIs, no
 * dependencies: Node 20+, Deno, Bun and edge runtimes.
 *
 * - `BatchbridgeClient`: `submit` to any batchable endpoint, `get`, `wait` (long-poll), `cancel`, `redeliver`, `replay`,
 *   `models`, and the Batch API (`uploadFile`, `createBatch`, `watchBatch`, `fileContent`, `cancelBatch`);
 * - `verifyWebhook` and `webhookHandler` (express or `node:http`) for receivers, with `webhook-id` dedupe stores;
 * - the wire types: the request object and the webhook events.
 *
 * `batchOpenAI()` (the official `openai` SDK set up for transparent mode) is in `@batchbridge/client/openai`; the
 * `batchbridge` command line is this package's `bin`.
 */
export {
  type Batch,
  BatchbridgeClient,
  type BatchFile,
  type CallOptions,
  type ClientOptions,
  type CreateBatchOptions,
  isBatchFinal,
  isFinal,
  type ReplayJob,
  type ReplayOptions,
  type ReplayStatus,
  type SubmitOptions,
  type Submitted,
  type WaitOptions,
  type WatchBatchOptions,
} from './client.js';
export {
  type BodyOf,
  ENDPOINTS,
  type EndpointBodies,
  type EndpointName,
  type EndpointRef,
  endpointPath,
} from './endpoints.js';
export { BatchbridgeError } from './errors.js';
export {
  type DedupeState,
  type DedupeStore,
  type IncomingLike,
  memoryDedupeStore,
  type OutgoingLike,
  type RedisLike,
  redisDedupeStore,
  type WebhookHandlerOptions,
  webhookHandler,
} from './receiver.js';
export type {
  BatchbridgeRequest,
  BatchEndpoint,
  BatchWebhookEvent,
  BatchWebhookEventType,
  Lane,
  RequestCost,
  RequestLane,
  RequestStatus,
  RequestUsage,
  UsageAmounts,
  UsageReport,
  UsageRow,
  WebhookEvent,
  WebhookEventType,
} from './types.js';
export {
  type HeadersLike,
  type VerifiedWebhook,
  type VerifiedWebhookEvents,
  type VerifyOptions,
  verifyWebhook,
  verifyWebhookEvents,
  type WebhookVerificationCode,
  WebhookVerificationError,
} from './webhooks.js';
