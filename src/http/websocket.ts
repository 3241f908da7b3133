// graphql-ws on the WebSocket path /graphql. Operations go through yoga's getEnveloped, so
// plugins, context (API key → principal) and error masking are those of HTTP. The API key comes
// from connectionParams.apiKey or the upgrade request's X-Api-Key; a bad one closes the socket
// with 4401 (missing/unknown/revoked) before any operation runs.
import type { Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import { WebSocketServer, type WebSocket } from 'ws';
import { useServer } from 'graphql-ws/use/ws';
import type { ExecutionArgs } from 'graphql';
import { AppError } from '../domain/errors.ts';
import type { ApiKeyService } from '../domain/api-keys/service.ts';
import type { GraphQLServer } from '../graphql/yoga.ts';
import type { Logger } from '../logger.ts';

export const CLOSE_UNAUTHORIZED = 4401;
export const CLOSE_FORBIDDEN = 4403;

export interface GraphQLWebSocket {
  close(): Promise<void>;
}

function keyOf(connectionParams: Record<string, unknown> | undefined, header: string | string[] | undefined): string | null {
  const fromParams = connectionParams?.apiKey ?? connectionParams?.['X-Api-Key'] ?? connectionParams?.['x-api-key'];
  if (typeof fromParams === 'string' && fromParams !== '') return fromParams;
  const fromHeader = Array.isArray(header) ? header[0] : header;
  return fromHeader ?? null;
}

export function attachGraphQLWebSocket(
  server: Server,
  deps: { graphql: GraphQLServer; apiKeys: ApiKeyService; logger: Logger; keepAliveMs?: number },
): GraphQLWebSocket {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 });
  server.on('upgrade', (req, socket, head) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/graphql') {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  useServer<Record<string, unknown>, { socket: WebSocket; request: import('node:http').IncomingMessage }>(
    {
      onConnect: async (ctx) => {
        const key = keyOf(ctx.connectionParams, ctx.extra.request.headers['x-api-key']);
        try {
          await deps.apiKeys.authenticate(key);
          return true;
        } catch (error) {
          const code = error instanceof AppError && error.code === 'FORBIDDEN' ? CLOSE_FORBIDDEN : CLOSE_UNAUTHORIZED;
          if (!(error instanceof AppError)) deps.logger.error('websocket authentication failed', { error });
          ctx.extra.socket.close(code, error instanceof AppError ? error.code : 'INTERNAL_ERROR');
          return false;
        }
      },
      execute: (args: ExecutionArgs & { rootValue?: any }) => args.rootValue.execute(args),
      subscribe: (args: ExecutionArgs & { rootValue?: any }) => args.rootValue.subscribe(args),
      onSubscribe: async (ctx, _id, params) => {
        const { schema, execute, subscribe, contextFactory, parse, validate } = deps.graphql.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params,
          requestId: randomUUID(),
          apiKey: keyOf(ctx.connectionParams, ctx.extra.request.headers['x-api-key']),
        });
        const document = parse(params.query);
        const errors = validate(schema, document);
        if (errors.length > 0) return errors;
        return {
          schema,
          operationName: params.operationName,
          document,
          variableValues: params.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe },
        };
      },
    },
    wss,
    deps.keepAliveMs ?? 12_000,
  );

  return {
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.close(1001, 'Server is shutting down');
        wss.close(() => resolve());
        setTimeout(() => {
          for (const client of wss.clients) client.terminate();
          resolve();
        }, 2000).unref();
      }),
  };
}
