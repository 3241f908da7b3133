// One node:http server: /graphql (yoga: GraphiQL, POST/GET, SSE), /v1 REST, health checks.
// WebSocket upgrades on /graphql are attached by the subscriptions transport.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { AppError } from '../domain/errors.ts';
import type { Logger } from '../logger.ts';
import { sendData, sendError } from '../rest/v1/envelope.ts';
import { MAX_BODY_BYTES } from '../rest/v1/body.ts';
import type { GraphQLServer } from '../graphql/yoga.ts';

export interface HttpServerDeps {
  logger: Logger;
  graphql: GraphQLServer;
  rest: (req: IncomingMessage, res: ServerResponse, requestId: string) => Promise<void>;
  ready: () => Promise<boolean>;
}

export interface HttpServer {
  readonly server: Server;
  listen(port: number, host: string): Promise<AddressInfo>;
  close(): Promise<void>;
}

export function createHttpServer(deps: HttpServerDeps): HttpServer {
  /** Open SSE subscriptions, ended properly at shutdown. */
  const streams = new Set<ServerResponse>();
  const server = createServer({ requestTimeout: 60_000, headersTimeout: 30_000, keepAliveTimeout: 5_000 }, (req, res) => {
    const requestId = randomUUID();
    res.setHeader('x-request-id', requestId);
    const path = (req.url ?? '/').split('?')[0]!;
    void route(req, res, path, requestId).catch((error: unknown) => {
      deps.logger.error('request failed', { requestId, error });
      if (!res.headersSent) sendError(res, requestId, error);
      else res.destroy();
    });
  });

  async function route(req: IncomingMessage, res: ServerResponse, path: string, requestId: string) {
    if (path === '/healthz') {
      sendData(res, requestId, 200, { status: 'ok' });
    } else if (path === '/readyz') {
      if (await deps.ready()) sendData(res, requestId, 200, { status: 'ready' });
      else sendError(res, requestId, new AppError('SERVICE_UNAVAILABLE', 'The database does not answer'));
    } else if (path === '/v1' || path.startsWith('/v1/')) {
      await deps.rest(req, res, requestId);
    } else if (path === '/graphql') {
      if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) {
        req.resume();
        sendError(res, requestId, new AppError('PAYLOAD_TOO_LARGE', `Request body must be at most ${MAX_BODY_BYTES} bytes`, { limit: MAX_BODY_BYTES }));
        return;
      }
      if ((req.headers.accept ?? '').includes('text/event-stream')) {
        streams.add(res);
        res.once('close', () => streams.delete(res));
      }
      await deps.graphql.handle(req, res, { requestId });
    } else if (path === '/') {
      res.writeHead(302, { location: '/graphql' }).end();
    } else {
      sendError(res, requestId, new AppError('NOT_FOUND', `No such path: ${path}`, { path }));
    }
  }

  return {
    server,
    listen(port, host) {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve(server.address() as AddressInfo);
        });
      });
    },
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        for (const res of streams) res.end();
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 2000).unref();
      });
    },
  };
}
