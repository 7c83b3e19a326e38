// Public surface of @batchbridge/dispatcher: the webhook delivery service (SPEC §4).
export {
  createDeliverProcessor,
  type DeliverProcessor,
  type DeliverProcessorDeps,
  type DeliverResult,
} from './deliver-processor.js';
export { type DispatcherOptions, startDispatcher } from './dispatcher.js';
export { DeliveryRetryError } from './errors.js';
