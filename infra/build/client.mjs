#!/usr/bin/env node
/**
 * Builds `@batchbridge/client` for publishing (`pnpm --filter @batchbridge/client build`, and `prepack` of `pnpm pack`):
 * tsc compiles `packages/client/src` (tests excluded) to `packages/client/dist` — ES modules (ES2022, Node 20+ and edge
 * runtimes) with `.d.ts` beside each — and the command line's entry is made executable. No bundler: the package has no
 * dependencies to inline, and one file per module keeps `@batchbridge/client` free of the Node-only CLI code.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const pkg = join(root, 'packages/client');
const dist = join(pkg, 'dist');
rmSync(dist, { recursive: true, force: true });
const tsconfig = join(pkg, 'tsconfig.build.json');
writeFileSync(
  tsconfig,
  JSON.stringify({
    extends: '../../tsconfig.base.json',
    compilerOptions: {
      noEmit: false,
      declaration: true,
      outDir: 'dist',
      rootDir: 'src',
      sourceMap: false,
      removeComments: false,
    },
    include: ['src'],
    exclude: ['src/**/*.test.ts'],
  }),
);
try {
  execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', tsconfig], {
    stdio: 'inherit',
    cwd: pkg,
  });
} finally {
  rmSync(tsconfig, { force: true });
}
chmodSync(join(dist, 'cli/main.js'), 0o755);
