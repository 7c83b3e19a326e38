/**
 * Test helpers of the ingest API's *.test.ts files: an ingest API on a fresh test runtime, and small fetch wrappers.
 * They sit outside src/ so that no production file imports testkit.
 * Everything is real: the shared test Redis under a fresh key prefix, an HTTP server on 127.0.0.1 port 0.
 */
import type { Tenant } from '@batchbridge/config';
import { createTestRuntime, TEST_TENANTS, type TestRuntime } from '@batchbridge/testkit';
import type { ResolveHost } from '@batchbridge/webhooks';
import { type IngestApi, startIngestApi } from '../src/server.js';

export const ACME_KEY = TEST_TENANTS[0]!.api_keys[0]!;
export const GLOBEX_KEY = TEST_TENANTS[1]!.api_keys[0]!;
export const CALLBACK = 'http://127.0.0.1:9/hook';

export interface TestIngest {
  rt: TestRuntime;
  api: IngestApi;
  url: string;
  call(method: string, path: string, init?: CallInit): Promise<Answer>;
  chat(body: unknown, headers?: Record<string, string>, key?: string): Promise<Answer>;
  dispose(): Promise<void>;
}

export interface CallInit {
  body?: unknown;
  /** Raw body text (not JSON-encoded). */
  raw?: string;
  headers?: Record<string, string>;
  key?: string | null;
}

export interface Answer {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON answers
  json: any;
  text: string;
}

export async function startTestIngest(
  options: { env?: Record<string, string>; tenants?: Tenant[]; resolveHost?: ResolveHost; redisUrl?: string } = {},
): Promise<TestIngest> {
  const rt = await createTestRuntime({
    env: { BATCH_MAX_WAIT_MS: '60000', ...options.env },
    ...(options.tenants ? { tenants: options.tenants } : {}),
    ...(options.redisUrl ? { redisUrl: options.redisUrl } : {}),
  });
  const api = await startIngestApi(rt, {
    host: '127.0.0.1',
    port: 0,
    ...(options.resolveHost ? { resolveHost: options.resolveHost } : {}),
  });
  const call = async (method: string, path: string, init: CallInit = {}): Promise<Answer> => {
    const headers: Record<string, string> = { ...init.headers };
    const key = init.key === undefined ? ACME_KEY : init.key;
    if (key !== null) headers.authorization = `Bearer ${key}`;
    let body: string | undefined = init.raw;
    if (init.body !== undefined) {
      body = JSON.stringify(init.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(`${api.url}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, json, text };
  };
  return {
    rt,
    api,
    url: api.url,
    call,
    chat: (body, headers = {}, key = ACME_KEY) =>
      call('POST', '/v1/chat/completions', { body, headers: { 'x-callback-url': CALLBACK, ...headers }, key }),
    dispose: async () => {
      await api.close();
      await rt.dispose();
    },
  };
}

export function chatBody(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello' }], ...extra };
}

/** Every id in every pending set of every partition (what the packer would see). */
export async function pendingIds(rt: TestRuntime): Promise<string[]> {
  const out: string[] = [];
  for (const p of rt.keys.allPartitions()) {
    for (const group of await rt.redis.smembers(rt.keys.partitionKeys(p).groups)) {
      out.push(...(await rt.redis.zrange(rt.keys.partitionKeys(p).pending(group), '0', '-1')));
    }
  }
  return out;
}

export function isOpenAiError(json: unknown): boolean {
  const e = (json as { error?: Record<string, unknown> } | undefined)?.error;
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof e.message === 'string' &&
    typeof e.type === 'string' &&
    'param' in e &&
    'code' in e
  );
}
