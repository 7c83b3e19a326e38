/**
 * `GET /v1/requests/{id}`, `POST /v1/requests/{id}/cancel`, `POST /v1/requests/{id}/redeliver` (SPEC §3). A request of
 * another tenant is indistinguishable from one that never existed (404), so ids cannot be probed across tenants.
 */
import {
  deliveryMember,
  isTerminal,
  type RequestObject,
  type RequestRecord,
  toRequestObject,
} from '@batchbridge/domain';
import type { Runtime } from '@batchbridge/runtime';
import type { Request, Response } from 'express';
import { tenantOf } from './auth.js';
import { ApiError, notFound } from './errors.js';
import type { HoldDeps } from './wait/hold.js';
import { parsePrefer } from './wait/prefer.js';

/** One redeliver per request per this long (issue 16.9): each one is a signed POST to the tenant's receiver. */
export const REDELIVER_GAP_MS = 5_000;

export function requestsHandlers(runtime: Runtime, hold?: HoldDeps) {
  const { store, relay, config, logger } = runtime;
  const retention = describeMs(config.limits.resultRetentionMs);

  const missing = (id: string) =>
    notFound(
      `No request found with id '${id}' for this API key (results are kept for ${retention} after they finish, RESULT_RETENTION)`,
      'id',
    );

  /** The tenant's record, or a 404. */
  const load = async (req: Request, res: Response): Promise<{ id: string; record: RequestRecord }> => {
    const id = String(req.params.id);
    const record = store.requests.partitionOf(id) === undefined ? undefined : await store.requests.get(id);
    if (!record || record.tenant !== tenantOf(res).id) throw missing(id);
    return { id, record };
  };

  return {
    get: async (req: Request, res: Response): Promise<void> => {
      const { id, record } = await load(req, res);
      // `Prefer: wait=<s>` long-polls until the request is final (SPEC §8); the answer is the request object either way.
      const waitS = Math.min(parsePrefer(req.headers.prefer).wait ?? 0, config.limits.maxWaitS);
      if (waitS === 0 || !hold || isTerminal(record.status)) {
        if (waitS > 0) res.set('Preference-Applied', `wait=${waitS}`);
        res.json(toRequestObject(record));
        return;
      }
      // As a held POST does (wait/hold.ts): one 'close' listener, no timer, promise or AbortController of its own.
      let handle: { cancel(): void } | undefined;
      let over = false;
      const onClose = () => {
        if (over) return;
        over = true;
        handle?.cancel();
        hold.onOutcome?.('aborted');
      };
      res.once('close', onClose);
      handle = hold.waiter.hold(id, waitS * 1000, (outcome) => {
        if (over) return;
        over = true;
        res.off('close', onClose);
        hold.onOutcome?.(outcome.kind);
        if (outcome.kind === 'aborted' || res.destroyed) return;
        const answer = (now: RequestObject) => {
          if (!res.destroyed) res.set('Preference-Applied', `wait=${waitS}`).json(now);
        };
        if (outcome.kind === 'finished') {
          // The waiter read only the outcome's fields: the object shows the whole request (not its body).
          store.requests.objects([id]).then(
            ([now]) => answer(now ?? toRequestObject(record)),
            () => answer(toRequestObject(record)),
          );
        } else {
          store.requests.get(id).then(
            (now) => answer(toRequestObject(now ?? record)),
            () => answer(toRequestObject(record)),
          );
        }
      });
    },

    cancel: async (req: Request, res: Response): Promise<void> => {
      const id = String(req.params.id);
      const tenant = tenantOf(res).id;
      const p = store.requests.partitionOf(id);
      if (p === undefined) throw missing(id);
      const result = await store.requests.cancel(id, tenant);
      if (result.kind === 'not_found') throw missing(id);
      if (result.kind === 'conflict') {
        throw new ApiError({
          status: 409,
          type: 'conflict_error',
          code: 'request_not_cancellable',
          param: 'id',
          message: `request ${id} is ${result.status}: only queued requests can be cancelled`,
          reason: 'invalid',
        });
      }
      // The cancel script wrote the delivery job to the outbox atomically; relaying here only makes the
      // request.cancelled webhook prompt. If it fails, the outbox sweep of any service relays it later.
      await relay.relay(p, result.outbox ? [result.outbox] : []).catch((err: Error) => {
        logger.warn({ requestId: id, tenant, err: err.message }, 'cancel: relay failed, left to the outbox sweep');
      });
      const record = await store.requests.get(id);
      if (!record) throw missing(id);
      res.json(toRequestObject(record));
    },

    redeliver: async (req: Request, res: Response): Promise<void> => {
      const { id, record } = await load(req, res);
      if (!isTerminal(record.status)) {
        throw new ApiError({
          status: 409,
          type: 'conflict_error',
          code: 'request_not_finished',
          param: 'id',
          message: `request ${id} is ${record.status}: only a finished request has an outcome to redeliver`,
          reason: 'invalid',
        });
      }
      const p = store.requests.partitionOf(id) ?? 0;
      const gate = runtime.keys.partitionKeys(p).redeliverGate(id);
      if ((await runtime.redis.set(gate, '1', 'PX', REDELIVER_GAP_MS, 'NX')) !== 'OK') {
        const left = Math.max(1, Math.ceil((await runtime.redis.pttl(gate)) / 1000));
        throw new ApiError({
          status: 429,
          type: 'rate_limit_error',
          code: 'redeliver_rate_limited',
          param: 'id',
          message: `a redeliver of request ${id} was asked for less than ${REDELIVER_GAP_MS / 1000} s ago; retry in ${left} s`,
          reason: 'rate_limited',
          headers: { 'Retry-After': String(left) },
        });
      }
      // A redeliver delivery (member `r:<id>`): due now unless one is due or being sent already; it sends even an
      // outcome delivered before. The webhook-id stays the same (it is derived from the request id).
      await store.deliveries.add(p, [deliveryMember(id, true)]);
      logger.info({ requestId: id, tenant: record.tenant, batchId: record.batch_id }, 'redelivery requested');
      res.status(202).json(toRequestObject(record));
    },
  };
}

/** 604800000 → "7d", 90000 → "90s": how RESULT_RETENTION reads in a message. */
export function describeMs(ms: number): string {
  const units: Array<[string, number]> = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
  ];
  for (const [unit, size] of units) if (ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}
