/**
 * Helpers for the simulator's own tests: start a fast simulator, call it over real HTTP, wait for batches.
 * Not part of the public surface.
 */
import { afterEach } from 'vitest';
import { createProviderSim, type ProviderSim } from '../src/create-provider-sim.js';
import { FAST_TIMINGS, type ProviderSimOptions } from '../src/options.js';

const started: ProviderSim[] = [];

afterEach(async () => {
  await Promise.all(started.splice(0).map((sim) => sim.close()));
});

/** A simulator on a free loopback port with near-zero timings, closed after the test. */
export async function startSim(options: ProviderSimOptions = {}): Promise<ProviderSim> {
  const sim = await createProviderSim({
    ...options,
    timings: { ...FAST_TIMINGS, ...options.timings },
  });
  started.push(sim);
  return sim;
}

export interface ApiResult<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
}

/** JSON call to `/v1` with a bearer key. */
export async function api<T = Record<string, unknown>>(
  sim: ProviderSim,
  method: string,
  path: string,
  body?: unknown,
  init: { key?: string | null; signal?: AbortSignal } = {},
): Promise<ApiResult<T>> {
  const headers: Record<string, string> = {};
  const key = init.key === undefined ? 'sk-test' : init.key;
  if (key !== null) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${sim.url}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    ...(init.signal ? { signal: init.signal } : {}),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : null) as T };
}

/** Admin call to `/_sim`. */
export async function admin<T = Record<string, unknown>>(
  sim: ProviderSim,
  method: string,
  path: string,
  body?: unknown,
): Promise<ApiResult<T>> {
  const res = await fetch(`${sim.adminUrl}${path}`, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : null) as T };
}

/** One batch input line for `/v1/chat/completions`. */
export function chatLine(customId: string, text: string, model = 'gpt-4o-mini'): Record<string, unknown> {
  return {
    custom_id: customId,
    method: 'POST',
    url: '/v1/chat/completions',
    body: { model, messages: [{ role: 'user', content: text }] },
  };
}

export function jsonl(lines: readonly unknown[]): string {
  return lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n';
}

/** Uploads JSONL text (or line objects) with purpose `batch`; answers the file object. */
export async function upload(
  sim: ProviderSim,
  content: string | readonly unknown[],
  purpose = 'batch',
): Promise<ApiResult> {
  const form = new FormData();
  form.set('purpose', purpose);
  const text = typeof content === 'string' ? content : jsonl(content);
  form.set('file', new Blob([text], { type: 'application/jsonl' }), 'input.jsonl');
  const res = await fetch(`${sim.url}/files`, {
    method: 'POST',
    headers: { authorization: 'Bearer sk-test' },
    body: form,
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

export type Batch = Record<string, unknown> & {
  id: string;
  status: string;
  output_file_id: string | null;
  error_file_id: string | null;
  request_counts: { total: number; completed: number; failed: number };
  errors: {
    object: string;
    data: { code: string; line: number | null; message: string; param: string | null }[];
  } | null;
};

/** Uploads the lines and creates a batch; answers the create response. */
export async function submitBatch(
  sim: ProviderSim,
  lines: string | readonly unknown[],
  extra: Record<string, unknown> = {},
): Promise<Batch> {
  const file = await upload(sim, lines);
  if (file.status !== 200) throw new Error(`upload failed: ${JSON.stringify(file.body)}`);
  const created = await api<Batch>(sim, 'POST', '/batches', {
    input_file_id: file.body.id,
    endpoint: '/v1/chat/completions',
    completion_window: '24h',
    ...extra,
  });
  if (created.status !== 200) throw new Error(`create failed: ${JSON.stringify(created.body)}`);
  return created.body;
}

const TERMINAL = ['completed', 'failed', 'expired', 'cancelled'];

/** Polls until the batch reaches one of `statuses` (default: any terminal one). */
export async function waitForBatch(
  sim: ProviderSim,
  id: string,
  statuses: readonly string[] = TERMINAL,
): Promise<Batch> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { body } = await api<Batch>(sim, 'GET', `/batches/${id}`);
    if (statuses.includes(body.status)) return body;
    if (Date.now() > deadline) throw new Error(`batch ${id} stuck in ${body.status}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export interface OutputLine {
  id: string;
  custom_id: string;
  response: { status_code: number; request_id: string; body: Record<string, unknown> } | null;
  error: { code: string; message: string } | null;
}

/** Downloads a file and parses its JSONL (empty list for a null id). */
export async function readLines(sim: ProviderSim, fileId: string | null): Promise<OutputLine[]> {
  if (fileId === null) return [];
  const res = await fetch(`${sim.url}/files/${fileId}/content`, { headers: { authorization: 'Bearer sk-test' } });
  if (res.status !== 200) throw new Error(`content ${res.status}`);
  const text = await res.text();
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as OutputLine);
}
