// Error classes of the webhooks package, each with a stable string code.
import { BatchbridgeError } from '@batchbridge/errors';

/** Thrown (inside the HTTP client) when a callback host is, or resolves to, an address the policy refuses. */
export class AddressRefusedError extends BatchbridgeError {
  constructor(
    readonly host: string,
    readonly address: string,
    readonly reason: string,
  ) {
    super(
      'webhooks.address_refused',
      host === address
        ? `${address} is not allowed (${reason})`
        : // Never the resolved address or its kind: a tenant reads this, and it would map internal DNS (issue 16.7).
          `${host} resolves to an address that is not allowed (not a public address)`,
    );
  }
}
