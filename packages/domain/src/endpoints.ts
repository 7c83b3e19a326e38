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
  const head = bar < 0 ? group : group.slice(0, bar);
  const colon = head.indexOf(':');
  return BY_GROUP_PART.get(colon < 0 ? head : head.slice(colon + 1)) ?? '/v1/chat/completions';
}

/** The provider every group without a provider part belongs to (`UPSTREAM_*`, and groups written before SPEC §11). */
export const DEFAULT_GROUP_PROVIDER = 'default';

/**
 * The provider part of a group (SPEC §11: a group is (provider, endpoint, model)). A group name is
 * `[<provider>[~<allowed>+<allowed>…]:]<endpoint>|<model>[|iso:…]`: `<provider>` is the provider the request was routed
 * to at intake (none = `default`), and `~…` lists the providers the request may fail over to when its tenant is
 * limited to some (`allowed_providers`); without it, any provider that serves the model may take it.
 */
export function providerPartOf(group: string): { provider: string; allowed: readonly string[] | undefined } {
  const bar = group.indexOf('|');
  const head = bar < 0 ? group : group.slice(0, bar);
  const colon = head.indexOf(':');
  if (colon < 0) return { provider: DEFAULT_GROUP_PROVIDER, allowed: undefined };
  const part = head.slice(0, colon);
  const tilde = part.indexOf('~');
  if (tilde < 0) return { provider: part, allowed: undefined };
  return { provider: part.slice(0, tilde), allowed: part.slice(tilde + 1).split('+') };
}

/** The provider a group was routed to at intake. */
export function providerOfGroup(group: string): string {
  return providerPartOf(group).provider;
}

export function isEndpoint(value: string): value is Endpoint {
  return (ENDPOINTS as readonly string[]).includes(value);
}
