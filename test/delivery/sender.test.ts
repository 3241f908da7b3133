import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Sender, parseRetryAfter } from '../../src/delivery/sender.ts';
import { generateSecret } from '../../src/delivery/signature.ts';

interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  remotePort: number;
}

/** A real HTTP receiver on 127.0.0.1 with an ephemeral port. */
class Receiver {
  readonly requests: Received[] = [];
  private server!: Server;
  port = 0;

  constructor(private readonly handler: (req: Received, res: ServerResponse, raw: IncomingMessage) => void) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const received = {
          method: req.method!,
          path: req.url!,
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          remotePort: req.socket.remotePort!,
        };
        this.requests.push(received);
        this.handler(received, res, req);
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  url(path = '/hook'): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  hits(path: string): number {
    return this.requests.filter((r) => r.path === path).length;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const receivers: Receiver[] = [];
async function receiver(handler: ConstructorParameters<typeof Receiver>[0]): Promise<Receiver> {
  const r = await new Receiver(handler).start();
  receivers.push(r);
  return r;
}
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.stop()));
});

const secret = generateSecret();
const body = JSON.stringify({ type: 'page.created', timestamp: '2024-01-01T00:00:00Z', data: { id: 'pg_1' } });
const message = (url: string) => ({ url, msgId: 'msg_test_1', body, secret });

let sender: Sender;
beforeAll(() => {
  sender = new Sender({ timeoutMs: 5000, allowPrivateDestinations: true, userAgent: 'gateway-test/1.0' });
});
afterAll(async () => {
  await sender.close();
});

describe('Sender', () => {
  it('delivers a signed POST and reports 2xx as success', async () => {
    const r = await receiver((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok thanks'));
    const result = await sender.send({ ...message(r.url('/hook?x=1')), timestampSeconds: Math.floor(Date.now() / 1000) });

    expect(result).toMatchObject({ statusCode: 200, success: true, error: null, responseBody: 'ok thanks', retryAfterMs: null, gone: false });
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
    expect(r.requests).toHaveLength(1);
    const req = r.requests[0]!;
    expect(req.method).toBe('POST');
    expect(req.path).toBe('/hook?x=1');
    expect(req.body).toBe(body);
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['user-agent']).toBe('gateway-test/1.0');
    expect(req.headers['webhook-id']).toBe('msg_test_1');
    expect(req.headers['webhook-timestamp']).toMatch(/^\d+$/);
    expect(req.headers['webhook-signature']).toMatch(/^v1,/);
    // The receiver's side of the contract: the standardwebhooks package verifies it.
    const payload = new Webhook(secret).verify(req.body, req.headers as Record<string, string>);
    expect(payload).toEqual(JSON.parse(body));
  });

  it('uses the current time when no timestamp is given', async () => {
    const r = await receiver((_req, res) => res.writeHead(204).end());
    const result = await sender.send(message(r.url()));
    expect(result).toMatchObject({ statusCode: 204, success: true, responseBody: null });
    const ts = Number(r.requests[0]!.headers['webhook-timestamp']);
    expect(Math.abs(ts - Date.now() / 1000)).toBeLessThan(5);
  });

  it('reports a 500 as failure "HTTP 500" with the response body', async () => {
    const r = await receiver((_req, res) => res.writeHead(500).end('boom'));
    const result = await sender.send(message(r.url()));
    expect(result).toMatchObject({ statusCode: 500, success: false, error: 'HTTP 500', responseBody: 'boom', retryAfterMs: null });
  });

  it('does not follow redirects', async () => {
    const r = await receiver((req, res) => {
      if (req.path === '/hook') res.writeHead(302, { location: '/target' }).end();
      else res.writeHead(200).end();
    });
    const result = await sender.send(message(r.url('/hook')));
    expect(result).toMatchObject({ statusCode: 302, success: false, error: 'redirect (HTTP 302) not followed' });
    expect(r.hits('/hook')).toBe(1);
    expect(r.hits('/target')).toBe(0);
  });

  it('marks 410 as gone', async () => {
    const r = await receiver((_req, res) => res.writeHead(410).end());
    const result = await sender.send(message(r.url()));
    expect(result).toMatchObject({ statusCode: 410, success: false, error: 'HTTP 410', gone: true });
  });

  it('times out a receiver that never answers, after about timeoutMs', async () => {
    const r = await receiver(() => {
      /* never respond */
    });
    const quick = new Sender({ timeoutMs: 300, allowPrivateDestinations: true, userAgent: 't' });
    try {
      const result = await quick.send(message(r.url()));
      expect(result).toMatchObject({ statusCode: null, success: false, error: 'timeout after 300 ms' });
      expect(result.durationMs).toBeGreaterThanOrEqual(290);
      expect(result.durationMs).toBeLessThan(1000);
      expect(r.requests).toHaveLength(1);
    } finally {
      await quick.close();
    }
  });

  it('bounds the whole attempt when the body trickles in after a 200', async () => {
    const r = await receiver((_req, res) => {
      res.writeHead(200);
      res.write('first chunk;');
      // ...and nothing more, the response never ends
    });
    const quick = new Sender({ timeoutMs: 300, allowPrivateDestinations: true, userAgent: 't' });
    try {
      const result = await quick.send(message(r.url()));
      // The status is the receiver's verdict; the body read is cut off at the deadline.
      expect(result).toMatchObject({ statusCode: 200, success: true, responseBody: 'first chunk;' });
      expect(result.durationMs).toBeGreaterThanOrEqual(290);
      expect(result.durationMs).toBeLessThan(1000);
    } finally {
      await quick.close();
    }
  });

  it('reports connection refused', async () => {
    const r = await receiver(() => {});
    const url = r.url();
    await r.stop();
    receivers.splice(receivers.indexOf(r), 1);
    const result = await sender.send(message(url));
    expect(result).toMatchObject({ statusCode: null, success: false, error: 'connection refused', responseBody: null });
  });

  it('reports DNS failures', async () => {
    const result = await sender.send(message('http://nonexistent.invalid/hook'));
    expect(result).toMatchObject({ statusCode: null, success: false, error: 'DNS lookup failed for host nonexistent.invalid' });
  });

  it('reports a connection closed without a response', async () => {
    const r = await receiver((_req, _res, raw) => raw.socket.destroy());
    const result = await sender.send(message(r.url()));
    expect(result.success).toBe(false);
    expect(result.error).toMatch(/^connection (reset|closed by the receiver)$/);
  });

  it('reports TLS failures as "TLS error: ..."', async () => {
    const r = await receiver((_req, res) => res.writeHead(200).end()); // plain HTTP, no TLS
    const result = await sender.send(message(`https://127.0.0.1:${r.port}/hook`));
    expect(result.success).toBe(false);
    expect(result.error).toMatch(/^TLS error: /);
  });

  it('reports a send after close without throwing', async () => {
    const closed = new Sender({ timeoutMs: 1000, allowPrivateDestinations: true, userAgent: 't' });
    await closed.close();
    const result = await closed.send(message('http://127.0.0.1:1/'));
    expect(result).toMatchObject({ success: false, error: 'sender closed' });
  });

  it('reports invalid URLs and unsupported schemes', async () => {
    expect((await sender.send(message('not a url'))).error).toBe('invalid URL');
    expect((await sender.send(message('ftp://example.com/x'))).error).toBe('invalid URL: only http and https are supported');
    expect((await sender.send(message('http://user:pw@127.0.0.1:1/'))).error).toBe('invalid URL: credentials in the URL are not supported');
  });

  it('reports an invalid secret without leaking it', async () => {
    const r = await receiver((_req, res) => res.writeHead(200).end());
    const result = await sender.send({ ...message(r.url()), secret: 'whsec_not-really-base64-secret' });
    expect(result.success).toBe(false);
    expect(result.error).toMatch(/^invalid webhook secret/);
    expect(result.error).not.toContain('not-really-base64-secret');
    expect(r.requests).toHaveLength(0);
  });

  it('cuts a 5 MB response body and keeps 1 KiB', async () => {
    const big = Buffer.alloc(5 * 1024 * 1024, 'a');
    const r = await receiver((_req, res) => res.writeHead(200, { 'content-length': big.length }).end(big));
    const result = await sender.send(message(r.url()));
    expect(result).toMatchObject({ statusCode: 200, success: true });
    expect(result.responseBody).toBe('a'.repeat(1024));
  });

  it('stops reading an endless response body at maxResponseBytes', async () => {
    let closed = false;
    const r = await receiver((_req, res) => {
      res.writeHead(500);
      res.on('close', () => {
        closed = true;
      });
      const chunk = Buffer.alloc(16 * 1024, 'b');
      const pump = () => {
        while (!closed && res.write(chunk)) {
          /* fill the socket */
        }
        if (!closed) res.once('drain', pump);
      };
      pump();
    });
    // keep > max shows exactly where the read stopped.
    const s = new Sender({ timeoutMs: 5000, allowPrivateDestinations: true, userAgent: 't', keepResponseBytes: 1024 * 1024 });
    try {
      const result = await s.send(message(r.url()));
      expect(result).toMatchObject({ statusCode: 500, success: false, error: 'HTTP 500' });
      expect(result.responseBody).toHaveLength(64 * 1024);
      expect(result.durationMs).toBeLessThan(2000);
      await expect.poll(() => closed).toBe(true); // we dropped the connection
    } finally {
      await s.close();
    }
  });

  it('keeps whole UTF-8 characters when cutting the body', async () => {
    const r = await receiver((_req, res) => res.writeHead(200).end('é'.repeat(600))); // 2 bytes each
    const s = new Sender({ timeoutMs: 5000, allowPrivateDestinations: true, userAgent: 't', keepResponseBytes: 1023 });
    try {
      const result = await s.send(message(r.url()));
      expect(result.responseBody).toBe('é'.repeat(511));
    } finally {
      await s.close();
    }
  });

  it('parses Retry-After seconds on 429', async () => {
    const r = await receiver((_req, res) => res.writeHead(429, { 'retry-after': '120' }).end());
    const result = await sender.send(message(r.url()));
    expect(result).toMatchObject({ statusCode: 429, success: false, error: 'HTTP 429', retryAfterMs: 120_000 });
  });

  it('parses Retry-After HTTP-date on 503', async () => {
    const at = new Date(Date.now() + 120_000).toUTCString();
    const r = await receiver((_req, res) => res.writeHead(503, { 'retry-after': at }).end());
    const result = await sender.send(message(r.url()));
    expect(result).toMatchObject({ statusCode: 503, success: false, error: 'HTTP 503' });
    expect(result.retryAfterMs).toBeGreaterThan(115_000);
    expect(result.retryAfterMs).toBeLessThanOrEqual(120_000);
  });

  it('ignores Retry-After on other statuses', async () => {
    const r = await receiver((_req, res) => res.writeHead(500, { 'retry-after': '120' }).end());
    expect((await sender.send(message(r.url()))).retryAfterMs).toBeNull();
  });

  it('reuses pooled connections', async () => {
    const r = await receiver((_req, res) => res.writeHead(200).end('ok'));
    for (let i = 0; i < 10; i++) expect((await sender.send(message(r.url()))).success).toBe(true);
    expect(r.requests).toHaveLength(10);
    // Sequential sends reuse keep-alive connections (undici's pool may alternate
    // between two, as the previous one is released a tick after the response).
    expect(new Set(r.requests.map((q) => q.remotePort)).size).toBeLessThanOrEqual(2);
  });
});

describe('Sender private-destination guard', () => {
  let guarded: Sender;
  beforeAll(() => {
    guarded = new Sender({ timeoutMs: 2000, allowPrivateDestinations: false, userAgent: 't' });
  });
  afterAll(async () => {
    await guarded.close();
  });

  it.each([
    ['http://127.0.0.1:PORT/hook', /^destination refused: 127\.0\.0\.1 is a loopback address$/],
    ['http://[::1]:PORT/hook', /^destination refused: ::1 is a loopback address$/],
    ['http://[::ffff:7f00:1]:PORT/hook', /^destination refused: ::ffff:7f00:1 is a loopback address$/],
    ['http://0x7f.1:PORT/hook', /^destination refused: 127\.0\.0\.1 is a loopback address$/],
    ['http://2130706433:PORT/hook', /^destination refused: 127\.0\.0\.1 is a loopback address$/],
    ['http://localhost:PORT/hook', /^destination refused: (127\.0\.0\.1|::1) is a loopback address$/],
    ['http://169.254.169.254/latest/meta-data/', /^destination refused: 169\.254\.169\.254 is a cloud-metadata address$/],
    ['https://10.0.0.5/hook', /^destination refused: 10\.0\.0\.5 is a private address$/],
  ])('refuses %s before any request', async (template, expected) => {
    const r = await receiver((_req, res) => res.writeHead(200).end());
    const result = await guarded.send(message(template.replace('PORT', String(r.port))));
    expect(result.success).toBe(false);
    expect(result.statusCode).toBeNull();
    expect(result.error).toMatch(expected);
    expect(r.requests).toHaveLength(0);
  });

  it('allows the same destinations when allowPrivateDestinations is true', async () => {
    const r = await receiver((_req, res) => res.writeHead(200).end());
    expect((await sender.send(message(r.url()))).success).toBe(true);
    expect((await sender.send(message(`http://localhost:${r.port}/hook`))).success).toBe(true);
    expect(r.requests).toHaveLength(2);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.UTC(2024, 0, 1, 0, 0, 0);
  it.each([
    ['0', 0],
    ['30', 30_000],
    [' 5 ', 5000],
    ['Mon, 01 Jan 2024 00:01:00 GMT', 60_000],
    ['Sun, 31 Dec 2023 23:00:00 GMT', 0], // in the past
    ['Monday, 01-Jan-24 00:00:10 GMT', 10_000], // RFC 850
    ['', null],
    ['soon', null],
    ['-5', null],
    ['1.5', null],
  ])('%j -> %j', (value, expected) => {
    expect(parseRetryAfter(value, now)).toBe(expected);
  });
  it('handles absent and repeated headers', () => {
    expect(parseRetryAfter(undefined, now)).toBeNull();
    expect(parseRetryAfter(['7', '9'], now)).toBe(7000);
  });
});
