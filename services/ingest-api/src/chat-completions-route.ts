/**
 * `POST /v1/chat/completions`: validate at the door, then the Lua ENQUEUE_MANY script writes the record and its pending
 * entry atomically (requests of one event-loop turn share one script call) — the 202 is sent only after that call
 * returned, which is what makes it durable (SPEC §3, I1, I5).
 * Order of checks: auth (middleware) → media type → params → model → callback URL → client ref → Idempotency-Key →
 * batch limits → rate limit (Redis) → enqueue with quotas (Redis). Only the last two touch Redis.
 */
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { parseDeadline, parseRelativeDeadlineMs, type Tenant } from '@batchbridge/config';
import {
  batchLine,
  choosePartition,
  type Endpoint,
  groupFor,
  type Lane,
  newRequestId,
  providerOfGroup,
  type RequestObject,
  structuredOutputSchema,
  toRequestObject,
} from '@batchbridge/domain';
import { type ChatCompletionBody, describeRefusal, refusedChatFields } from '@batchbridge/provider/anthropic';
import { isFastLane, LaneScheduler, type Runtime } from '@batchbridge/runtime';
import type { Request, Response } from 'express';
import { tenantOf } from './auth.js';
import type { BudgetGate } from './budget.js';
import type { CallbackPolicy } from './callback-policy.js';
import type { CapacityView } from './capacity.js';
import { MAX_CLIENT_REF_LENGTH } from './chat-request.js';
import { parseEndpointRequest } from './endpoint-request.js';
import { ApiError, conflict, invalidParam, rateLimited } from './errors.js';
import { checkJsonText, checkJsonValue } from './json-limits.js';
import type { ModelCatalog } from './model-catalog.js';
import { modelAllowed } from './model-policy.js';
import type { ProviderCatalog } from './provider-catalog.js';
import type { RateLimiter } from './rate-limiter.js';
import type { HoldDeps, WaitPlan } from './wait/hold.js';
import { holdForOutcome } from './wait/hold.js';
import { clientTimeoutS, effectiveWaitS, parsePrefer } from './wait/prefer.js';

export const CHAT_ENDPOINT = '/v1/chat/completions' as const;

/** Longest Idempotency-Key accepted. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

/** Seconds a client over its queue quota or the global capacity is asked to wait. */
const QUOTA_RETRY_AFTER_S = '5';

export interface ChatRouteDeps {
  runtime: Runtime;
  callbacks: CallbackPolicy;
  rateLimiter: RateLimiter;
  capacity: CapacityView;
  models: ModelCatalog;
  /** Several providers (PROVIDERS_FILE): routing by model; undefined with the one provider of UPSTREAM_*. */
  providers?: ProviderCatalog | undefined;
  /** Budgets (SPEC §15): tenants with `monthly_budget_usd` / `daily_budget_usd`. */
  budgets?: BudgetGate | undefined;
}

/** What the route answers when it accepts (or replays) a request; refusals are thrown as ApiError. */
export interface ChatReply {
  status: number;
  headers: Record<string, string>;
  body: RequestObject;
  /** The request waits for its outcome (transparent mode, SPEC §8): the connection is held, see `wait/hold.ts`. */
  wait?: WaitPlan;
}

/** The request as the route needs it, independent of how it was read (express or the fast path of `server.ts`). */
export interface ChatInput {
  tenant: Tenant;
  headers: IncomingHttpHeaders;
  /** The parsed JSON body; undefined when the request carried none or not as JSON. */
  body: unknown;
  /** Whether the request carried a body at all. */
  hasBody: boolean;
  /** The JSON text `body` was parsed from, when the reader kept it (the fast path does; express.json's `verify` too). */
  rawText?: string | undefined;
}

/**
 * The body's text as express.json read it (kept by its `verify` hook in app.ts as `rawBody`), when it was UTF-8: the
 * only charset whose bytes decode here to exactly the text body-parser parsed.
 */
function rawTextOf(req: Request): string | undefined {
  const raw = (req as Request & { rawBody?: Buffer }).rawBody;
  if (!raw) return undefined;
  const charset = /charset=([^;]+)/i
    .exec(req.headers['content-type'] ?? '')?.[1]
    ?.trim()
    .toLowerCase();
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') return undefined;
  const text = raw.toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** The express handler around the route core for one endpoint; a request that waits is held by `hold`. */
export function chatCompletionsHandler(
  accept: (input: ChatInput, endpoint?: Endpoint) => Promise<ChatReply>,
  hold: HoldDeps,
  endpoint: Endpoint = CHAT_ENDPOINT,
) {
  return async (req: Request, res: Response): Promise<void> => {
    const reply = await accept(
      {
        tenant: tenantOf(res),
        headers: req.headers,
        body: req.body,
        hasBody: hasBody(req),
        rawText: rawTextOf(req),
      },
      endpoint,
    );
    if (reply.wait) {
      releaseBody(req);
      holdForOutcome(res, reply.wait, hold);
    } else res.status(reply.status).set(reply.headers).json(reply.body);
  };
}

/**
 * A waiting request is stored before it waits, so its body is no longer needed here; but the request object lives as
 * long as the connection is held (minutes), and with it the parsed body and its bytes (`rawBody`) — twice the body's
 * size per waiting connection. Let them go (S7 in docs/benchmarks.md).
 */
function releaseBody(req: Request): void {
  req.body = undefined;
  (req as Request & { rawBody?: Buffer | undefined }).rawBody = undefined;
}

/**
 * The route itself, for every batchable endpoint (SPEC §9): validation, limits and the enqueue, with no HTTP framework
 * around it.
 */
export function chatCompletionsCore(
  deps: ChatRouteDeps,
): (input: ChatInput, endpoint?: Endpoint) => Promise<ChatReply> {
  const { runtime, callbacks, rateLimiter, capacity, models, providers, budgets } = deps;
  const { config, store, metrics, logger } = runtime;
  const partitions = config.redis.partitions;
  const scheduler = new LaneScheduler(runtime);

  /** The reply that joins the request an earlier attempt created (see X-Stainless-Retry-Count above), if any. */
  const joinEarlier = async (joinKey: string): Promise<ChatReply | undefined> => {
    const earlier = await runtime.redis.get(joinKey);
    const record = earlier ? await store.requests.get(earlier) : undefined;
    if (!record) return undefined;
    const body = toRequestObject(record);
    return { status: 200, headers: { Location: `/v1/requests/${record.id}` }, body };
  };

  return async (req: ChatInput, endpoint: Endpoint = CHAT_ENDPOINT): Promise<ChatReply> => {
    const tenant = req.tenant;
    // express.json only parses JSON media types; anything else (or no body at all) leaves req.body undefined.
    if (req.body === undefined && !req.hasBody) {
      throw invalidParam('body', `request body is required: a JSON ${endpoint} body`, 'missing_body');
    }
    if (!providers && !config.upstream.profile.endpoints.includes(endpoint)) {
      throw new ApiError({
        status: 400,
        type: 'invalid_request_error',
        code: 'endpoint_not_supported',
        param: null,
        message: `${endpoint} is not batched by the configured provider (profile ${config.upstream.profile.name}); it batches ${config.upstream.profile.endpoints.join(', ')}`,
        reason: 'invalid',
      });
    }
    if (req.body === undefined) {
      throw new ApiError({
        status: 415,
        type: 'invalid_request_error',
        code: 'unsupported_media_type',
        param: 'Content-Type',
        message: 'request body must be JSON: send Content-Type: application/json',
        reason: 'unsupported_media_type',
      });
    }
    // Before anything reads the body deeper: bounds that keep a poison body out of every batch (issue 16.1a).
    if (req.rawText !== undefined) checkJsonText(req.rawText);
    else checkJsonValue(req.body);
    // Transparent mode (SPEC §8): a request that waits is answered with its outcome, so it needs no callback URL and
    // may ask for a stream.
    const prefer = parsePrefer(req.headers.prefer);
    const waitS = effectiveWaitS({
      prefer,
      tenantDefaultS: tenant.default_wait_s,
      maxWaitS: config.limits.maxWaitS,
      clientTimeoutS: clientTimeoutS(req.headers['x-stainless-timeout']),
    });
    const chat = parseEndpointRequest(endpoint, req.body, req.rawText, { streamAllowed: waitS > 0 });

    if (!modelAllowed(tenant, chat.model)) {
      throw new ApiError({
        status: 403,
        type: 'permission_error',
        code: 'model_not_allowed',
        param: 'model',
        message: `The model '${chat.model}' is not allowed for this API key (see GET /v1/models)`,
        reason: 'model',
      });
    }

    // Several providers: the model picks the providers that serve it (SPEC §11); the group names the one chosen.
    let route: { provider: string; allowed?: readonly string[] | undefined } | undefined;
    if (providers) {
      const answer = await providers.route(tenant, chat.model, endpoint);
      if (!answer.ok && answer.reason === 'endpoint') {
        throw new ApiError({
          status: 400,
          type: 'invalid_request_error',
          code: 'endpoint_not_supported',
          param: null,
          message: `${endpoint} is not batched by the providers that serve '${chat.model}' (${answer.providers.join(', ')})`,
          reason: 'invalid',
        });
      }
      if (!answer.ok) {
        throw new ApiError({
          status: 400,
          type: 'invalid_request_error',
          code: 'model_not_found',
          param: 'model',
          message: `The model '${chat.model}' is not served by any configured provider${tenant.allowed_providers ? ` this key may use (${tenant.allowed_providers.join(', ')})` : ''} (see GET /v1/models)`,
          reason: 'model',
        });
      }
      route = { provider: answer.provider.id, allowed: answer.allowed };
    }
    // A provider that translates chat completions (Anthropic Messages): what the translation cannot carry (n > 1,
    // logprobs, penalties, json_object, …) is refused here, naming the field, rather than failing inside a batch.
    const routedTo = route ? providers?.registry.config(route.provider) : undefined;
    const routedProfile = routedTo?.profile ?? config.upstream.profile;
    if (endpoint === CHAT_ENDPOINT && routedProfile.api === 'anthropic') {
      const fields = refusedChatFields(JSON.parse(chat.upstreamBody) as ChatCompletionBody, {
        defaultMaxTokens: routedTo ? routedTo.defaultMaxTokens : routedProfile.defaultMaxTokens,
      });
      const first = fields[0];
      if (first) {
        throw new ApiError({
          status: 400,
          type: 'invalid_request_error',
          code: 'unsupported_parameter',
          param: first.field,
          message: describeRefusal(fields),
          reason: 'invalid',
        });
      }
    }
    // `*` and `prefix*` mean the models the provider serves: a junk name would become its own failing batch and its
    // own metric series (issue 14.5).
    // Known models are decided without an await (the hot path); only an unknown one may wait for the first list.
    if (!providers && !models.serves(chat.model) && !(await models.servesSoon(chat.model))) {
      throw new ApiError({
        status: 400,
        type: 'invalid_request_error',
        code: 'model_not_found',
        param: 'model',
        message: `The model '${chat.model}' is not served by the configured provider (see GET /v1/models)`,
        reason: 'model',
      });
    }

    // The header wins over the body field, and both over the tenant's default (SPEC §3).
    const callbackUrl = header(req, 'x-callback-url') ?? chat.bodyCallbackUrl ?? tenant.default_callback_url;
    // `Prefer: respond-async` without a callback URL: the client collects the outcome itself (GET /v1/requests/{id},
    // long-polled with `Prefer: wait`), as @batchbridge/client and the batchbridge command do.
    if (callbackUrl === undefined && waitS === 0 && !prefer.respondAsync) {
      throw invalidParam(
        'callback_url',
        'a callback URL is required: send the X-Callback-URL header or a callback_url field ' +
          '(or `Prefer: wait=<seconds>` to get the answer in the response instead, ' +
          'or `Prefer: respond-async` to fetch it with GET /v1/requests/{id})',
        'missing_callback_url',
      );
    }
    const verdict = callbackUrl === undefined ? { ok: true as const } : await callbacks.validate(callbackUrl);
    if (!verdict.ok) {
      throw new ApiError({
        status: verdict.code === 'invalid_callback_url' ? 400 : 422,
        type: 'invalid_request_error',
        code: verdict.code,
        param: 'callback_url',
        message: verdict.message,
        reason: 'callback_url',
      });
    }

    const headerRef = header(req, 'x-custom-id');
    if (headerRef !== undefined && headerRef.length > MAX_CLIENT_REF_LENGTH) {
      throw invalidParam('custom_id', `X-Custom-ID must be 1–${MAX_CLIENT_REF_LENGTH} characters`);
    }
    const clientRef = headerRef ?? chat.bodyClientRef;
    const deadlineAt = deadlineOf(req, chat.bodyDeadline, tenant);

    const idempotencyKey = header(req, 'idempotency-key');
    if (
      idempotencyKey !== undefined &&
      (idempotencyKey.trim() === '' || idempotencyKey.length > MAX_IDEMPOTENCY_KEY_LENGTH)
    ) {
      throw invalidParam(
        'Idempotency-Key',
        `Idempotency-Key must be 1–${MAX_IDEMPOTENCY_KEY_LENGTH} characters`,
        'invalid_idempotency_key',
      );
    }

    let group = groupFor(endpoint, chat.model, config.batch.mixModels, route);
    const partition = choosePartition(partitions, tenant.id, idempotencyKey);
    if (deadlineAt !== undefined && scheduler.windowsOf(providerOfGroup(group)) !== undefined) {
      // A provider whose completion windows are lanes of their own (Doubleword's 1 h): a deadline the default window
      // would miss but a faster one meets puts the request in that window's group from the start (SPEC §10).
      const pre = await scheduler.plan({ partition, group, tenant, deadlineAt, queued: false });
      if (pre.lane === 'batch') group = pre.group;
    }
    const id = newRequestId(partition);
    // The body goes into the line verbatim: measure the envelope and the body apart rather than build the line twice.
    const bytes = Buffer.byteLength(batchLine(id, '', endpoint)) + Buffer.byteLength(chat.upstreamBody);
    const tokens = chat.tokens;
    const inputs = chat.inputs;
    // The limits of this endpoint's batches (profile `endpointLimits`): a request that could never fit in one is
    // refused here, not left queued forever.
    const limits = config.batch.endpoints[endpoint];
    const sizeParam = endpoint === CHAT_ENDPOINT ? 'messages' : endpoint === '/v1/completions' ? 'prompt' : 'input';
    if (bytes > limits.maxBytes) {
      throw new ApiError({
        status: 413,
        type: 'invalid_request_error',
        code: 'request_too_large',
        param: sizeParam,
        message: `this request needs ${bytes} bytes in a batch file, more than the ${limits.maxBytes} a batch may hold`,
        reason: 'too_large',
      });
    }
    if (tokens > limits.maxTokens) {
      throw new ApiError({
        status: 400,
        type: 'invalid_request_error',
        code: 'too_many_tokens',
        param: sizeParam,
        message: `this request has about ${tokens} input tokens, more than the ${limits.maxTokens} a batch may hold`,
        reason: 'too_large',
      });
    }
    if (inputs > limits.maxInputs) {
      throw new ApiError({
        status: 400,
        type: 'invalid_request_error',
        code: 'too_many_inputs',
        param: sizeParam,
        message: `this request has ${inputs} inputs, more than the ${limits.maxInputs} a ${endpoint} batch may hold`,
        reason: 'too_large',
      });
    }

    // A replay of an Idempotency-Key is answered from what is stored and costs no rate (issue 16.19): a client
    // retrying after a lost 202 must not be throttled into a 429 it would retry again.
    // Looked up only for a rate-limited tenant: everyone else pays no extra round trip.
    if (
      tenant.rate_limit_per_s !== undefined &&
      !(
        idempotencyKey !== undefined && (await store.requests.idempotencyKeyHeld(partition, tenant.id, idempotencyKey))
      ) &&
      !(await rateLimiter.take(tenant.id, tenant.rate_limit_per_s))
    ) {
      throw rateLimited(tenant.rate_limit_per_s);
    }

    const digest = () =>
      createHash('sha256')
        .update(chat.canonicalBody())
        .update('\n')
        .update(callbackUrl ?? '')
        .update('\n')
        .update(clientRef ?? '')
        .digest('base64url');
    const bodyHash = idempotencyKey === undefined ? undefined : digest();
    // The openai SDKs retry a timed-out POST with no Idempotency-Key (X-Stainless-Retry-Count: 1, 2): for a request
    // that waits, such a retry of the same body by the same tenant joins the request its first attempt created, so
    // it is answered (and paid) once (SPEC §8).
    const retryCount = header(req, 'x-stainless-retry-count');
    const joinKey =
      waitS > 0 && idempotencyKey === undefined && retryCount !== undefined
        ? runtime.keys.retryJoin(tenant.id, digest())
        : undefined;
    if (joinKey !== undefined && retryCount !== '0') {
      const joined = await joinEarlier(joinKey);
      if (joined) {
        metrics.m.waitRetriesJoined.inc();
        return { ...joined, wait: { id: joined.body.id, seconds: waitS, current: joined.body, stream: chat.stream } };
      }
    }

    if (budgets) {
      await budgets.check(tenant, {
        model: chat.model,
        tokens,
        providers: [route?.provider ?? 'default', config.upstream.profile.name],
      });
    }

    const elsewhere = await capacity.elsewhere(tenant.id, partition);
    // created_at is taken in the same synchronous step as the script's own Date.now() (store.enqueue reads it before
    // its first await), so the object we answer with matches the stored record without reading it back.
    const createdAt = Date.now();
    const result = await store.requests.enqueue(
      {
        id,
        partition,
        tenant: tenant.id,
        model: chat.model,
        group,
        body: chat.upstreamBody,
        bytes,
        tokens,
        inputs,
        clientRef,
        callbackUrl,
        idempotencyKey,
        bodyHash,
        schema: schemaText(endpoint, req.body),
        deadlineAt,
      },
      {
        tenantMax: tenant.max_queued,
        tenantOpenElsewhere: elsewhere.tenant,
        globalMax: config.limits.globalMaxQueued,
        globalOpenElsewhere: elsewhere.global,
      },
    );

    switch (result.kind) {
      case 'created': {
        capacity.noteCreated(tenant.id, partition);
        metrics.m.requestsAccepted.inc({ tenant: config.metrics.tenantLabel ? tenant.id : '' });
        logger.debug({ requestId: id, tenant: tenant.id }, 'request accepted');
        let body = createdObject(id, chat.model, group, clientRef, createdAt, deadlineAt);
        if (deadlineAt !== undefined) {
          // The cheapest lane expected to meet the deadline (SPEC §10); a fast one takes the request from the queue at
          // once (a crash before that leaves it queued and indexed: the lane service's deadline pass plans it again).
          const plan = await scheduler.plan({ partition, group, tenant, deadlineAt, queued: true });
          metrics.m.laneDecisions.inc({ lane: plan.lane, provider: providerOfGroup(group) });
          if (isFastLane(plan.lane)) {
            const claim = await store.lanes.claim(partition, id, plan.lane);
            if (claim.claimed) {
              await runtime.relay.relay(partition, [claim.outbox]);
              body = { ...body, status: 'submitted', lane: plan.lane, attempts: 1 };
            }
          }
        }
        if (joinKey !== undefined) {
          // Best effort: without it a retry creates a second request, as it would without transparent mode.
          await runtime.redis.set(joinKey, id, 'PX', joinWindowMs(waitS)).catch(() => undefined);
        }
        return {
          status: 202,
          headers: { Location: `/v1/requests/${id}` },
          body,
          ...(waitS > 0 ? { wait: { id, seconds: waitS, current: body, stream: chat.stream } } : {}),
        };
      }
      case 'replayed': {
        if (!result.sameBody) {
          throw conflict(
            'idempotency_key_reused',
            'this Idempotency-Key was already used with a different request body, callback URL or custom_id',
            'Idempotency-Key',
          );
        }
        const record = await store.requests.get(result.id);
        if (!record || record.tenant !== tenant.id) {
          throw conflict(
            'idempotency_key_expired',
            'this Idempotency-Key belongs to a request whose record has expired; use a new key',
            'Idempotency-Key',
          );
        }
        const body = toRequestObject(record);
        return {
          status: 200,
          headers: { 'Idempotent-Replayed': 'true', Location: `/v1/requests/${record.id}` },
          body,
          // A client retrying a request that waits (its connection dropped) waits on the same request again.
          ...(waitS > 0 ? { wait: { id: record.id, seconds: waitS, current: body, stream: chat.stream } } : {}),
        };
      }
      case 'quota_tenant':
        throw new ApiError({
          status: 429,
          type: 'rate_limit_error',
          code: 'queue_quota_exceeded',
          message: `this tenant already has ${tenant.max_queued} requests in flight (max_queued); retry when some have finished`,
          reason: 'quota',
          headers: { 'Retry-After': QUOTA_RETRY_AFTER_S },
        });
      case 'quota_global':
        throw new ApiError({
          status: 503,
          type: 'service_unavailable',
          code: 'capacity_exceeded',
          message: 'batchbridge is at its global capacity (GLOBAL_MAX_QUEUED); retry later',
          reason: 'capacity',
          headers: { 'Retry-After': QUOTA_RETRY_AFTER_S },
        });
    }
  };
}

/**
 * How long a waiting request can be joined by an SDK retry: the SDKs retry twice after their own timeout (10 min by
 * default), with a short back-off; three waits and a margin cover both.
 */
function joinWindowMs(waitS: number): number {
  return (3 * Math.max(waitS, 600) + 120) * 1000;
}

/** Whether the request carries a body at all (the test body-parser itself uses). */
export function hasBody(req: { headers: IncomingHttpHeaders }): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** A request header; an empty one counts as absent (clients often send `X-Callback-URL: $UNSET_VARIABLE`). */
function header(req: { headers: IncomingHttpHeaders }, name: string): string | undefined {
  const raw = req.headers[name];
  const v = Array.isArray(raw) ? raw[0] : raw;
  return v === '' ? undefined : v;
}

/**
 * The request's deadline (SPEC §10), ms since the epoch: `X-Deadline` (wins), the body's `deadline`, the tenant's
 * `default_deadline`, or — for a tenant that asks for it — the openai SDK's own `X-Stainless-Timeout`. A bad value is
 * a 400 naming it.
 */
function deadlineOf(
  req: { headers: IncomingHttpHeaders },
  bodyDeadline: string | number | undefined,
  tenant: Tenant,
): number | undefined {
  const now = Date.now();
  const fromHeader = header(req, 'x-deadline');
  const raw = fromHeader ?? bodyDeadline;
  if (raw !== undefined) {
    const parsed = parseDeadline(raw, now);
    if (!parsed.ok) {
      const param = fromHeader !== undefined ? 'X-Deadline' : 'deadline';
      throw invalidParam(param, `Invalid '${param}': ${parsed.message}`, 'invalid_deadline');
    }
    return parsed.atMs;
  }
  if (tenant.default_deadline !== undefined) {
    const ms = parseRelativeDeadlineMs(tenant.default_deadline);
    if (ms !== undefined) return now + ms;
  }
  if (tenant.deadline_from_client_timeout) {
    const s = clientTimeoutS(req.headers['x-stainless-timeout']);
    if (s !== undefined) return now + Math.round(s * 1000);
  }
  return undefined;
}

function createdObject(
  id: string,
  model: string,
  group: string,
  clientRef: string | undefined,
  createdAt: number,
  deadlineAt?: number,
  lane: Lane = 'batch',
): RequestObject {
  return toRequestObject({
    id,
    tenant: '',
    status: 'queued',
    model,
    group,
    client_ref: clientRef,
    callback_url: undefined,
    body: '',
    bytes: 0,
    tokens: 0,
    inputs: 0,
    created_at: createdAt,
    updated_at: createdAt,
    completed_at: undefined,
    batch_id: undefined,
    flush_id: undefined,
    attempts: 0,
    response: undefined,
    error: undefined,
    last_error: undefined,
    delivered_at: undefined,
    gone_at: undefined,
    dead: false,
    lane,
    deadline_at: deadlineAt,
  });
}

/** The JSON schema every answer must follow (structured outputs, SPEC §14), as stored on the record. */
function schemaText(endpoint: string, body: unknown): string | undefined {
  const schema = structuredOutputSchema(endpoint, body);
  return schema === undefined ? undefined : JSON.stringify(schema);
}
