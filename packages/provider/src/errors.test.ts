import { APIError } from 'openai';
import { describe, expect, it } from 'vitest';
import { classifyProviderError, ProviderError } from './errors.js';

const apiError = (status: number, headers: Record<string, string>) =>
  APIError.generate(status, { message: 'slow down' }, undefined, new Headers(headers));

describe('classifyProviderError', () => {
  it('takes the delay from Retry-After (delay-seconds or an HTTP date)', () => {
    expect(classifyProviderError(apiError(429, { 'retry-after': '7' }))).toMatchObject({
      retryable: true,
      status: 429,
      retryAfterMs: 7_000,
    });
    const at = new Date(Date.now() + 60_000).toUTCString();
    const fromDate = classifyProviderError(apiError(503, { 'retry-after': at })).retryAfterMs ?? 0;
    expect(fromDate).toBeGreaterThan(50_000);
    expect(fromDate).toBeLessThanOrEqual(60_000);
  });

  it('prefers a valid retry-after-ms', () => {
    expect(classifyProviderError(apiError(429, { 'retry-after-ms': '1500', 'retry-after': '9' })).retryAfterMs).toBe(
      1_500,
    );
  });

  it('ignores a Retry-After that is neither delay-seconds nor a date', () => {
    expect(classifyProviderError(apiError(429, { 'retry-after': '1.5' })).retryAfterMs).toBeUndefined();
    expect(classifyProviderError(apiError(429, { 'retry-after': '-3' })).retryAfterMs).toBeUndefined();
  });

  it('keeps what a ProviderError already decided (the Anthropic client throws them)', () => {
    const refused = new ProviderError({
      retryable: false,
      status: 404,
      retryAfterMs: undefined,
      message: 'no such batch',
      code: 'not_found_error',
    });
    expect(classifyProviderError(refused)).toEqual({
      retryable: false,
      status: 404,
      retryAfterMs: undefined,
      message: 'no such batch',
      code: 'not_found_error',
    });
  });
});
