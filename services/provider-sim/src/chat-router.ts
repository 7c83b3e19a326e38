/**
 * `/v1/chat/completions` (realtime) and `/v1/models`. Realtime answers use the same deterministic completion as batch
 * lines, and honour the `[sim:error=NNN]` marker.
 */
import { Router } from 'express';
import { chatBodySchema } from './chat-body.js';
import { simMarkers, simulatedCompletion } from './completion.js';
import { invalidRequest, SimHttpError } from './errors.js';
import type { FaultGate } from './fault-gate.js';
import type { SimState } from './sim-state.js';

const MODELS_CREATED = 1_721_172_741;

export function chatRouter(state: SimState, gate: FaultGate): Router {
  const router = Router();

  router.post('/chat/completions', gate.for('chat.completions'), (req, res) => {
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
    state.counters.chatCompletion();
    res.json(simulatedCompletion(body));
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
