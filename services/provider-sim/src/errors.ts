/**
 * OpenAI-shaped API errors: `{"error":{"message","type","param","code"}}`, thrown by handlers and rendered by the
 * app's error middleware.
 */
import { BatchbridgeError } from '@batchbridge/errors';

/** The `error` member of an OpenAI error response. */
export interface OpenAIErrorBody {
  message: string;
  type: string;
  param: string | null;
  code: string | null;
}

/** The error `type` OpenAI uses for a status code. */
export function errorTypeForStatus(status: number): string {
  if (status === 429) return 'requests';
  if (status === 401) return 'invalid_request_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

/** The body OpenAI sends with a given status when nothing more specific applies. */
export function errorBodyForStatus(status: number, message?: string): OpenAIErrorBody {
  const defaults: Record<number, [string, string | null]> = {
    400: ['Invalid request.', null],
    401: ['Incorrect API key provided.', 'invalid_api_key'],
    403: ['You are not allowed to sample from this model.', null],
    404: ['Not found.', null],
    409: ['Conflict.', null],
    422: ['Unprocessable request.', null],
    429: ['Rate limit reached for requests.', 'rate_limit_exceeded'],
    500: ['The server had an error while processing your request. Sorry about that!', null],
    502: ['Bad gateway.', null],
    503: ['The server is overloaded or not ready yet.', null],
  };
  const [fallbackMessage, code] = defaults[status] ?? [`Simulated error ${status}.`, null];
  return { message: message ?? fallbackMessage, type: errorTypeForStatus(status), param: null, code };
}

export interface SimHttpErrorOptions {
  type?: string;
  param?: string | null;
  code?: string | null;
  headers?: Record<string, string>;
}

/** An error that becomes an OpenAI-shaped HTTP response. */
export class SimHttpError extends BatchbridgeError {
  readonly status: number;
  readonly body: OpenAIErrorBody;
  readonly headers: Record<string, string>;

  constructor(status: number, message: string, options: SimHttpErrorOptions = {}) {
    super('sim.http_error', message);
    this.status = status;
    const base = errorBodyForStatus(status, message);
    this.body = {
      message,
      type: options.type ?? base.type,
      param: options.param ?? null,
      code: options.code === undefined ? base.code : options.code,
    };
    this.headers = options.headers ?? {};
  }
}

export function invalidRequest(message: string, param: string | null = null, code: string | null = null): SimHttpError {
  return new SimHttpError(400, message, { param, code });
}

export function notFound(message: string): SimHttpError {
  return new SimHttpError(404, message, { code: null });
}
