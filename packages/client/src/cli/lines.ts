/** Reading the input of `batchbridge submit`: one JSON object per line, an endpoint body or a provider batch line. */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { endpointPath } from '../endpoints.js';
import type { BatchEndpoint } from '../types.js';

export interface ParsedLine {
  /** 1-based line number in the file. */
  line: number;
  endpoint: BatchEndpoint;
  body: Record<string, unknown>;
  customId: string | undefined;
  /** A provider batch line: its `custom_id` goes as the request's custom id (`X-Custom-ID`). */
  batchLine: boolean;
}

export interface BadLine {
  line: number;
  error: { code: string; message: string };
}

/**
 * A line is either the body of an endpoint (`{"model":…,"messages":[…]}`; the endpoint is `--endpoint`, else chat for a
 * body with `messages` and completions for one with `prompt`) or a provider batch line
 * (`{"custom_id":…,"method":"POST","url":"/v1/chat/completions","body":{…}}`, as OpenAI's Batch API takes them), whose
 * `custom_id` becomes the request's custom id.
 */
export function parseLine(
  line: number,
  text: string,
  defaultEndpoint: BatchEndpoint | undefined,
): ParsedLine | BadLine {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { line, error: { code: 'invalid_json', message: `line ${line} is not JSON: ${(err as Error).message}` } };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { line, error: { code: 'invalid_line', message: `line ${line} is not a JSON object` } };
  }
  const obj = value as Record<string, unknown>;
  if (typeof obj.url === 'string' && typeof obj.body === 'object' && obj.body !== null && !Array.isArray(obj.body)) {
    const endpoint = endpointPath(obj.url);
    if (!endpoint) {
      return {
        line,
        error: { code: 'invalid_url', message: `line ${line}: url ${obj.url} is not a batchable endpoint` },
      };
    }
    if (obj.method !== undefined && String(obj.method).toUpperCase() !== 'POST') {
      return { line, error: { code: 'invalid_method', message: `line ${line}: method must be POST` } };
    }
    const customId = obj.custom_id === undefined || obj.custom_id === null ? undefined : String(obj.custom_id);
    return { line, endpoint, body: obj.body as Record<string, unknown>, customId, batchLine: true };
  }
  const endpoint =
    defaultEndpoint ?? ('messages' in obj ? '/v1/chat/completions' : 'prompt' in obj ? '/v1/completions' : undefined);
  if (!endpoint) {
    return {
      line,
      error: {
        code: 'unknown_endpoint',
        message: `line ${line}: cannot tell its endpoint (no messages, no prompt): pass --endpoint embeddings|responses|moderations|…`,
      },
    };
  }
  return {
    line,
    endpoint,
    body: obj,
    customId: typeof obj.custom_id === 'string' ? obj.custom_id : undefined,
    batchLine: false,
  };
}

/** The non-blank lines of a file with their 1-based numbers, streamed. */
export async function* readLines(path: string): AsyncGenerator<{ line: number; text: string }> {
  const rl = createInterface({ input: createReadStream(path), crlfDelay: Number.POSITIVE_INFINITY });
  let line = 0;
  for await (const text of rl) {
    line++;
    if (text.trim() !== '') yield { line, text };
  }
}
