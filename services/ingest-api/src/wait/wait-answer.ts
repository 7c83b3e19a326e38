/**
 * What a request that waited is answered (transparent mode, SPEC §8): the provider's own answer when it finished, so an
 * unchanged OpenAI client reads it as if it had called the provider, else the asynchronous 202.
 */
import type { RequestObject } from '@batchbridge/domain';

export interface WaitAnswer {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

/** The answer for a request that finished while the client waited (`waitedS` is the wait that was applied). */
export function finishedAnswer(request: RequestObject, waitedS: number): WaitAnswer {
  const headers = { 'Preference-Applied': `wait=${waitedS}`, 'X-Request-ID': request.id };
  const response = request.response;
  if (request.status === 'completed' && response) {
    return { status: 200, headers, body: response.body };
  }
  if (request.status === 'cancelled') {
    return {
      status: 409,
      headers,
      body: openAiError('request_cancelled', `request ${request.id} was cancelled before it was sent upstream`),
    };
  }
  // A line the provider refused (a 4xx): its status and error body, as a direct call would have answered.
  if (response && response.status_code >= 400 && response.status_code < 500) {
    return { status: response.status_code, headers, body: response.body };
  }
  const code = request.error?.code ?? 'request_failed';
  return {
    status: 502,
    headers,
    body: openAiError(code, request.error?.message ?? `request ${request.id} failed upstream`, 'server_error'),
  };
}

/** The answer when the wait ran out first: the request goes on and can be fetched, or awaited again, at Location. */
export function pendingAnswer(request: RequestObject, waitedS: number): WaitAnswer {
  return {
    status: 202,
    headers: {
      'Preference-Applied': `wait=${waitedS}`,
      'X-Request-ID': request.id,
      Location: `/v1/requests/${request.id}`,
    },
    body: request,
  };
}

function openAiError(code: string, message: string, type = 'invalid_request_error') {
  return { error: { message, type, param: null, code } };
}
