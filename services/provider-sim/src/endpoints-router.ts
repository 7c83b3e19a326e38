/**
 * Realtime `POST /v1/embeddings`, `/v1/responses`, `/v1/completions` and `/v1/moderations`: the same deterministic
 * answers as batch lines, the same `[sim:error=NNN]` marker. Chat completions keep their own router. Only the
 * endpoints of the profile are served; the others fall through to the 404 for unknown URLs.
 */
import { type Response, Router } from 'express';
import { simMarkersInText } from './completion.js';
import { ENDPOINTS } from './endpoints.js';
import { invalidRequest, SimHttpError } from './errors.js';
import type { FaultGate } from './fault-gate.js';
import type { SimState } from './sim-state.js';

/** Sends a JSON body given in chunks, minding backpressure; an answer of one chunk is sent with a Content-Length. */
async function sendJson(res: Response, chunks: Iterable<string>): Promise<void> {
  const iterator = chunks[Symbol.iterator]();
  const first = iterator.next();
  const second = first.done ? first : iterator.next();
  if (second.done) {
    res.type('application/json').send(first.done ? '' : first.value);
    return;
  }
  res.status(200).type('application/json');
  const write = async (chunk: string): Promise<void> => {
    if (res.write(chunk) || res.destroyed) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        res.off('drain', done);
        res.off('close', done);
        resolve();
      };
      res.on('drain', done);
      res.on('close', done);
    });
  };
  await write(first.value as string);
  await write(second.value);
  for (let next = iterator.next(); !next.done && !res.destroyed; next = iterator.next()) await write(next.value);
  res.end();
}

export function endpointsRouter(state: SimState, gate: FaultGate): Router {
  const router = Router();
  for (const handler of Object.values(ENDPOINTS)) {
    if (handler.endpoint === '/v1/chat/completions' || !state.profile.endpoints.includes(handler.endpoint)) continue;
    router.post(handler.path, gate.for(handler.operation), async (req, res) => {
      const checked = handler.check(req.body ?? {});
      if (!checked.ok) throw checked.error;
      const request = checked.request;
      if (!state.models.includes(request.model)) {
        throw new SimHttpError(404, `The model \`${request.model}\` does not exist or you do not have access to it.`, {
          code: 'model_not_found',
          param: 'model',
        });
      }
      const problem = request.problem('realtime');
      if (problem) throw invalidRequest(problem.message, problem.param);
      const markers = simMarkersInText(request.text);
      if (markers.errorStatus !== null) {
        throw new SimHttpError(
          markers.errorStatus,
          `Simulated error ${markers.errorStatus} requested by [sim:error=${markers.errorStatus}].`,
        );
      }
      await sendJson(res, request.answer(Math.floor(Date.now() / 1000)).json);
    });
  }
  return router;
}
