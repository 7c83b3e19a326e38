import { describe, expect, it } from 'vitest';
import { BatchbridgeError } from './batchbridge-error.js';

class ExampleError extends BatchbridgeError {}

describe('BatchbridgeError', () => {
  it('carries its code, the native cause and the subclass name', () => {
    const cause = new Error('socket closed');
    const err = new ExampleError('example.failed', 'it failed', { cause });
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe('example.failed');
    expect(err.message).toBe('it failed');
    expect(err.cause).toBe(cause);
    expect(err.name).toBe('ExampleError');
  });

  it('has no cause property when none is given', () => {
    expect('cause' in new BatchbridgeError('example.plain', 'plain')).toBe(false);
  });
});
