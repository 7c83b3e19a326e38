/**
 * The tenant directory. With TENANTS_FILE unset (the embedded default) one `dev` tenant is created with a random API
 * key and webhook secret and kept in `<dataDir>/dev-tenant.json`, so that every process of a local deployment (and the
 * next start) agrees on them.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, unwatchFile, watchFile, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseTenants, type Tenant } from '@batchbridge/config';

export class TenantDirectory {
  private current: readonly Tenant[] = [];
  private byKey = new Map<string, Tenant>();
  private byId = new Map<string, Tenant>();
  /** The file the tenants were read from, if any: {@link reload} reads it again. */
  readonly file: string | undefined;

  constructor(tenants: readonly Tenant[], file?: string) {
    this.file = file;
    this.replace(tenants);
  }

  get tenants(): readonly Tenant[] {
    return this.current;
  }

  /** Swaps in another tenant list at once (keys, secrets, limits): the next lookup sees it. */
  replace(tenants: readonly Tenant[]): void {
    const byKey = new Map<string, Tenant>();
    const byId = new Map<string, Tenant>();
    for (const t of tenants) {
      byId.set(t.id, t);
      for (const k of t.api_keys) byKey.set(k, t);
    }
    this.current = tenants;
    this.byKey = byKey;
    this.byId = byId;
  }

  /**
   * Reads TENANTS_FILE again (SPEC §16: tenant configuration without a restart). A file that does not parse changes
   * nothing and throws the problems, one line each. Answers how many tenants are configured now.
   */
  reload(): number {
    if (this.file === undefined) throw new Error('no TENANTS_FILE to reload (the embedded dev tenant is fixed)');
    this.replace(parseTenants(readFileSync(this.file, 'utf8'), `TENANTS_FILE (${this.file})`));
    return this.current.length;
  }

  /**
   * Reloads whenever the file changes (polled every `intervalMs`, which works for the atomic renames of Kubernetes
   * config maps and editors alike); `onReload` hears each result. Returns a stop function.
   */
  watch(onReload: (result: { ok: true; tenants: number } | { ok: false; error: string }) => void, intervalMs = 2_000) {
    const file = this.file;
    if (file === undefined) return () => undefined;
    const listener = () => {
      try {
        onReload({ ok: true, tenants: this.reload() });
      } catch (err) {
        onReload({ ok: false, error: (err as Error).message });
      }
    };
    const changed = (now: { mtimeMs: number; size: number; ino: number }, before: typeof now) => {
      if (now.mtimeMs !== before.mtimeMs || now.size !== before.size || now.ino !== before.ino) listener();
    };
    watchFile(file, { interval: intervalMs, persistent: false }, changed);
    return () => unwatchFile(file, changed);
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
    return { directory: new TenantDirectory(tenants, tenantsFile), dev: undefined };
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
