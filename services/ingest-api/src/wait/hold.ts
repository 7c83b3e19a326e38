/**
 * Holding a connection until its request's outcome (transparent mode, SPEC §8). The request is already stored (the
 * 202 would have been true); from here on nothing the client does changes it: a dropped connection only stops the
 * wait. A plain request is answered once — the provider's answer, or the 202 when the wait ran out; a `stream: true`
 * one gets its event-stream headers at once, an SSE comment every `keepAliveMs` so that proxies and clients keep the
 * connection, then the answer as that endpoint's stream events (or the error as an event).
 *
 * A held connection costs what it must and little more (S7 in docs/benchmarks.md): one 'close' listener, one entry
 * in the waiter, no promise chain, timer or AbortController of its own; the keep-alive comments of all streams come
 * from one interval.
 */
import type { ServerResponse } from 'node:http';
import {
  isTerminal,
  type RequestObject,
  type RequestOutcome,
  type RequestRecord,
  toRequestObject,
} from '@batchbridge/domain';
import type { StreamAsk } from '../endpoint-request.js';
import { completionAsSse, errorAsSse, SSE_KEEPALIVE } from './chat-sse.js';
import type { OutcomeWaiter, WaitResult } from './outcome-waiter.js';
import { responseAsSse, responsesErrorAsSse } from './responses-sse.js';
import { finishedAnswer, finishedRequestOf, outcomeAnswer, pendingAnswer, type WaitAnswer } from './wait-answer.js';

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
  /** Waits on the outcome of a request (only the fields the answer needs are read: `RequestStore.outcomes`). */
  waiter: OutcomeWaiter<RequestOutcome>;
  /** Reads a record again (the final 202 shows the request as it stands then). */
  get(id: string): Promise<RequestRecord | undefined>;
  keepAliveMs?: number;
  onOutcome?: (outcome: 'finished' | 'timeout' | 'aborted' | 'closed') => void;
  /** True once the server shuts down: the answer then closes its connection. */
  closing?: () => boolean;
}

/** The streams held, all kept alive by one interval per set of deps. */
const keepAlives = new WeakMap<HoldDeps, KeepAlive>();

class KeepAlive {
  readonly #streams = new Set<ServerResponse>();
  #timer: NodeJS.Timeout | undefined;
  constructor(readonly everyMs: number) {}
  add(res: ServerResponse): void {
    this.#streams.add(res);
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      for (const r of this.#streams) r.write(SSE_KEEPALIVE);
    }, this.everyMs);
    this.#timer.unref();
  }
  delete(res: ServerResponse): void {
    this.#streams.delete(res);
    if (this.#streams.size === 0 && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}

function keepAliveOf(deps: HoldDeps): KeepAlive {
  let k = keepAlives.get(deps);
  if (!k) {
    k = new KeepAlive(deps.keepAliveMs ?? 15_000);
    keepAlives.set(deps, k);
  }
  return k;
}

/**
 * Waits for the outcome of `plan.id` and answers on `res`; `onEnd` is called once with the status answered (0 when
 * the client went away first).
 */
export function holdForOutcome(
  res: ServerResponse,
  plan: WaitPlan,
  deps: HoldDeps,
  onEnd?: (status: number) => void,
): void {
  const keepAlive = plan.stream ? keepAliveOf(deps) : undefined;
  let ended = false;
  const end = (status: number) => {
    if (ended) return;
    ended = true;
    keepAlive?.delete(res);
    res.off('close', onClose);
    onEnd?.(status);
  };
  let handle: { cancel(): void } | undefined;
  let reported = false;
  const onClose = () => {
    handle?.cancel();
    if (!reported) deps.onOutcome?.('aborted');
    reported = true;
    end(0);
  };
  res.once('close', onClose);
  if (plan.stream) {
    res.writeHead(200, [
      'Content-Type',
      'text/event-stream; charset=utf-8',
      'Cache-Control',
      'no-cache',
      'X-Request-ID',
      plan.id,
      'Preference-Applied',
      `wait=${plan.seconds}`,
    ]);
    res.flushHeaders();
    keepAlive?.add(res);
  }
  const settled = (result: WaitResult<RequestOutcome>) => {
    if (ended) return;
    reported = true;
    deps.onOutcome?.(result.kind);
    if (result.kind === 'aborted' || res.destroyed) {
      end(0);
      return;
    }
    if (result.kind === 'finished') {
      const answer = plan.stream
        ? finishedAnswer(finishedRequestOf(result.record), plan.seconds)
        : outcomeAnswer(result.record, plan.seconds);
      end(write(res, answer, plan, deps));
      return;
    }
    void latest(plan, deps).then((current) => {
      if (ended || res.destroyed) end(0);
      else end(write(res, pendingAnswer(current, plan.seconds), plan, deps));
    });
  };
  const wait = () => {
    if (ended) return;
    handle = deps.waiter.hold(plan.id, plan.seconds * 1000, settled);
  };
  // A replayed request may be final already; a fresh one is queued and only the waiter can tell.
  if (isTerminal(plan.current.status)) {
    deps.get(plan.id).then(
      (record) =>
        record && isTerminal(record.status) ? settled({ kind: 'finished', record: outcomeOf(record) }) : wait(),
      () => wait(),
    );
  } else wait();
}

/** Writes the answer; returns its status. */
function write(res: ServerResponse, answer: WaitAnswer, plan: WaitPlan, deps: HoldDeps): number {
  if (deps.closing?.()) res.shouldKeepAlive = false;
  if (plan.stream) {
    res.end(streamText(answer, plan));
    return 200;
  }
  const text = answer.text ?? JSON.stringify(answer.body);
  const headers: string[] = [
    'Content-Type',
    'application/json; charset=utf-8',
    'Content-Length',
    String(Buffer.byteLength(text)),
  ];
  for (const name in answer.headers) headers.push(name, answer.headers[name] as string);
  res.writeHead(answer.status, headers);
  res.end(text);
  return answer.status;
}

/** A record's outcome as `RequestStore.outcomes` reads it (a replay of a request that has finished already). */
function outcomeOf(r: RequestRecord): RequestOutcome {
  return {
    id: r.id,
    status: r.status,
    response: r.response === undefined ? undefined : JSON.stringify(r.response),
    error: r.error === undefined ? undefined : JSON.stringify(r.error),
  };
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
