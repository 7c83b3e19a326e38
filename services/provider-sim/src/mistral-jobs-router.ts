/**
 * Mistral's Batch API (profile `mistral`), on the simulator's usual batch runner: `POST /v1/batch/jobs`
 * `{input_files, model, endpoint, metadata?, timeout_hours?}`, `GET /v1/batch/jobs` (`page`, `page_size`,
 * `created_after`, `status`; newest first, with `total`), `GET /v1/batch/jobs/{id}`, `POST /v1/batch/jobs/{id}/cancel`.
 * Jobs are rendered in Mistral's shape: statuses `QUEUED`, `RUNNING`, `SUCCESS`, `FAILED`, `TIMEOUT_EXCEEDED`,
 * `CANCELLATION_REQUESTED`, `CANCELLED`; `output_file` / `error_file`; `total_requests`, `succeeded_requests`,
 * `failed_requests`, `completed_requests`; `errors: [{message, count}]`; unix seconds.
 */
import { Router } from 'express';
import { z } from 'zod';
import type { BatchRunner } from './batch-runner.js';
import { invalidRequest, notFound, SimHttpError } from './errors.js';
import type { FaultGate } from './fault-gate.js';
import { newId } from './ids.js';
import type { SimState } from './sim-state.js';
import { type BatchRecord, type BatchStatus, newBatchRecord } from './store.js';

const createSchema = z.object({
  input_files: z.array(z.string().min(1)).length(1, 'the simulator takes one input file per job'),
  model: z.string().min(1),
  endpoint: z.string().min(1),
  metadata: z.record(z.string(), z.string()).nullable().optional(),
  timeout_hours: z.number().int().min(1).max(168).default(24),
});

const listQuerySchema = z.object({
  page: z.coerce.number().int().min(0).default(0),
  page_size: z.coerce.number().int().min(1).max(1000).default(100),
  created_after: z.string().optional(),
  status: z.string().optional(),
});

export const MISTRAL_STATUS: Readonly<Record<BatchStatus, string>> = {
  validating: 'QUEUED',
  in_progress: 'RUNNING',
  finalizing: 'RUNNING',
  completed: 'SUCCESS',
  failed: 'FAILED',
  expired: 'TIMEOUT_EXCEEDED',
  cancelling: 'CANCELLATION_REQUESTED',
  cancelled: 'CANCELLED',
};

export function renderMistralJob(batch: BatchRecord): Record<string, unknown> {
  const counts = batch.request_counts;
  const ended = batch.completed_at ?? batch.failed_at ?? batch.expired_at ?? batch.cancelled_at;
  return {
    id: batch.id,
    object: 'batch',
    input_files: [batch.input_file_id],
    metadata: batch.metadata ? { ...batch.metadata } : null,
    endpoint: batch.endpoint,
    model: batch.model,
    output_file: batch.output_file_id,
    error_file: batch.error_file_id,
    errors: (batch.errors?.data ?? []).map((e) => ({ message: e.message, count: 1 })),
    status: MISTRAL_STATUS[batch.status],
    created_at: batch.created_at,
    total_requests: counts.total,
    completed_requests: counts.completed + counts.failed,
    succeeded_requests: counts.completed,
    failed_requests: counts.failed,
    started_at: batch.in_progress_at,
    completed_at: ended,
  };
}

export function mistralJobsRouter(state: SimState, gate: FaultGate, runner: BatchRunner): Router {
  const router = Router();
  const jobOr404 = (id: string): BatchRecord => {
    const batch = state.store.batches.get(id);
    if (!batch) throw notFound(`Batch job ${id} not found`);
    return batch;
  };

  router.post('/batch/jobs', gate.for('batches.create'), (req, res) => {
    const body = createSchema.parse(req.body ?? {});
    const fileId = body.input_files[0] as string;
    const file = state.store.files.get(fileId);
    if (!file) throw new SimHttpError(404, `File ${fileId} not found`, { param: 'input_files' });
    const endpoints: readonly string[] = state.profile.endpoints;
    if (!endpoints.includes(body.endpoint)) {
      throw invalidRequest(`Invalid endpoint '${body.endpoint}'. Supported: ${endpoints.join(', ')}.`, 'endpoint');
    }
    if (!state.models.includes(body.model)) throw invalidRequest(`Invalid model: ${body.model}`, 'model');
    const batch = newBatchRecord({
      id: newId('batch', 'openai').replace(/^batch_/, ''),
      endpoint: body.endpoint,
      input_file_id: file.id,
      completion_window: `${body.timeout_hours}h`,
      windowSeconds: body.timeout_hours * 3600,
      metadata: body.metadata ?? null,
      model: body.model,
    });
    state.store.batches.set(batch.id, batch);
    state.counters.batchCreated();
    runner.start(batch);
    res.json(renderMistralJob(batch));
  });

  router.get('/batch/jobs', gate.for('batches.list'), (req, res) => {
    const query = listQuerySchema.parse(req.query);
    const after = query.created_after === undefined ? undefined : Date.parse(query.created_after) / 1000;
    if (after !== undefined && Number.isNaN(after)) throw invalidRequest('created_after: invalid datetime');
    const all = [...state.store.batches.values()]
      .reverse()
      .filter((b) => after === undefined || b.created_at >= after)
      .filter((b) => query.status === undefined || MISTRAL_STATUS[b.status] === query.status);
    const page = all.slice(query.page * query.page_size, (query.page + 1) * query.page_size);
    res.json({ object: 'list', data: page.map(renderMistralJob), total: all.length });
  });

  router.get('/batch/jobs/:id', gate.for('batches.retrieve'), (req, res) => {
    res.json(renderMistralJob(jobOr404(req.params.id as string)));
  });

  router.post('/batch/jobs/:id/cancel', gate.for('batches.cancel'), (req, res) => {
    const batch = jobOr404(req.params.id as string);
    runner.cancel(batch);
    res.json(renderMistralJob(batch));
  });

  return router;
}
