/**
 * Structured logging for every batchbridge process: pino JSON to stdout, pretty only when asked for.
 *
 * Secrets never reach a log line: authorization headers, API keys and webhook secrets are redacted by path, and
 * callers must not put prompt text into bindings (request ids, tenant ids and batch ids are what identify a request).
 */
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
}

export function createLogger(options: CreateLoggerOptions): Logger {
  const config: LoggerOptions = {
    level: options.level ?? 'info',
    base: { service: options.service },
    redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  if (options.pretty) {
    return pino({ ...config, transport: { target: 'pino-pretty', options: { colorize: true } } });
  }
  if (options.destination) return pino(config, options.destination);
  return pino(config);
}

/** A logger that drops everything: for tests and library defaults. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
