/**
 * `Authorization: Bearer <api key>` → tenant (SPEC §3). The tenant directory is an in-memory Map built at start;
 * a Map lookup does not leak key prefixes through timing the way a character-by-character comparison would.
 */
import type { Tenant } from '@batchbridge/config';
import type { TenantDirectory } from '@batchbridge/runtime';
import type { NextFunction, Request, Response } from 'express';
import { ApiError } from './errors.js';

const BEARER = /^Bearer[ ]+(\S+)\s*$/i;

/** The tenant of an `Authorization` header value, or undefined when it names none. */
export function tenantForAuthorization(tenants: TenantDirectory, header: string | undefined): Tenant | undefined {
  const match = header ? BEARER.exec(header) : null;
  return match?.[1] ? tenants.byApiKey(match[1]) : undefined;
}

export function requireTenant(tenants: TenantDirectory) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const header = req.headers.authorization;
    const tenant = tenantForAuthorization(tenants, header);
    if (!tenant) {
      throw new ApiError({
        status: 401,
        type: 'authentication_error',
        code: header ? 'invalid_api_key' : 'missing_api_key',
        message: header
          ? 'Incorrect API key provided'
          : 'You did not provide an API key: send it as "Authorization: Bearer <key>"',
        reason: 'unauthorized',
      });
    }
    res.locals.tenant = tenant;
    next();
  };
}

/** The tenant `requireTenant` found (only call in handlers behind it). */
export function tenantOf(res: Response): Tenant {
  return res.locals.tenant as Tenant;
}
