import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from './env.js';
import { globToRegExp } from './providers.js';

const dir = mkdtempSync(join(tmpdir(), 'bb-providers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, content: unknown) => {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
};

const two = {
  providers: [
    {
      id: 'together',
      profile: 'together',
      base_url: 'http://127.0.0.1:9001/v1',
      api_key_env: 'TOGETHER_KEY',
      models: ['meta-llama/*'],
      aliases: { 'llama-3.3-70b': 'meta-llama/Llama-3.3-70B-Instruct-Turbo' },
      priority: 20,
    },
    { id: 'openai', profile: 'openai', base_url: 'http://127.0.0.1:9002/v1', api_key: 'sk-a', priority: 10 },
  ],
};

describe('provider push (SPEC §13)', () => {
  it('a provider with a webhook secret pushes (slower backstop polls) unless it says push: false', () => {
    const r = parseConfig({
      PROVIDERS_FILE: file('push.json', {
        providers: [
          { id: 'a', profile: 'openai', base_url: 'http://127.0.0.1:9/v1', api_key: 'k', webhook_secret: 'whsec_AA==' },
          {
            id: 'b',
            profile: 'openai',
            base_url: 'http://127.0.0.1:9/v1',
            api_key: 'k',
            webhook_secret: 'whsec_AA==',
            push: false,
          },
          { id: 'c', profile: 'openai', base_url: 'http://127.0.0.1:9/v1', api_key: 'k' },
        ],
      }),
      POLL_MAX_INTERVAL_MS_PUSH: '900000',
    });
    if (!r.ok) throw new Error(r.message);
    expect(r.config.providers.map((p) => [p.id, p.push])).toEqual([
      ['a', true],
      ['b', false],
      ['c', false],
    ]);
    expect(r.config.poll.maxIntervalMsPush).toBe(900_000);
  });

  it('UPSTREAM_WEBHOOK_SECRET makes the default provider push', () => {
    const r = parseConfig({
      UPSTREAM_BASE_URL: 'http://127.0.0.1:9/v1',
      UPSTREAM_API_KEY: 'k',
      UPSTREAM_WEBHOOK_SECRET: 'whsec_AA==',
    });
    if (!r.ok) throw new Error(r.message);
    expect(r.config.providers[0]).toMatchObject({ id: 'default', push: true, webhookSecret: 'whsec_AA==' });
    expect(r.config.upstream.webhookSecret).toBe('whsec_AA==');
    // Never below the usual cap.
    const low = parseConfig({ POLL_MAX_INTERVAL_MS_PUSH: '10' });
    expect(low.ok && low.config.poll.maxIntervalMsPush).toBe(60_000);
  });
});

describe('PROVIDERS_FILE', () => {
  it('reads several providers, resolves api_key_env and orders them by priority', () => {
    const r = parseConfig({ PROVIDERS_FILE: file('two.json', two), TOGETHER_KEY: 'sk-t' });
    if (!r.ok) throw new Error(r.message);
    expect(r.config.providers.map((p) => [p.id, p.priority, p.apiKey])).toEqual([
      ['openai', 10, 'sk-a'],
      ['together', 20, 'sk-t'],
    ]);
    expect(r.config.providers[1]?.aliases).toEqual({ 'llama-3.3-70b': 'meta-llama/Llama-3.3-70B-Instruct-Turbo' });
    // The first by priority is the "upstream" of code that knows one provider; flush limits are the strictest profile's.
    expect(r.config.upstream.baseUrl).toBe('http://127.0.0.1:9002/v1');
    expect(r.config.batch.maxBytes).toBe(100 * 1024 * 1024);
  });

  it('reads YAML by the file name', () => {
    const yaml = `providers:\n  - id: groq\n    profile: groq\n    base_url: http://127.0.0.1:9003/openai/v1\n    api_key: gsk-1\n`;
    const r = parseConfig({ PROVIDERS_FILE: file('p.yaml', yaml) });
    if (!r.ok) throw new Error(r.message);
    expect(r.config.providers.map((p) => [p.id, p.profile.name])).toEqual([['groq', 'groq']]);
  });

  it('names every problem on its own line, with the file and the field, and no stack', () => {
    const bad = {
      providers: [
        { id: 'Bad Id', profile: 'nope', base_url: 'ftp://x', api_key: 'k' },
        { id: 'a', profile: 'openai', base_url: 'http://127.0.0.1:1/v1', api_key_env: 'MISSING_KEY' },
        { id: 'a', profile: 'openai', base_url: 'http://127.0.0.1:1/v1' },
      ],
    };
    const path = file('bad.json', bad);
    const first = parseConfig({ PROVIDERS_FILE: path });
    expect(first.ok).toBe(false);
    if (first.ok) return;
    expect(first.problems).toEqual([
      `PROVIDERS_FILE: ${path}: providers.0.id: expected 1–32 lower-case letters, digits, _ or -`,
      expect.stringMatching(new RegExp(`^PROVIDERS_FILE: ${path}: providers.0.profile: expected one of openai, `)),
      `PROVIDERS_FILE: ${path}: providers.0.base_url: expected an absolute http(s) URL`,
    ]);
    bad.providers.shift();
    const second = parseConfig({ PROVIDERS_FILE: file('bad2.json', bad) });
    expect(second.ok ? [] : second.problems.map((p) => p.replace(/^.*?bad2\.json: /, ''))).toEqual([
      'providers.0.api_key_env: the variable MISSING_KEY is not set',
      'providers.1.id: "a" is listed more than once',
      'providers.1: api_key or api_key_env is required',
    ]);
    expect(second.ok ? '' : second.message).not.toMatch(/\n\s+at /);
  });

  it('refuses an unreadable or unparsable file, and a window a provider does not take', () => {
    const missing = parseConfig({ PROVIDERS_FILE: join(dir, 'nope.json') });
    expect(missing.ok ? [] : missing.problems).toEqual([
      `PROVIDERS_FILE: cannot read ${JSON.stringify(join(dir, 'nope.json'))} (ENOENT)`,
    ]);
    const junk = parseConfig({ PROVIDERS_FILE: file('junk.json', '{nope') });
    expect(junk.ok ? [] : junk.problems[0]).toMatch(/junk\.json: not valid JSON/);
    const dw = { providers: [{ id: 'dw', profile: 'doubleword', base_url: 'http://127.0.0.1:1/v1', api_key: 'k' }] };
    const window = parseConfig({ PROVIDERS_FILE: file('dw.json', dw), COMPLETION_WINDOW: '48h' });
    expect(window.ok ? [] : window.problems).toEqual([
      'COMPLETION_WINDOW: provider dw (profile doubleword) accepts 1h, 24h (got "48h")',
    ]);
    const ok = parseConfig({ PROVIDERS_FILE: file('dw.json', dw), COMPLETION_WINDOW: '1h' });
    expect(ok.ok).toBe(true);
  });

  it('keeps UPSTREAM_* as the one provider, id default', () => {
    const r = parseConfig({
      UPSTREAM_BASE_URL: 'http://127.0.0.1:9/v1',
      UPSTREAM_API_KEY: 'sk-1',
      PROVIDER_PROFILE: 'groq',
    });
    if (!r.ok) throw new Error(r.message);
    expect(r.config.providers.map((p) => [p.id, p.profile.name, p.baseUrl])).toEqual([
      ['default', 'groq', 'http://127.0.0.1:9/v1'],
    ]);
    const none = parseConfig({});
    expect(none.ok ? none.config.providers : undefined).toEqual([]);
  });

  it('globs match whole names, * any run and ? one character', () => {
    expect(globToRegExp('meta-llama/*').test('meta-llama/Llama-3.3-70B')).toBe(true);
    expect(globToRegExp('gpt-4o?').test('gpt-4o')).toBe(false);
    expect(globToRegExp('gpt-4.1*').test('gpt-4o')).toBe(false);
  });
});
