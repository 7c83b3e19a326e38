/**
 * Errors of the poller, each with a stable string code (as bullmq's `bullmq:unrecoverable`). Thrown from the poll
 * processor so that the queue retries the job with the provider backoff; `retryAfterMs` is honoured when present.
 */
import { BatchbridgeError } from '@batchbridge/errors';

export type PollerErrorCode = 'poller.truncated_download' | 'poller.batch_not_found' | 'poller.file_not_found';

export class PollerError extends BatchbridgeError {
  declare readonly code: PollerErrorCode;
  readonly retryAfterMs: number | undefined;

  constructor(code: PollerErrorCode, message: string, options?: { cause?: unknown; retryAfterMs?: number }) {
    super(code, message, { cause: options?.cause });
    this.retryAfterMs = options?.retryAfterMs;
  }
}

/** A result file ended in the middle of a line, or its stream broke: the download is retried and re-routed. */
export class TruncatedDownloadError extends PollerError {
  constructor(fileId: string, detail: string, cause?: unknown) {
    super('poller.truncated_download', `download of ${fileId} incomplete: ${detail}`, { cause });
  }
}
