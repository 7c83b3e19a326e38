/**
 * What the benchmark sends and seeds: chat bodies of a given size (varied text, not one repeated character, so that
 * nothing downstream gets an unrealistically easy time), the bench tenant, and bulk seeding of queued requests straight
 * through `store.requests.enqueue` — the same Lua script the ingest API runs — for the stages after ingest.
 */
import { randomBytes } from 'node:crypto';
import type { Tenant } from '@batchbridge/config';
import {
  batchLine,
  countInputs,
  estimateEndpointTokens,
  estimateInputTokens,
  groupFor,
  newRequestId,
  type PartitionId,
  type Store,
} from '@batchbridge/domain';

export const MODEL = 'gpt-4o-mini';
export const GROUP = groupFor('/v1/chat/completions', MODEL, false);
export const EMBEDDING_MODEL = 'text-embedding-3-small';
export const EMBEDDINGS_GROUP = groupFor('/v1/embeddings', EMBEDDING_MODEL, false);

export const BENCH_TENANT: Tenant = {
  id: 'bench',
  api_keys: ['bb_bench_key_0123456789abcdef'],
  webhook_secret: `whsec_${randomBytes(24).toString('base64')}`,
  allowed_models: ['*'],
};
export const BENCH_API_KEY = BENCH_TENANT.api_keys[0] as string;

const WORDS =
  'the a report quarterly customer ticket summarise classify sentiment invoice shipment delayed refund product review ' +
  'battery screen excellent poor support answered quickly never again recommend friends value price quality order ' +
  'arrived damaged replacement sent within two days happy overall experience website checkout slow'.split(' ');

function filler(seed: number, chars: number): string {
  let out = '';
  let x = seed * 2654435761 + 1;
  while (out.length < chars) {
    x = (x * 1103515245 + 12345) >>> 0;
    out += `${WORDS[x % WORDS.length]} `;
  }
  return out.slice(0, chars);
}

/**
 * A chat-completion body of about `bytes` bytes (JSON, UTF-8), different for every `i`. With `padTools`, the size beyond
 * a short prompt goes into a tool definition instead of the message text: the openai profile caps a batch at 20 M
 * estimated input tokens (message text ÷ 4), which text-only requests reach at about 80 MB, so a 200 MB batch needs
 * requests whose bytes are mostly not prompt text — as function-calling requests with large tool schemas are.
 */
export function chatBody(
  i: number,
  bytes: number,
  padTools = false,
): { json: string; messages: Array<{ role: string; content: string }> } {
  const make = (n: number) => {
    const messages = [
      { role: 'system', content: 'You are a careful analyst. Answer in one short paragraph.' },
      { role: 'user', content: `Item ${i}: ${filler(i, padTools ? 200 : n)}` },
    ];
    const tools = padTools
      ? [
          {
            type: 'function',
            function: { name: 'lookup', description: filler(i + 1, n), parameters: { type: 'object' } },
          },
        ]
      : undefined;
    return { json: JSON.stringify({ model: MODEL, messages, tools, max_tokens: 256, temperature: 0 }), messages };
  };
  const probe = make(0);
  return make(Math.max(0, bytes - Buffer.byteLength(probe.json)));
}

export interface SeedOptions {
  count: number;
  bodyBytes: number;
  callbackUrl?: string | undefined;
  /** Put the size into a tool definition rather than the prompt (see `chatBody`). */
  padTools?: boolean;
  /**
   * Embeddings requests instead of chat: one input of about `bodyBytes` characters each, no `dimensions` (the model's
   * native 1 536), `encoding_format: "float"`, in `EMBEDDINGS_GROUP`.
   */
  embeddings?: boolean;
  partition?: PartitionId;
  /** Progress callback, every chunk. */
  onProgress?: (done: number) => void;
}

/** Enqueues `count` requests of the bench tenant into one group; returns their ids in order. */
/** Characters of text per embedding input (a RAG chunk of about 250 tokens). */
export const EMBEDDING_INPUT_CHARS = 1_000;

export async function seedRequests(store: Store, options: SeedOptions): Promise<string[]> {
  const partition = options.partition ?? 0;
  const ids: string[] = [];
  const chunk = 1_000;
  for (let start = 0; start < options.count; start += chunk) {
    const jobs: Array<Promise<unknown>> = [];
    for (let i = start; i < Math.min(options.count, start + chunk); i++) {
      const id = newRequestId(partition);
      ids.push(id);
      const request = options.embeddings
        ? embeddingsRequest(id, i, options.bodyBytes)
        : chatRequest(id, i, options.bodyBytes, options.padTools);
      jobs.push(
        store.requests
          .enqueue(
            {
              id,
              partition,
              tenant: BENCH_TENANT.id,
              ...request,
              callbackUrl: options.callbackUrl,
            },
            {},
          )
          .then((r) => {
            if (r.kind !== 'created') throw new Error(`seed: enqueue answered ${r.kind}`);
          }),
      );
    }
    await Promise.all(jobs);
    options.onProgress?.(Math.min(options.count, start + chunk));
  }
  return ids;
}

function chatRequest(id: string, i: number, bytes: number, padTools: boolean | undefined) {
  const body = chatBody(i, bytes, padTools);
  return {
    model: MODEL,
    group: GROUP,
    body: body.json,
    bytes: Buffer.byteLength(batchLine(id, body.json)),
    tokens: estimateInputTokens(body.messages),
  };
}

function embeddingsRequest(id: string, i: number, chars: number) {
  const body = { model: EMBEDDING_MODEL, input: `Chunk ${i}: ${filler(i, chars)}`, encoding_format: 'float' };
  const json = JSON.stringify(body);
  return {
    model: EMBEDDING_MODEL,
    group: EMBEDDINGS_GROUP,
    body: json,
    bytes: Buffer.byteLength(batchLine(id, json, '/v1/embeddings')),
    tokens: estimateEndpointTokens('/v1/embeddings', body),
    inputs: countInputs('/v1/embeddings', body),
  };
}
