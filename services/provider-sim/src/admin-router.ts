/**
 * `/_sim`: the admin API tests and benchmarks use to change faults at run time, read counters and reset the
 * simulator. Open unless an `adminKey` is configured.
 */
import { Router } from 'express';
import type { SimCountersSnapshot } from './counters.js';
import { SimHttpError } from './errors.js';
import type { SimFaults } from './faults.js';

export interface AdminControls {
  adminKey: string | null;
  getFaults(): SimFaults;
  setFaults(update: unknown): SimFaults;
  clearFaults(): SimFaults;
  counters(): SimCountersSnapshot;
  reset(): Promise<void>;
}

export function adminRouter(controls: AdminControls): Router {
  const router = Router();
  router.use((req, _res, next) => {
    if (controls.adminKey !== null && req.headers.authorization !== `Bearer ${controls.adminKey}`) {
      throw new SimHttpError(401, 'The admin API needs the admin key.', { code: 'invalid_api_key' });
    }
    next();
  });
  router.get('/faults', (_req, res) => {
    res.json(controls.getFaults());
  });
  router.put('/faults', (req, res) => {
    res.json(controls.setFaults(req.body ?? {}));
  });
  router.delete('/faults', (_req, res) => {
    res.json(controls.clearFaults());
  });
  router.get('/counters', (_req, res) => {
    res.json(controls.counters());
  });
  router.post('/reset', async (_req, res) => {
    await controls.reset();
    res.status(204).end();
  });
  return router;
}
