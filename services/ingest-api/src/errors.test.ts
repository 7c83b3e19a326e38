// Issue 16.4: only an unreachable Redis answers 503 `redis_unavailable`; any other unexpected error is a 500.
import { describe, expect, it } from 'vitest';
import { toApiError } from './errors.js';

describe('toApiError', () => {
  it('answers 503 with Retry-After only for errors that say Redis is unreachable', () => {
    const closed = new Error('Connection is closed.');
    const offline = new Error("Stream isn't writeable and enableOfflineQueue options is false");
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6390'), { code: 'ECONNREFUSED' });
    const retries = Object.assign(new Error('Reached the max retries per request limit (which is 1).'), {
      name: 'MaxRetriesPerRequestError',
    });
    const loading = Object.assign(new Error('LOADING Redis is loading the dataset in memory'), { name: 'ReplyError' });
    for (const err of [closed, offline, refused, retries, loading]) {
      const e = toApiError(err);
      expect(e.status, err.message).toBe(503);
      expect(e.code).toBe('redis_unavailable');
      expect(e.headers['Retry-After']).toBe('2');
    }
  });

  it('answers 500 internal_error for anything else, e.g. a stack overflow or a script error', () => {
    const overflow = new RangeError('Maximum call stack size exceeded');
    const reply = Object.assign(new Error('ERR Error running script'), { name: 'ReplyError' });
    for (const err of [overflow, reply, new TypeError("Cannot read properties of undefined (reading 'x')"), 'x']) {
      const e = toApiError(err);
      expect(e.status).toBe(500);
      expect(e.code).toBe('internal_error');
      expect(e.headers['Retry-After']).toBeUndefined();
    }
  });
});
