// docker-compose.yml and the Dockerfile cannot be run here (no Docker engine), so this test keeps them honest: every
// command points at the bundle `pnpm build` makes of a real entry point (bundles.test.ts starts each one), every
// environment name is one batchbridge reads, ports line up with the Prometheus scrape config, and Redis runs with AOF
// and noeviction.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIG_ENV_NAMES, parseConfig, parseTenants } from '@batchbridge/config';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { bundlePath, ENTRIES } from '../../infra/build/bundle.mjs';

const root = join(import.meta.dirname, '..', '..');
const read = (p: string) => readFileSync(join(root, p), 'utf8');
const bundles = ENTRIES.map((e) => bundlePath(e.service, e.entry));

interface ComposeService {
  build?: string;
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
}
const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, ComposeService> };
const simEnvNames = [...read('services/provider-sim/src/env.ts').matchAll(/\b(SIM_[A-Z0-9_]+)\s*:/g)].map((m) => m[1]);

describe('docker-compose.yml', () => {
  const ours = Object.entries(compose.services).filter(([, s]) => s.build === '.');

  it('runs each batchbridge service from the bundle `pnpm build` makes of its real entry point', () => {
    const names = ours.map(([name]) => name).sort();
    expect(names).toEqual(['dispatcher', 'ingest-api', 'packer', 'poller', 'provider-sim']);
    for (const [name, s] of ours) {
      const entry = s.command?.[0] ?? '';
      expect(entry, name).toBe(`services/${name}/dist/main.mjs`);
      expect(bundles, entry).toContain(entry);
      expect(existsSync(join(root, `services/${name}/src/main.ts`)), name).toBe(true);
    }
  });

  it('uses only environment names that batchbridge reads, with values it accepts', () => {
    for (const [name, s] of ours) {
      const env = s.environment ?? {};
      for (const key of Object.keys(env)) {
        const known = CONFIG_ENV_NAMES.includes(key) || simEnvNames.includes(key) || key === 'PROVIDER_PROFILE';
        expect(known, `${name}: ${key}`).toBe(true);
      }
      if (name === 'provider-sim') continue;
      const { TENANTS_FILE: _t, ...rest } = env;
      const parsed = parseConfig(rest);
      expect(parsed.ok ? '' : parsed.message, name).toBe('');
    }
  });

  it('runs Redis with AOF and noeviction, request records one listpack each', () => {
    const cmd = compose.services.redis?.command?.join(' ') ?? '';
    expect(cmd).toMatch(/--appendonly yes/);
    expect(cmd).toMatch(/--maxmemory-policy noeviction/);
    expect(cmd).toMatch(/--hash-max-listpack-value 8192/);
  });

  it('lets Prometheus scrape every service on the port it listens on', () => {
    const prom = parse(read('infra/prometheus/prometheus.yml')) as {
      scrape_configs: Array<{ static_configs: Array<{ targets: string[] }> }>;
    };
    const targets = prom.scrape_configs.flatMap((c) => c.static_configs.flatMap((s) => s.targets));
    for (const name of ['ingest-api', 'packer', 'poller', 'dispatcher']) {
      const env = compose.services[name]?.environment ?? {};
      const port = env.METRICS_PORT ?? env.PORT;
      expect(targets, name).toContain(`${name}:${port}`);
    }
  });

  it('ships a tenants example that parses', () => {
    expect(parseTenants(read('tenants.example.json'))).toHaveLength(1);
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  it('is multi-stage, runs as a non-root user, pins the same pnpm as package.json', () => {
    expect(dockerfile.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/^USER node$/m);
    const pnpm = (JSON.parse(read('package.json')) as { packageManager: string }).packageManager.split('@')[1];
    expect(dockerfile).toContain(`pnpm@${pnpm}`);
    expect(dockerfile).toMatch(/pnpm install --frozen-lockfile/);
  });
  it('builds the bundles and runs them with plain node, by default the all-in-one', () => {
    expect(dockerfile).toMatch(/^RUN pnpm build$/m);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node"\]$/m);
    const cmd = /^CMD \["([^"]+)"\]/m.exec(dockerfile)?.[1] ?? '';
    expect(cmd).toBe(bundlePath('all-in-one'));
    expect(bundles).toContain(cmd);
    // `pnpm build` runs after the install, with the build script copied in.
    const install = dockerfile.indexOf('RUN pnpm install --frozen-lockfile');
    const build = dockerfile.indexOf('RUN pnpm build');
    expect(install).toBeGreaterThan(0);
    expect(build).toBeGreaterThan(install);
    expect(dockerfile.slice(0, build)).toMatch(/^COPY infra\/build \.\/infra\/build$/m);
  });
});
