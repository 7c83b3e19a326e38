/** Graceful shutdown: close() stops accepting, lets a request in flight finish, and is idempotent. */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACME_KEY, CALLBACK, chatBody, startTestIngest, type TestIngest } from '../test/helpers.js';

describe('ingest API shutdown', () => {
  let t: TestIngest;
  beforeAll(async () => {
    t = await startTestIngest();
  });
  afterAll(async () => {
    await t.dispose();
  });

  it('finishes a request in flight, then refuses new connections; close() twice is one close', async () => {
    const body = JSON.stringify(chatBody());
    const answered = new Promise<{ status: number; connection: string | undefined; json: { id: string } }>(
      (resolve, reject) => {
        const req = request(`${t.url}/v1/chat/completions`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${ACME_KEY}`,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            'x-callback-url': CALLBACK,
            // The server answers 100 Continue once it has the request: from then on it is in flight.
            expect: '100-continue',
          },
        });
        req.on('response', (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            text += chunk;
          });
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, json: JSON.parse(text) }),
          );
        });
        req.on('error', reject);
        req.on('continue', () => {
          const first = t.api.close();
          expect(t.api.close()).toBe(first);
          req.end(body);
        });
        req.flushHeaders();
      },
    );
    const res = await answered;
    expect(res.status).toBe(202);
    // Answered during the shutdown: the client is told not to reuse the connection.
    expect(res.connection).toBe('close');
    expect((await t.rt.store.requests.get(res.json.id))?.status).toBe('queued');
    await t.api.close();
    await expect(fetch(`${t.url}/healthz`)).rejects.toThrow();
  });
});
