// The repository stands alone: a fresh clone in a folder with nothing beside it must test, build and read the same as
// this checkout. So no tracked file names a path that climbs out of the repository (`../shared/…` once did: two
// contract tests and the README read a document that only existed beside this workspace), and every relative link in
// the README and docs/ lands on a file that is in the repository.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';

const root = resolve(import.meta.dirname, '..', '..');

/** Tracked files plus new ones not ignored, so a file not yet committed is checked too. */
function repoFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: root,
    encoding: 'utf8',
  });
  return [...new Set(out.split('\0').filter(Boolean))].filter((f) => existsSync(join(root, f)));
}

/** The vendored OpenAPI document is third-party text (its examples are not paths of ours). */
const VENDORED = new Set(['test/fixtures/openai-openapi/openai-openapi.yaml']);

function isText(buf: Buffer): boolean {
  return !buf.subarray(0, 8000).includes(0);
}

const inside = (abs: string) => abs === root || abs.startsWith(root + sep);

/** Every `../`-climbing path in `text`, resolved from `baseDir`, that ends outside the repository. */
export function escapingPaths(text: string, baseDir: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/(?:\.\.\/)+[\w.@-]*/g)) {
    if (!inside(resolve(baseDir, m[0]))) found.push(m[0]);
  }
  return found;
}

/** Paths that name the workspace beside the repository however they are written. */
const OUTSIDE_NAMES = /(?:^|[^\w])(?:shared\/(?:reference|SPEC\.md|STYLE\.md)|\/work\/)/;

describe('nothing in the repository reads outside it', () => {
  const files = repoFiles();

  it('sees the files git knows about', () => {
    expect(files).toContain('README.md');
    expect(files).toContain('test/fixtures/openai-openapi/LICENSE');
  });

  it('the checker itself catches a path that climbs out, and lets one inside through', () => {
    // Built from pieces so that this file does not itself hold the paths it forbids.
    const up = '../';
    const sh = 'shared';
    const dir = join(root, 'test', 'packer');
    const climbing = `new URL('${up.repeat(3)}${sh}/reference/openai-openapi.yaml', import.meta.url)`;
    expect(escapingPaths(climbing, dir)).toEqual([`${up.repeat(3)}shared`]);
    const staying = `new URL('${up}fixtures/openai-openapi/openai-openapi.yaml', import.meta.url)`;
    expect(escapingPaths(staying, dir)).toEqual([]);
    expect(escapingPaths(`[SPEC](${up}${sh}/SPEC.md)`, root)).toEqual([`${up}shared`]);
    expect(OUTSIDE_NAMES.test(`see ${up}${sh}/reference/x`)).toBe(true);
    expect(OUTSIDE_NAMES.test('the shared test Redis')).toBe(false);
  });

  it('no tracked file names a path reaching outside the repository', () => {
    const offenders: string[] = [];
    for (const file of files) {
      if (VENDORED.has(file) || file === 'pnpm-lock.yaml') continue;
      const buf = readFileSync(join(root, file));
      if (!isText(buf)) continue;
      const text = buf.toString('utf8');
      for (const p of escapingPaths(text, dirname(join(root, file)))) offenders.push(`${file}: ${p}`);
      text.split('\n').forEach((line, i) => {
        if (OUTSIDE_NAMES.test(line)) offenders.push(`${file}:${i + 1}: ${line.trim().slice(0, 120)}`);
      });
    }
    expect(offenders).toEqual([]);
  });

  it('pnpm-lock.yaml links only workspace packages (its `link:` paths are relative to each importer)', () => {
    // pnpm 12 writes its own package-manager document first, then the workspace's lockfile: the last document.
    const docs = parseAllDocuments(readFileSync(join(root, 'pnpm-lock.yaml'), 'utf8')).map((d) => d.toJS());
    const lock = docs.at(-1) as {
      importers: Record<string, Record<string, Record<string, { version: string }> | undefined>>;
    };
    const offenders: string[] = [];
    let links = 0;
    for (const [importer, sections] of Object.entries(lock.importers)) {
      for (const section of ['dependencies', 'devDependencies', 'optionalDependencies']) {
        for (const [name, dep] of Object.entries(sections[section] ?? {})) {
          const v = String(dep.version);
          if (!v.startsWith('link:') && !v.startsWith('file:')) continue;
          links++;
          const target = resolve(root, importer, v.replace(/^(link|file):/, ''));
          if (!inside(target) || !existsSync(target)) offenders.push(`${importer} → ${name}: ${v}`);
        }
      }
    }
    expect(links).toBeGreaterThan(0);
    expect(offenders).toEqual([]);
  });

  it('the contract tests read the vendored OpenAPI document, kept with its MIT licence and a README', () => {
    const dir = join(root, 'test', 'fixtures', 'openai-openapi');
    const doc = parse(readFileSync(join(dir, 'openai-openapi.yaml'), 'utf8')) as {
      openapi: string;
      info: { license: { name: string } };
      components: { schemas: Record<string, unknown> };
    };
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.info.license.name).toBe('MIT');
    for (const schema of ['Batch', 'OpenAIFile', 'CreateBatchRequest', 'CreateFileRequest']) {
      expect(doc.components.schemas[schema], schema).toBeDefined();
    }
    const licence = readFileSync(join(dir, 'LICENSE'), 'utf8');
    expect(licence).toMatch(/MIT License/);
    expect(licence).toMatch(/Copyright \(c\) .*OpenAI/);
    expect(licence).toMatch(/Permission is hereby granted, free of charge/);
    expect(readFileSync(join(dir, 'README.md'), 'utf8')).toMatch(/github\.com\/openai\/openai-openapi/);
    for (const t of ['test/contract/provider-sim-openapi.test.ts', 'test/packer/packer-contract.test.ts']) {
      expect(readFileSync(join(root, t), 'utf8'), t).toContain("'../fixtures/openai-openapi/openai-openapi.yaml'");
    }
  });
});

/** Relative link targets of a markdown text, code blocks and spans left out. */
export function markdownLinks(md: string): string[] {
  const prose = md.replace(/^(```|~~~)[\s\S]*?^\1/gm, '').replace(/`[^`\n]*`/g, '');
  const targets = [
    ...[...prose.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+["'(][^)]*)?\)/g)].map((m) => m[1] ?? ''),
    ...[...prose.matchAll(/^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$/gm)].map((m) => m[1] ?? ''),
  ];
  return targets.filter(
    (t) => t !== '' && !/^[a-z][a-z0-9+.-]*:/i.test(t) && !t.startsWith('#') && !t.startsWith('//'),
  );
}

describe('README.md and docs/*.md link only to files in the repository', () => {
  const docs = [
    'README.md',
    ...repoFiles().filter((f) => f.startsWith('docs/') && f.endsWith('.md') && !f.slice(5).includes('/')),
  ];

  it('the link reader finds inline, image and reference links, and skips URLs, anchors and code', () => {
    const md = [
      'See [a](docs/a.md#x), ![img](b.svg "t"), [web](https://example.com), [top](#invariants).',
      '`[not](code.md)`',
      '```',
      '[also not](fence.md)',
      '```',
      '[ref]: ../outside.md',
    ].join('\n');
    expect(markdownLinks(md)).toEqual(['docs/a.md#x', 'b.svg', '../outside.md']);
  });

  it('includes the product description', () => {
    expect(docs).toContain('docs/product.md');
  });

  it('every relative link resolves to an existing file inside the repository', () => {
    const broken: string[] = [];
    let checked = 0;
    for (const doc of docs) {
      const base = dirname(join(root, doc));
      for (const target of markdownLinks(readFileSync(join(root, doc), 'utf8'))) {
        checked++;
        const path = decodeURI((target.split('#')[0] ?? '').split('?')[0] ?? '');
        const abs = isAbsolute(path) ? path : resolve(base, path);
        const ok = inside(abs) && existsSync(abs) && (statSync(abs).isFile() || statSync(abs).isDirectory());
        if (!ok) broken.push(`${doc}: ${target} (${relative(root, abs)})`);
      }
    }
    expect(checked).toBeGreaterThan(10);
    expect(broken).toEqual([]);
  });
});
