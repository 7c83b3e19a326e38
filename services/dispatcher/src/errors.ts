// Error classes of the dispatcher, each with a stable string code.
import { BatchbridgeError } from '@batchbridge/errors';
import type { RetryAfterCarrier } from '@batchbridge/queues';

/**
 * Thrown by the deliver processor when an attempt failed and another one is due. BullMQ stores its message as the
 * job's failure reason, so the message says only what the receiver did (status or connection error): never the URL,
 * the body or a secret. `retryAfterMs` (the receiver's Retry-After) is honoured by the `webhook` backoff strategy.
 */
export class DeliveryRetryError extends BatchbridgeError implements RetryAfterCarrier {
  readonly retryAfterMs: number | undefined;
  /** The delay the processor chose for the next attempt (shown in the delivery log); the backoff strategy uses it. */
  readonly delayMs: number | undefined;

  constructor(message: string, retryAfterMs?: number, delayMs?: number) {
    super('dispatcher.delivery_retry', message);
    this.retryAfterMs = retryAfterMs;
    this.delayMs = delayMs;
  }
}
