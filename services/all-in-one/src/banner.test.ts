import { describe, expect, it } from 'vitest';
import { redactRedisUrl } from './banner.js';

describe('the start banner', () => {
  it('never prints the Redis password', () => {
    expect(redactRedisUrl('redis://:s3cret-pw@127.0.0.1:6379')).toBe('redis://:***@127.0.0.1:6379');
    expect(redactRedisUrl('rediss://app:p%40ss@redis.internal:6380/0')).toBe('rediss://app:***@redis.internal:6380/0');
    expect(redactRedisUrl('redis://a:x@h1:7000,redis://a:y@h2:7001')).toBe(
      'redis://a:***@h1:7000,redis://a:***@h2:7001',
    );
    expect(redactRedisUrl('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
  });
});
