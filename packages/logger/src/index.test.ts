import { PassThrough } from 'node:stream';
import { expect, it } from 'vitest';
import { createLogger } from './index.js';

function capture() {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => {
    text += chunk.toString('utf8');
  });
  return { stream, lines: () => text.trim().split('\n').filter(Boolean) };
}

// A production install has no pino-pretty (a devDependency): LOG_PRETTY must not crash a service there.
it('falls back to JSON lines, with one warning, when the pretty transport is not installed', async () => {
  const out = capture();
  const logger = createLogger({
    service: 'logger-test',
    pretty: true,
    prettyModule: 'batchbridge-no-such-pretty-module',
    destination: out.stream,
  });
  logger.info({ jobId: 'j1' }, 'hello');
  await new Promise((r) => setImmediate(r));
  const [warning, line] = out.lines().map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(warning).toMatchObject({
    level: 'warn',
    service: 'logger-test',
    msg: 'LOG_PRETTY is set but batchbridge-no-such-pretty-module is not installed: logging JSON',
  });
  expect(line).toMatchObject({ level: 'info', service: 'logger-test', jobId: 'j1', msg: 'hello' });
});

it('logs JSON without a warning when pretty output is not asked for', async () => {
  const out = capture();
  createLogger({ service: 'logger-test', destination: out.stream }).info('plain');
  await new Promise((r) => setImmediate(r));
  expect(out.lines().map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual(['plain']);
});
