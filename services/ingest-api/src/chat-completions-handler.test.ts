// A waiting request keeps its connection (and so its request object) for minutes: what it still references then is
// paid once per waiting connection. Its body was stored before the wait and must not be among it.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RequestObject, RequestOutcome } from '@batchbridge/domain';
import express, { type Request } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChatReply, chatCompletionsHandler } from './chat-completions-route.js';
import type { HoldDeps } from './wait/hold.js';
import type { OutcomeWaiter, WaitResult } from './wait/outcome-waiter.js';

const current = { id: 'breq_held', object: 'request', status: 'queued' } as unknown as RequestObject;
let server: Server;
let url: string;
let lastRequest: (Request & { rawBody?: Buffer }) | undefined;
const seenDuringWait: Array<{ body: unknown; rawBody: unknown }> = [];

beforeAll(async () => {
  const app = express();
  app.use(
    express.json({
      verify: (req, _res, buf) => {
        (req as Request & { rawBody?: Buffer }).rawBody = buf;
      },
    }),
  );
  app.use((req, res, next) => {
    lastRequest = req;
    res.locals.tenant = { id: 't' };
    next();
  });
  const waiter = {
    hold: (_id: string, _ms: number, done: (result: WaitResult<RequestOutcome>) => void) => {
      seenDuringWait.push({ body: lastRequest?.body, rawBody: lastRequest?.rawBody });
      setImmediate(() => done({ kind: 'timeout' }));
      return { cancel: () => undefined };
    },
  } as unknown as OutcomeWaiter<RequestOutcome>;
  const hold: HoldDeps = { waiter, get: async () => undefined };
  const accept = async (): Promise<ChatReply> => ({
    status: 202,
    headers: {},
    body: current,
    wait: { id: 'breq_held', seconds: 5, current, stream: undefined },
  });
  app.post('/v1/chat/completions', chatCompletionsHandler(accept, hold));
  server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/chat/completions`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('chat completions handler, waiting request', () => {
  it('lets the stored body go before holding the connection', async () => {
    const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x'.repeat(4_000) }] });
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(res.status).toBe(202);
    expect(((await res.json()) as { id: string }).id).toBe('breq_held');
    expect(res.headers.get('preference-applied')).toBe('wait=5');
    expect(seenDuringWait).toEqual([{ body: undefined, rawBody: undefined }]);
  });
});
