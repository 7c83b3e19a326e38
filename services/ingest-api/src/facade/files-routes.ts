/**
 * `/v1/files` of the Batch API facade (SPEC §12): multipart upload (`purpose=batch`) read as a stream with busboy,
 * each line checked as it arrives (line-check.ts) and written to Redis in chunks of at most FACADE_CHUNK_LINES lines
 * (one chunk write in flight while the next is parsed), so memory stays flat whatever the file's size; the file is
 * visible only once every chunk is written (facade-file-commit). A bad line answers 400 naming it; the rest of the body
 * is drained, not parsed, and the chunks already written are dropped. List, retrieve, content, delete; a batch's
 * output and error files are virtual, streamed from its lines' request records (result-files.ts).
 */
import {
  encodeFacadeLine,
  FACADE_CHUNK_BYTES,
  FACADE_CHUNK_LINES,
  type FacadeFileRecord,
  facadePartition,
  newFacadeFileId,
  parseResultFileId,
} from '@batchbridge/domain';
import type { Runtime } from '@batchbridge/runtime';
import busboy from 'busboy';
import type { Request, Response } from 'express';
import { tenantOf } from '../auth.js';
import { ApiError, invalidParam, notFound } from '../errors.js';
import type { ModelCatalog } from '../model-catalog.js';
import { CustomIdSet } from './custom-id-set.js';
import { checkLine, type LineCheckContext, LineError } from './line-check.js';
import { fileObject, resultFileObject } from './objects.js';
import { streamResultFile } from './result-files.js';

const NEWLINE = 0x0a;

interface UploadOutcome {
  file: Omit<FacadeFileRecord, 'enqueuing' | 'created_at'>;
}

export function filesHandlers(runtime: Runtime, models: ModelCatalog) {
  const { config, store, logger } = runtime;

  /** Reads the `file` part line by line, checking and storing each; throws ApiError (400) for a bad line. */
  const receive = async (req: Request, tenantId: string, ctx: LineCheckContext): Promise<UploadOutcome> => {
    const p = facadePartition(config.redis.partitions, tenantId);
    const fileId = newFacadeFileId(p);
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: req.headers,
        limits: { files: 1, fileSize: config.facade.maxFileBytes, fields: 20, fieldSize: 64 * 1024 },
      });
    } catch {
      throw invalidParam('file', 'the request must be multipart/form-data with a `file` part', 'invalid_multipart');
    }
    const fields: Record<string, string> = {};
    let chunks = 0;
    let lines = 0;
    let bytes = 0;
    let filename = 'upload.jsonl';
    const urls: Record<string, number> = {};
    const models: Record<string, number> = {};
    let failure: ApiError | undefined;
    let sawFile = false;
    let pendingWrite: Promise<void> = Promise.resolve();
    let chunk: string[] = [];
    let chunkBytes = 0;
    const flushChunk = async () => {
      if (chunk.length === 0) return;
      const lines_ = chunk;
      const n = chunks++;
      chunk = [];
      chunkBytes = 0;
      // One write in flight while the next chunk is parsed.
      await pendingWrite;
      pendingWrite = store.facade.writeChunk(p, fileId, n, lines_);
      pendingWrite.catch(() => undefined);
    };

    let lineNo = 0;
    const onLine = async (buf: Buffer) => {
      lineNo++;
      let text = buf.toString('utf8');
      if (lineNo === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      if (text.endsWith('\r')) text = text.slice(0, -1);
      if (text.trim() === '') return;
      if (lines >= config.facade.maxLines) {
        throw new LineError(
          'too_many_lines',
          lineNo,
          null,
          `Line ${lineNo}: a file may hold at most ${config.facade.maxLines} lines (FACADE_MAX_LINES).`,
        );
      }
      const line = await checkLine(text, lineNo, ctx);
      lines++;
      if (urls[line.url] === undefined) urls[line.url] = lineNo;
      models[line.model] = (models[line.model] ?? 0) + line.tokens;
      const encoded = encodeFacadeLine(line);
      chunk.push(encoded);
      chunkBytes += encoded.length;
      if (chunk.length >= FACADE_CHUNK_LINES || chunkBytes >= FACADE_CHUNK_BYTES) await flushChunk();
    };

    const fileDone = new Promise<void>((resolve, reject) => {
      parser.on('file', (name, stream, info) => {
        if (name !== 'file' || sawFile) {
          stream.resume();
          return;
        }
        sawFile = true;
        filename = info.filename || filename;
        let truncated = false;
        stream.on('limit', () => {
          truncated = true;
        });
        (async () => {
          let carry: Buffer | undefined;
          for await (const data of stream as AsyncIterable<Buffer>) {
            bytes += data.length;
            if (failure) continue; // drain the rest of a refused upload
            try {
              let start = 0;
              for (let nl = data.indexOf(NEWLINE, start); nl >= 0; nl = data.indexOf(NEWLINE, start)) {
                const piece = data.subarray(start, nl);
                await onLine(carry ? Buffer.concat([carry, piece]) : piece);
                carry = undefined;
                start = nl + 1;
              }
              if (start < data.length) {
                const rest = data.subarray(start);
                carry = carry ? Buffer.concat([carry, rest]) : Buffer.from(rest);
                if (carry.length > config.batch.maxBytes + 64 * 1024) {
                  throw new LineError(
                    'line_too_large',
                    lineNo + 1,
                    null,
                    `Line ${lineNo + 1}: longer than the ${config.batch.maxBytes} bytes a batch may hold.`,
                  );
                }
              }
            } catch (err) {
              failure = toUploadError(err);
            }
          }
          if (!failure && carry && carry.length > 0) {
            try {
              await onLine(carry);
            } catch (err) {
              failure = toUploadError(err);
            }
          }
          if (!failure && truncated) {
            failure = new ApiError({
              status: 413,
              type: 'invalid_request_error',
              code: 'file_too_large',
              param: 'file',
              message: `the file is larger than the ${config.facade.maxFileBytes} bytes allowed (FACADE_MAX_FILE_BYTES)`,
              reason: 'too_large',
            });
          }
        })().then(resolve, reject);
      });
    });
    parser.on('field', (name, value) => {
      fields[name] = value;
    });
    const closed = new Promise<void>((resolve, reject) => {
      parser.on('close', resolve);
      parser.on('error', (err: Error) =>
        reject(invalidParam('file', `the multipart body cannot be read: ${err.message}`, 'invalid_multipart')),
      );
      req.on('error', reject);
    });
    req.pipe(parser);
    try {
      await closed;
      if (sawFile) await fileDone;
      if (!failure && !sawFile) failure = invalidParam('file', 'a `file` part is required', 'missing_file');
      if (!failure && fields.purpose !== 'batch') {
        failure = invalidParam(
          'purpose',
          `purpose must be "batch" (got ${JSON.stringify(fields.purpose ?? null)})`,
          'invalid_purpose',
        );
      }
      if (!failure && lines === 0) failure = invalidParam('file', 'the file holds no request lines', 'empty_file');
      if (!failure) await flushChunk();
      await pendingWrite;
    } catch (err) {
      failure = failure ?? toUploadError(err);
    }
    if (failure) {
      // Written chunks would expire within the hour anyway; dropping them now keeps Redis clean.
      await store.facade.discardChunks(p, fileId, chunks).catch(() => undefined);
      throw failure;
    }
    const file = { id: fileId, tenant: tenantId, filename, bytes, lines, chunks, urls, models };
    await store.facade.commitFile(p, file);
    return { file };
  };

  const upload = async (req: Request, res: Response) => {
    const tenant = tenantOf(res);
    const ctx: LineCheckContext = {
      tenant,
      endpoints: config.upstream.profile.endpoints,
      mixModels: config.batch.mixModels,
      maxBytes: config.batch.maxBytes,
      maxTokens: config.batch.maxTokens,
      models,
      seen: new CustomIdSet(),
      modelVerdicts: new Map(),
    };
    const { file } = await receive(req, tenant.id, ctx);
    runtime.metrics.m.facadeLinesUploaded.inc(file.lines);
    logger.info(
      { fileId: file.id, tenant: tenant.id, lines: file.lines, bytes: file.bytes },
      'batch input file uploaded',
    );
    res.json(fileObject({ ...file, created_at: Date.now(), enqueuing: 0 }));
  };

  const list = async (req: Request, res: Response) => {
    const tenant = tenantOf(res);
    const limit = intParam(req.query.limit, 'limit', 1, 10_000, 10_000);
    const order = req.query.order === 'asc' ? 'asc' : 'desc';
    const after = typeof req.query.after === 'string' && req.query.after !== '' ? req.query.after : undefined;
    const purpose = typeof req.query.purpose === 'string' ? req.query.purpose : undefined;
    const p = facadePartition(config.redis.partitions, tenant.id);
    const ids =
      purpose !== undefined && purpose !== 'batch'
        ? []
        : await store.facade.listFileIds(p, tenant.id, limit, after, order);
    const records = await Promise.all(ids.slice(0, limit).map((id) => store.facade.getFile(id)));
    const gone = ids.slice(0, limit).filter((_, i) => records[i] === undefined);
    await store.facade.pruneIndex(p, tenant.id, 'files', gone);
    const data = records.filter((r): r is FacadeFileRecord => r !== undefined).map(fileObject);
    res.json({
      object: 'list',
      data,
      first_id: data[0]?.id ?? null,
      last_id: data.at(-1)?.id ?? null,
      has_more: ids.length > limit,
    });
  };

  /** The file of this tenant, input or virtual result file; 404 otherwise. */
  const find = async (id: string, tenant: string) => {
    const result = parseResultFileId(id);
    if (result) {
      const batch = await store.facade.getBatch(result.batchId);
      const fileId = result.kind === 'output' ? batch?.output_file_id : batch?.error_file_id;
      const deleted = result.kind === 'output' ? batch?.output_deleted : batch?.errors_deleted;
      if (!batch || batch.tenant !== tenant || fileId !== id || deleted)
        throw notFound(`No such File object: ${id}`, 'file_id');
      return { kind: result.kind, batch } as const;
    }
    const file = await store.facade.getFile(id);
    if (!file || file.tenant !== tenant) throw notFound(`No such File object: ${id}`, 'file_id');
    return { kind: 'input', file } as const;
  };

  const retrieve = async (req: Request, res: Response) => {
    const found = await find(String(req.params.id), tenantOf(res).id);
    res.json(found.kind === 'input' ? fileObject(found.file) : resultFileObject(found.batch, found.kind));
  };

  const content = async (req: Request, res: Response) => {
    const found = await find(String(req.params.id), tenantOf(res).id);
    res.status(200).type('application/jsonl');
    if (found.kind === 'input') await streamInputFile(runtime, found.file, res);
    else await streamResultFile(runtime, found.batch, found.kind, res);
  };

  const remove = async (req: Request, res: Response) => {
    const tenant = tenantOf(res).id;
    const id = String(req.params.id);
    const result = parseResultFileId(id);
    const p = store.facade.partitionOf(result ? result.batchId : id);
    if (p === undefined) throw notFound(`No such File object: ${id}`, 'file_id');
    const verdict = await store.facade.deleteFile(p, tenant, id, result ? result.kind : 'input', result?.batchId);
    if (verdict === 'not_found') throw notFound(`No such File object: ${id}`, 'file_id');
    if (verdict === 'busy') {
      throw new ApiError({
        status: 409,
        type: 'conflict_error',
        code: 'file_in_use',
        param: 'file_id',
        message: 'a batch is still reading this file; delete it once the batch is in progress',
      });
    }
    res.json({ id, object: 'file', deleted: true });
  };

  return { upload, list, retrieve, content, remove };
}

function toUploadError(err: unknown): ApiError {
  if (err instanceof LineError) {
    return new ApiError({
      status: 400,
      type: 'invalid_request_error',
      code: err.code,
      param: err.param === null ? `line ${err.line}` : `line ${err.line}: ${err.param}`,
      message: err.message,
    });
  }
  if (err instanceof ApiError) return err;
  throw err;
}

/** The input file as stored: each checked line in the provider line format (the body as it will be sent). */
async function streamInputFile(runtime: Runtime, file: FacadeFileRecord, res: Response): Promise<void> {
  try {
    await writeInputFile(runtime, file, res);
  } catch (err) {
    // As for result files: a body cut short must not end like a whole one (the 200 is already sent).
    runtime.logger.warn({ fileId: file.id, err: (err as Error).message }, 'input file download cut');
    res.destroy(err as Error);
  }
}

async function writeInputFile(runtime: Runtime, file: FacadeFileRecord, res: Response): Promise<void> {
  const p = runtime.store.facade.partitionOf(file.id) as number;
  for (let n = 0; n < file.chunks; n++) {
    if (res.destroyed) return;
    const lines = await runtime.store.facade.chunkLines(p, file.id, n);
    let out = '';
    for (const s of lines) {
      const nl = s.indexOf('\n');
      const h = JSON.parse(s.slice(0, nl)) as { c: string; u: string };
      out += `{"custom_id":${JSON.stringify(h.c)},"method":"POST","url":${JSON.stringify(h.u)},"body":${s.slice(nl + 1)}}\n`;
    }
    if (!res.write(out)) await new Promise((r) => res.once('drain', r));
  }
  res.end();
}

export function intParam(raw: unknown, name: string, min: number, max: number, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw invalidParam(name, `${name} must be an integer from ${min} to ${max}`);
  }
  return n;
}
