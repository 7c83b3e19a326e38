export {
  backoffStrategy,
  type ProviderBackoffOptions,
  providerBackoff,
  type RetryAfterCarrier,
  webhookBackoff,
} from './backoff.js';
export {
  DeliverJob,
  type DeliverJobData,
  FlushJob,
  type FlushJobData,
  jobIds,
  LaneJob,
  type LaneJobData,
  lanePriority,
  OperationalEvent,
  type OperationalEventData,
  PollJob,
  type PollJobData,
  QUEUE_KINDS,
  QUEUES,
  type QueueCatalog,
  type QueueDefinition,
  type QueueKind,
} from './catalog.js';
export { OutboxRelay } from './outbox.js';
export { type PollNowOptions, type PollNowResult, pollNow } from './poll-now.js';
export { PartitionedQueues, startWorkers } from './queues.js';
export { type Sweep, startWorkerGroup, type WorkerGroup, type WorkerGroupOptions } from './worker-group.js';
