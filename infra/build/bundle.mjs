#!/usr/bin/env node
/**
 * `pnpm build`: one esbuild bundle per service entry point, run by plain `node` in production (Docker, Kubernetes, the
 * benchmark). A bundle loads far lighter than the same sources under tsx (the poller: 97 MB RSS instead of 141 MB at
 * start), and starts without compiling anything. `pnpm start`, `pnpm demo` and the tests keep running the sources.
 *
 *   node infra/build/bundle.mjs [--only poller,all-in-one] [--quiet]
 *
 * Writes `services/<name>/dist/<entry>.mjs` (+ a linked `.mjs.map`): ESM, platform node, target node20. CommonJS
 * dependencies inside the ESM bundle get `require`, `__filename` and `__dirname` from the banner.
 *
 * Not bundled (EXTERNAL below): packages that find their own files at run time. They stay in node_modules, and the
 * bundle imports each by the relative path of the file esbuild resolved for it from the importing package's own
 * location — so they resolve from `dist/` exactly as they do from the sources, under pnpm's strict node_modules too
 * (`dist/` itself has no node_modules; the bundle needs the installed tree beside it, as the Docker image has). After a
 * `pnpm install` that changes one of their versions, run the build again.
 *
 * The Lua scripts of `packages/domain/src/scripts/` travel inside the bundle as text (plugin `inline-lua`).
 */
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Every bundle: `services/<service>/src/<entry>.ts` → `services/<service>/dist/<entry>.mjs`. */
export const ENTRIES = [
  { service: 'ingest-api', entry: 'main' },
  { service: 'packer', entry: 'main' },
  { service: 'poller', entry: 'main' },
  { service: 'dispatcher', entry: 'main' },
  { service: 'provider-sim', entry: 'main' },
  { service: 'all-in-one', entry: 'main' },
  { service: 'all-in-one', entry: 'demo' },
];

/** Packages left out of every bundle, and why. */
export const EXTERNAL = {
  // Serves its UI (static assets, the ejs view) from the installed `@bull-board/ui` package, found by
  // `require.resolve('@bull-board/ui/package.json')` — which, from inside a bundle, would look next to the bundle.
  '@bull-board/api': 'reads @bull-board/ui assets at run time',
  '@bull-board/express': 'reads @bull-board/ui assets at run time',
  '@bull-board/ui': 'static assets and views',
  // Transports (LOG_PRETTY) run in a worker thread started from pino's own `lib/worker.js` (`__dirname`).
  pino: 'transport worker files',
  // msgpackr (under bullmq) loads this native addon through node-gyp-build from the package's own directory; bundled,
  // the lookup fails silently and msgpackr falls back to pure JS.
  'msgpackr-extract': 'native addon',
};

/**
 * Modules that a bundled library looks up by name at run time (not by import), from the file that calls it: pino
 * resolves a transport target from its caller's location, which in a bundle is `dist/`. Each is resolved here from the
 * package that depends on it and handed over through pino's documented `globalThis.__bundlerPathsOverrides`. pino-pretty
 * is a devDependency: in a production tree the path may not exist, and the logger checks it before asking for pretty.
 */
const RUNTIME_TARGETS = [{ name: 'pino-pretty', from: 'packages/logger' }];

const escapeRegExp = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** `import`/`require` path from the bundle's directory to a file, in the form Node accepts (`./…` or `../…`). */
function fromOutdir(outdir, file) {
  const rel = relative(outdir, file).split(sep).join('/');
  return rel.startsWith('.') ? rel : `./${rel}`;
}

/** Keeps EXTERNAL packages out of the bundle, imported by their real file's path relative to the bundle. */
function externalByRealPath(outdir) {
  const filter = new RegExp(`^(${Object.keys(EXTERNAL).map(escapeRegExp).join('|')})(/|$)`);
  return {
    name: 'external-by-real-path',
    setup(build) {
      build.onResolve({ filter }, async (args) => {
        if (args.pluginData?.ours) return undefined;
        const resolved = await build.resolve(args.path, {
          kind: args.kind,
          importer: args.importer,
          resolveDir: args.resolveDir,
          pluginData: { ours: true },
        });
        if (resolved.errors.length > 0) return { errors: resolved.errors };
        return { path: fromOutdir(outdir, resolved.path), external: true };
      });
    },
  };
}

/** The module that reads the Lua scripts from disk when running the sources (packages/domain/src/lua-files.ts). */
const LUA_FILES_MODULE = /[\\/]packages[\\/]domain[\\/]src[\\/]lua-files\.ts$/;

/**
 * Replaces lua-files.ts by the same table with every `scripts/**.lua` text inlined, so a bundle needs no file beside
 * it (and the Docker image's bundles carry their scripts). `state.inlined` counts the modules it replaced.
 */
function inlineLua(state) {
  return {
    name: 'inline-lua',
    setup(build) {
      build.onLoad({ filter: LUA_FILES_MODULE }, (args) => {
        const root = join(dirname(args.path), 'scripts');
        const files = {};
        const watchFiles = [];
        const walk = (dir, prefix) => {
          for (const entry of readdirSync(dir, { withFileTypes: true })) {
            if (entry.isDirectory()) walk(join(dir, entry.name), `${prefix}${entry.name}/`);
            else if (entry.name.endsWith('.lua')) {
              const file = join(dir, entry.name);
              files[`${prefix}${entry.name.slice(0, -4)}`] = readFileSync(file, 'utf8');
              watchFiles.push(file);
            }
          }
        };
        walk(root, '');
        state.inlined += 1;
        return { contents: `export const LUA_FILES = ${JSON.stringify(files)};\n`, loader: 'js', watchFiles };
      });
    },
  };
}

function banner(outdir) {
  // A target that is not installed (pino-pretty is a devDependency) is left out; the logger then logs JSON.
  const overrides = RUNTIME_TARGETS.flatMap(({ name, from }) => {
    let file;
    try {
      file = createRequire(join(REPO_ROOT, from, 'package.json')).resolve(name);
    } catch {
      return [];
    }
    return [
      `${JSON.stringify(name)}: __bb_fileURLToPath(new URL(${JSON.stringify(fromOutdir(outdir, file))}, import.meta.url))`,
    ];
  });
  return [
    "import { createRequire as __bb_createRequire } from 'node:module';",
    "import { fileURLToPath as __bb_fileURLToPath } from 'node:url';",
    'const require = __bb_createRequire(import.meta.url);',
    'const __bb_filename = __bb_fileURLToPath(import.meta.url);',
    "const __bb_dirname = __bb_fileURLToPath(new URL('.', import.meta.url)).replace(/\\/$/, '');",
    `globalThis.__bundlerPathsOverrides = { ...globalThis.__bundlerPathsOverrides, ${overrides.join(', ')} };`,
  ].join('\n');
}

/** Path of a bundle relative to the repository root, e.g. `services/poller/dist/main.mjs`. */
export function bundlePath(service, entry = 'main') {
  return `services/${service}/dist/${entry}.mjs`;
}

/**
 * Builds the bundles of `services` (all when omitted) in one esbuild run (modules shared by several entry points are
 * parsed once), each service's `dist/` emptied first. `outRoot` writes them under another directory instead of the
 * repository (test/infra/dockerfile.test.ts lays out the image there); their imports still expect the repository's
 * layout, `<root>/node_modules/.pnpm/…` beside `<root>/services/<name>/dist/`. Resolves with one row per bundle; rejects on a build error
 * (esbuild prints it).
 */
export async function buildBundles(options = {}) {
  const only = options.services ? new Set(options.services) : undefined;
  if (only) {
    const unknown = [...only].filter((s) => !ENTRIES.some((e) => e.service === s));
    if (unknown.length > 0) throw new Error(`no such service to bundle: ${unknown.join(', ')}`);
  }
  const chosen = ENTRIES.filter((e) => !only || only.has(e.service));
  const outRoot = options.outRoot ?? REPO_ROOT;
  for (const service of new Set(chosen.map((e) => e.service))) {
    rmSync(join(outRoot, 'services', service, 'dist'), { recursive: true, force: true });
  }
  // Every bundle sits at the same depth (services/<name>/dist/), so one relative path to a file fits them all.
  const outdir = join(REPO_ROOT, 'services', '_', 'dist');
  const lua = { inlined: 0 };
  await esbuild.build({
    absWorkingDir: REPO_ROOT,
    entryPoints: Object.fromEntries(
      chosen.map(({ service, entry }) => [
        `${service}/dist/${entry}`,
        join(REPO_ROOT, 'services', service, 'src', `${entry}.ts`),
      ]),
    ),
    outdir: join(outRoot, 'services'),
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'linked',
    banner: { js: banner(outdir) },
    // Free `__dirname` / `__filename` of CommonJS code (ioredis' friendly error stacks) name the bundle; a module that
    // declares its own keeps it.
    define: { __dirname: '__bb_dirname', __filename: '__bb_filename' },
    plugins: [externalByRealPath(outdir), inlineLua(lua)],
    logLevel: options.quiet ? 'error' : 'warning',
  });
  // Every service but the simulator runs the scripts: a bundle that read them from disk would fail at start.
  if (chosen.some((e) => e.service !== 'provider-sim') && lua.inlined === 0) {
    throw new Error('inline-lua did not find packages/domain/src/lua-files.ts: the bundles would lack their scripts');
  }
  return chosen.map(({ service, entry }) => {
    const file = bundlePath(service, entry);
    return { file, bytes: statSync(join(outRoot, file)).size };
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const argv = process.argv.slice(2);
  const i = argv.indexOf('--only');
  const services = i >= 0 ? (argv[i + 1] ?? '').split(',').filter(Boolean) : undefined;
  const quiet = argv.includes('--quiet');
  const started = Date.now();
  try {
    const rows = await buildBundles({ services, quiet });
    if (!quiet) {
      for (const r of rows) {
        process.stdout.write(`  ${r.file.padEnd(40)} ${(r.bytes / 1e6).toFixed(1).padStart(5)} MB\n`);
      }
    }
    process.stdout.write(`bundled ${rows.length} entry points in ${Date.now() - started} ms\n`);
  } catch (err) {
    // esbuild has printed the errors already.
    if (!(err && typeof err === 'object' && 'errors' in err)) console.error(err);
    process.exit(1);
  }
}
