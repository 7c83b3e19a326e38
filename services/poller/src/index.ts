/** @batchbridge/poller — polls live provider batches and routes every result line to its request. */
export { BatchRouter, isTokenLimitError, type RouteSummary } from './batch-router.js';
export { PollerError, type PollerErrorCode, TruncatedDownloadError } from './errors.js';
export { POLLER_HEAP_GROWING_PERCENT, type PollerOptions } from './options.js';
export { nextPollDelay } from './poll-schedule.js';
export { type SweepResult, sweepPolls } from './poll-sweep.js';
export { startPoller } from './poller.js';
