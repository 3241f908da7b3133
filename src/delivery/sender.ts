/**
 * The one module that makes outbound webhook calls (design rule 7).
 *
 * - undici's pooled `Agent`, not the global fetch (several times faster here);
 * - Standard Webhooks headers and signature;
 * - SSRF guard: forbidden literal IPs are refused before connecting, names are
 *   checked at connect time on the resolved addresses (DNS rebinding safe);
 * - no redirects, a time bound on the whole attempt, a size bound on the
 *   response;
 * - never throws for a failed delivery: every outcome is a `SendResult`.
 */
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import { StringDecoder } from 'node:string_decoder';
import { Agent } from 'undici';
import type { Dispatcher } from 'undici';
import { DestinationRefusedError, createGuardedLookup, isForbiddenAddress } from './address-guard.ts';
import { sign } from './signature.ts';

export interface SenderOptions {
  /** Bound on the whole attempt: connect, TLS, request, response headers and body. */
  timeoutMs: number;
  /** Let deliveries reach loopback, private, link-local and metadata addresses. */
  allowPrivateDestinations: boolean;
  userAgent: string;
  /** Read at most this many bytes of a response body, then drop the connection. Default 64 KiB. */
  maxResponseBytes?: number;
  /** Keep this many of them as `responseBody`. Default 1 KiB. */
  keepResponseBytes?: number;
  /** Pooled connections per origin. Default 16. */
  connections?: number;
}

export interface OutboundMessage {
  url: string;
  msgId: string;
  /** Serialized JSON, sent and signed byte for byte. */
  body: string;
  secret: string;
  /** Default: now. */
  timestampSeconds?: number;
}

export interface SendResult {
  statusCode: number | null;
  /** Only for 2xx. */
  success: boolean;
  /** Short, readable, never contains the secret; null on success. */
  error: string | null;
  durationMs: number;
  /** The first `keepResponseBytes` of the body as UTF-8; null when there was none. */
  responseBody: string | null;
  /** From Retry-After, on 429 and 503 only. */
  retryAfterMs: number | null;
  /** The receiver answered 410 Gone. */
  gone: boolean;
}

const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024;
const DEFAULT_KEEP_RESPONSE_BYTES = 1024;
const DEFAULT_CONNECTIONS = 16;

export class Sender {
  private readonly agent: Agent;
  private readonly timeoutMs: number;
  private readonly allowPrivate: boolean;
  private readonly userAgent: string;
  private readonly maxResponseBytes: number;
  private readonly keepResponseBytes: number;

  constructor(o: SenderOptions) {
    if (!(Number.isFinite(o.timeoutMs) && o.timeoutMs > 0)) throw new Error('timeoutMs must be > 0');
    this.timeoutMs = o.timeoutMs;
    this.allowPrivate = o.allowPrivateDestinations;
    this.userAgent = o.userAgent;
    this.maxResponseBytes = o.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    this.keepResponseBytes = Math.min(o.keepResponseBytes ?? DEFAULT_KEEP_RESPONSE_BYTES, this.maxResponseBytes);

    this.agent = new Agent({
      connections: o.connections ?? DEFAULT_CONNECTIONS,
      // Backstops for the overall timer in send(); they fire with the same message.
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
      connect: {
        timeout: this.timeoutMs,
        // Runs for every new connection on the addresses it will really use.
        // Not called for IP-literal hosts: send() checks those itself.
        lookup: createGuardedLookup({ allowPrivate: this.allowPrivate }),
      },
    });
  }

  async send(m: OutboundMessage): Promise<SendResult> {
    const started = performance.now();
    const finish = (partial: Partial<SendResult> & { error: string | null }): SendResult => ({
      statusCode: null,
      success: false,
      responseBody: null,
      retryAfterMs: null,
      gone: false,
      ...partial,
      error: partial.error === null ? null : redact(partial.error, m.secret),
      durationMs: Math.round(performance.now() - started),
    });

    const target = parseTarget(m.url);
    if (typeof target === 'string') return finish({ error: target });

    if (!this.allowPrivate && target.literalIp !== null) {
      const reason = isForbiddenAddress(target.literalIp);
      if (reason !== null) return finish({ error: new DestinationRefusedError(target.literalIp, reason).message });
    }

    let headers: Record<string, string>;
    try {
      const timestamp = m.timestampSeconds ?? Math.floor(Date.now() / 1000);
      headers = {
        'content-type': 'application/json',
        'user-agent': this.userAgent,
        'webhook-id': m.msgId,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': sign(m.secret, m.msgId, timestamp, m.body),
      };
    } catch (err) {
      return finish({ error: messageOf(err) });
    }

    // One timer for the whole attempt; undici aborts whichever phase is running.
    const controller = new AbortController();
    let timedOut = false;
    const timeoutMessage = `timeout after ${this.timeoutMs} ms`;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new Error(timeoutMessage));
    }, this.timeoutMs);

    try {
      let response: Dispatcher.ResponseData;
      try {
        response = await this.agent.request({
          origin: target.url.origin,
          path: target.url.pathname + target.url.search,
          method: 'POST',
          headers,
          body: m.body,
          signal: controller.signal,
        });
      } catch (err) {
        return finish({ error: timedOut ? timeoutMessage : describeError(err, target.url.hostname, timeoutMessage) });
      }

      const { statusCode } = response;
      // The status is the receiver's verdict; the body is only kept for the log,
      // so a body cut short (size cap, timeout, reset) does not change the outcome.
      const responseBody = await readLimited(response.body, this.maxResponseBytes, this.keepResponseBytes);
      const retryAfterMs =
        statusCode === 429 || statusCode === 503 ? parseRetryAfter(response.headers['retry-after']) : null;
      const success = statusCode >= 200 && statusCode < 300;
      return finish({
        statusCode,
        success,
        error: success ? null : statusError(statusCode),
        responseBody,
        retryAfterMs,
        gone: statusCode === 410,
      });
    } finally {
      clearTimeout(timer);
    }
  }

  /** Waits for in-flight requests, then closes the pooled connections. */
  async close(): Promise<void> {
    await this.agent.close();
  }
}

// ---------------------------------------------------------------------------

interface Target {
  url: URL;
  /** The host when it is an IP address (brackets stripped), else null. */
  literalIp: string | null;
}

/** A parsed URL, or the error message for a URL we will not call. */
function parseTarget(raw: string): Target | string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'invalid URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return 'invalid URL: only http and https are supported';
  }
  // undici would silently drop them, and they would leak into logs of the URL.
  if (url.username !== '' || url.password !== '') {
    return 'invalid URL: credentials in the URL are not supported';
  }
  // The WHATWG parser has already turned every IPv4 spelling (0x7f.1, 2130706433...)
  // into dotted decimal and bracketed IPv6. `isIP` is the test Node uses to skip
  // `lookup`, so exactly the hosts the guarded lookup never sees are checked here.
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return { url, literalIp: isIP(host) !== 0 ? host : null };
}

function statusError(statusCode: number): string {
  if (statusCode >= 300 && statusCode < 400) return `redirect (HTTP ${statusCode}) not followed`;
  return `HTTP ${statusCode}`;
}

/**
 * Reads at most `maxBytes` of `body` and keeps the first `keepBytes` as UTF-8
 * (null when empty). Stops early rather than waiting for a huge or endless
 * body; destroying the stream makes undici drop that connection. Read errors
 * (reset, abort by the timer) end the read with what was received.
 */
async function readLimited(body: Dispatcher.ResponseData['body'], maxBytes: number, keepBytes: number): Promise<string | null> {
  const kept: Buffer[] = [];
  let keptBytes = 0;
  let readBytes = 0;
  try {
    for await (const chunk of body) {
      const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
      readBytes += buf.length;
      if (keptBytes < keepBytes) {
        const piece = buf.subarray(0, keepBytes - keptBytes);
        kept.push(piece);
        keptBytes += piece.length;
      }
      if (readBytes >= maxBytes) break;
    }
  } catch {
    // keep what we have
  } finally {
    if (!body.destroyed) body.destroy();
  }
  if (keptBytes === 0) return null;
  // StringDecoder holds back a multi-byte character cut at the limit instead of emitting U+FFFD.
  return new StringDecoder('utf8').write(Buffer.concat(kept));
}

/** Retry-After as delta-seconds or an HTTP-date, in ms from now; null if absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, now: number = Date.now()): number | null {
  const text = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!text) return null;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // HTTP-date (IMF-fixdate, or the obsolete RFC 850 / asctime forms Date.parse also reads).
  // Require a letter so bare numbers in odd forms ("1.5", "-3") are not read as years.
  if (!/[a-z]/i.test(text)) return null;
  const at = Date.parse(text);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

const TLS_CODES = new Set([
  'EPROTO',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
]);

/** A short readable message for a failure before a response arrived. */
function describeError(err: unknown, hostname: string, timeoutMessage: string): string {
  // undici and Node sometimes wrap the interesting error in `cause`.
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code ?? '';
    if (e instanceof DestinationRefusedError || code === 'ERR_DESTINATION_REFUSED') return e.message;
    switch (code) {
      case 'ECONNREFUSED':
        return 'connection refused';
      case 'ECONNRESET':
        return 'connection reset';
      case 'EPIPE':
      case 'UND_ERR_SOCKET':
        return 'connection closed by the receiver';
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
      case 'EAI_FAIL':
      case 'EAI_NODATA':
      case 'ENODATA':
        return `DNS lookup failed for host ${hostname}`;
      case 'EHOSTUNREACH':
        return 'host unreachable';
      case 'ENETUNREACH':
        return 'network unreachable';
      // undici's own timers are backstops set to the same bound as ours.
      case 'ETIMEDOUT':
      case 'UND_ERR_CONNECT_TIMEOUT':
      case 'UND_ERR_HEADERS_TIMEOUT':
      case 'UND_ERR_BODY_TIMEOUT':
        return timeoutMessage;
      case 'UND_ERR_CLOSED':
      case 'UND_ERR_DESTROYED':
        return 'sender closed';
      case 'HPE_INVALID_CONSTANT':
      case 'HPE_INVALID_STATUS':
      case 'HPE_INVALID_HEADER_TOKEN':
      case 'UND_ERR_INFO':
        return 'invalid HTTP response';
      case 'UND_ERR_HEADERS_OVERFLOW':
        return 'response headers too large';
    }
    if (TLS_CODES.has(code) || code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_') || code.startsWith('CERT_')) {
      return `TLS error: ${e.message}`;
    }
  }
  return `request failed: ${messageOf(err)}`;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Belt and braces: no error text may carry the secret or its key material. */
function redact(text: string, secret: string): string {
  if (secret.length < 8) return text;
  const key = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret;
  return text.split(secret).join('[redacted]').split(key).join('[redacted]');
}
