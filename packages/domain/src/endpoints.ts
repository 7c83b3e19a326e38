/**
 * The batchable endpoints (SPEC §9): the OpenAI endpoints a provider batch may hold. A request's packing group starts
 * with its endpoint (`chat.completions|<model>`, `embeddings|<model>`, …; see `groupFor`), so one provider batch never
 * mixes endpoints, and every line of a batch file carries the batch's endpoint as its `url`.
 */

import type { BatchEndpoint as PublicEndpoint } from '@batchbridge/client';
import { BATCH_ENDPOINTS, type BatchEndpoint } from '@batchbridge/config';

/** The list itself lives beside the provider profiles that say which of them each provider batches. */
export const ENDPOINTS = BATCH_ENDPOINTS;

export type Endpoint = BatchEndpoint;

/** Type check: the endpoints `@batchbridge/client` publishes are exactly these (tsc fails here when they drift). */
export const PUBLIC_ENDPOINTS_MATCH: [Endpoint] extends [PublicEndpoint]
  ? [PublicEndpoint] extends [Endpoint]
    ? true
    : never
  : never = true;

const BY_GROUP_PART = new Map<string, Endpoint>(ENDPOINTS.map((e) => [groupPart(e), e]));

/** The endpoint's part of a group name: `/v1/chat/completions` → `chat.completions`. */
export function groupPart(endpoint: string): string {
  return endpoint.replace(/^\/v1\//, '').replace(/\//g, '.');
}

/** The endpoint of a packing group; chat for a group that names none (groups written before endpoints existed). */
export function endpointOfGroup(group: string): Endpoint {
  const bar = group.indexOf('|');
  return BY_GROUP_PART.get(bar < 0 ? group : group.slice(0, bar)) ?? '/v1/chat/completions';
}

export function isEndpoint(value: string): value is Endpoint {
  return (ENDPOINTS as readonly string[]).includes(value);
}
