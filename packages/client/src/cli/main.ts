#!/usr/bin/env node
/**
 * `batchbridge`: the command line of batchbridge (SPEC §17). Run `batchbridge --help`.
 */
import { parseArgs } from 'node:util';
import { BatchbridgeError } from '../errors.js';
import { runCommand, usage } from './commands.js';
import { EXIT, UsageError } from './exit.js';

async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    process.stderr.write(`batchbridge: ${(err as Error).message}\n\n${usage()}`);
    return EXIT.usage;
  }
  const { values, positionals } = parsed;
  if (values.help || positionals.length === 0) {
    process.stdout.write(usage());
    return values.help ? EXIT.ok : EXIT.usage;
  }
  try {
    return await runCommand(positionals, values);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`batchbridge: ${err.message}\n`);
      return EXIT.usage;
    }
    if (err instanceof BatchbridgeError) {
      process.stderr.write(
        `batchbridge: ${err.message}${err.code ? ` (${err.status || 'no answer'} ${err.code})` : ''}\n`,
      );
      return err.status === 0 || err.status === 401 || err.status >= 500 ? EXIT.service : EXIT.failed;
    }
    process.stderr.write(`batchbridge: ${(err as Error).stack ?? String(err)}\n`);
    return EXIT.internal;
  }
}

export function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      'base-url': { type: 'string' },
      'api-key': { type: 'string' },
      json: { type: 'boolean', default: false },
      quiet: { type: 'boolean', short: 'q', default: false },
      help: { type: 'boolean', short: 'h', default: false },
      wait: { type: 'boolean', default: false },
      out: { type: 'string', short: 'o' },
      state: { type: 'string' },
      concurrency: { type: 'string', short: 'c' },
      endpoint: { type: 'string', short: 'e' },
      'callback-url': { type: 'string' },
      'wait-timeout': { type: 'string' },
      restart: { type: 'boolean', default: false },
      errors: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      dead: { type: 'boolean', default: false },
      status: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      'group-by': { type: 'string' },
    },
  });
}

export type Values = ReturnType<typeof parse>['values'];

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`batchbridge: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = EXIT.internal;
  },
);
