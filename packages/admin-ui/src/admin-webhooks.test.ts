// The operator page's part of SPEC §16: unhealthy endpoints with a re-enable button, and an outcome's delivery log.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { newRequestId } from '@batchbridge/domain';
import { createTestRuntime, type TestRuntime } from '@batchbridge/testkit';
import express from 'express';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createAdminRouter } from './index.js';

const ADMIN_KEY = 'admin-key-for-tests-0123456789';
let rt: TestRuntime;
let server: Server;
let url: string;

beforeAll(async () => {
  rt = await createTestRuntime({ env: { ADMIN_KEY } });
  const app = express();
  app.use('/admin', createAdminRouter(rt));
  server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/admin`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await rt.dispose();
});

const bearer = { authorization: `Bearer ${ADMIN_KEY}` };

it('lists a disabled endpoint and re-enables it', async () => {
  const health = { threshold: 1, cooldownMs: 60_000, disableAfterMs: 0 };
  expect(await rt.store.endpoints.record('acme', 'hooks.example.com:443', false, 'receiver answered 500', health)).toBe(
    'disabled_now',
  );
  const overview = (await (await fetch(`${url}/overview.json`, { headers: bearer })).json()) as { endpoints: unknown };
  expect(overview.endpoints).toMatchObject([
    { tenant: 'acme', host: 'hooks.example.com:443', state: 'disabled', lastError: 'receiver answered 500' },
  ]);
  const page = await (await fetch(`${url}/`, { headers: { ...bearer, accept: 'text/html' } })).text();
  expect(page).toContain('data-endpoint="acme hooks.example.com:443"');
  expect(page).toContain('Re-enable');

  const bad = await fetch(`${url}/endpoints/enable`, {
    method: 'POST',
    headers: { ...bearer, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'tenant=nobody&host=hooks.example.com:443',
  });
  expect(bad.status).toBe(400);
  const ok = await fetch(`${url}/endpoints/enable`, {
    method: 'POST',
    headers: { ...bearer, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'tenant=acme&host=hooks.example.com%3A443',
  });
  expect(await ok.json()).toMatchObject({ state: 'enabled', was_unhealthy: true });
  expect(
    ((await (await fetch(`${url}/overview.json`, { headers: bearer })).json()) as { endpoints: unknown }).endpoints,
  ).toEqual([]);
  expect(await rt.store.endpoints.gate('acme', 'hooks.example.com:443', 1000)).toEqual({ kind: 'closed' });
});

it("shows an outcome's delivery attempts", async () => {
  const id = newRequestId(0);
  const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [] });
  await rt.store.requests.enqueue(
    { id, partition: 0, tenant: 'acme', model: 'gpt-4o-mini', group: 'g', body, bytes: 10, tokens: 1 },
    {},
  );
  const at = new Date().toISOString();
  await rt.store.requests.recordAttempt(
    0,
    id,
    { at, status_code: 502, error: 'receiver answered 502', duration_ms: 12, next_attempt_at: at },
    20,
  );
  const json = (await (await fetch(`${url}/requests/${id}/deliveries`, { headers: bearer })).json()) as {
    data: unknown;
  };
  expect(json.data).toEqual([
    { attempt: 1, at, status_code: 502, error: 'receiver answered 502', duration_ms: 12, next_attempt_at: at },
  ]);
  const page = await (
    await fetch(`${url}/requests/${id}/deliveries`, { headers: { ...bearer, accept: 'text/html' } })
  ).text();
  expect(page).toContain('receiver answered 502');
  expect((await fetch(`${url}/requests/breq_00nope/deliveries`, { headers: bearer })).status).toBe(404);
});
