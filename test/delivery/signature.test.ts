import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { generateSecret, isValidSecret, sign } from '../../src/delivery/signature.ts';

function headersFor(secret: string, msgId: string, ts: number, body: string): Record<string, string> {
  return { 'webhook-id': msgId, 'webhook-timestamp': String(ts), 'webhook-signature': sign(secret, msgId, ts, body) };
}

describe('signature', () => {
  it('generates whsec_ secrets of 32 random bytes', () => {
    const a = generateSecret();
    const b = generateSecret();
    expect(a).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(a.slice(6), 'base64')).toHaveLength(32);
    expect(a).not.toBe(b);
    expect(isValidSecret(a)).toBe(true);
  });

  it('validates secrets like Standard Webhooks / svix', () => {
    const b64 = (n: number) => Buffer.alloc(n, 7).toString('base64');
    expect(isValidSecret(`whsec_${b64(24)}`)).toBe(true);
    expect(isValidSecret(`whsec_${b64(64)}`)).toBe(true);
    expect(isValidSecret('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw')).toBe(true); // svix docs example, 24 bytes
    expect(isValidSecret(`whsec_${b64(23)}`)).toBe(false);
    expect(isValidSecret(`whsec_${b64(65)}`)).toBe(false);
    expect(isValidSecret(b64(32))).toBe(false); // no prefix
    expect(isValidSecret('whsec_')).toBe(false);
    expect(isValidSecret(`whsec_${b64(32).slice(0, -1)}`)).toBe(false); // bad padding
    expect(isValidSecret(`whsec_${b64(32).replace('B', '!')}`)).toBe(false);
    expect(isValidSecret(`whsec_${b64(32)} `)).toBe(false);
    expect(isValidSecret(`whsec_${Buffer.alloc(32, 250).toString('base64url')}`)).toBe(false); // url alphabet
  });

  it('produces v1,<base64> that the standardwebhooks package verifies', () => {
    const secret = generateSecret();
    const body = JSON.stringify({ type: 'page.created', data: { title: 'Grüße ✓' } });
    const ts = Math.floor(Date.now() / 1000);
    const headers = headersFor(secret, 'msg_1', ts, body);
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
  });

  it('matches the published svix / Standard Webhooks example vector', () => {
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const wh = new Webhook(secret);
    const expected = wh.sign('msg_p5jXN8AQM9LWM0D4loKWxJek', new Date(1614265330 * 1000), '{"test": 2432232314}');
    expect(sign(secret, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}')).toBe(expected);
    expect(expected).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('fails verification for a tampered body, id, timestamp or another secret', () => {
    const secret = generateSecret();
    const body = '{"a":1}';
    const ts = Math.floor(Date.now() / 1000);
    const headers = headersFor(secret, 'msg_1', ts, body);
    const wh = new Webhook(secret);
    expect(() => wh.verify('{"a":2}', headers)).toThrow();
    expect(() => wh.verify(body, { ...headers, 'webhook-id': 'msg_2' })).toThrow();
    expect(() => wh.verify(body, { ...headers, 'webhook-timestamp': String(ts + 1) })).toThrow();
    expect(() => new Webhook(generateSecret()).verify(body, headers)).toThrow();
  });

  it('refuses an invalid secret without echoing it', () => {
    const bad = 'whsec_short-and-secret';
    expect(() => sign(bad, 'msg_1', 1, '{}')).toThrow(/invalid webhook secret/);
    try {
      sign(bad, 'msg_1', 1, '{}');
    } catch (err) {
      expect((err as Error).message).not.toContain('short-and-secret');
    }
  });
});
