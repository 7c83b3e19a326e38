/** The batchable endpoints (SPEC §9), their short names, and the least each body must have. */
import type { BatchEndpoint } from './types.js';

/** Every endpoint batchbridge accepts, by its short name. */
export const ENDPOINTS = {
  chat: '/v1/chat/completions',
  embeddings: '/v1/embeddings',
  responses: '/v1/responses',
  completions: '/v1/completions',
  moderations: '/v1/moderations',
} as const satisfies Record<string, BatchEndpoint>;

export type EndpointName = keyof typeof ENDPOINTS;

/** An endpoint, by short name (`chat`) or path (`/v1/chat/completions`). */
export type EndpointRef = EndpointName | BatchEndpoint;

/** The path of `/v1/…` for a short name or a path; `undefined` for anything else. */
export function endpointPath(ref: string): BatchEndpoint | undefined {
  if (Object.hasOwn(ENDPOINTS, ref)) return ENDPOINTS[ref as EndpointName];
  const path = ref.startsWith('/') ? ref : `/${ref}`;
  const withV1 = path.startsWith('/v1/') ? path : `/v1${path}`;
  return (Object.values(ENDPOINTS) as string[]).includes(withV1) ? (withV1 as BatchEndpoint) : undefined;
}

/**
 * The least a body of each endpoint must carry. Any further OpenAI parameter passes through (the service checks them
 * against the endpoint's schema and answers a 400 naming the first bad one); `custom_id` and `callback_url` in the body
 * work as the options of `submit` do.
 */
export interface EndpointBodies {
  '/v1/chat/completions': { model: string; messages: readonly object[] };
  '/v1/embeddings': { model: string; input: unknown };
  '/v1/responses': { model: string; input: unknown };
  '/v1/completions': { model: string; prompt: unknown };
  '/v1/moderations': { model?: string; input: unknown };
}

/** The body shape of an endpoint given by short name or path. */
export type BodyOf<E extends EndpointRef> = E extends EndpointName
  ? EndpointBodies[(typeof ENDPOINTS)[E]]
  : E extends BatchEndpoint
    ? EndpointBodies[E]
    : never;
