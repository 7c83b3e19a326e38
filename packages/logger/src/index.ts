/**
 * Structured logging for every batchbridge process: pino JSON to stdout, pretty only when asked for.
 *
 * Secrets never reach a log line: authorization headers, API keys and webhook secrets are redacted by path, and
 * callers must not put prompt text into bindings (request ids, tenant ids and batch ids are what identify a request).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { type Logger, type LoggerOptions, pino } from 'pino';

export type { Logger } from 'pino';

/** Paths removed from every log line, wherever a careless caller puts them. */
export const REDACT_PATHS: readonly string[] = [
  'authorization',
  'headers.authorization',
  'req.headers.authorization',
  'request.headers.authorization',
  'headers["x-api-key"]',
  'req.headers["x-api-key"]',
  'apiKey',
  'api_key',
  'api_keys',
  '*.apiKey',
  '*.api_key',
  '*.api_keys',
  'webhookSecret',
  'webhook_secret',
  '*.webhookSecret',
  '*.webhook_secret',
  'webhook_secrets',
  '*.webhook_secrets',
  'secrets',
  '*.secrets',
  'secret',
  '*.secret',
  'upstreamApiKey',
  '*.upstreamApiKey',
  'metricsToken',
  '*.metricsToken',
  'adminKey',
  '*.adminKey',
];

export interface CreateLoggerOptions {
  /** Service name, put on every line as `service`. */
  service: string;
  /** pino level. @defaultValue `'info'` */
  level?: string;
  /** Human-readable output through pino-pretty (development only). @defaultValue `false` */
  pretty?: boolean;
  /** Where lines go. @defaultValue stdout */
  destination?: NodeJS.WritableStream;
  /**
   * Module of the pretty transport. A devDependency: a production install has none, and then `pretty` falls back to
   * JSON with one warning. @defaultValue `'pino-pretty'`
   */
  prettyModule?: string;
}

/**
 * Whether pino can load the pretty transport: inside a bundle pino looks the name up in `__bundlerPathsOverrides`
 * (infra/build/bundle.mjs writes the path it found at build time, which a production tree may lack), from the sources
 * through this package's own dependencies.
 */
function prettyAvailable(name: string): boolean {
  const overrides = (globalThis as { __bundlerPathsOverrides?: Record<string, string> }).__bundlerPathsOverrides;
  const bundled = overrides?.[name];
  if (bundled !== undefined) return existsSync(bundled);
  try {
    createRequire(import.meta.url).resolve(name);
    return true;
  } catch {
    return false;
  }
}

export function createLogger(options: CreateLoggerOptions): Logger {
  const config: LoggerOptions = {
    level: options.level ?? 'info',
    base: { service: options.service },
    redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  const prettyModule = options.prettyModule ?? 'pino-pretty';
  if (options.pretty && prettyAvailable(prettyModule)) {
    return pino({ ...config, transport: { target: prettyModule, options: { colorize: true } } });
  }
  const logger = options.destination ? pino(config, options.destination) : pino(config);
  if (options.pretty) logger.warn(`LOG_PRETTY is set but ${prettyModule} is not installed: logging JSON`);
  return logger;
}

/** A logger that drops everything: for tests and library defaults. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
