/** One line of a batch output or error file, validated: `{id, custom_id, response:{status_code, request_id, body}, error}`. */
import { z } from 'zod';

export const ResultLineSchema = z.object({
  id: z.string().nullish(),
  custom_id: z.string(),
  response: z.object({ status_code: z.coerce.number(), request_id: z.string().nullish(), body: z.unknown() }).nullish(),
  error: z.object({ code: z.string().nullish(), message: z.string().nullish() }).nullish(),
});
export type ResultLine = z.infer<typeof ResultLineSchema>;

/** Line-level error codes worth another batch. */
export const RETRYABLE_LINE_CODES = new Set([
  'batch_expired',
  'request_timeout',
  'batch_cancelled',
  'server_error',
  'rate_limit_exceeded',
]);

export type LineVerdict =
  | { kind: 'completed'; response: { status_code: number; body: unknown } }
  | { kind: 'rejected'; response: { status_code: number; body: unknown } | undefined; message: string }
  | { kind: 'retry'; message: string };

/** Decides what a result line means for its request. */
export function judgeLine(line: ResultLine): LineVerdict {
  const status = line.response?.status_code;
  const response = line.response ? { status_code: line.response.status_code, body: line.response.body } : undefined;
  if (status !== undefined && status >= 200 && status < 300 && !line.error) {
    return { kind: 'completed', response: response! };
  }
  const bodyError = (line.response?.body as { error?: { message?: string; code?: string } } | undefined)?.error;
  const code = line.error?.code ?? bodyError?.code ?? (status !== undefined ? `http_${status}` : 'unknown');
  const message = `${code}: ${line.error?.message ?? bodyError?.message ?? 'no message'}`.slice(0, 1_000);
  if (status === 429 || (status !== undefined && status >= 500) || status === 408 || RETRYABLE_LINE_CODES.has(code)) {
    return { kind: 'retry', message };
  }
  if (status === undefined && !line.error?.code) return { kind: 'retry', message };
  return { kind: 'rejected', response, message };
}
