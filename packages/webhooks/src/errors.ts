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
        : `${host} resolves to ${address}, which is not allowed (${reason})`,
    );
  }
}
