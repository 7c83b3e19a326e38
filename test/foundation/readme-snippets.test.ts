// The README's TypeScript snippets are code people paste: each one must compile as it stands, on its own, under the
// repository's strict compiler settings (`strict`, `noUncheckedIndexedAccess`, `exactOptionalPropertyTypes`), with the
// real `openai`, `express` and `ioredis` typings and the `@batchbridge/client` package (client, receivers, batchOpenAI).
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const tsc = join(root, 'node_modules/typescript/bin/tsc');

/** The bodies of the ```ts fences of a Markdown text. */
export function tsSnippets(markdown: string): string[] {
  return [...markdown.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

describe('README snippets', () => {
  it('finds the snippets (the client package, batchOpenAI, an unchanged SDK, the receivers)', () => {
    const snippets = tsSnippets(readFileSync(join(root, 'README.md'), 'utf8'));
    expect(snippets.length).toBeGreaterThanOrEqual(5);
    expect(snippets.some((s) => s.includes("from 'openai'"))).toBe(true);
    expect(snippets.some((s) => s.includes('new BatchbridgeClient('))).toBe(true);
    expect(snippets.some((s) => s.includes("from '@batchbridge/client/openai'"))).toBe(true);
    expect(snippets.some((s) => s.includes('webhookHandler('))).toBe(true);
    expect(snippets.some((s) => s.includes('verifyWebhook('))).toBe(true);
  });

  it('compiles each one on its own under tsc --strict', async () => {
    const snippets = tsSnippets(readFileSync(join(root, 'README.md'), 'utf8'));
    // Inside test/ so that the snippets resolve packages as an application beside this package would.
    const dir = mkdtempSync(join(here, '..', '.readme-snippets-'));
    try {
      const files = snippets.map((code, i) => {
        const file = join(dir, `snippet-${i + 1}.ts`);
        writeFileSync(file, code);
        return file;
      });
      writeFileSync(
        join(dir, 'tsconfig.json'),
        JSON.stringify({
          extends: join(root, 'tsconfig.base.json'),
          compilerOptions: { noEmit: true, strict: true, skipLibCheck: true, isolatedModules: true },
          // Each snippet is its own module (top-level await, no globals shared between them).
          files,
        }),
      );
      const result = await promisify(execFile)(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], {
        cwd: dir,
      }).then(
        () => ({ ok: true, out: '' }),
        (error: { stdout?: string; stderr?: string }) => ({ ok: false, out: `${error.stdout}${error.stderr}` }),
      );
      expect(result.out).toBe('');
      expect(result.ok).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('takes every ```ts fence, and only those', () => {
    expect(tsSnippets('```ts\nconst a = 1;\n```\n```sh\nls\n```\n```ts\nconst b = 2;\n```\n')).toEqual([
      'const a = 1;\n',
      'const b = 2;\n',
    ]);
  });
});
