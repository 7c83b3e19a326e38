/**
 * The webhook body of an outcome (SPEC §4): `{"type","timestamp","data":<request object>}`, byte-identical on every
 * attempt and redelivery of that outcome. It is not stored: it is rebuilt from the terminal record on every attempt.
 *
 * Why a rebuild gives the same bytes:
 * - it reads only fields that the terminal record keeps unchanged for its whole retention: the ones `toRequestObject`
 *   shows (status, response, error, usage, cost, attempts, lane, deadline_met, …) are written by the script that makes
 *   the request terminal (`settle-one`, `cancel`, `fail-flush`, `bill`, `finish`) and by no later one — the delivery
 *   scripts write only delivery fields (`delivered_at`, `gone_at`, `stop_reason`, `dead`, `dead_reason`,
 *   `delivery_attempts`, `dlv_last`, `webhook_fp`), and what `finish` drops from a finished record (`body`, `schema`,
 *   `bytes`, `tokens`, `inputs`) is not in the webhook;
 * - its `timestamp` is the outcome's time (`completed_at`, set once by `finish`), not the attempt's;
 * - JSON.parse then JSON.stringify of the same stored text gives the same output every time (key order and number
 *   forms are fixed by ECMAScript);
 * - the code that builds it is versioned: `WEBHOOK_BODY_FORMAT` numbers the shape. The first attempt fixes a short
 *   mark on the record (`webhook_fp` = `<format>.<sha256 prefix of the body>`, set once); a later attempt builds that
 *   format and checks the mark. A test pins format 1's bytes for a fixed record (test/domain/webhook-body.test.ts): a
 *   change to the request object that changes them must add format 2 and keep format 1's builder while records
 *   marked 1 may still be delivered (the record retention).
 *
 * What a rebuild cannot promise, and what is done then: a record marked with a format this version does not know (a
 * rollback during a deploy that added one), or whose rebuilt body does not match its mark (a bug: a write to a
 * terminal record that no script makes today), is still delivered — same `webhook-id`, the body this version builds —
 * and counted (`batchbridge_webhook_body_changed_total`) and logged, so the broken promise is visible rather than
 * silent. A record whose body an earlier version stored (`webhook_body`) is sent with those stored bytes.
 */
import * as crypto from 'node:crypto';
import { outcomeType, type RequestRecord, toRequestObject } from './request-record.js';

/** The webhook body shape this version builds. Older ones stay buildable while records marked with them live. */
export const WEBHOOK_BODY_FORMAT = 1;

const BUILDERS: Readonly<Record<number, (record: RequestRecord) => string>> = {
  1: (record) =>
    JSON.stringify({
      type: outcomeType(record.status),
      timestamp: new Date(record.completed_at ?? record.updated_at).toISOString(),
      data: toRequestObject(record),
    }),
};

/** The body of format `format` built from a terminal record; undefined for a format this version cannot build. */
export function buildWebhookBody(record: RequestRecord, format: number = WEBHOOK_BODY_FORMAT): string | undefined {
  return BUILDERS[format]?.(record);
}

/** One-shot sha256 (node ≥ 20.12: no Hash object per body, computed on every attempt); else a Hash. */
const sha256 =
  typeof (crypto as { hash?: unknown }).hash === 'function'
    ? (text: string) => crypto.hash('sha256', text, 'base64url')
    : (text: string) => crypto.createHash('sha256').update(text).digest('base64url');

/** The mark fixed on the record by the first attempt: `<format>.<16 base64url characters of sha256(body)>`. */
export function webhookBodyMark(body: string, format: number = WEBHOOK_BODY_FORMAT): string {
  return `${format}.${sha256(body).slice(0, 16)}`;
}

/**
 * The body an attempt sends:
 * - `stored`: the bytes an earlier version stored on the record (`webhook_body`);
 * - `built`: the first attempt (no mark yet): built now; `mark` is to be fixed on the record with this attempt;
 * - `rebuilt`: built in the record's format, its mark matches: the bytes of the first attempt;
 * - `changed`: the mark names a format this version cannot build, or the rebuilt body does not match it (see above).
 */
export interface WebhookBodyChoice {
  body: string;
  how: 'stored' | 'built' | 'rebuilt' | 'changed';
  mark?: string;
}

export function webhookBodyFor(record: RequestRecord): WebhookBodyChoice {
  if (record.webhook_body !== undefined) return { body: record.webhook_body, how: 'stored' };
  const fixed = record.webhook_fp;
  if (fixed === undefined) {
    const body = buildWebhookBody(record) as string;
    return { body, how: 'built', mark: webhookBodyMark(body) };
  }
  const format = Number(fixed.slice(0, fixed.indexOf('.')));
  const body = buildWebhookBody(record, format);
  if (body !== undefined && webhookBodyMark(body, format) === fixed) return { body, how: 'rebuilt' };
  return { body: buildWebhookBody(record) as string, how: 'changed' };
}
