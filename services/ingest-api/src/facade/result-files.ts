/**
 * A batch's output and error files (SPEC §12), streamed from its lines' request records in line order, in the provider
 * line format `{id, custom_id, response:{status_code, request_id, body}, error}` with the custom_id as the user wrote
 * it. Pages of RESULT_PAGE lines are read with one pipelined HMGET each, the next page read while the previous one is
 * written, and the response's backpressure is honoured: memory does not grow with the batch.
 *
 * Output: lines completed (for an expired batch, completed by its expiry). Errors: every other line — failed
 * (`response` kept for a provider's 4xx line), cancelled with the batch (`batch_cancelled`), or not answered by the
 * expiry (`batch_expired`).
 */
import type { FacadeBatchRecord, FacadeLineResult } from '@batchbridge/domain';
import type { Runtime } from '@batchbridge/runtime';
import type { Response } from 'express';

const RESULT_PAGE = 1_000;

export async function streamResultFile(
  runtime: Runtime,
  batch: FacadeBatchRecord,
  kind: 'output' | 'errors',
  res: Response,
): Promise<void> {
  const facade = runtime.store.facade;
  const p = facade.partitionOf(batch.id) as number;
  const total = batch.enq_lines;
  const read = (from: number) => facade.lineResults(p, batch.id, from, Math.min(RESULT_PAGE, total - from));
  let next = total > 0 ? read(0) : undefined;
  let aborted = false;
  res.once('close', () => {
    aborted = true;
  });
  for (let from = 0; next !== undefined && !aborted; from += RESULT_PAGE) {
    const page = await next;
    next = from + RESULT_PAGE < total ? read(from + RESULT_PAGE) : undefined;
    let out = '';
    for (const r of page) {
      const line = renderLine(batch, r, kind);
      if (line !== undefined) out += line;
    }
    if (out !== '' && !res.write(out)) await new Promise((r) => res.once('drain', r));
  }
  next?.catch(() => undefined);
  res.end();
}

function answered(batch: FacadeBatchRecord, r: FacadeLineResult): boolean {
  if (r.status !== 'completed') return false;
  return batch.status !== 'expired' || (r.completedAt ?? 0) <= (batch.expired_at ?? 0);
}

export function renderLine(
  batch: FacadeBatchRecord,
  r: FacadeLineResult,
  kind: 'output' | 'errors',
): string | undefined {
  if (r.status === undefined) return undefined; // the record's retention ran out
  const ok = answered(batch, r);
  if ((kind === 'output') !== ok) return undefined;
  const head = `{"id":"batch_req_${r.id}","custom_id":${JSON.stringify(r.customId ?? '')},`;
  if (ok) return `${head}"response":${withRequestId(r.response ?? '{}', r.id)},"error":null}\n`;
  if (r.status === 'failed' && r.response !== undefined && r.error !== undefined) {
    // Every answer broke the line's JSON schema (SPEC §14): the last answer, and why it does not count.
    if (r.error.includes('"schema_validation_failed"'))
      return `${head}"response":${withRequestId(r.response, r.id)},"error":${r.error}}\n`;
    // A line the provider refused: its answer, as the provider's error file has it.
    return `${head}"response":${withRequestId(r.response, r.id)},"error":null}\n`;
  }
  let error = r.error;
  if (r.status !== 'failed' && r.status !== 'cancelled') {
    error = JSON.stringify({
      code: 'batch_expired',
      message: 'This request could not be executed before the completion window expired.',
    });
  }
  return `${head}"response":null,"error":${error ?? '{"code":"unknown","message":"no result"}'}}\n`;
}

/** `{"status_code":N,"body":…}` as settled → `{"status_code":N,"request_id":"<id>","body":…}`, without re-parsing. */
function withRequestId(response: string, id: string): string {
  const m = /^\{"status_code":(\d+),"body":/.exec(response);
  if (m) return `{"status_code":${m[1]},"request_id":"${id}","body":${response.slice(m[0].length)}`;
  const parsed = JSON.parse(response) as { status_code?: number; body?: unknown };
  return JSON.stringify({ status_code: parsed.status_code ?? null, request_id: id, body: parsed.body ?? null });
}
