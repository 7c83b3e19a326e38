// Error classes of the webhooks package, each with a stable string code.

/** Thrown (inside the HTTP client) when a callback host is, or resolves to, an address the policy refuses. */
export class AddressRefusedError extends Error {
  readonly code = 'webhooks:address_refused';
  override readonly name = 'AddressRefusedError';

  constructor(
    readonly host: string,
    readonly address: string,
    readonly reason: string,
  ) {
    super(
      host === address
        ? `${address} is not allowed (${reason})`
        : // Never the resolved address or its kind: a tenant reads this, and it would map internal DNS (issue 16.7).
          `${host} resolves to an address that is not allowed (not a public address)`,
    );
  }
}
