// Public surface of @batchbridge/errors: the error base and the Retry-After a retryable error carries.
export { BatchbridgeError, type BatchbridgeErrorOptions } from './batchbridge-error.js';
export { MAX_RETRY_AFTER_MS, parseRetryAfter } from './retry-after.js';
