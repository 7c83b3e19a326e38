/**
 * The OpenAPI 3.1 document of the ingest API, served at `/openapi.json` and rendered by `/docs`. It is written by hand
 * from SPEC §3 and kept honest by openapi.test.ts, which calls every documented operation and validates the real
 * answers against the schemas below.
 */

import { ENDPOINTS } from '@batchbridge/domain';
import { facadePaths, facadeSchemas } from './openapi-facade.js';

const errorRef = { $ref: '#/components/schemas/Error' };
const requestRef = { $ref: '#/components/schemas/Request' };
const eventRef = { $ref: '#/components/schemas/WebhookEvent' };

const json = (schema: object) => ({ 'application/json': { schema } });
const error = (description: string, headers?: Record<string, object>) => ({
  description,
  ...(headers ? { headers } : {}),
  content: json(errorRef),
});
const retryAfter = {
  'Retry-After': { description: 'Seconds to wait before retrying.', schema: { type: 'string', pattern: '^\\d+$' } },
};
const preferParam = (description: string) => ({
  name: 'Prefer',
  in: 'header',
  description,
  schema: { type: 'string', examples: ['wait=60', 'wait=0', 'respond-async'] },
});
const idParam = {
  name: 'id',
  in: 'path',
  required: true,
  description: 'The request id (`breq_…`) answered by POST /v1/chat/completions.',
  schema: { type: 'string' },
};

export function openApiDocument(options: { version?: string } = {}): Record<string, unknown> {
  const doc = baseDocument(options);
  // The other batchable endpoints (SPEC §9) answer exactly as chat does; only their bodies differ.
  const paths = doc.paths as Record<string, { post: Record<string, unknown> }>;
  const chat = paths['/v1/chat/completions']!.post;
  for (const [endpoint, operationId, required, what] of OTHER_ENDPOINTS) {
    paths[endpoint] = {
      post: {
        ...chat,
        operationId,
        summary: `Queue a ${what} request for batch processing`,
        description:
          `The body is the OpenAI ${endpoint} create body, checked against its schema (what the Batch API refuses, ` +
          'such as `stream` or Responses’ `background`, is refused here). Callback URL, custom id, Idempotency-Key ' +
          'and `Prefer: wait` work as for chat completions; with a wait, the answer is the provider’s body for this ' +
          'endpoint. A provider batch holds one endpoint, within that endpoint’s limits of the provider profile ' +
          '(openai: 50 000 requests and 200 MiB per file; for /v1/embeddings also at most 50 000 embedding inputs ' +
          'per batch, counted one per string or token array). `/v1/responses` with a wait accepts `stream: true`: the ' +
          'answer is then `text/event-stream`, comments while waiting, then the Responses streaming events ' +
          '(`response.created` … `response.completed`) re-telling the finished response.',
        requestBody: {
          required: true,
          content: json({
            type: 'object',
            required,
            additionalProperties: true,
            description: `OpenAI's request body for ${endpoint}; unknown parameters are passed through to the provider.`,
          }),
        },
      },
    };
  }
  // The Batch API served by batchbridge (SPEC §12).
  Object.assign(paths, facadePaths());
  const components = doc.components as { schemas: Record<string, unknown> };
  Object.assign(components.schemas, facadeSchemas());
  return doc;
}

const OTHER_ENDPOINTS: ReadonlyArray<[string, string, string[], string]> = [
  ['/v1/embeddings', 'createEmbeddingsRequest', ['model', 'input'], 'embeddings'],
  ['/v1/responses', 'createResponseRequest', ['model', 'input'], 'Responses API'],
  ['/v1/completions', 'createCompletionRequest', ['model', 'prompt'], 'text-completion'],
  ['/v1/moderations', 'createModerationRequest', ['input'], 'moderation'],
];

function baseDocument(options: { version?: string }): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'batchbridge ingest API',
      version: options.version ?? '0.1.0',
      description:
        'POST single chat-completion requests and pay batch prices: batchbridge queues them, packs them into ' +
        'OpenAI-compatible Batch API jobs and delivers each outcome to your callback URL as a signed webhook ' +
        '(Standard Webhooks). Errors are OpenAI-shaped.',
    },
    servers: [{ url: '/' }],
    security: [{ bearerAuth: [] }],
    paths: {
      '/v1/chat/completions': {
        post: {
          operationId: 'createChatCompletionRequest',
          summary: 'Queue a chat-completion request for batch processing',
          description:
            'The body is the OpenAI chat-completion create body. The callback URL comes from the `X-Callback-URL` ' +
            'header, else the `callback_url` field, else the tenant default; the client reference from ' +
            '`X-Custom-ID`, else `custom_id` (headers win). batchbridge fields are stripped before the body goes ' +
            'into a batch line. 202 is answered only once the request is durably stored.',
          parameters: [
            {
              name: 'X-Callback-URL',
              in: 'header',
              description: 'Where the outcome webhook is sent (wins over `callback_url`).',
              schema: { type: 'string', format: 'uri' },
            },
            {
              name: 'X-Custom-ID',
              in: 'header',
              description: 'Your own reference, echoed as `custom_id` (wins over the body field).',
              schema: { type: 'string', minLength: 1, maxLength: 64 },
            },
            {
              name: 'Idempotency-Key',
              in: 'header',
              description: 'Scoped to the tenant: a retry with the same key and body answers 200 with the request.',
              schema: { type: 'string', minLength: 1, maxLength: 255 },
            },
            {
              name: 'X-Deadline',
              in: 'header',
              description:
                'SPEC §10: seconds or a duration (`90`, `10m`, `2h`) from now, or an RFC 3339 time (wins over the ' +
                '`deadline` field). The request goes on the cheapest lane expected to answer by then.',
              schema: { type: 'string' },
            },
            preferParam(
              'Transparent mode (RFC 7240): hold the answer up to this many seconds (capped by MAX_WAIT_S) and answer ' +
                'with the outcome itself; the tenant’s `default_wait_s` applies when absent, `wait=0` asks for the ' +
                'asynchronous 202. A request that waits needs no callback URL and may ask for `stream: true`. ' +
                '`respond-async`: the 202 at once, and no callback URL needed — the client fetches the outcome with ' +
                '`GET /v1/requests/{id}` (long-polled with `Prefer: wait`), as `@batchbridge/client` does.',
            ),
          ],
          requestBody: {
            required: true,
            content: json({ $ref: '#/components/schemas/ChatCompletionRequest' }),
          },
          responses: {
            '202': {
              description: 'Accepted and durably queued.',
              headers: { Location: { description: 'The request resource.', schema: { type: 'string' } } },
              content: json(requestRef),
            },
            '200': {
              description:
                'Idempotent replay: the current state of the request first created with this key. With a wait ' +
                '(`Prefer: wait`): the provider’s answer itself once the request completed (an OpenAI ChatCompletion, ' +
                'or `text/event-stream` chunks for `stream: true`), with `Preference-Applied` and `X-Request-ID`.',
              headers: {
                'Idempotent-Replayed': { schema: { type: 'string', const: 'true' } },
                'Preference-Applied': { description: 'The wait applied, `wait=<s>`.', schema: { type: 'string' } },
                'X-Request-ID': { description: 'The request id (`breq_…`).', schema: { type: 'string' } },
              },
              content: {
                ...json({ anyOf: [requestRef, { type: 'object', description: 'The provider’s response body.' }] }),
                'text/event-stream': { schema: { type: 'string' } },
              },
            },
            '502': error('With a wait: the request failed upstream (the `code` is the request’s error code).'),
            '400': error(
              'Invalid JSON, invalid parameter (named in `param`), `stream: true` without a wait, no callback URL ' +
                'without a wait or `respond-async`, more estimated input tokens (`too_many_tokens`) or inputs ' +
                '(`too_many_inputs`) than one batch of this endpoint may hold. With a wait: the provider refused the ' +
                'line (its own status and error body).',
            ),
            '401': error('Missing or unknown API key.'),
            '403': error('The model is not allowed for this tenant.'),
            '409': error('The Idempotency-Key was used with a different body; with a wait: the request was cancelled.'),
            '413': error('The body is larger than MAX_BODY_BYTES, or the request cannot fit any batch.'),
            '415': error('The body is not JSON.'),
            '422': error('The callback URL is refused (non-public address) or does not resolve.'),
            '429': error('Tenant over its rate limit, queue quota or budget (code budget_exceeded).', retryAfter),
            '503': error('Redis unreachable or global capacity reached.', retryAfter),
          },
        },
      },
      '/v1/requests/{id}': {
        get: {
          operationId: 'getRequest',
          summary: 'The current state of a request',
          parameters: [
            idParam,
            preferParam(
              'Long-poll: answer once the request is final, or after this many seconds (capped by MAX_WAIT_S).',
            ),
          ],
          responses: {
            '200': { description: 'The request object.', content: json(requestRef) },
            '401': error('Missing or unknown API key.'),
            '404': error("Unknown id, another tenant's id, or a result past RESULT_RETENTION."),
            '503': error('Redis unreachable.', retryAfter),
          },
        },
      },
      '/v1/requests/{id}/cancel': {
        post: {
          operationId: 'cancelRequest',
          summary: 'Cancel a request that is still queued',
          parameters: [idParam],
          responses: {
            '200': { description: 'Cancelled; a `request.cancelled` webhook follows.', content: json(requestRef) },
            '401': error('Missing or unknown API key.'),
            '404': error('No such request for this API key.'),
            '409': error('The request is already batched, submitted or finished.'),
            '503': error('Redis unreachable.', retryAfter),
          },
        },
      },
      '/v1/requests/{id}/redeliver': {
        post: {
          operationId: 'redeliverRequest',
          summary: 'Send the outcome webhook of a finished request again (same webhook-id)',
          parameters: [idParam],
          responses: {
            '202': { description: 'A delivery is queued.', content: json(requestRef) },
            '401': error('Missing or unknown API key.'),
            '404': error('No such request for this API key.'),
            '409': error('The request has not finished yet.'),
            '503': error('Redis unreachable.', retryAfter),
          },
        },
      },
      '/v1/requests/{id}/deliveries': {
        get: {
          operationId: 'listDeliveries',
          summary: "The outcome's delivery log: its last attempts (WEBHOOK_LOG_ATTEMPTS), oldest first",
          parameters: [idParam],
          responses: {
            '200': {
              description: 'The attempts and where the delivery stands.',
              content: json({ $ref: '#/components/schemas/DeliveryLog' }),
            },
            '401': error('Missing or unknown API key.'),
            '404': error('No such request for this API key.'),
          },
        },
      },
      '/v1/provider-events/{provider}': {
        post: {
          operationId: 'receiveProviderEvent',
          summary:
            "A provider's own batch webhook (OpenAI batch.completed|failed|expired|cancelled): polls that batch at once",
          description:
            "Standard Webhooks signed with the provider's `webhook_secret` (PROVIDERS_FILE) or UPSTREAM_WEBHOOK_SECRET " +
            '(provider `default`); no API key. Unsigned, badly signed or stale (over 5 minutes) events get 401 and change ' +
            'nothing; events for batches this deployment does not hold get 200 and change nothing. See ' +
            'docs/provider-push.md.',
          parameters: [
            {
              name: 'provider',
              in: 'path',
              required: true,
              schema: { type: 'string' },
              description: 'The provider id (`default` for UPSTREAM_*).',
            },
          ],
          responses: {
            '200': {
              description: 'Received; what became of it.',
              content: json({
                type: 'object',
                required: ['received', 'outcome'],
                properties: {
                  received: { const: true },
                  outcome: { enum: ['polled', 'duplicate', 'ignored', 'unknown_batch', 'already_routed'] },
                  poll: { enum: ['promoted', 'queued', 'retried', 'added', 'running'] },
                },
              }),
            },
            '400': error('A signed body that is not JSON.'),
            '401': error('Unsigned, badly signed or stale, or the provider has no webhook secret.'),
            '404': error('No such provider is configured.'),
            '413': error('Body too large.'),
            '503': error('Redis unreachable.', retryAfter),
          },
        },
      },
      '/v1/webhook-secret/rotate': {
        post: {
          operationId: 'rotateWebhookSecret',
          summary:
            'A new webhook signing secret; the previous ones keep signing for WEBHOOK_SECRET_OVERLAP (default 24 h)',
          description:
            'Every delivery carries one `v1,` signature per active secret (space-separated in `webhook-signature`, as ' +
            'Standard Webhooks allows), so a receiver can switch to the new secret at any time during the overlap.',
          responses: {
            '200': { description: 'The new secret.', content: json({ $ref: '#/components/schemas/WebhookSecret' }) },
            '401': error('Missing or unknown API key.'),
            '503': error('Redis unreachable.', retryAfter),
          },
        },
      },
      '/v1/endpoints': {
        get: {
          operationId: 'listUnhealthyEndpoints',
          summary: "The tenant's callback hosts that are failing, in an open circuit, or disabled",
          responses: {
            '200': {
              description: 'Unhealthy endpoints (healthy ones are not listed).',
              content: json({
                type: 'object',
                required: ['object', 'data'],
                properties: {
                  object: { const: 'list' },
                  data: { type: 'array', items: { $ref: '#/components/schemas/Endpoint' } },
                },
              }),
            },
            '401': error('Missing or unknown API key.'),
          },
        },
      },
      '/v1/endpoints/enable': {
        post: {
          operationId: 'enableEndpoint',
          summary: 'Re-enable a callback host (forget its failures, close its circuit)',
          requestBody: {
            required: true,
            content: json({
              type: 'object',
              properties: {
                url: { type: 'string', description: 'A callback URL of the endpoint.' },
                host: { type: 'string', description: '`<host>:<port>` of the endpoint.' },
              },
            }),
          },
          responses: {
            '200': {
              description: 'Enabled.',
              content: json({
                type: 'object',
                required: ['object', 'host', 'state', 'was_unhealthy'],
                properties: {
                  object: { const: 'endpoint' },
                  host: { type: 'string' },
                  state: { const: 'enabled' },
                  was_unhealthy: { type: 'boolean' },
                },
              }),
            },
            '400': error('Neither a usable url nor host.'),
            '401': error('Missing or unknown API key.'),
          },
        },
      },
      '/v1/deliveries/replay': {
        post: {
          operationId: 'replayDeliveries',
          summary:
            'Deliver again the outcomes that finished in a time range (a background job; same webhook-id per outcome)',
          requestBody: {
            required: true,
            content: json({
              type: 'object',
              required: ['since'],
              properties: {
                since: { type: 'string', format: 'date-time' },
                until: { type: 'string', format: 'date-time', description: 'Default: now.' },
                status: {
                  enum: ['dead', 'failed', 'all'],
                  description:
                    '`dead`: dead letters; `failed`: not delivered after at least one attempt (dead, stopped or still retrying); `all` (default): every outcome.',
                },
              },
            }),
          },
          responses: {
            '202': {
              description: 'The replay job; read its progress at the Location.',
              headers: { Location: { description: 'The job.', schema: { type: 'string' } } },
              content: json({ $ref: '#/components/schemas/Replay' }),
            },
            '400': error('A bad since, until or status.'),
            '401': error('Missing or unknown API key.'),
            '429': error('A replay was started less than a minute ago.', retryAfter),
          },
        },
      },
      '/v1/deliveries/replay/{id}': {
        get: {
          operationId: 'getReplay',
          summary: 'Progress of a replay job (kept 24 h)',
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
          responses: {
            '200': { description: 'The job.', content: json({ $ref: '#/components/schemas/Replay' }) },
            '401': error('Missing or unknown API key.'),
            '404': error('No such replay for this API key.'),
          },
        },
      },
      '/v1/usage': {
        get: {
          operationId: 'getUsage',
          summary: "The API key's tenant ledger: cost, realtime cost and savings per day (SPEC §15)",
          parameters: [
            {
              name: 'from',
              in: 'query',
              schema: { type: 'string', format: 'date' },
              description: 'First UTC day, YYYY-MM-DD (default: the first day of the month of `to`).',
            },
            {
              name: 'to',
              in: 'query',
              schema: { type: 'string', format: 'date' },
              description: 'Last UTC day, inclusive (default: today).',
            },
            {
              name: 'group_by',
              in: 'query',
              schema: { enum: ['model', 'lane', 'provider'] },
              description: 'Rows per date and this one field (default: per date, provider, model and lane).',
            },
          ],
          responses: {
            '200': { description: 'The ledger over the range.', content: json({ $ref: '#/components/schemas/Usage' }) },
            '400': error('A bad date, range or group_by.'),
            '401': error('Missing or unknown API key.'),
          },
        },
      },
      '/v1/models': {
        get: {
          operationId: 'listModels',
          summary: 'Models this deployment accepts for the API key',
          responses: {
            '200': { description: 'OpenAI list of models.', content: json({ $ref: '#/components/schemas/ModelList' }) },
            '401': error('Missing or unknown API key.'),
          },
        },
      },
      '/healthz': {
        get: {
          operationId: 'health',
          summary: 'Liveness',
          security: [],
          responses: { '200': { description: 'The process runs.', content: json(statusSchema) } },
        },
      },
      '/readyz': {
        get: {
          operationId: 'ready',
          summary: 'Readiness: Redis answers and the global capacity is not reached',
          security: [],
          responses: {
            '200': { description: 'Ready.', content: json(statusSchema) },
            '503': { description: 'Not ready.', content: json(statusSchema) },
          },
        },
      },
      '/metrics': {
        get: {
          operationId: 'metrics',
          summary: 'Prometheus metrics (bearer METRICS_TOKEN when configured)',
          security: [],
          responses: {
            '200': {
              description: 'Prometheus text format.',
              content: { 'text/plain': { schema: { type: 'string' } } },
            },
            '401': { description: 'METRICS_TOKEN is configured and was not presented.' },
          },
        },
      },
      '/openapi.json': {
        get: {
          operationId: 'openapi',
          summary: 'This document',
          security: [],
          responses: { '200': { description: 'OpenAPI 3.1 document.', content: json({ type: 'object' }) } },
        },
      },
      '/docs': {
        get: {
          operationId: 'docs',
          summary: 'A readable rendering of this document',
          security: [],
          responses: { '200': { description: 'HTML page.', content: { 'text/html': { schema: { type: 'string' } } } } },
        },
      },
    },
    webhooks: webhooks(),
    components: {
      securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'A tenant API key.' } },
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          additionalProperties: false,
          properties: {
            error: {
              type: 'object',
              required: ['message', 'type', 'param', 'code'],
              additionalProperties: false,
              properties: {
                message: { type: 'string' },
                type: { type: 'string' },
                param: { type: ['string', 'null'] },
                code: { type: ['string', 'null'] },
              },
            },
          },
        },
        Request: {
          type: 'object',
          required: [
            'id',
            'object',
            'endpoint',
            'status',
            'model',
            'custom_id',
            'created_at',
            'completed_at',
            'batch_id',
            'attempts',
            'response',
            'error',
            'lane',
            'completion_window',
            'deadline_at',
            'deadline_met',
            'usage',
            'cost',
          ],
          additionalProperties: false,
          properties: {
            id: { type: 'string', pattern: '^breq_[0-9a-z]{25}$' },
            object: { const: 'batchbridge.request' },
            endpoint: {
              enum: [...ENDPOINTS],
              description: 'The OpenAI endpoint the request is for; its provider batch holds only that endpoint.',
            },
            status: { enum: ['queued', 'batched', 'submitted', 'completed', 'failed', 'cancelled'] },
            model: { type: 'string' },
            custom_id: { type: ['string', 'null'], maxLength: 64 },
            created_at: { type: 'integer', description: 'Unix seconds.' },
            completed_at: { type: ['integer', 'null'], description: 'Unix seconds.' },
            batch_id: { type: ['string', 'null'], description: 'The provider batch of the latest attempt.' },
            attempts: { type: 'integer', minimum: 0 },
            truncated: {
              const: true,
              description:
                "Present (true) when the answer in `response` was cut off by the provider's token limit (`finish_reason: length`).",
            },
            response: {
              oneOf: [
                { type: 'null' },
                {
                  type: 'object',
                  required: ['status_code', 'body'],
                  properties: { status_code: { type: 'integer' }, body: {} },
                },
              ],
            },
            error: {
              oneOf: [
                { type: 'null' },
                {
                  type: 'object',
                  required: ['code', 'message'],
                  properties: { code: { type: 'string' }, message: { type: 'string' } },
                },
              ],
            },
            lane: {
              enum: ['batch', 'flex', 'realtime'],
              description:
                'SPEC §10: `batch` (the Batch API), `flex` (a synchronous call with service_tier flex, batch price) or ' +
                '`realtime` (a synchronous call, full price): the cheapest lane expected to meet the deadline.',
            },
            completion_window: {
              type: ['string', 'null'],
              description:
                'SPEC §10: on the batch lane, the completion window its batch asks for when the scheduler chose a ' +
                "faster one than the deployment's (Doubleword `1h`) to meet the deadline; null otherwise.",
            },
            deadline_at: { type: ['integer', 'null'], description: 'Unix seconds; null without a deadline.' },
            deadline_met: {
              type: ['boolean', 'null'],
              description: 'Once final: whether it finished by its deadline; null without one or while open.',
            },
            usage: {
              description: "Tokens of the provider's answer (set when completed with an answer that reports them).",
              oneOf: [{ type: 'null' }, { $ref: '#/components/schemas/RequestUsage' }],
            },
            cost: {
              description: 'What the answer cost, from the price table (SPEC §15); set with usage.',
              oneOf: [{ type: 'null' }, { $ref: '#/components/schemas/RequestCost' }],
            },
          },
        },
        RequestUsage: {
          type: 'object',
          required: ['input_tokens', 'cached_tokens', 'cache_write_tokens', 'output_tokens'],
          additionalProperties: false,
          properties: {
            input_tokens: { type: 'integer', minimum: 0, description: 'Cached and cache-written tokens included.' },
            cached_tokens: { type: 'integer', minimum: 0 },
            cache_write_tokens: { type: 'integer', minimum: 0 },
            output_tokens: { type: 'integer', minimum: 0 },
          },
        },
        RequestCost: {
          type: 'object',
          required: ['usd', 'realtime_usd', 'saved_usd', 'lane', 'priced'],
          additionalProperties: false,
          description: 'Unpriced (the price table has no price for the model or lane): priced false, amounts null.',
          properties: {
            usd: { type: ['number', 'null'], description: 'What it cost in its lane.' },
            realtime_usd: { type: ['number', 'null'], description: 'The same tokens at realtime prices.' },
            saved_usd: { type: ['number', 'null'], description: 'realtime_usd − usd.' },
            lane: { enum: ['batch', 'flex', 'realtime'] },
            priced: { type: 'boolean' },
          },
        },
        UsageAmounts: {
          type: 'object',
          required: ['usd', 'realtime_usd', 'saved_usd', 'requests', 'unpriced_requests'],
          properties: {
            usd: { type: 'number' },
            realtime_usd: { type: 'number' },
            saved_usd: { type: 'number' },
            requests: { type: 'integer', minimum: 0, description: 'Answered requests billed, unpriced ones included.' },
            unpriced_requests: { type: 'integer', minimum: 0 },
          },
        },
        Usage: {
          type: 'object',
          required: ['object', 'from', 'to', 'total', 'data'],
          additionalProperties: false,
          properties: {
            object: { const: 'usage' },
            from: { type: 'string', format: 'date' },
            to: { type: 'string', format: 'date' },
            total: { $ref: '#/components/schemas/UsageAmounts' },
            data: {
              type: 'array',
              items: {
                allOf: [
                  { $ref: '#/components/schemas/UsageAmounts' },
                  {
                    type: 'object',
                    required: ['date', 'provider', 'model', 'lane'],
                    properties: {
                      date: {
                        type: 'string',
                        description: 'YYYY-MM-DD, or YYYY-MM for a month whose days were rolled up.',
                      },
                      provider: { type: ['string', 'null'] },
                      model: { type: ['string', 'null'] },
                      lane: { type: ['string', 'null'] },
                    },
                  },
                ],
              },
            },
          },
        },
        DeliveryAttempt: {
          type: 'object',
          required: ['attempt', 'at', 'status_code', 'error', 'duration_ms', 'next_attempt_at'],
          additionalProperties: false,
          properties: {
            attempt: { type: 'integer', minimum: 1 },
            at: { type: 'string', format: 'date-time' },
            status_code: {
              type: ['integer', 'null'],
              description: "The receiver's HTTP status; null for a timeout or connection error.",
            },
            error: { type: ['string', 'null'] },
            duration_ms: { type: 'integer', minimum: 0 },
            next_attempt_at: {
              type: ['string', 'null'],
              format: 'date-time',
              description: 'Null when no attempt follows.',
            },
          },
        },
        DeliveryLog: {
          type: 'object',
          required: ['object', 'data', 'request_id', 'delivery'],
          properties: {
            object: { const: 'list' },
            data: { type: 'array', items: { $ref: '#/components/schemas/DeliveryAttempt' } },
            request_id: { type: 'string' },
            delivery: {
              type: 'object',
              required: ['state', 'reason', 'attempts', 'delivered_at'],
              properties: {
                state: { enum: ['not_finished', 'pending', 'delivered', 'stopped', 'dead', 'not_sent'] },
                reason: {
                  type: ['string', 'null'],
                  description:
                    'stopped: `gone` (410) or `aborted` (webhook-delivery: abort-message); dead: `exhausted`, `endpoint_disabled`, `refused`, `no_tenant`.',
                },
                attempts: { type: 'integer', minimum: 0 },
                delivered_at: { type: ['string', 'null'], format: 'date-time' },
              },
            },
          },
        },
        WebhookSecret: {
          type: 'object',
          required: ['object', 'secret', 'previous_valid_until'],
          properties: {
            object: { const: 'webhook_secret' },
            secret: { type: 'string', pattern: '^whsec_' },
            previous_valid_until: { type: 'string', format: 'date-time' },
          },
        },
        Endpoint: {
          type: 'object',
          required: [
            'object',
            'host',
            'state',
            'consecutive_failures',
            'failing_since',
            'open_until',
            'disabled_at',
            'last_error',
          ],
          properties: {
            object: { const: 'endpoint' },
            host: { type: 'string' },
            state: { enum: ['failing', 'open', 'disabled'] },
            consecutive_failures: { type: 'integer' },
            failing_since: { type: ['string', 'null'], format: 'date-time' },
            open_until: { type: ['string', 'null'], format: 'date-time' },
            disabled_at: { type: ['string', 'null'], format: 'date-time' },
            last_error: { type: ['string', 'null'] },
          },
        },
        Replay: {
          type: 'object',
          required: [
            'id',
            'object',
            'since',
            'until',
            'status',
            'state',
            'scanned',
            'queued',
            'created_at',
            'finished_at',
            'error',
          ],
          properties: {
            id: { type: 'string' },
            object: { const: 'delivery.replay' },
            since: { type: 'string', format: 'date-time' },
            until: { type: 'string', format: 'date-time' },
            status: { enum: ['dead', 'failed', 'all'] },
            state: { enum: ['running', 'done', 'failed', 'interrupted'] },
            scanned: { type: 'integer' },
            queued: { type: 'integer' },
            created_at: { type: ['string', 'null'], format: 'date-time' },
            finished_at: { type: ['string', 'null'], format: 'date-time' },
            error: { type: ['string', 'null'] },
          },
        },
        OperationalEvent: {
          type: 'object',
          description: "Sent to the tenant's operations_url, signed like every webhook (its own webhook-id).",
          required: ['type', 'timestamp', 'data'],
          properties: {
            type: { enum: ['endpoint.disabled', 'message.attempt.exhausted', 'budget.threshold'] },
            timestamp: { type: 'string', format: 'date-time' },
            data: { type: 'object' },
          },
        },
        WebhookEvent: {
          type: 'object',
          required: ['type', 'timestamp', 'data'],
          additionalProperties: false,
          properties: {
            type: { enum: ['request.completed', 'request.failed', 'request.cancelled'] },
            timestamp: {
              type: 'string',
              format: 'date-time',
              description: 'When the outcome happened; the same on every retry of one event.',
            },
            data: requestRef,
          },
        },
        ChatCompletionRequest: {
          type: 'object',
          required: ['model', 'messages'],
          additionalProperties: true,
          description: 'OpenAI CreateChatCompletionRequest; unknown parameters are passed through to the provider.',
          properties: {
            model: { type: 'string' },
            messages: {
              type: 'array',
              minItems: 1,
              items: {
                type: 'object',
                required: ['role'],
                properties: {
                  role: { enum: ['system', 'developer', 'user', 'assistant', 'tool', 'function'] },
                  content: {
                    oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'object' } }, { type: 'null' }],
                  },
                },
              },
            },
            temperature: { type: ['number', 'null'], minimum: 0, maximum: 2 },
            top_p: { type: ['number', 'null'], minimum: 0, maximum: 1 },
            max_tokens: { type: ['integer', 'null'], minimum: 1 },
            max_completion_tokens: { type: ['integer', 'null'], minimum: 1 },
            n: { type: ['integer', 'null'], minimum: 1, maximum: 128 },
            presence_penalty: { type: ['number', 'null'], minimum: -2, maximum: 2 },
            frequency_penalty: { type: ['number', 'null'], minimum: -2, maximum: 2 },
            logprobs: { type: ['boolean', 'null'] },
            top_logprobs: { type: ['integer', 'null'], minimum: 0, maximum: 20 },
            seed: { type: ['integer', 'null'] },
            stream: { description: 'Must not be true.', type: ['boolean', 'null'] },
            callback_url: { type: 'string', format: 'uri', description: 'batchbridge: where the webhook goes.' },
            custom_id: { type: 'string', minLength: 1, maxLength: 64, description: 'batchbridge: your reference.' },
            deadline: {
              type: ['string', 'number'],
              description: 'batchbridge: seconds, a duration (`15m`) or an RFC 3339 time (SPEC §10).',
            },
          },
        },
        ModelList: {
          type: 'object',
          required: ['object', 'data'],
          properties: {
            object: { const: 'list' },
            data: {
              type: 'array',
              items: {
                type: 'object',
                required: ['id', 'object', 'created', 'owned_by'],
                properties: {
                  id: { type: 'string' },
                  object: { const: 'model' },
                  created: { type: 'integer' },
                  owned_by: { type: 'string' },
                },
              },
            },
          },
        },
      },
    },
  };
}

/** The signature headers of every delivery (Standard Webhooks). */
const webhookHeaders = [
  {
    name: 'webhook-id',
    in: 'header',
    required: true,
    description: 'The event id (`msg_…`): the same on every retry and on a redelivery; dedupe on it.',
    schema: { type: 'string', pattern: '^msg_' },
  },
  {
    name: 'webhook-timestamp',
    in: 'header',
    required: true,
    description: 'Unix seconds of this attempt; refuse a delivery far from your clock (replay protection).',
    schema: { type: 'string', pattern: '^\\d+$' },
  },
  {
    name: 'webhook-signature',
    in: 'header',
    required: true,
    description:
      'Space-separated `v1,<base64 HMAC-SHA256>` over `<webhook-id>.<webhook-timestamp>.<raw body>` with each ' +
      'active `whsec_…` secret of the tenant (two during a rotation).',
    schema: { type: 'string', pattern: '^v1,' },
  },
];

/**
 * The three outcome events batchbridge POSTs to a request's callback URL (OpenAPI 3.1 `webhooks`), with what the
 * receiver's answer makes batchbridge do; webhooks.test.ts validates real deliveries against them.
 */
function webhooks(): Record<string, unknown> {
  const event = (type: string, summary: string, description: string) => ({
    post: {
      operationId: type.replace('.', '_'),
      summary,
      description:
        `${description} Signed with Standard Webhooks; verify the raw body before parsing it. One event per ` +
        'request, retried on the retry schedule until a 2xx or 410 answer, then dead-lettered (see the README).',
      security: [],
      parameters: webhookHeaders,
      requestBody: {
        required: true,
        content: json({
          allOf: [eventRef, { type: 'object', properties: { type: { const: type } } }],
        }),
      },
      responses: {
        '2XX': { description: 'Delivered: no further attempt.' },
        '410': { description: 'Gone: batchbridge stops sending this event (recorded, not dead-lettered).' },
        default: {
          description:
            'Any other answer (also 3xx: redirects are not followed), a timeout or a refused connection: retried ' +
            'later on the retry schedule, honouring a `Retry-After` header (capped at 24 h).',
        },
      },
    },
  });
  return {
    'request.completed': event(
      'request.completed',
      'A request completed',
      '`data.response` holds the provider’s answer unchanged (for chat, an OpenAI ChatCompletion in `body`).',
    ),
    'request.failed': event('request.failed', 'A request failed', '`data.error` says why (`code`, `message`).'),
    'request.cancelled': event(
      'request.cancelled',
      'A request was cancelled',
      'Sent after `POST /v1/requests/{id}/cancel` succeeded, while the request was still queued.',
    ),
    ...Object.fromEntries(
      ['completed', 'failed', 'expired', 'cancelled'].map((end) => [
        `batch.${end}`,
        {
          post: {
            operationId: `batch_${end}`,
            summary: `A Batch API batch ${end === 'failed' ? 'failed validation' : `ended ${end}`}`,
            description:
              'One event per batch (SPEC §12), in OpenAI’s event shape: `data.id` is the batch; retrieve it for ' +
              'its counts and files. Sent to the batch’s `metadata.callback_url` or the tenant’s ' +
              '`default_callback_url`, signed with Standard Webhooks (`webhook-id` `msg_<batch id>`), retried like ' +
              'request events. Lines of a batch send no webhook of their own.',
            security: [],
            parameters: webhookHeaders,
            requestBody: {
              required: true,
              content: json({
                allOf: [
                  { $ref: '#/components/schemas/BatchWebhookEvent' },
                  { type: 'object', properties: { type: { const: `batch.${end}` } } },
                ],
              }),
            },
            responses: { '2XX': { description: 'Delivered.' }, default: { description: 'Retried later.' } },
          },
        },
      ]),
    ),
  };
}

const statusSchema = {
  type: 'object',
  required: ['status'],
  properties: { status: { type: 'string' } },
};
