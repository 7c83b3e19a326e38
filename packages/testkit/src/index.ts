// The receiver moved to @batchbridge/webhooks (the demo ships it); re-exported for the tests that import it from here.

export {
  deletePrefixKeys,
  freshPrefix,
  type StartRedisOptions,
  sharedRedisUrl,
  startRedis,
  TEST_REDIS_URL_ENV,
  type TestRedis,
  takeCreatedPrefixes,
  testRedisUrl,
} from '@batchbridge/test-redis';
export {
  type ReceivedWebhook,
  startWebhookReceiver,
  type WaitForOptions,
  type WebhookReceiver,
  type WebhookReceiverOptions,
  type WebhookResponder,
  type WebhookResponse,
} from '@batchbridge/webhooks';
export { newRequestFixture, type RequestFixtureOptions } from './fixtures.js';
export {
  chatRequestBody,
  counterValue,
  enqueueRequests,
  records,
  type SubmitOptions,
  type SubmittedBatch,
  submitQueued,
  submitRequests,
  type TestRequest,
  waitRouted,
} from './mini-packer.js';
export { deliverAgain, jobOutcome, makeOutcomes, type OutcomeSpec, redeliver } from './outcomes.js';
export { type StartRedisClusterOptions, startRedisCluster, type TestRedisCluster } from './redis-cluster.js';
export { type StartRedisSentinelOptions, startRedisSentinel, type TestRedisSentinel } from './redis-sentinel.js';
export { createTestRuntime, TEST_TENANTS, type TestRuntime, type TestRuntimeOptions } from './test-runtime.js';
export { waitFor } from './wait-for.js';
