export { freshPrefix, type StartRedisOptions, sharedRedisUrl, startRedis, type TestRedis } from './redis-server.js';
export {
  type ReceivedWebhook,
  startWebhookReceiver,
  type WaitForOptions,
  type WebhookReceiver,
  type WebhookReceiverOptions,
  type WebhookResponder,
  type WebhookResponse,
} from './webhook-receiver.js';
