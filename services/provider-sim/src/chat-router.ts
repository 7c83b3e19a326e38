/**
 * `/v1/chat/completions` (realtime) and `/v1/models`. Realtime answers use the same deterministic completion as batch
 * lines, and honour the `[sim:error=NNN]` marker.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Router } from 'express';
import { chatBodySchema } from './chat-body.js';
import { simMarkers, simulatedCompletion } from './completion.js';
import { invalidRequest, SimHttpError } from './errors.js';
import type { FaultGate } from './fault-gate.js';
import type { SimState } from './sim-state.js';

const MODELS_CREATED = 1_721_172_741;

export function chatRouter(state: SimState, gate: FaultGate): Router {
  const router = Router();

  router.post('/chat/completions', gate.for('chat.completions'), async (req, res) => {
    const body = chatBodySchema.parse(req.body ?? {});
    if (!state.models.includes(body.model)) {
      throw new SimHttpError(404, `The model \`${body.model}\` does not exist or you do not have access to it.`, {
        code: 'model_not_found',
        param: 'model',
      });
    }
    if (body.stream === true) throw invalidRequest('Streaming is not supported by the simulator.', 'stream');
    const markers = simMarkers(body.messages);
    if (markers.errorStatus !== null) {
      throw new SimHttpError(
        markers.errorStatus,
        `Simulated error ${markers.errorStatus} requested by [sim:error=${markers.errorStatus}].`,
      );
    }
    // Flex processing (SPEC §10): batch price, slower, and sometimes no capacity (429 resource_unavailable).
    const flex = (req.body as { service_tier?: unknown } | undefined)?.service_tier === 'flex';
    if (flex && state.profile.flexModels && !state.profile.flexModels.includes(body.model)) {
      throw invalidRequest(`Flex processing is not available for the model \`${body.model}\`.`, 'service_tier');
    }
    if (flex) {
      const { flexUnavailableFraction, flexLatencyMs, retryAfterMs } = state.faults;
      if (flexUnavailableFraction > 0 && state.rng() < flexUnavailableFraction) {
        state.counters.rateLimited();
        const ms = Math.max(0, Math.ceil(retryAfterMs));
        throw new SimHttpError(429, 'Resource unavailable for flex processing; please retry later.', {
          type: 'invalid_request_error',
          code: 'resource_unavailable',
          headers: { 'retry-after': String(Math.ceil(ms / 1000)), 'retry-after-ms': String(ms) },
        });
      }
      if (flexLatencyMs > 0) await sleep(flexLatencyMs);
    }
    state.counters.chatCompletion(flex);
    res.json(flex ? { ...simulatedCompletion(body), service_tier: 'flex' } : simulatedCompletion(body));
  });

  const renderModel = (id: string) => ({
    id,
    object: 'model',
    created: MODELS_CREATED,
    owned_by: state.profile.modelOwner,
  });

  router.get('/models', gate.for('models.list'), (_req, res) => {
    res.json({ object: 'list', data: state.models.map(renderModel) });
  });

  // Model ids may contain a slash (`deepseek-ai/DeepSeek-V3`).
  router.get('/models/*id', gate.for('models.list'), (req, res) => {
    const raw = (req.params as { id?: string | string[] }).id;
    const id = Array.isArray(raw) ? raw.join('/') : (raw ?? '');
    if (!state.models.includes(id)) {
      throw new SimHttpError(404, `The model '${id}' does not exist`, { code: 'model_not_found', param: 'model' });
    }
    res.json(renderModel(id));
  });

  return router;
}
