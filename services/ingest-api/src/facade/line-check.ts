/**
 * The check of one line of an uploaded Batch API input file (SPEC §12), as a provider validates it: JSON, a unique
 * `custom_id`, `method: POST`, a batchable `url`, and a body that passes the same boundary check as a single request
 * of that endpoint (endpoint-request.ts), with a model the tenant may use and the provider serves, within the batch
 * size and token limits. A line that passes is stored as what creating its request needs (`FacadeLine`).
 */
import type { Tenant } from '@batchbridge/config';
import {
  batchLine,
  type Endpoint,
  type FacadeLine,
  groupFor,
  isEndpoint,
  structuredOutputSchema,
} from '@batchbridge/domain';
import { parseEndpointRequest } from '../endpoint-request.js';
import { ApiError } from '../errors.js';
import { checkJsonText } from '../json-limits.js';
import type { ModelCatalog } from '../model-catalog.js';
import { modelAllowed } from '../model-policy.js';

/** Longest custom_id of a line (OpenAI sets none; this keeps one line's reference from being megabytes). */
export const MAX_LINE_CUSTOM_ID = 512;

/** A refused line: what `errors.data[]` of a failed batch, or the 400 of an upload, names. */
export class LineError extends Error {
  readonly code: string;
  readonly line: number;
  readonly param: string | null;
  constructor(code: string, line: number, param: string | null, message: string) {
    super(message);
    this.code = code;
    this.line = line;
    this.param = param;
  }
}

export interface LineCheckContext {
  tenant: Tenant;
  endpoints: readonly string[];
  mixModels: boolean;
  maxBytes: number;
  maxTokens: number;
  models: ModelCatalog;
  /** custom_ids seen so far in this file (a `CustomIdSet` in an upload: flat memory). */
  seen: { has(id: string): boolean; add(id: string): void };
  /** Models already decided for this file (the catalog's answer may wait for the provider's list once). */
  modelVerdicts: Map<string, boolean>;
}

/** Checks line `n` (1-based) of a file; throws LineError. The caller skips blank lines. */
export async function checkLine(text: string, n: number, ctx: LineCheckContext): Promise<FacadeLine> {
  let raw: unknown;
  try {
    checkJsonText(text);
    raw = JSON.parse(text);
  } catch (err) {
    const why = err instanceof ApiError ? err.message : 'not valid JSON';
    throw new LineError('invalid_json_line', n, null, `Line ${n}: ${why}.`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new LineError('invalid_json_line', n, null, `Line ${n}: each line must be a JSON object.`);
  }
  const line = raw as Record<string, unknown>;
  const customId = line.custom_id;
  if (typeof customId !== 'string' || customId.length === 0 || customId.length > MAX_LINE_CUSTOM_ID) {
    throw new LineError(
      'invalid_custom_id',
      n,
      'custom_id',
      `Line ${n}: custom_id must be a string of 1–${MAX_LINE_CUSTOM_ID} characters.`,
    );
  }
  if (ctx.seen.has(customId)) {
    throw new LineError(
      'duplicate_custom_id',
      n,
      'custom_id',
      `Line ${n}: the custom_id ${JSON.stringify(customId)} is used by an earlier line; each line needs its own.`,
    );
  }
  if (line.method !== 'POST') {
    throw new LineError('invalid_method', n, 'method', `Line ${n}: method must be "POST".`);
  }
  const url = line.url;
  if (typeof url !== 'string' || !isEndpoint(url) || !ctx.endpoints.includes(url)) {
    throw new LineError(
      'invalid_url',
      n,
      'url',
      `Line ${n}: url must be one of ${ctx.endpoints.join(', ')} (got ${JSON.stringify(url)}).`,
    );
  }
  if (typeof line.body !== 'object' || line.body === null || Array.isArray(line.body)) {
    throw new LineError('invalid_body', n, 'body', `Line ${n}: body must be a JSON object of ${url} parameters.`);
  }
  let request: ReturnType<typeof parseEndpointRequest>;
  try {
    request = parseEndpointRequest(url as Endpoint, line.body, undefined);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    const param = err.param ? `body.${err.param}` : 'body';
    throw new LineError(err.code, n, param, `Line ${n}: ${err.message}`);
  }
  const model = request.model;
  let verdict = ctx.modelVerdicts.get(model);
  if (verdict === undefined) {
    verdict = modelAllowed(ctx.tenant, model) && (await ctx.models.servesSoon(model));
    ctx.modelVerdicts.set(model, verdict);
  }
  if (!verdict) {
    throw new LineError(
      'model_not_found',
      n,
      'body.model',
      `Line ${n}: the model ${JSON.stringify(model)} is not allowed for this API key or not served (see GET /v1/models).`,
    );
  }
  const bytes = Buffer.byteLength(batchLine('breq_00000000000000000000000000', request.upstreamBody, url));
  if (bytes > ctx.maxBytes) {
    throw new LineError(
      'line_too_large',
      n,
      'body',
      `Line ${n}: needs ${bytes} bytes in a batch file, more than the ${ctx.maxBytes} a batch may hold.`,
    );
  }
  if (request.tokens > ctx.maxTokens) {
    throw new LineError(
      'too_many_tokens',
      n,
      'body',
      `Line ${n}: about ${request.tokens} input tokens, more than the ${ctx.maxTokens} a batch may hold.`,
    );
  }
  ctx.seen.add(customId);
  const schema = structuredOutputSchema(url, line.body);
  return {
    customId,
    url,
    model,
    group: groupFor(url, model, ctx.mixModels),
    tokens: request.tokens,
    inputs: request.inputs,
    body: request.upstreamBody,
    ...(schema === undefined ? {} : { schema: JSON.stringify(schema) }),
  };
}
