import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { missingNodeFlags, SERVICE_NODE_FLAGS } from './node-flags.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

describe('SERVICE_NODE_FLAGS', () => {
  it.each(Object.entries(SERVICE_NODE_FLAGS))('%s starts with its flags from its package scripts', (service, flags) => {
    const scripts = (
      JSON.parse(readFileSync(`${root}services/${service}/package.json`, 'utf8')) as { scripts: Record<string, string> }
    ).scripts;
    for (const name of ['start', 'start:dist']) {
      const words = (scripts[name] ?? '').split(' ');
      for (const flag of flags) expect(words.indexOf(flag), `${name}: ${scripts[name]}`).toBe(1);
    }
    // Its k8s manifest: test/infra/k8s.test.ts.
  });

  it('names the flags a process lacks', () => {
    expect(missingNodeFlags('ingest-api', [])).toEqual(['--max-semi-space-size=32']);
    expect(missingNodeFlags('ingest-api', ['--max_semi_space_size=32'])).toEqual([]);
    expect(missingNodeFlags('ingest-api', [], '--max-semi-space-size=32 --inspect')).toEqual([]);
    expect(missingNodeFlags('poller', [])).toEqual([]);
  });
});
