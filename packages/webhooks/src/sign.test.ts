import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { generateWebhookSecret, signWebhook } from './sign.js';

const body = JSON.stringify({ type: 'request.completed', data: { id: 'breq_1' } });

describe('signWebhook', () => {
  it('produces headers that the standardwebhooks library verifies', () => {
    const secret = generateWebhookSecret();
    const headers = signWebhook({ secret, id: 'msg_1', timestamp: new Date(), body });
    expect(headers['webhook-id']).toBe('msg_1');
    expect(headers['webhook-timestamp']).toMatch(/^\d+$/);
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(new Webhook(secret).verify(body, { ...headers })).toEqual(JSON.parse(body));
  });

  it('signs body bytes exactly as the same body as a string, with one secret and with several', () => {
    const text = JSON.stringify({ type: 'request.completed', data: { id: 'breq_1', text: 'héllo ✓ 😀' } });
    const bytes = Buffer.from(text, 'utf8');
    const timestamp = new Date();
    const one = generateWebhookSecret();
    const two = [one, generateWebhookSecret()];
    for (const secret of [one, two]) {
      const fromBytes = signWebhook({ secret, id: 'msg_1', timestamp, body: bytes });
      expect(fromBytes).toEqual(signWebhook({ secret, id: 'msg_1', timestamp, body: text }));
      expect(new Webhook(one).verify(text, { ...fromBytes })).toEqual(JSON.parse(text));
    }
  });

  it('sends unix seconds of the attempt', () => {
    const headers = signWebhook({
      secret: generateWebhookSecret(),
      id: 'msg_1',
      timestamp: new Date(1_733_832_768_900),
      body,
    });
    expect(headers['webhook-timestamp']).toBe('1733832768');
  });

  it('fails verification for a tampered body, a wrong secret and a stale timestamp', () => {
    const secret = generateWebhookSecret();
    const fresh = signWebhook({ secret, id: 'msg_1', timestamp: new Date(), body });
    expect(() => new Webhook(secret).verify(body.replace('breq_1', 'breq_2'), { ...fresh })).toThrow(
      /No matching signature/,
    );
    expect(() => new Webhook(generateWebhookSecret()).verify(body, { ...fresh })).toThrow(/No matching signature/);
    const stale = signWebhook({ secret, id: 'msg_1', timestamp: new Date(Date.now() - 10 * 60_000), body });
    expect(() => new Webhook(secret).verify(body, { ...stale })).toThrow(/too old/);
  });

  it('signs with every secret during a rotation, so receivers with either secret verify', () => {
    const oldSecret = generateWebhookSecret();
    const newSecret = generateWebhookSecret();
    const headers = signWebhook({ secret: [newSecret, oldSecret], id: 'msg_2', timestamp: new Date(), body });
    const signatures = headers['webhook-signature'].split(' ');
    expect(signatures).toHaveLength(2);
    expect(signatures.every((signature) => signature.startsWith('v1,'))).toBe(true);
    expect(new Webhook(oldSecret).verify(body, { ...headers })).toBeDefined();
    expect(new Webhook(newSecret).verify(body, { ...headers })).toBeDefined();
    expect(() => new Webhook(generateWebhookSecret()).verify(body, { ...headers })).toThrow();
  });

  it('rejects malformed secrets without echoing them', () => {
    const input = { id: 'msg_1', timestamp: new Date(), body };
    expect(() => signWebhook({ ...input, secret: 'hunter2-not-a-secret' })).toThrow(
      /secret #1 must start with "whsec_"/,
    );
    expect(() => signWebhook({ ...input, secret: [generateWebhookSecret(), 'whsec_!!!'] })).toThrow(
      /secret #2 must be "whsec_" followed by base64/,
    );
    expect(() => signWebhook({ ...input, secret: 'hunter2-not-a-secret' })).not.toThrow(/hunter2/);
    expect(() => signWebhook({ ...input, secret: [] })).toThrow(/at least one secret/);
  });
});

describe('generateWebhookSecret', () => {
  it('is whsec_ + base64 of 32 random bytes', () => {
    const secret = generateWebhookSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(secret.slice('whsec_'.length), 'base64')).toHaveLength(32);
    expect(generateWebhookSecret()).not.toBe(secret);
  });
});
