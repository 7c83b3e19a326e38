import { describe, expect, it } from 'vitest';
import { createAddressPolicy } from './address-policy.js';
import { validateCallbackUrl } from './callback-url.js';
import type { ResolveHost } from './resolve-host.js';

const strict = createAddressPolicy({ allowCidrs: [] });
const laptop = createAddressPolicy({ allowCidrs: ['127.0.0.0/8', '::1/128'] });

// A fake DNS: every test name is resolved here, never on the network.
const records: Record<string, string[]> = {
  'hooks.example.com': ['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'],
  'rebind.example.com': ['127.0.0.1'],
  'mixed.example.com': ['93.184.215.14', '10.0.0.7'],
  'empty.example.com': [],
};
const fakeResolve: ResolveHost = async (hostname) => {
  const found = records[hostname];
  if (found === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
  return found;
};

describe('validateCallbackUrl', () => {
  it.each([
    'http://127.0.0.1/hook',
    'http://10.0.0.1/',
    'http://172.16.0.1/',
    'http://192.168.1.1/',
    'http://169.254.169.254/latest/meta-data/',
    'http://[::1]:8080/',
    'http://[::ffff:127.0.0.1]/',
    'http://[::ffff:7f00:1]/',
    'http://2130706433/',
    'http://0x7f000001/',
    'http://0177.0.0.1/',
    'http://127.1/',
    'https://0.0.0.0/',
    'http://rebind.example.com/hook',
    'http://mixed.example.com/hook',
  ])('refuses %s', async (raw) => {
    const result = await validateCallbackUrl(raw, strict, { resolve: fakeResolve });
    expect(result).toMatchObject({ ok: false, code: 'callback_url_refused' });
  });

  it('says which address was refused and why', async () => {
    expect(await validateCallbackUrl('http://0x7f000001/', strict, { resolve: fakeResolve })).toEqual({
      ok: false,
      code: 'callback_url_refused',
      message: 'callback URL refused: 127.0.0.1 is not allowed (loopback)',
    });
    expect(await validateCallbackUrl('http://mixed.example.com/', strict, { resolve: fakeResolve })).toEqual({
      ok: false,
      code: 'callback_url_refused',
      message:
        'callback URL refused: mixed.example.com resolves to an address that is not allowed (not a public address)',
    });
  });

  it('refuses localhost through the real system resolver', async () => {
    const result = await validateCallbackUrl('http://localhost:3000/hook', strict);
    expect(result).toMatchObject({ ok: false, code: 'callback_url_refused' });
  });

  it('allows localhost and loopback literals when loopback is allow-listed', async () => {
    for (const raw of ['http://localhost:3000/hook', 'http://127.0.0.1:3000/', 'http://[::1]/', 'http://2130706433/']) {
      const result = await validateCallbackUrl(raw, laptop);
      expect(result.ok, raw).toBe(true);
    }
    expect(await validateCallbackUrl('http://rebind.example.com/', laptop, { resolve: fakeResolve })).toMatchObject({
      ok: true,
    });
  });

  it('accepts public hosts and IP literals (checked, never contacted)', async () => {
    const result = await validateCallbackUrl('https://hooks.example.com/batch?tenant=a', strict, {
      resolve: fakeResolve,
    });
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.url.href).toBe('https://hooks.example.com/batch?tenant=a');
    expect((await validateCallbackUrl('http://8.8.8.8/', strict, { resolve: fakeResolve })).ok).toBe(true);
  });

  it.each([
    ['', /empty/],
    ['/relative/path', /absolute/],
    ['ftp://hooks.example.com/', /scheme must be http or https, not ftp/],
    ['file:///etc/passwd', /scheme/],
    ['javascript:alert(1)', /scheme/],
    ['https://user:pass@hooks.example.com/', /credentials/],
    ['https://token@hooks.example.com/', /credentials/],
    [`https://hooks.example.com/${'a'.repeat(2048)}`, /longer than 2048/],
  ])('rejects %j as invalid', async (raw, message) => {
    const result = await validateCallbackUrl(raw, strict, { resolve: fakeResolve });
    expect(result).toMatchObject({ ok: false, code: 'invalid_callback_url' });
    if (!result.ok) expect(result.message).toMatch(message);
  });

  it('reports hosts that do not resolve', async () => {
    expect(await validateCallbackUrl('https://nowhere.example.com/', strict, { resolve: fakeResolve })).toEqual({
      ok: false,
      code: 'callback_url_unresolvable',
      message: 'callback host nowhere.example.com does not resolve (ENOTFOUND)',
    });
    expect(await validateCallbackUrl('https://empty.example.com/', strict, { resolve: fakeResolve })).toMatchObject({
      ok: false,
      code: 'callback_url_unresolvable',
    });
  });
});
