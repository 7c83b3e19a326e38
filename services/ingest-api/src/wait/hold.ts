/**
 * Holding a connection until its request's outcome (transparent mode, SPEC §8). The request is already stored (the
 * 202 would have been true); from here on nothing the client does changes it: a dropped connection only stops the
 * wait. A plain request is answered once — the provider's answer, or the 202 when the wait ran out; a `stream: true`
 * one gets its event-stream headers at once, an SSE comment every `keepAliveMs` so that proxies and clients keep the
 * connection, then the completion as chunks (or the error as an event).
 */
import type { ServerResponse } from 'node:http';
import { isTerminal, type RequestObject, type RequestRecord, toRequestObject } from '@batchbridge/domain';
import type { StreamAsk } from '../endpoint-request.js';
import { completionAsSse, errorAsSse, SSE_KEEPALIVE } from './chat-sse.js';
import type { OutcomeWaiter } from './outcome-waiter.js';
import { responseAsSse, responsesErrorAsSse } from './responses-sse.js';
import { finishedAnswer, pendingAnswer, type WaitAnswer } from './wait-answer.js';

/** What the route hands over when a request is to wait. */
export interface WaitPlan {
  id: string;
  /** The wait applied, in seconds (> 0). */
  seconds: number;
  /** The answer as the request stands now (the 202 object, or a replay's stored record). */
  current: RequestObject;
  /** `stream: true` was asked for, and in which endpoint's event format. */
  stream: StreamAsk | undefined;
}

export interface HoldDeps {
  waiter: OutcomeWaiter<RequestRecord>;
  /** Reads a record again (the final 202 shows the request as it stands then). */
  get(id: string): Promise<RequestRecord | undefined>;
  keepAliveMs?: number;
  onOutcome?: (outcome: 'finished' | 'timeout' | 'aborted' | 'closed') => void;
}

/** Waits for the outcome of `plan.id` and answers on `res`; resolves with the status answered (0 if none). */
export async function holdForOutcome(res: ServerResponse, plan: WaitPlan, deps: HoldDeps): Promise<number> {
  const controller = new AbortController();
  const onClose = () => controller.abort();
  res.once('close', onClose);
  let keepAlive: NodeJS.Timeout | undefined;
  try {
    if (plan.stream) {
      res.writeHead(200, {
        'Content-Type': 'text/event-stream; charset=utf-8',
        'Cache-Control': 'no-cache',
        'X-Request-ID': plan.id,
        'Preference-Applied': `wait=${plan.seconds}`,
      });
      res.flushHeaders();
      keepAlive = setInterval(() => res.write(SSE_KEEPALIVE), deps.keepAliveMs ?? 15_000);
    }
    const outcome = await outcomeOf(plan, deps, controller.signal);
    deps.onOutcome?.(outcome.kind);
    if (outcome.kind === 'aborted' || res.destroyed) return 0;
    const answer =
      outcome.kind === 'finished'
        ? finishedAnswer(toRequestObject(outcome.record), plan.seconds)
        : pendingAnswer(await latest(plan, deps), plan.seconds);
    if (plan.stream) {
      clearInterval(keepAlive);
      res.end(streamText(answer, plan));
      return 200;
    }
    const text = JSON.stringify(answer.body);
    res.writeHead(answer.status, {
      ...answer.headers,
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': String(Buffer.byteLength(text)),
    });
    res.end(text);
    return answer.status;
  } finally {
    clearInterval(keepAlive);
    res.off('close', onClose);
  }
}

async function outcomeOf(
  plan: WaitPlan,
  deps: HoldDeps,
  signal: AbortSignal,
): Promise<{ kind: 'finished'; record: RequestRecord } | { kind: 'timeout' | 'aborted' | 'closed' }> {
  // A replayed request may be final already; a fresh one is queued and only the waiter can tell.
  if (isTerminal(plan.current.status)) {
    const record = await deps.get(plan.id);
    if (record && isTerminal(record.status)) return { kind: 'finished', record };
  }
  return deps.waiter.wait(plan.id, plan.seconds * 1000, signal);
}

async function latest(plan: WaitPlan, deps: HoldDeps): Promise<RequestObject> {
  const record = await deps.get(plan.id).catch(() => undefined);
  return record ? toRequestObject(record) : plan.current;
}

function streamText(answer: WaitAnswer, plan: WaitPlan): string {
  const responses = plan.stream?.format === 'responses';
  const asError = responses ? responsesErrorAsSse : errorAsSse;
  if (answer.status === 200) {
    if (responses) return responseAsSse(answer.body);
    return completionAsSse(answer.body, { includeUsage: plan.stream?.format === 'chat' && plan.stream.includeUsage });
  }
  if (answer.status === 202) {
    return asError({
      error: {
        message: `request ${plan.id} is still in progress after waiting ${plan.seconds} s; its result will be at GET /v1/requests/${plan.id}`,
        type: 'timeout_error',
        param: null,
        code: 'wait_expired',
      },
    });
  }
  return asError(answer.body);
}
