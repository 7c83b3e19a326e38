// Public surface of @batchbridge/webhooks: who may receive webhooks, how they are signed, sent, retried and received.
export {
  type AddressPolicy,
  type AddressPolicyOptions,
  type AddressVerdict,
  createAddressPolicy,
  parseCidrList,
} from './address-policy.js';
export {
  type CallbackUrlErrorCode,
  type CallbackUrlValidation,
  MAX_CALLBACK_URL_LENGTH,
  type ValidateCallbackUrlOptions,
  validateCallbackUrl,
} from './callback-url.js';
export { AddressRefusedError } from './errors.js';
export {
  createFairShareLimiter,
  createHostLimiter,
  type FairShareLimiter,
  type FairShareOptions,
  type HostLimiter,
  type HostLimiterOptions,
  hostKey,
  type ReleaseSlot,
} from './host-limiter.js';
export {
  type ReceivedWebhook,
  startWebhookReceiver,
  type WaitForOptions,
  type WebhookReceiver,
  type WebhookReceiverOptions,
  type WebhookResponder,
  type WebhookResponse,
} from './receiver.js';
export { type ResolveHost, resolveHostWithDns } from './resolve-host.js';
export {
  createWebhookSender,
  type DeliveryOutcome,
  type DeliveryRequest,
  type DeliveryResult,
  type WebhookSender,
  type WebhookSenderOptions,
} from './sender.js';
export {
  generateWebhookSecret,
  type SignWebhookInput,
  signWebhook,
  verifyWebhook,
  type WebhookHeaders,
  type WebhookRefusal,
} from './sign.js';
