// Subscription clients for the live-results tests: graphql-ws (the `graphql-ws` client over `ws`),
// SSE (fetch POST /graphql with `accept: text/event-stream`, frames parsed here), and a raw `ws`
// socket speaking graphql-transport-ws for close codes and keep-alive pings. Every subscription
// collects its results into a Feed that tests wait on with a deadline.
import WebSocket from 'ws';
import { createClient, type Client } from 'graphql-ws';

/** Results of one subscription, in arrival order. */
export class Feed<T = any> {
  readonly values: T[] = [];
  /** Set when the subscription failed (a graphql-ws error or close event, an SSE transport error). */
  error: unknown = undefined;
  /** True once the server completed the subscription, or the stream ended. */
  done = false;
  private readonly listeners = new Set<() => void>();

  push(value: T): void {
    this.values.push(value);
    this.notify();
  }

  fail(error: unknown): void {
    this.error = error;
    this.done = true;
    this.notify();
  }

  end(): void {
    this.done = true;
    this.notify();
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }

  /** Resolves once `check` holds (checked now and on every change), or rejects after `timeoutMs`. */
  until<R>(check: () => R | undefined | false, timeoutMs: number, what: string): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const probe = () => {
        const result = check();
        if (result !== undefined && result !== false) {
          finish();
          resolve(result);
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`${what} not seen within ${timeoutMs} ms; got ${JSON.stringify(this.values)}${this.error ? `, error ${describe(this.error)}` : ''}`));
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        this.listeners.delete(probe);
      };
      this.listeners.add(probe);
      probe();
    });
  }

  /** Resolves with the values once there are at least `count`. */
  waitFor(count: number, timeoutMs = 10_000): Promise<T[]> {
    return this.until(() => (this.values.length >= count ? [...this.values] : undefined), timeoutMs, `${count} result(s)`);
  }

  /** Resolves once the subscription ended (completed, failed or its stream closed). */
  whenDone(timeoutMs = 10_000): Promise<this> {
    return this.until(() => (this.done ? this : undefined), timeoutMs, 'the end of the subscription');
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (error && typeof error === 'object' && 'code' in error) return `close ${(error as { code: number }).code}`;
  return JSON.stringify(error);
}

export const wsUrl = (httpUrl: string) => httpUrl.replace(/^http/, 'ws') + '/graphql';

export interface WsClient {
  readonly client: Client;
  /** Close events the client saw (code and reason), in order. */
  readonly closes: { code: number; reason: string }[];
  /** Resolves once the server acknowledged the connection (it connects on the first subscribe). */
  readonly connected: Promise<void>;
  subscribe<T = any>(query: string, variables?: Record<string, unknown>): Feed<T>;
  dispose(): Promise<void>;
}

const clients = new Set<WsClient>();

/**
 * A graphql-ws client that never retries (a close is final and reported), with the API key in
 * connectionParams (or, with `{ header: true }`, in the upgrade request's X-Api-Key header).
 */
export function wsClient(httpUrl: string, apiKey: string | null, options: { header?: boolean } = {}): WsClient {
  const closes: { code: number; reason: string }[] = [];
  let markConnected!: () => void;
  const connected = new Promise<void>((resolve) => (markConnected = resolve));
  const headerKey = options.header && apiKey !== null ? apiKey : null;
  class KeyedWebSocket extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols, headerKey ? { headers: { 'x-api-key': headerKey } } : {});
    }
  }
  const client = createClient({
    url: wsUrl(httpUrl),
    webSocketImpl: headerKey ? KeyedWebSocket : WebSocket,
    connectionParams: options.header || apiKey === null ? {} : { apiKey },
    retryAttempts: 0,
    shouldRetry: () => false,
    lazy: true,
    on: {
      connected: () => markConnected(),
      closed: (event) => {
        const e = event as { code: number; reason: string | Buffer };
        closes.push({ code: e.code, reason: String(e.reason) });
      },
    },
  });
  const ws: WsClient = {
    client,
    closes,
    connected,
    subscribe<T>(query: string, variables: Record<string, unknown> = {}) {
      const feed = new Feed<T>();
      client.subscribe<T>(
        { query, variables },
        { next: (value) => feed.push(value as T), error: (error) => feed.fail(error), complete: () => feed.end() },
      );
      return feed;
    },
    async dispose() {
      clients.delete(ws);
      await client.dispose();
    },
  };
  clients.add(ws);
  return ws;
}

/** Resolves once the client's connection is acknowledged, or rejects after `timeoutMs`. */
export function wsConnected(ws: WsClient, timeoutMs = 5000): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`graphql-ws: not connected within ${timeoutMs} ms (closes: ${JSON.stringify(ws.closes)})`)), timeoutMs);
    void ws.connected.then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

export interface SseSubscription<T = any> extends Feed<T> {
  /** The HTTP status of the answer. */
  status: number;
  contentType: string;
  /** Closes the stream from our side. */
  abort(): void;
}

const sseStreams = new Set<AbortController>();

/**
 * POST /graphql with `accept: text/event-stream`; resolves once the response headers arrived.
 * `event: next` frames become values, `event: complete` (or the end of the stream) ends the
 * feed. A non-SSE answer (e.g. a JSON error) is pushed as one value and ends the feed.
 */
export async function sseSubscribe<T = any>(
  httpUrl: string,
  apiKey: string | null,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<SseSubscription<T>> {
  const controller = new AbortController();
  sseStreams.add(controller);
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'text/event-stream' };
  if (apiKey !== null) headers['x-api-key'] = apiKey;
  const response = await fetch(`${httpUrl}/graphql`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ query, variables }),
    signal: controller.signal,
  });
  const feed = new Feed<T>() as SseSubscription<T>;
  feed.status = response.status;
  feed.contentType = response.headers.get('content-type') ?? '';
  feed.abort = () => {
    sseStreams.delete(controller);
    controller.abort();
  };
  if (!feed.contentType.includes('text/event-stream')) {
    const text = await response.text();
    try {
      feed.push(JSON.parse(text) as T);
    } catch {
      feed.fail(new Error(`not an event stream (${response.status}): ${text}`));
    }
    feed.end();
    sseStreams.delete(controller);
    return feed;
  }
  void (async () => {
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let boundary: number;
        while ((boundary = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, boundary);
          buffer = buffer.slice(boundary + 2);
          let event = 'message';
          const data: string[] = [];
          for (const line of frame.split('\n')) {
            if (line.startsWith('event:')) event = line.slice(6).trim();
            else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
          }
          if (event === 'next' && data.length > 0) feed.push(JSON.parse(data.join('\n')) as T);
          else if (event === 'complete') feed.end();
        }
      }
      feed.end();
    } catch (error) {
      if (controller.signal.aborted) feed.end();
      else feed.fail(error);
    } finally {
      sseStreams.delete(controller);
    }
  })();
  return feed;
}

export interface RawSocket {
  readonly socket: WebSocket;
  readonly opened: Promise<void>;
  /** Resolves with the close code and reason. */
  readonly closed: Promise<{ code: number; reason: string }>;
  /** Messages received (parsed). */
  readonly messages: any[];
  /** Pings received from the server. */
  pings: number;
  send(message: unknown): void;
}

const rawSockets = new Set<WebSocket>();

/**
 * A raw `ws` socket on /graphql with the graphql-transport-ws subprotocol. With `autoPong: false`
 * it does not answer the server's pings.
 */
export function rawSocket(httpUrl: string, headers: Record<string, string> = {}, options: { autoPong?: boolean } = {}): RawSocket {
  const socket = new WebSocket(wsUrl(httpUrl), 'graphql-transport-ws', { headers, autoPong: options.autoPong ?? true });
  rawSockets.add(socket);
  const raw: RawSocket = {
    socket,
    opened: new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    }),
    closed: new Promise((resolve) =>
      socket.once('close', (code, reason) => {
        rawSockets.delete(socket);
        resolve({ code, reason: reason.toString() });
      }),
    ),
    messages: [],
    pings: 0,
    send: (message) => socket.send(JSON.stringify(message)),
  };
  socket.on('message', (data) => raw.messages.push(JSON.parse(data.toString())));
  socket.on('ping', () => raw.pings++);
  socket.on('error', () => undefined);
  return raw;
}

/** Closes every client, stream and socket opened here that is still open (for afterAll). */
export async function closeAllLiveClients(): Promise<void> {
  for (const controller of sseStreams) controller.abort();
  sseStreams.clear();
  for (const socket of rawSockets) socket.terminate();
  rawSockets.clear();
  await Promise.all([...clients].map((c) => c.dispose().catch(() => undefined)));
}
