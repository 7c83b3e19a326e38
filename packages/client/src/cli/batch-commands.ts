/**
 * The commands of `batchbridge` beside the per-request ones: `batch` (the Batch API: upload a JSONL of provider batch
 * lines, create, watch, download the output and error files), `watch batch_…`, and `replay` (send finished outcomes of a
 * time range again), and `usage` (what the key's requests cost).
 */
import { createWriteStream, openAsBlob } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { type Batch, type BatchbridgeClient, isBatchFinal, type ReplayStatus } from '../client.js';
import { endpointPath } from '../endpoints.js';
import { EXIT, UsageError } from './exit.js';
import type { Values } from './main.js';
import { Progress } from './progress.js';

export interface BatchContext {
  client: BatchbridgeClient;
  values: Values;
  out: (text: string) => void;
}

/** `batch <file.jsonl>`: upload, create, then as `watch batch_…`. */
export async function batchFile(ctx: BatchContext, file: string): Promise<number> {
  let content: Blob;
  try {
    // Streamed from disk on upload, not read into memory (a batch file may be 200 MB).
    content = await openAsBlob(file, { type: 'application/jsonl' });
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
  }
  const endpoint = ctx.values.endpoint
    ? endpointPath(ctx.values.endpoint)
    : endpointOfFirstLine(await content.slice(0, 1 << 20).text());
  if (!endpoint) throw new UsageError(`unknown endpoint '${ctx.values.endpoint}'`);
  const uploaded = await ctx.client.uploadFile(content, { filename: baseName(file) });
  const batch = await ctx.client.createBatch({ inputFileId: uploaded.id, endpoint });
  if (!ctx.values.quiet) process.stderr.write(`file ${uploaded.id} (${uploaded.bytes} bytes) → batch ${batch.id}\n`);
  return watchBatch(ctx, batch.id);
}

/** `watch batch_…`: progress until the batch ends; with `--out` (and `--errors`) its output (and error) file. */
export async function watchBatch(ctx: BatchContext, id: string): Promise<number> {
  let progress: Progress | undefined;
  const timeoutS = ctx.values['wait-timeout'] ? Number(ctx.values['wait-timeout']) : undefined;
  const batch = await ctx.client.watchBatch(id, {
    intervalS: 2,
    ...(timeoutS !== undefined ? { timeoutS } : {}),
    onProgress: (b) => {
      const { total, completed, failed } = b.request_counts;
      progress ??= new Progress(id, total, { quiet: ctx.values.quiet || ctx.values.json });
      progress.update(completed + failed, `${b.status} completed ${completed} failed ${failed}`);
    },
  });
  progress?.finish();
  if (!isBatchFinal(batch)) {
    report(ctx, batch);
    return EXIT.pending;
  }
  if (ctx.values.out && batch.output_file_id) await download(ctx, batch.output_file_id, ctx.values.out);
  if (ctx.values.errors && batch.error_file_id) await download(ctx, batch.error_file_id, ctx.values.errors);
  report(ctx, batch);
  return batch.status === 'completed' && batch.request_counts.failed === 0 ? EXIT.ok : EXIT.failed;
}

/** `replay --since <time> [--until <time>] [--dead | --status dead|failed|all] [--wait]`. */
export async function replay(ctx: BatchContext): Promise<number> {
  const { since, until } = ctx.values;
  if (!since) throw new UsageError('replay needs --since <RFC 3339 time>, e.g. --since 2026-12-01T00:00:00Z');
  const status = (ctx.values.dead ? 'dead' : (ctx.values.status ?? 'all')) as ReplayStatus;
  if (!['dead', 'failed', 'all'].includes(status)) throw new UsageError('--status is one of dead, failed, all');
  let job = await ctx.client.replay({ since, status, ...(until ? { until } : {}) });
  if (!ctx.values.quiet && !ctx.values.json) process.stderr.write(`replay ${job.id} started\n`);
  while (ctx.values.wait && job.state === 'running') {
    await new Promise((done) => setTimeout(done, 1_000));
    job = await ctx.client.replayStatus(job.id);
    if (!ctx.values.quiet && !ctx.values.json) {
      process.stderr.write(`replay ${job.id}: scanned ${job.scanned}, queued ${job.queued}\n`);
    }
  }
  ctx.out(ctx.values.json ? JSON.stringify(job) : JSON.stringify(job, null, 2));
  return job.state === 'failed' || job.state === 'interrupted' ? EXIT.failed : EXIT.ok;
}

async function download(ctx: BatchContext, fileId: string, path: string): Promise<void> {
  const body = await ctx.client.fileContent(fileId);
  await pipeline(Readable.fromWeb(body as WebReadableStream<Uint8Array>), createWriteStream(path));
  if (!ctx.values.quiet && !ctx.values.json) process.stderr.write(`${fileId} → ${path}\n`);
}

function report(ctx: BatchContext, batch: Batch): void {
  if (ctx.values.json) {
    ctx.out(JSON.stringify(batch));
    return;
  }
  const { total, completed, failed } = batch.request_counts;
  ctx.out(
    [
      `batch: ${batch.id}`,
      `status: ${batch.status}`,
      `total: ${total}`,
      `completed: ${completed}`,
      `failed: ${failed}`,
      `output_file_id: ${batch.output_file_id ?? ''}`,
      `error_file_id: ${batch.error_file_id ?? ''}`,
    ].join('\n'),
  );
}

/** The `url` of the first provider batch line, the endpoint of the whole file (the Batch API takes one per batch). */
function endpointOfFirstLine(head: string): string | undefined {
  const first = head.split('\n', 1)[0] ?? '';
  try {
    const url = (JSON.parse(first) as { url?: unknown }).url;
    if (typeof url === 'string') return url;
  } catch {
    // not JSON: the service names the bad line
  }
  return '/v1/chat/completions';
}

function baseName(path: string): string {
  return path.split(/[\\/]/).pop() || 'batch.jsonl';
}

/** `usage [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--group-by model|lane|provider]`. */
export async function usage(ctx: BatchContext): Promise<number> {
  const groupBy = ctx.values['group-by'];
  if (groupBy !== undefined && !['model', 'lane', 'provider'].includes(groupBy)) {
    throw new UsageError('--group-by is one of model, lane, provider');
  }
  const report = await ctx.client.usage({
    ...(ctx.values.from ? { from: ctx.values.from } : {}),
    ...(ctx.values.to ? { to: ctx.values.to } : {}),
    ...(groupBy ? { groupBy: groupBy as 'model' | 'lane' | 'provider' } : {}),
  });
  if (ctx.values.json) {
    ctx.out(JSON.stringify(report));
    return EXIT.ok;
  }
  const usd = (n: number) => `$${n.toFixed(6)}`;
  const { total } = report;
  ctx.out(`usage ${report.from} … ${report.to}`);
  for (const row of report.data) {
    const what = [row.provider, row.model, row.lane].filter((v) => v !== null).join(' ');
    ctx.out(
      `${row.date}  ${what}  ${row.requests} requests  ${usd(row.usd)} (realtime ${usd(row.realtime_usd)}, saved ${usd(row.saved_usd)})`,
    );
  }
  ctx.out(
    `total: ${total.requests} requests (${total.unpriced_requests} unpriced)  ${usd(total.usd)}  realtime ${usd(total.realtime_usd)}  saved ${usd(total.saved_usd)}`,
  );
  return EXIT.ok;
}
