/**
 * `/v1/files`: multipart upload streamed to disk with busboy (never buffered whole), list, retrieve, delete, and
 * content streamed from disk — slowed down or cut short when the download faults say so.
 */
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import busboy from 'busboy';
import { type Request, type Response, Router } from 'express';
import { z } from 'zod';
import { invalidRequest, notFound, SimHttpError } from './errors.js';
import type { FaultGate } from './fault-gate.js';
import { newId } from './ids.js';
import { renderFile } from './render.js';
import type { SimState } from './sim-state.js';
import type { FileRecord } from './store.js';

const listQuerySchema = z.object({
  purpose: z.string().optional(),
  limit: z.coerce.number().int().min(1).max(10_000).default(10_000),
  after: z.string().optional(),
  order: z.enum(['asc', 'desc']).default('desc'),
});

interface Upload {
  bytes: number;
  filename: string;
  truncated: boolean;
}

/** Reads the multipart body: the `file` part goes straight to `path`, the other parts are small fields. */
async function receiveUpload(
  req: Request,
  path: string,
  maxBytes: number,
): Promise<{ fields: Record<string, string>; upload: Upload | null }> {
  const fields: Record<string, string> = {};
  const holder: { upload: Promise<Upload> | null } = { upload: null };
  let parser: busboy.Busboy;
  try {
    parser = busboy({ headers: req.headers, limits: { files: 1, fileSize: maxBytes, fields: 20 } });
  } catch {
    throw invalidRequest('The request must be multipart/form-data.', null);
  }
  parser.on('field', (name, value) => {
    fields[name] = value;
  });
  parser.on('file', (name, stream, info) => {
    if (name !== 'file' || holder.upload) {
      stream.resume();
      return;
    }
    let bytes = 0;
    let truncated = false;
    stream.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    stream.on('limit', () => {
      truncated = true;
    });
    holder.upload = pipeline(stream, createWriteStream(path)).then(() => ({
      bytes,
      filename: info.filename || 'upload.jsonl',
      truncated,
    }));
    // Awaited below; this only keeps an early failure from counting as unhandled.
    holder.upload.catch(() => undefined);
  });
  await new Promise<void>((resolve, reject) => {
    parser.on('close', resolve);
    parser.on('error', reject);
    req.on('error', reject);
    req.pipe(parser);
  });
  return { fields, upload: holder.upload ? await holder.upload : null };
}

/** Streams a file to the client, applying the slow/truncated download faults. */
async function sendContent(state: SimState, file: FileRecord, res: Response): Promise<void> {
  const faults = state.faults;
  const rate = faults.downloadBytesPerSecond;
  const cutAt =
    faults.truncateDownloadAfterBytes !== null &&
    (faults.truncateDownloadFraction >= 1 || state.rng() < faults.truncateDownloadFraction)
      ? faults.truncateDownloadAfterBytes
      : null;
  res.status(200);
  res.setHeader('content-type', 'application/octet-stream');
  res.setHeader('content-length', String(file.bytes));
  res.setHeader('content-disposition', `attachment; filename="${file.filename}"`);
  res.flushHeaders();
  const source = createReadStream(file.path, { highWaterMark: 64 * 1024 });
  let sent = 0;
  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      const piece = cutAt !== null && sent + chunk.length > cutAt ? chunk.subarray(0, cutAt - sent) : chunk;
      if (cutAt !== null && sent + piece.length >= cutAt) {
        // Let the partial body reach the socket, then kill the connection: the client sees fewer bytes than
        // Content-Length announced, as with a real connection reset mid-download.
        if (piece.length > 0) await writeFlushed(res, piece);
        state.logger.debug({ fileId: file.id, sent: sent + piece.length }, 'truncating download (fault)');
        res.destroy();
        return;
      }
      sent += piece.length;
      if (!res.write(piece)) await once(res, 'drain');
      if (res.destroyed) return;
      if (rate !== null) await sleep((piece.length / rate) * 1000);
    }
    res.end();
  } catch {
    // Client gone mid-download.
    res.destroy();
  } finally {
    source.destroy();
  }
}

function writeFlushed(res: Response, chunk: Buffer): Promise<void> {
  return new Promise((resolve) => res.write(chunk, () => resolve()));
}

export function filesRouter(state: SimState, gate: FaultGate): Router {
  const router = Router();
  const fileOr404 = (id: string): FileRecord => {
    const file = state.store.files.get(id);
    if (!file) throw notFound(`No such File object: ${id}`);
    return file;
  };

  router.post('/files', gate.for('files.create'), async (req, res) => {
    if (state.faults.requireContentLength && req.headers['content-length'] === undefined) {
      // Answered before the body is read; Node's server discards the rest of it.
      throw new SimHttpError(411, 'A Content-Length header is required; chunked uploads are not accepted.', {
        code: 'length_required',
      });
    }
    const id = newId('file', state.profile.idStyle);
    const path = state.store.pathFor(id);
    try {
      const { fields, upload } = await receiveUpload(req, path, state.uploadMaxBytes);
      if (!upload) throw invalidRequest("Missing required parameter: 'file'.", 'file', 'missing_required_parameter');
      if (upload.truncated) {
        throw new SimHttpError(413, `The file exceeds the maximum upload size of ${state.uploadMaxBytes} bytes.`, {
          param: 'file',
        });
      }
      if (fields.purpose === undefined) {
        throw invalidRequest("Missing required parameter: 'purpose'.", 'purpose', 'missing_required_parameter');
      }
      if (fields.purpose !== 'batch') {
        throw invalidRequest(
          `Invalid value for 'purpose': '${fields.purpose}'; this simulator accepts 'batch' only.`,
          'purpose',
        );
      }
      const created = Math.floor(Date.now() / 1000);
      const seconds = Number(fields['expires_after[seconds]']);
      const file: FileRecord = {
        id,
        bytes: upload.bytes,
        created_at: created,
        expires_at: Number.isInteger(seconds) && seconds > 0 ? created + seconds : null,
        filename: upload.filename,
        purpose: 'batch',
        path,
      };
      state.store.files.set(id, file);
      state.counters.fileCreated();
      state.logger.debug({ fileId: id, bytes: file.bytes }, 'file uploaded');
      res.json(renderFile(file, state.profile));
    } catch (err) {
      await rm(path, { force: true });
      throw err;
    }
  });

  router.get('/files', gate.for('files.list'), (req, res) => {
    const query = listQuerySchema.parse(req.query);
    let files = [...state.store.files.values()];
    if (query.purpose) files = files.filter((f) => f.purpose === query.purpose);
    if (query.order === 'desc') files.reverse();
    if (query.after) {
      const at = files.findIndex((f) => f.id === query.after);
      files = at === -1 ? [] : files.slice(at + 1);
    }
    const page = files.slice(0, query.limit);
    res.json({
      object: 'list',
      data: page.map((f) => renderFile(f, state.profile)),
      first_id: page[0]?.id ?? null,
      last_id: page.at(-1)?.id ?? null,
      has_more: files.length > page.length,
    });
  });

  router.get('/files/:id', gate.for('files.retrieve'), (req, res) => {
    res.json(renderFile(fileOr404(req.params.id as string), state.profile));
  });

  router.delete('/files/:id', gate.for('files.delete'), async (req, res) => {
    const id = req.params.id as string;
    fileOr404(id);
    await state.store.deleteFile(id);
    res.json({ id, object: 'file', deleted: true });
  });

  router.get('/files/:id/content', gate.for('files.content'), async (req, res) => {
    await sendContent(state, fileOr404(req.params.id as string), res);
  });

  return router;
}
