/**
 * The batchable endpoints (SPEC §9): the OpenAI endpoints a provider batch may hold. A request's packing group starts
 * with its endpoint (`chat.completions|<model>`, `embeddings|<model>`, …; see `groupFor`), so one provider batch never
 * mixes endpoints, and every line of a batch file carries the batch's endpoint as its `url`.
 */

export const ENDPOINTS = [
  '/v1/chat/completions',
  '/v1/embeddings',
  '/v1/responses',
  '/v1/completions',
  '/v1/moderations',
] as const;

export type Endpoint = (typeof ENDPOINTS)[number];

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
