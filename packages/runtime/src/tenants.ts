/**
 * The tenant directory. With TENANTS_FILE unset (the embedded default) one `dev` tenant is created with a random API
 * key and webhook secret and kept in `<dataDir>/dev-tenant.json`, so that every process of a local deployment (and the
 * next start) agrees on them.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseTenants, type Tenant } from '@batchbridge/config';

export class TenantDirectory {
  readonly tenants: readonly Tenant[];
  private readonly byKey = new Map<string, Tenant>();
  private readonly byId = new Map<string, Tenant>();

  constructor(tenants: readonly Tenant[]) {
    this.tenants = tenants;
    for (const t of tenants) {
      this.byId.set(t.id, t);
      for (const k of t.api_keys) this.byKey.set(k, t);
    }
  }

  byApiKey(key: string): Tenant | undefined {
    return this.byKey.get(key);
  }

  get(id: string): Tenant | undefined {
    return this.byId.get(id);
  }
}

export interface LoadTenantsResult {
  directory: TenantDirectory;
  /** Set when the dev tenant was used (its key and secret are printed by `pnpm start`). */
  dev: Tenant | undefined;
}

export function loadTenants(tenantsFile: string | undefined, devFile = '.data/dev-tenant.json'): LoadTenantsResult {
  if (tenantsFile) {
    const tenants = parseTenants(readFileSync(tenantsFile, 'utf8'), `TENANTS_FILE (${tenantsFile})`);
    return { directory: new TenantDirectory(tenants), dev: undefined };
  }
  let dev: Tenant;
  if (existsSync(devFile)) {
    dev = parseTenants(readFileSync(devFile, 'utf8'), devFile)[0]!;
  } else {
    dev = {
      id: 'dev',
      api_keys: [`bb_dev_${randomBytes(18).toString('base64url')}`],
      webhook_secret: `whsec_${randomBytes(32).toString('base64')}`,
      allowed_models: ['*'],
    };
    mkdirSync(dirname(devFile), { recursive: true });
    writeFileSync(devFile, `${JSON.stringify({ tenants: [dev] }, null, 2)}\n`, { mode: 0o600 });
  }
  return { directory: new TenantDirectory([dev]), dev };
}
