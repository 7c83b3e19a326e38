// Public surface of @batchbridge/test-redis: a private Redis per test run and fresh key prefixes. Its own package (not
// part of @batchbridge/testkit) so that packages below the runtime, such as domain, can test against Redis without a
// dependency cycle (testkit depends on the runtime, which depends on them).
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
} from './redis-server.js';
