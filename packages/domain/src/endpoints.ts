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
  const part = endpointPartOf(group);
  const at = part.indexOf('@');
  return BY_GROUP_PART.get(at < 0 ? part : part.slice(0, at)) ?? '/v1/chat/completions';
}

/** The endpoint part of a group name with its window marker, if any (`chat.completions@1h`). */
function endpointPartOf(group: string): string {
  const bar = group.indexOf('|');
  const head = bar < 0 ? group : group.slice(0, bar);
  const colon = head.indexOf(':');
  return colon < 0 ? head : head.slice(colon + 1);
}

/**
 * The completion window a group's batches ask for when it is not the deployment's COMPLETION_WINDOW (SPEC §10: a
 * window such as Doubleword's `1h` is a batch lane of its own): the `@<window>` marker of its endpoint part
 * (`doubleword:chat.completions@1h|<model>`). Undefined for a group without one (COMPLETION_WINDOW).
 */
export function windowOfGroup(group: string): string | undefined {
  const part = endpointPartOf(group);
  const at = part.indexOf('@');
  return at < 0 ? undefined : part.slice(at + 1);
}

/** The same group in another completion window (undefined: the deployment's COMPLETION_WINDOW, no marker). */
export function withWindow(group: string, window: string | undefined): string {
  const bar = group.indexOf('|');
  const head = bar < 0 ? group : group.slice(0, bar);
  const tail = bar < 0 ? '' : group.slice(bar);
  const colon = head.indexOf(':');
  const route = colon < 0 ? '' : head.slice(0, colon + 1);
  const part = colon < 0 ? head : head.slice(colon + 1);
  const at = part.indexOf('@');
  const endpoint = at < 0 ? part : part.slice(0, at);
  return `${route}${endpoint}${window === undefined ? '' : `@${window}`}${tail}`;
}

/** The provider every group without a provider part belongs to (`UPSTREAM_*`, and groups written before SPEC §11). */
export const DEFAULT_GROUP_PROVIDER = 'default';

/**
 * The provider part of a group (SPEC §11: a group is (provider, endpoint, model)). A group name is
 * `[<provider>[~<allowed>+<allowed>…]:]<endpoint>[@<window>]|<model>[|iso:…]`: `<provider>` is the provider the request was routed
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

/**
 * How many inputs a request of `endpoint` holds, the unit of OpenAI's 50 000-embedding-inputs-per-batch limit: an
 * embeddings `input` that is a string or one token array counts 1, an array of strings or of token arrays counts its
 * length. Completions count their prompts and moderations their inputs the same way (no provider limits those yet);
 * chat and Responses count 1.
 */
export function countInputs(endpoint: Endpoint, body: Readonly<Record<string, unknown>>): number {
  if (endpoint === '/v1/chat/completions' || endpoint === '/v1/responses') return 1;
  const input = endpoint === '/v1/completions' ? body.prompt : body.input;
  if (!Array.isArray(input)) return 1;
  if (input.length === 0) return 0;
  return typeof input[0] === 'number' ? 1 : input.length;
}

/**
 * Estimated input tokens of a request beyond chat (chat: `estimateInputTokens`), for providers' enqueued-token
 * limits: about 4 characters per token over the text inputs (`input`, `prompt`, `instructions`), token arrays counting
 * one per token, plus a few per input. Deliberately simple and a little pessimistic, like the chat estimate.
 */
export function estimateEndpointTokens(endpoint: Endpoint, body: Readonly<Record<string, unknown>>): number {
  let chars = 0;
  let tokens = 0;
  const visit = (v: unknown, depth: number): void => {
    if (depth > 8) return;
    if (typeof v === 'string') chars += v.length;
    else if (typeof v === 'number') tokens += 1;
    else if (Array.isArray(v)) for (const item of v) visit(item, depth + 1);
    else if (v && typeof v === 'object') for (const item of Object.values(v)) visit(item, depth + 1);
  };
  visit(endpoint === '/v1/completions' ? body.prompt : body.input, 0);
  if (typeof body.instructions === 'string') chars += body.instructions.length;
  return tokens + Math.ceil(chars / 4) + 4 * countInputs(endpoint, body) + 4;
}
