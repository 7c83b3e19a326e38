import { describe, expect, it } from 'vitest';
import { clientTimeoutS, effectiveWaitS, parsePrefer } from './prefer.js';

describe('Prefer header (RFC 7240)', () => {
  it('reads wait and respond-async in any case, order and spacing', () => {
    expect(parsePrefer('wait=30')).toEqual({ wait: 30, respondAsync: false });
    expect(parsePrefer('respond-async, WAIT = 5')).toEqual({ wait: 5, respondAsync: true });
    expect(parsePrefer(['handling=lenient', 'wait="12"; foo=bar'])).toEqual({ wait: 12, respondAsync: false });
    expect(parsePrefer('return=minimal,wait=7')).toEqual({ wait: 7, respondAsync: false });
  });

  it('ignores what it does not understand instead of refusing it', () => {
    expect(parsePrefer(undefined)).toEqual({ wait: undefined, respondAsync: false });
    expect(parsePrefer('wait=-1')).toEqual({ wait: undefined, respondAsync: false });
    expect(parsePrefer('wait=1.5, wait=abc')).toEqual({ wait: undefined, respondAsync: false });
    expect(parsePrefer('x="a,wait=9", wait=3')).toEqual({ wait: 3, respondAsync: false });
    expect(parsePrefer('wait=4, wait=8').wait).toBe(4);
  });

  it('caps the wait, takes the tenant default, and stays under the client timeout', () => {
    const none = { wait: undefined, respondAsync: false };
    expect(effectiveWaitS({ prefer: none, tenantDefaultS: undefined, maxWaitS: 900 })).toBe(0);
    expect(effectiveWaitS({ prefer: none, tenantDefaultS: 60, maxWaitS: 900 })).toBe(60);
    expect(effectiveWaitS({ prefer: { wait: 0, respondAsync: false }, tenantDefaultS: 60, maxWaitS: 900 })).toBe(0);
    expect(effectiveWaitS({ prefer: { wait: 5000, respondAsync: false }, tenantDefaultS: 60, maxWaitS: 900 })).toBe(
      900,
    );
    expect(effectiveWaitS({ prefer: { wait: undefined, respondAsync: true }, tenantDefaultS: 60, maxWaitS: 900 })).toBe(
      0,
    );
    expect(effectiveWaitS({ prefer: none, tenantDefaultS: 900, maxWaitS: 900, clientTimeoutS: 600 })).toBe(598);
    expect(clientTimeoutS('600')).toBe(600);
    expect(clientTimeoutS(['60.5'])).toBe(60.5);
    expect(clientTimeoutS('soon')).toBeUndefined();
    expect(clientTimeoutS('0')).toBeUndefined();
  });
});
