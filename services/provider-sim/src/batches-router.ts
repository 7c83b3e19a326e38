/**
 * `/v1/batches`: create (with the "created, but the client never heard" fault), retrieve, list newest first with an
 * `after` cursor (kluster adds page fields), cancel.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Router } from 'express';
import { z } from 'zod';
import type { BatchRunner } from './batch-runner.js';
import { invalidRequest, notFound, SimHttpError } from './errors.js';
import type { FaultGate } from './fault-gate.js';
import { newId } from './ids.js';
import { completionWindowSeconds } from './profiles.js';
import { renderBatch } from './render.js';
import type { SimState } from './sim-state.js';
import { type BatchRecord, newBatchRecord } from './store.js';

const createSchema = z.object({
  input_file_id: z.string().min(1),
  endpoint: z.string().min(1),
  completion_window: z.string().min(1),
  metadata: z
    .record(z.string().max(64), z.string().max(512))
    .refine((m) => Object.keys(m).length <= 16, 'at most 16 keys')
    .nullable()
    .optional(),
  output_expires_after: z.object({ anchor: z.literal('created_at'), seconds: z.number().int() }).optional(),
});

const listQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(100).optional(),
  after: z.string().optional(),
});

/** kluster's `items_per_page` when no limit is given: Java's Long.MAX_VALUE, beyond a JS number's exact range. */
const KLUSTER_UNLIMITED = '9223372036854775807';
const UNLIMITED_SENTINEL = -987_654_321;

export function batchesRouter(
  state: SimState,
  gate: FaultGate,
  runner: BatchRunner,
  closing: () => AbortSignal,
): Router {
  const router = Router();
  const batchOr404 = (id: string): BatchRecord => {
    const batch = state.store.batches.get(id);
    if (!batch) throw notFound(`No such Batch object: ${id}`);
    return batch;
  };

  router.post('/batches', gate.for('batches.create'), async (req, res) => {
    const body = createSchema.parse(req.body ?? {});
    const file = state.store.files.get(body.input_file_id);
    if (!file) {
      throw new SimHttpError(404, `No such File object: ${body.input_file_id}`, { param: 'input_file_id' });
    }
    if (file.purpose !== 'batch') {
      throw invalidRequest(`File ${file.id} has purpose '${file.purpose}', expected 'batch'.`, 'input_file_id');
    }
    const endpoints: readonly string[] = state.profile.endpoints;
    if (!endpoints.includes(body.endpoint)) {
      throw invalidRequest(
        `Invalid value for 'endpoint': '${body.endpoint}'. Supported: ${endpoints.join(', ')}.`,
        'endpoint',
      );
    }
    const ignoresWindow = state.profile.windowQuirk === 'ignores';
    if (!ignoresWindow && !state.profile.completionWindows.includes(body.completion_window)) {
      throw invalidRequest(
        `Invalid value for 'completion_window': '${body.completion_window}'. Supported: ${state.profile.completionWindows.join(', ')}.`,
        'completion_window',
      );
    }
    const window = ignoresWindow ? '24h' : body.completion_window;
    const batch = newBatchRecord({
      id: newId('batch', state.profile.idStyle),
      endpoint: body.endpoint,
      input_file_id: file.id,
      completion_window: window,
      windowSeconds: completionWindowSeconds(window),
      metadata: body.metadata ?? null,
      model: null,
    });
    state.store.batches.set(batch.id, batch);
    state.counters.batchCreated();
    runner.start(batch);
    state.logger.debug({ batchId: batch.id, fileId: file.id }, 'batch created');

    const timeout = state.faults.createBatchTimeout;
    if (timeout) {
      state.faults = {
        ...state.faults,
        createBatchTimeout: timeout.times > 1 ? { ...timeout, times: timeout.times - 1 } : null,
      };
      if (timeout.mode === 'drop') {
        state.logger.debug({ batchId: batch.id }, 'dropping the connection after creating the batch (fault)');
        req.socket.destroy();
        return;
      }
      await sleep(timeout.delayMs, undefined, { signal: closing() }).catch(() => undefined);
    }
    res.json(renderBatch(batch, state.profile, 'create'));
  });

  router.get('/batches', gate.for('batches.list'), (req, res) => {
    const query = listQuerySchema.parse(req.query);
    let batches = [...state.store.batches.values()].reverse();
    if (query.after) {
      const at = batches.findIndex((b) => b.id === query.after);
      batches = at === -1 ? [] : batches.slice(at + 1);
    }
    const limit = query.limit ?? (state.profile.pageFields ? batches.length : 20);
    const page = batches.slice(0, limit);
    const body: Record<string, unknown> = {
      object: 'list',
      data: page.map((b) => renderBatch(b, state.profile)),
      first_id: page[0]?.id ?? null,
      last_id: page.at(-1)?.id ?? null,
      has_more: batches.length > page.length,
    };
    if (!state.profile.pageFields) {
      res.json(body);
      return;
    }
    body.count = page.length;
    body.page = 1;
    body.page_count = -1;
    body.items_per_page = query.limit ?? UNLIMITED_SENTINEL;
    res
      .type('application/json')
      .send(
        JSON.stringify(body).replace(`"items_per_page":${UNLIMITED_SENTINEL}`, `"items_per_page":${KLUSTER_UNLIMITED}`),
      );
  });

  router.get('/batches/:id', gate.for('batches.retrieve'), (req, res) => {
    res.json(renderBatch(batchOr404(req.params.id as string), state.profile));
  });

  router.post('/batches/:id/cancel', gate.for('batches.cancel'), (req, res) => {
    const batch = batchOr404(req.params.id as string);
    if (batch.status === 'completed' || batch.status === 'failed' || batch.status === 'expired') {
      throw new SimHttpError(409, `Cannot cancel a batch with status '${batch.status}'.`, { code: null });
    }
    runner.cancel(batch);
    res.json(renderBatch(batch, state.profile));
  });

  return router;
}
