import { describe, expect, it } from 'vitest';
import { parseConfig } from './env.js';

describe('parseConfig', () => {
  it('gives defaults for an empty environment', () => {
    const r = parseConfig({});
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config.http.port).toBe(8080);
    expect(r.config.redis.partitions).toBe(1);
    expect(r.config.batch.maxRequests).toBe(50_000);
    expect(r.config.webhook.retryScheduleMs).toEqual([
      5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 50_400_000, 72_000_000, 86_400_000,
    ]);
  });

  it('reports every bad variable on its own line, naming it', () => {
    const r = parseConfig({ PORT: 'eighty', MAX_ATTEMPTS: '0', WEBHOOK_RETRY_SCHEDULE: '5s,soon', REDIS_MODE: 'ring' });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems).toHaveLength(4);
    expect(r.message).toMatch(/PORT: expected a whole number/);
    expect(r.message).toMatch(/MAX_ATTEMPTS: .*\(got "0"\)/);
    expect(r.message).toMatch(/WEBHOOK_RETRY_SCHEDULE: expected comma-separated durations/);
    expect(r.message).toMatch(/REDIS_MODE: expected standalone, cluster or sentinel/);
  });

  it('never echoes secrets in problems', () => {
    const r = parseConfig({ ADMIN_KEY: 'short-secret' });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.message).not.toContain('short-secret');
  });

  it('clamps flush limits to the provider profile and checks cross-field rules', () => {
    const r = parseConfig({ PROVIDER_PROFILE: 'kluster', BATCH_MAX_BYTES: String(500 * 1024 * 1024) });
    expect(r.ok && r.config.batch.maxBytes).toBe(100 * 1024 * 1024);
    const bad = parseConfig({ UPSTREAM_BASE_URL: 'https://api.example.com/v1', BATCH_MIX_MODELS: 'true' });
    expect(bad.ok).toBe(false);
    if (bad.ok) return;
    expect(bad.problems.join('\n')).toMatch(/UPSTREAM_API_KEY: required/);
    expect(bad.problems.join('\n')).toMatch(/BATCH_MIX_MODELS: the openai profile allows one model/);
  });

  it('checks the Sentinel and durability settings together (SPEC §18)', () => {
    const missing = parseConfig({ REDIS_MODE: 'sentinel' });
    expect(missing.ok ? [] : missing.problems).toEqual([
      'REDIS_SENTINELS: required in sentinel mode (comma-separated host:port)',
      'REDIS_SENTINEL_MASTER: required in sentinel mode (the master name)',
    ]);
    const onCluster = parseConfig({ REDIS_MODE: 'cluster', REDIS_URL: 'redis://a:7000', REDIS_DURABILITY: 'replica' });
    expect(onCluster.ok ? [] : onCluster.problems).toEqual([
      'REDIS_DURABILITY: replica is not supported with REDIS_MODE=cluster (use standalone or sentinel)',
    ]);
    const bad = parseConfig({ REDIS_MODE: 'sentinel', REDIS_SENTINELS: 'host', REDIS_SENTINEL_MASTER: 'm' });
    expect(bad.ok ? '' : bad.message).toMatch(/REDIS_SENTINELS: expected comma-separated host:port pairs/);
    const ok = parseConfig({
      REDIS_MODE: 'sentinel',
      REDIS_SENTINELS: '10.0.0.1:26379, [2001:db8::1]:26380',
      REDIS_SENTINEL_MASTER: 'mymaster',
      REDIS_DURABILITY: 'replica',
    });
    expect(ok.ok && ok.config.redis).toMatchObject({
      mode: 'sentinel',
      sentinels: [
        { host: '10.0.0.1', port: 26379 },
        { host: '2001:db8::1', port: 26380 },
      ],
      sentinelMaster: 'mymaster',
      durability: 'replica',
      durabilityTimeoutMs: 1000,
    });
  });

  it('uses 16 partitions by default in cluster mode', () => {
    const r = parseConfig({ REDIS_MODE: 'cluster', REDIS_URL: 'redis://127.0.0.1:7000,redis://127.0.0.1:7001' });
    expect(r.ok && r.config.redis.partitions).toBe(16);
  });
});

describe('RESULT_RETENTION against WEBHOOK_RETRY_SCHEDULE', () => {
  it('refuses a retention shorter than the whole retry schedule, naming both', () => {
    const r = parseConfig({ RESULT_RETENTION: '1h', WEBHOOK_RETRY_SCHEDULE: '30m,30m,30m' });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]).toMatch(/RESULT_RETENTION.*WEBHOOK_RETRY_SCHEDULE/);
    expect(parseConfig({ RESULT_RETENTION: '2h', WEBHOOK_RETRY_SCHEDULE: '30m,30m,30m' }).ok).toBe(true);
  });
});

describe('WEBHOOK_ALLOW_CIDRS', () => {
  it('is checked with the address policy parser: a /33 IPv4 network is refused', () => {
    const r = parseConfig({ WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8,10.0.0.0/33' });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems[0]).toMatch(/^WEBHOOK_ALLOW_CIDRS: expected comma-separated CIDRs/);
    expect(parseConfig({ WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8, ::1/128' }).ok).toBe(true);
  });
});
