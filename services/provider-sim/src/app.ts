/**
 * The express application: bearer auth on `/v1`, the API routers, the admin router, and one error middleware that
 * renders everything OpenAI-shaped.
 */
import type { Logger } from '@batchbridge/logger';
import express, { type NextFunction, type Request, type Response } from 'express';
import { ZodError } from 'zod';
import { type AdminControls, adminRouter } from './admin-router.js';
import type { BatchRunner } from './batch-runner.js';
import { batchesRouter } from './batches-router.js';
import { chatRouter } from './chat-router.js';
import { endpointsRouter } from './endpoints-router.js';
import { errorBodyForStatus, SimHttpError } from './errors.js';
import type { FaultGate } from './fault-gate.js';
import { filesRouter } from './files-router.js';
import { mistralJobsRouter } from './mistral-jobs-router.js';
import type { SimState } from './sim-state.js';

export interface AppParts {
  state: SimState;
  gate: FaultGate;
  runner: BatchRunner;
  admin: AdminControls;
  closing: () => AbortSignal;
}

function requireApiKey(state: SimState) {
  return (req: Request, _res: Response, next: NextFunction) => {
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header);
    const key = match?.[1]?.trim() ?? '';
    if (key === '') {
      throw new SimHttpError(
        401,
        "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        { code: null },
      );
    }
    if (state.apiKeys && !state.apiKeys.has(key)) {
      throw new SimHttpError(401, 'Incorrect API key provided.', { code: 'invalid_api_key' });
    }
    next();
  };
}

function errorHandler(logger: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (err instanceof SimHttpError) {
      res.status(err.status).set(err.headers).json({ error: err.body });
      return;
    }
    if (err instanceof ZodError) {
      const issue = err.issues[0];
      const param = issue?.path.join('.') || null;
      const message = param ? `Invalid '${param}': ${issue?.message ?? 'invalid value'}.` : (issue?.message ?? '');
      res.status(400).json({ error: { ...errorBodyForStatus(400, message), param } });
      return;
    }
    const type = (err as { type?: unknown }).type;
    if (type === 'entity.parse.failed') {
      res.status(400).json({
        error: errorBodyForStatus(
          400,
          "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly.)",
        ),
      });
      return;
    }
    if (type === 'entity.too.large') {
      res.status(413).json({ error: errorBodyForStatus(413, 'Request body too large.') });
      return;
    }
    logger.error({ err, method: req.method, path: req.path }, 'unhandled error');
    res.status(500).json({ error: errorBodyForStatus(500) });
  };
}

export function createApp(parts: AppParts): express.Express {
  const { state, gate, runner } = parts;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  const json = express.json({ limit: '20mb' });

  const v1 = express.Router();
  v1.use(requireApiKey(state));
  v1.use(json);
  v1.use(filesRouter(state, gate));
  // Mistral has no `/v1/batches`: its jobs live at `/v1/batch/jobs`.
  if (state.profile.batchApi === 'mistral') v1.use(mistralJobsRouter(state, gate, runner));
  else v1.use(batchesRouter(state, gate, runner, parts.closing));
  v1.use(chatRouter(state, gate));
  v1.use(endpointsRouter(state, gate));
  app.use('/v1', v1);
  app.use('/_sim', json, adminRouter(parts.admin));
  app.use((req, res) => {
    res.status(404).json({
      error: { ...errorBodyForStatus(404, `Invalid URL (${req.method} ${req.path})`), code: 'unknown_url' },
    });
  });
  app.use(errorHandler(state.logger));
  return app;
}
