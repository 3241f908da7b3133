// A real HTTP receiver on 127.0.0.1 for delivery tests: it records every request (method, path,
// headers, raw body, arrival time) and answers from a script, one answer per request in order
// (status, headers such as Retry-After or Location, body, a delay, or never answering), then a
// fallback answer. Also: a port where nothing listens, and a polling helper with a deadline.
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface ReceivedRequest {
  /** 0-based arrival order. */
  index: number;
  method: string;
  /** Path and query as sent. */
  path: string;
  headers: IncomingHttpHeaders;
  /** The body exactly as received (what the signature covers). */
  rawBody: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: any;
  /** Date.now() when the body had arrived. */
  at: number;
}

export interface Answer {
  /** Default 200. */
  status?: number;
  headers?: Record<string, string>;
  /** Default "ok". */
  body?: string;
  /** Wait this long before answering. */
  delayMs?: number;
  /** Never answer: the request stays open until release() or stop(). */
  hang?: boolean;
}

export type Responder = (request: ReceivedRequest) => Answer | Promise<Answer>;

export interface ReceiverOptions {
  /** Answers for the 1st, 2nd, ... request. */
  script?: Answer[];
  /** For requests past the script (default 200 "ok"), or a function deciding per request. */
  fallback?: Answer | Responder;
}

type Waiter = { count: number; path: string | undefined; done: () => void };

export class Receiver {
  readonly requests: ReceivedRequest[] = [];
  port = 0;
  private readonly script: Answer[];
  private fallback: Answer | Responder;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly held = new Set<ServerResponse>();
  private readonly waiters: Waiter[] = [];
  private readonly arrivals: ((request: ReceivedRequest) => void)[] = [];

  constructor(options: ReceiverOptions = {}) {
    this.script = [...(options.script ?? [])];
    this.fallback = options.fallback ?? {};
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const rawBody = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(rawBody);
        } catch {
          json = undefined;
        }
        const request: ReceivedRequest = {
          index: this.requests.length,
          method: req.method ?? '',
          path: req.url ?? '',
          headers: req.headers,
          rawBody,
          json,
          at: Date.now(),
        };
        this.requests.push(request);
        for (const listener of this.arrivals.splice(0)) listener(request);
        this.settleWaiters();
        void this.answer(request, res);
      });
    });
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  url(path = '/hook'): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** Appends answers for the next requests. */
  enqueue(...answers: Answer[]): void {
    this.script.push(...answers);
  }

  /** Replaces the answer for requests past the script. */
  setFallback(fallback: Answer | Responder): void {
    this.fallback = fallback;
  }

  /** Requests to this path (default: all). */
  received(path?: string): ReceivedRequest[] {
    return path === undefined ? [...this.requests] : this.requests.filter((r) => r.path === path);
  }

  /** Resolves once `count` requests (to `path`, if given) have arrived; rejects after `timeoutMs`. */
  waitForRequests(count: number, timeoutMs = 10_000, path?: string): Promise<ReceivedRequest[]> {
    return new Promise<ReceivedRequest[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`receiver: expected ${count} request(s)${path ? ` to ${path}` : ''} within ${timeoutMs} ms, got ${this.received(path).length}`));
      }, timeoutMs);
      const waiter: Waiter = {
        count,
        path,
        done: () => {
          clearTimeout(timer);
          resolve(this.received(path));
        },
      };
      this.waiters.push(waiter);
      this.settleWaiters();
    });
  }

  /** The next request to arrive (after this call). */
  nextRequest(timeoutMs = 10_000): Promise<ReceivedRequest> {
    return new Promise<ReceivedRequest>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`receiver: no request within ${timeoutMs} ms`)), timeoutMs);
      this.arrivals.push((request) => {
        clearTimeout(timer);
        resolve(request);
      });
    });
  }

  /** Answers every request held open by `hang` (with this answer, default 200). */
  release(answer: Answer = {}): void {
    for (const res of this.held) this.write(res, answer);
    this.held.clear();
  }

  async stop(): Promise<void> {
    for (const res of this.held) res.destroy();
    this.held.clear();
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private settleWaiters(): void {
    for (const waiter of [...this.waiters]) {
      if (this.received(waiter.path).length >= waiter.count) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.done();
      }
    }
  }

  private async answer(request: ReceivedRequest, res: ServerResponse): Promise<void> {
    const next = this.script.shift();
    const answer = next ?? (typeof this.fallback === 'function' ? await this.fallback(request) : this.fallback);
    if (answer.hang) {
      this.held.add(res);
      res.once('close', () => this.held.delete(res));
      return;
    }
    if (answer.delayMs) await new Promise((resolve) => setTimeout(resolve, answer.delayMs));
    this.write(res, answer);
  }

  private write(res: ServerResponse, answer: Answer): void {
    if (res.destroyed || res.writableEnded) return;
    const body = answer.body ?? 'ok';
    res.writeHead(answer.status ?? 200, { 'content-type': 'text/plain', ...answer.headers });
    res.end(body);
  }
}

export async function startReceiver(options: ReceiverOptions = {}): Promise<Receiver> {
  return new Receiver(options).start();
}

/** A loopback port where nothing listens (bound once, then closed). */
export async function refusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Polls `probe` until it returns a value other than undefined/false/null, or throws once
 * `timeoutMs` passed (with the last probe error or value in the message).
 */
export async function eventually<T>(
  probe: () => T | Promise<T>,
  options: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<Exclude<T, undefined | null | false>> {
  const { timeoutMs = 10_000, intervalMs = 25, what = 'condition' } = options;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== null && value !== false) return value as Exclude<T, undefined | null | false>;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`${what} not reached within ${timeoutMs} ms (last: ${detail})`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Resolves after `ms` (for asserting that nothing happens during a short window). */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
