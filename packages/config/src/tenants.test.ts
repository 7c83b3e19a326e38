import { describe, expect, it } from 'vitest';
import { parseTenants } from './tenants.js';

const tenant = (id: string, key: string) => ({
  id,
  api_keys: [key],
  webhook_secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
});

describe('parseTenants', () => {
  it('refuses duplicate tenant ids, naming the id', () => {
    const json = JSON.stringify({
      tenants: [tenant('acme', 'key-aaaaaaaaaaaaaaaa'), tenant('acme', 'key-bbbbbbbbbbbbbbbb')],
    });
    expect(() => parseTenants(json)).toThrow(/TENANTS_FILE: tenant id "acme" is listed more than once/);
  });

  it('accepts distinct ids', () => {
    const json = JSON.stringify({
      tenants: [tenant('acme', 'key-aaaaaaaaaaaaaaaa'), tenant('globex', 'key-bbbbbbbbbbbbbbbb')],
    });
    expect(parseTenants(json).map((t) => t.id)).toEqual(['acme', 'globex']);
  });
});
