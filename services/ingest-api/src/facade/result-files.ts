/**
 * A batch's output and error files (SPEC §12), streamed from its lines' request records in line order, in the provider
 * line format `{id, custom_id, response:{status_code, request_id, body}, error}` with the custom_id as the user wrote
 * it. Pages of RESULT_PAGE lines are read with one script call each (facade-results), PAGES_AHEAD pages read while one
 * is written, and the response's backpressure is honoured: memory does not grow with the batch.
 *
 * Output: lines completed (for an expired batch, completed by its expiry). Errors: every other line — failed
 * (`response` kept for a provider's 4xx line), cancelled with the batch (`batch_cancelled`), or not answered by the
 * expiry (`batch_expired`).
 */
import type { FacadeBatchRecord, FacadeLineResult } from '@batchbridge/domain';
import type { Runtime } from '@batchbridge/runtime';
import type { Response } from 'express';

const RESULT_PAGE = 1_000;
/** Pages read ahead while one is written: enough to keep Redis and the socket busy, bounded (~1 MB a page). */
const PAGES_AHEAD = 3;

export async function streamResultFile(
  runtime: Runtime,
  batch: FacadeBatchRecord,
  kind: 'output' | 'errors',
  res: Response,
): Promise<void> {
  // The worker connection: a page's script may take longer than the request path's 1 s command timeout on a busy box.
  const facade = runtime.workerStore.facade;
  const p = facade.partitionOf(batch.id) as number;
  const total = batch.enq_lines;
  const ahead: Array<Promise<FacadeLineResult[]>> = [];
  let nextFrom = 0;
  const fill = () => {
    while (ahead.length < PAGES_AHEAD && nextFrom < total) {
      const page = facade.lineResults(p, batch.id, nextFrom, Math.min(RESULT_PAGE, total - nextFrom));
      page.catch(() => undefined); // awaited below; a page left behind by a closed connection must not go unhandled
      ahead.push(page);
      nextFrom += RESULT_PAGE;
    }
  };
  let aborted = false;
  res.once('close', () => {
    aborted = true;
  });
  try {
    fill();
    while (ahead.length > 0 && !aborted) {
      const page = await (ahead.shift() as Promise<FacadeLineResult[]>);
      fill();
      const out = new PageBuilder();
      for (const r of page) renderLine(batch, r, kind, out);
      const bytes = out.finish();
      if (bytes.length > 0 && !res.write(bytes)) await new Promise((r) => res.once('drain', r));
    }
  } catch (err) {
    // Headers (200) are out: ending the body normally would hand the client a short file that looks whole. The
    // connection is cut instead, so the client sees the download fail and retries it.
    runtime.logger.warn({ batchId: batch.id, kind, err: (err as Error).message }, 'result file download cut');
    res.destroy(err as Error);
    return;
  }
  res.end();
}

function answered(batch: FacadeBatchRecord, r: FacadeLineResult): boolean {
  if (r.status !== 'completed') return false;
  return batch.status !== 'expired' || (r.completedAt ?? 0) <= (batch.expired_at ?? 0);
}

/**
 * The bytes of one page: text pieces joined as a string, the stored answers kept as the Buffers Redis gave, one copy
 * into the page's Buffer at the end.
 */
export class PageBuilder {
  private text = '';
  private readonly parts: Buffer[] = [];
  add(s: string): void {
    this.text += s;
  }
  addBytes(b: Buffer): void {
    if (this.text !== '') this.parts.push(Buffer.from(this.text, 'utf8'));
    this.text = '';
    this.parts.push(b);
  }
  finish(): Buffer {
    if (this.text !== '') this.parts.push(Buffer.from(this.text, 'utf8'));
    this.text = '';
    return this.parts.length === 1 ? (this.parts[0] as Buffer) : Buffer.concat(this.parts);
  }
}

/** Appends line `r` to `out` if it belongs in the file of `kind`. */
export function renderLine(
  batch: FacadeBatchRecord,
  r: FacadeLineResult,
  kind: 'output' | 'errors',
  out: PageBuilder,
): void {
  if (r.status === undefined) return; // the record's retention ran out
  const ok = answered(batch, r);
  if ((kind === 'output') !== ok) return;
  out.add(`{"id":"batch_req_${r.id}","custom_id":${JSON.stringify(r.customId ?? '')},"response":`);
  if (ok) {
    withRequestId(r.response ?? EMPTY, r.id, out);
    out.add(',"error":null}\n');
    return;
  }
  if (r.status === 'failed' && r.response !== undefined && r.error !== undefined) {
    withRequestId(r.response, r.id, out);
    // Every answer broke the line's JSON schema (SPEC §14): the last answer, and why it does not count.
    if (r.error.includes('"schema_validation_failed"')) out.add(`,"error":${r.error}}\n`);
    // A line the provider refused: its answer, as the provider's error file has it.
    else out.add(',"error":null}\n');
    return;
  }
  let error = r.error;
  if (r.status !== 'failed' && r.status !== 'cancelled') {
    error = JSON.stringify({
      code: 'batch_expired',
      message: 'This request could not be executed before the completion window expired.',
    });
  }
  out.add(`null,"error":${error ?? '{"code":"unknown","message":"no result"}'}}\n`);
}

const EMPTY = Buffer.from('{}');
const PREFIX = Buffer.from('{"status_code":');
const BODY = Buffer.from(',"body":');

/**
 * `{"status_code":N,"body":…}` as settled → `{"status_code":N,"request_id":"<id>","body":…}`, without decoding or
 * re-parsing the body: its bytes are appended as stored.
 */
function withRequestId(response: Buffer, id: string, out: PageBuilder): void {
  if (response.subarray(0, PREFIX.length).equals(PREFIX)) {
    let i = PREFIX.length;
    while (
      i < response.length &&
      response[i] !== undefined &&
      (response[i] as number) >= 0x30 &&
      (response[i] as number) <= 0x39
    )
      i++;
    if (i > PREFIX.length && response.subarray(i, i + BODY.length).equals(BODY)) {
      out.add(`{"status_code":${response.toString('latin1', PREFIX.length, i)},"request_id":"${id}","body":`);
      out.addBytes(response.subarray(i + BODY.length));
      return;
    }
  }
  const parsed = JSON.parse(response.toString('utf8')) as { status_code?: number; body?: unknown };
  out.add(JSON.stringify({ status_code: parsed.status_code ?? null, request_id: id, body: parsed.body ?? null }));
}
