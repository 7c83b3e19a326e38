import { describe, expect, it } from 'vitest';
import { createAddressPolicy, parseCidrList } from './address-policy.js';

const strict = createAddressPolicy({ allowCidrs: [] });
const laptop = createAddressPolicy({ allowCidrs: ['127.0.0.0/8', '::1/128'] });

describe('createAddressPolicy', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['10.0.0.1', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.254', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'linkLocal'],
    ['100.64.0.1', 'carrierGradeNat'],
    ['0.0.0.0', 'unspecified'],
    ['255.255.255.255', 'broadcast'],
    ['224.0.0.1', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['192.0.2.10', 'reserved'],
    ['::1', 'loopback'],
    ['[::1]', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'linkLocal'],
    ['fe80::1%eth0', 'linkLocal'],
    ['fd00::1', 'uniqueLocal'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:169.254.169.254', 'linkLocal'],
    ['64:ff9b::7f00:1', 'rfc6052 of 127.0.0.1: loopback'],
    ['64:ff9b::a00:1', 'rfc6052 of 10.0.0.1: private'],
    ['2002:7f00:1::1', '6to4 of 127.0.0.1: loopback'],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'teredo'],
    ['2001:db8::1', 'reserved'],
    ['100::1', 'discard'],
  ])('refuses %s (%s)', (ip, reason) => {
    expect(strict.checkIp(ip)).toEqual({ allowed: false, reason });
  });

  it.each(['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8', '64:ff9b::808:808', '2002:808:808::1'])(
    'allows the public address %s (checked only, never connected to)',
    (ip) => {
      expect(strict.checkIp(ip)).toEqual({ allowed: true });
    },
  );

  it('refuses what is not an IP address', () => {
    expect(strict.checkIp('localhost')).toEqual({ allowed: false, reason: 'not an IP address' });
    expect(strict.checkIp('')).toEqual({ allowed: false, reason: 'not an IP address' });
  });

  it('allows loopback in every form once 127.0.0.0/8 and ::1/128 are allow-listed, and nothing more', () => {
    for (const ip of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', '::ffff:127.0.0.1']) {
      expect(laptop.checkIp(ip), ip).toEqual({ allowed: true });
    }
    for (const ip of ['10.0.0.1', '192.168.1.1', '169.254.169.254', 'fe80::1']) {
      expect(laptop.checkIp(ip).allowed, ip).toBe(false);
    }
    expect(laptop.allowCidrs).toEqual(['127.0.0.0/8', '::1/128']);
  });

  it('matches allow-listed IPv6 ranges and IPv4 ranges independently', () => {
    const policy = createAddressPolicy({ allowCidrs: ['fd00::/8', '10.1.0.0/16'] });
    expect(policy.checkIp('fd12::1').allowed).toBe(true);
    expect(policy.checkIp('fc00::1').allowed).toBe(false);
    expect(policy.checkIp('10.1.2.3').allowed).toBe(true);
    expect(policy.checkIp('::ffff:10.1.2.3').allowed).toBe(true);
    expect(policy.checkIp('10.2.0.1').allowed).toBe(false);
  });

  it('throws on a bad allow-list entry', () => {
    expect(() => createAddressPolicy({ allowCidrs: ['127.0.0.0/33'] })).toThrow(/invalid CIDR "127\.0\.0\.0\/33"/);
  });
});

describe('parseCidrList', () => {
  it('splits, trims and drops empty entries', () => {
    expect(parseCidrList(' 127.0.0.0/8, ::1/128 ,')).toEqual(['127.0.0.0/8', '::1/128']);
    expect(parseCidrList('')).toEqual([]);
  });

  it('names the bad entry', () => {
    expect(() => parseCidrList('127.0.0.0/8,localhost,::1/128')).toThrow(/invalid CIDR "localhost"/);
    expect(() => parseCidrList('10.0.0.1')).toThrow(/invalid CIDR "10\.0\.0\.1"/);
  });
});
