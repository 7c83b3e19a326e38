/** What the client throws when batchbridge answers with an error, or cannot be reached. */

/** An error answer of batchbridge (OpenAI-shaped `{"error":{"message","type","param","code"}}`), or no answer at all. */
export class BatchbridgeError extends Error {
  override readonly name = 'BatchbridgeError';
  /** The HTTP status; 0 when no answer came (connection refused, timeout). */
  readonly status: number;
  /** The error `code` of the answer (e.g. `model_not_found`, `idempotency_key_reused`), or `connection_error`. */
  readonly code: string;
  readonly type: string;
  readonly param: string | null;
  /** The answer's headers (e.g. `retry-after`); empty without an answer. */
  readonly headers: Record<string, string>;

  constructor(init: {
    status: number;
    code: string;
    message: string;
    type?: string;
    param?: string | null;
    headers?: Record<string, string>;
    cause?: unknown;
  }) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.status = init.status;
    this.code = init.code;
    this.type = init.type ?? (init.status === 0 ? 'connection_error' : 'api_error');
    this.param = init.param ?? null;
    this.headers = init.headers ?? {};
  }

  /** Whether sending the same request again (with the same Idempotency-Key) may succeed. */
  get retryable(): boolean {
    return this.status === 0 || this.status === 408 || this.status === 429 || this.status >= 500;
  }
}

/** Reads an error answer into a BatchbridgeError (any body: JSON error, other JSON, text). */
export async function errorFromResponse(res: Response): Promise<BatchbridgeError> {
  const text = await res.text().catch(() => '');
  let parsed: { error?: { message?: unknown; type?: unknown; param?: unknown; code?: unknown } } | undefined;
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    parsed = undefined;
  }
  const e = parsed?.error;
  const headers: Record<string, string> = {};
  res.headers.forEach((value, key) => {
    headers[key] = value;
  });
  return new BatchbridgeError({
    status: res.status,
    code: typeof e?.code === 'string' ? e.code : `http_${res.status}`,
    message:
      typeof e?.message === 'string'
        ? e.message
        : `batchbridge answered ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`,
    type: typeof e?.type === 'string' ? e.type : 'api_error',
    param: typeof e?.param === 'string' ? e.param : null,
    headers,
  });
}
