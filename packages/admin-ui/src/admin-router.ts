/**
 * `createAdminRouter(runtime)`: the operator web page, mounted by the ingest API under `/admin`.
 *
 * - `GET  /`                          overview: recent batches, dead letters with a redeliver button, savings
 * - `GET  /overview.json`             the same data as JSON
 * - `POST /requests/:id/redeliver`    re-sends a finished request's outcome webhook (same `webhook-id`)
 * - `GET  /requests/:id/deliveries`   the outcome's delivery log (HTML, or JSON for API clients)
 * - `POST /endpoints/enable`          re-enables a tenant's failing or disabled callback host (`tenant`, `host`)
 * - `POST /tenants/reload`            reads TENANTS_FILE again in this process (each replica also watches the file)
 * - `GET  /tenants/:id/usage.json`    one tenant's ledger (`from`, `to`, `group_by` as `GET /v1/usage`; SPEC §15)
 * - `GET|POST /login`, `POST /logout` the login form (HttpOnly, SameSite=Strict session cookie)
 * - `/queues/…`                       bull-board over every partition's queues
 *
 * Without ADMIN_KEY every path answers 404 saying how to turn the page on: no key, no page.
 */
import { deliveryMember, deliveryState, isRequestId, isTerminal } from '@batchbridge/domain';
import type { Runtime } from '@batchbridge/runtime';
import express, { type NextFunction, type Request, type Response, Router } from 'express';
import { AdminAuth, SESSION_COOKIE, SESSION_MAX_AGE_S } from './admin-auth.js';
import { escapeHtml } from './html.js';
import { readOverview } from './overview.js';
import { BOARD_CSP, createQueuesBoard } from './queues-board.js';
import { PAGE_CSP, renderDeliveriesPage, renderLoginPage, renderOverviewPage } from './render-page.js';

export interface AdminRouterOptions {
  /** The absolute path the router is mounted at (bull-board needs it for its asset URLs). @defaultValue `/admin` */
  basePath?: string;
}

export const ADMIN_OFF_MESSAGE =
  'The batchbridge operator page is off: set ADMIN_KEY (at least 16 characters) in the environment to turn it on.\n';

export function createAdminRouter(runtime: Runtime, options: AdminRouterOptions = {}): Router {
  const base = (options.basePath ?? '/admin').replace(/\/+$/, '');
  const router = Router();
  // A bounded route label for the ingest API's duration histogram.
  router.use((_req, res, next) => {
    res.locals.route = base;
    next();
  });

  const adminKey = runtime.config.adminKey;
  if (!adminKey) {
    router.use((_req, res) => {
      res.status(404).type('text/plain').send(ADMIN_OFF_MESSAGE);
    });
    return router;
  }

  const auth = new AdminAuth(adminKey, runtime.redis, runtime.keys);
  const clientIp = (req: Request) => req.ip ?? req.socket.remoteAddress ?? 'unknown';
  const tooMany = (res: Response, waitMs: number) => {
    const seconds = Math.ceil(waitMs / 1000);
    res
      .status(429)
      .set('Retry-After', String(seconds))
      .type('text/plain')
      .send(`too many wrong admin keys from this address; try again in ${seconds} s\n`);
  };
  const log = runtime.logger.child({ component: 'admin-ui' });
  const form = express.urlencoded({ extended: false, limit: '4kb' });

  router.use((_req, res, next) => {
    res.set('Cache-Control', 'no-store');
    res.set('X-Content-Type-Options', 'nosniff');
    // Not `no-referrer`: with it, browsers send `Origin: null` on form posts and the origin check below refuses them.
    res.set('Referrer-Policy', 'same-origin');
    next();
  });

  const page = (res: Response, status: number, body: string) => {
    res.status(status).type('text/html').set('Content-Security-Policy', PAGE_CSP).send(body);
  };

  router.get('/login', (_req, res) => page(res, 200, renderLoginPage(base)));
  router.post('/login', form, async (req, res) => {
    const ip = clientIp(req);
    const wait = await auth.lockedFor(ip);
    if (wait > 0) {
      tooMany(res, wait);
      return;
    }
    const key = typeof req.body?.key === 'string' ? req.body.key : '';
    if (!auth.keyMatches(key)) {
      await auth.recordFailure(ip);
      log.warn({ ip }, 'admin login refused');
      page(res, 401, renderLoginPage(base, 'That is not the admin key.'));
      return;
    }
    res.cookie(SESSION_COOKIE, await auth.createSession(), {
      httpOnly: true,
      sameSite: 'strict',
      secure: req.secure,
      path: base,
      maxAge: SESSION_MAX_AGE_S * 1000,
    });
    res.redirect(303, `${base}/`);
  });
  router.post('/logout', async (req, res) => {
    await auth.endSession(req);
    res.clearCookie(SESSION_COOKIE, { path: base });
    res.redirect(303, `${base}/login`);
  });

  // Everything below needs the operator.
  router.use(async (req: Request, res: Response, next: NextFunction) => {
    const ip = clientIp(req);
    const wait = await auth.lockedFor(ip);
    if (wait > 0) {
      tooMany(res, wait);
      return;
    }
    const how = await auth.authenticate(req);
    if (how === 'wrong_bearer') await auth.recordFailure(ip);
    if (how === undefined || how === 'wrong_bearer') {
      // Browsers navigating ask for text/html by name; API clients (and `*/*`) get a 401 they can act on.
      if (req.method === 'GET' && req.headers.accept?.includes('text/html')) {
        res.redirect(303, `${base}/login`);
      } else {
        res
          .status(401)
          .set('WWW-Authenticate', 'Bearer realm="batchbridge-admin"')
          .json({
            error: { message: 'admin key required (Authorization: Bearer <ADMIN_KEY>)', type: 'authentication_error' },
          });
      }
      return;
    }
    // SameSite=Strict already keeps other sites' forms from carrying the cookie; an Origin check is a second lock.
    if (how === 'cookie' && req.method !== 'GET' && req.method !== 'HEAD' && !sameOrigin(req)) {
      res.status(403).type('text/plain').send('cross-origin request refused\n');
      return;
    }
    next();
  });

  router.get('/', async (req, res) => {
    const overview = await readOverview(runtime);
    const redelivered = typeof req.query.redelivered === 'string' ? req.query.redelivered : undefined;
    const flash =
      redelivered && isRequestId(redelivered)
        ? { kind: 'ok' as const, text: `Redelivery of ${redelivered} queued (same webhook-id).` }
        : undefined;
    page(res, 200, renderOverviewPage(overview, { base, flash }));
  });
  router.get('/overview.json', async (_req, res) => {
    res.json(await readOverview(runtime));
  });
  router.get('/tenants/:id/usage.json', async (req, res) => {
    const tenant = runtime.tenants.get(String(req.params.id));
    if (!tenant) {
      res.status(404).json({ error: 'no such tenant' });
      return;
    }
    const date = (v: unknown) => (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v) ? v : undefined);
    const to = date(req.query.to) ?? new Date().toISOString().slice(0, 10);
    const from = date(req.query.from) ?? `${to.slice(0, 7)}-01`;
    const g = req.query.group_by;
    const groupBy = g === 'model' || g === 'lane' || g === 'provider' ? g : undefined;
    res.json(await runtime.store.ledger.usage(tenant.id, from, to, groupBy));
  });

  router.post('/requests/:id/redeliver', async (req, res) => {
    const id = String(req.params.id);
    const p = runtime.store.requests.partitionOf(id);
    const record = p === undefined ? undefined : await runtime.store.requests.get(id);
    const wantsHtml = req.headers.accept?.includes('text/html') === true;
    if (p === undefined || !record || !isTerminal(record.status)) {
      const message = record ? `request ${id} is ${record.status}: nothing to redeliver yet` : `no request ${id}`;
      if (wantsHtml) page(res, record ? 409 : 404, renderErrorPage(base, message));
      else
        res
          .status(record ? 409 : 404)
          .json({ error: { message, type: record ? 'conflict_error' : 'not_found_error' } });
      return;
    }
    // The same delivery the public redeliver route adds: a redeliver (so that the delivered check does not skip it),
    // the same webhook-id (derived from the request id).
    await runtime.store.deliveries.add(p, [deliveryMember(id, true)]);
    log.info({ requestId: id, tenant: record.tenant, batchId: record.batch_id }, 'redelivery requested by an operator');
    if (wantsHtml) res.redirect(303, `${base}/?redelivered=${encodeURIComponent(id)}`);
    else res.status(202).json({ id, redelivery: 'queued' });
  });

  router.get('/requests/:id/deliveries', async (req, res) => {
    const id = String(req.params.id);
    const p = runtime.store.requests.partitionOf(id);
    const record = p === undefined ? undefined : await runtime.store.requests.get(id);
    const wantsHtml = req.headers.accept?.includes('text/html') === true;
    if (p === undefined || !record) {
      if (wantsHtml) page(res, 404, renderErrorPage(base, `no request ${id}`));
      else res.status(404).json({ error: { message: `no request ${id}`, type: 'not_found_error' } });
      return;
    }
    const attempts = await runtime.store.requests.deliveryLog(p, id);
    const state = deliveryState(record);
    const reason = record.dead ? (record.dead_reason ?? 'exhausted') : record.stop_reason;
    if (wantsHtml) page(res, 200, renderDeliveriesPage(base, id, state, reason, attempts));
    else res.json({ object: 'list', data: attempts, delivery: { state, reason: reason ?? null } });
  });

  router.post('/endpoints/enable', form, async (req, res) => {
    const tenant = typeof req.body?.tenant === 'string' ? req.body.tenant : '';
    const host = typeof req.body?.host === 'string' ? req.body.host : '';
    const wantsHtml = req.headers.accept?.includes('text/html') === true;
    if (!runtime.tenants.get(tenant) || !/^[A-Za-z0-9.\-[\]:]+:\d{1,5}$/.test(host)) {
      const message = 'send tenant (a configured tenant id) and host (<host>:<port>) of the endpoint to re-enable';
      if (wantsHtml) page(res, 400, renderErrorPage(base, message));
      else res.status(400).json({ error: { message, type: 'invalid_request_error' } });
      return;
    }
    const was = await runtime.store.endpoints.enable(tenant, host);
    log.info({ tenant, host, was }, 'endpoint re-enabled by an operator');
    if (wantsHtml) res.redirect(303, `${base}/`);
    else res.json({ tenant, host, state: 'enabled', was_unhealthy: was });
  });

  router.post('/tenants/reload', (_req, res) => {
    try {
      const tenants = runtime.tenants.reload();
      log.info({ tenants }, 'TENANTS_FILE reloaded by an operator');
      res.json({ reloaded: true, tenants });
    } catch (err) {
      res.status(400).json({ error: { message: (err as Error).message, type: 'invalid_request_error' } });
    }
  });

  const board = createQueuesBoard(runtime, `${base}/queues`);
  router.use(
    '/queues',
    (_req, res, next) => {
      res.set('Content-Security-Policy', BOARD_CSP);
      next();
    },
    board,
  );

  // Errors of this router are answered here (the ingest API's handler speaks the OpenAI error shape to API clients).
  router.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    log.error({ err: (err as Error).message }, 'operator page failed');
    if (!res.headersSent) res.status(500).type('text/plain').send('operator page error; see the logs\n');
  });
  return router;
}

function renderErrorPage(base: string, message: string): string {
  return `<!doctype html><meta charset="utf-8"><title>batchbridge · operator</title><p>${escapeHtml(message)}</p><p><a href="${escapeHtml(base)}/">Back</a></p>`;
}

function sameOrigin(req: Request): boolean {
  const origin = req.headers.origin;
  if (!origin) return true; // non-browser clients and older browsers send none
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}
