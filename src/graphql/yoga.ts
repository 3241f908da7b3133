// graphql-yoga over the Pothos schema: context (API key → principal), operations refused without
// a key, domain error codes in extensions.code, everything unexpected masked.
import { GraphQLError } from 'graphql';
import { createYoga, maskError as yogaMaskError, type Plugin } from 'graphql-yoga';
import { PothosValidationError } from '@pothos/core';
import { AppError } from '../domain/errors.ts';
import { STATUS_BY_CODE } from '../rest/v1/envelope.ts';
import type { Logger } from '../logger.ts';
import type { Services } from '../services.ts';
import type { LiveBus } from '../live/bus.ts';
import type { GraphQLContext } from './context.ts';
import { schema } from './schema/index.ts';

export interface YogaServerContext {
  /** Set by the HTTP server (node req) or the WebSocket server (connection params). */
  requestId?: string;
  apiKey?: string | null;
}

/**
 * By name, not class: `graphql` can be loaded twice in one process (its CommonJS and ESM builds,
 * as under vitest), and then the executor's errors are not `instanceof` our GraphQLError.
 */
const isGraphQLError = (error: unknown): error is GraphQLError =>
  error instanceof GraphQLError || (error instanceof Error && error.name === 'GraphQLError');

function toGraphQLError(app: AppError, from?: GraphQLError): GraphQLError {
  return new GraphQLError(app.message, {
    nodes: from?.nodes,
    source: from?.source,
    positions: from?.positions,
    path: from?.path,
    extensions: { code: app.code, details: app.details },
  });
}

function authRequired(): Plugin<GraphQLContext> {
  const refuse = (ctx: GraphQLContext) => {
    const error = ctx.authError instanceof AppError ? ctx.authError : new AppError('UNAUTHORIZED', 'A valid X-Api-Key header is required');
    return new GraphQLError(error.message, {
      extensions: { code: error.code, details: error.details, http: { status: STATUS_BY_CODE[error.code] } },
    });
  };
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const ctx = args.contextValue as GraphQLContext;
      if (!ctx.principal) setResultAndStopExecution({ errors: [refuse(ctx)] });
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const ctx = args.contextValue as GraphQLContext;
      if (!ctx.principal) setResultAndStopExecution({ errors: [refuse(ctx)] });
    },
  };
}

export function createGraphQLServer(deps: { services: Services; live: LiveBus; logger: Logger; graphiql?: boolean }) {
  return createYoga<YogaServerContext & { req?: import('node:http').IncomingMessage }, GraphQLContext>({
    schema,
    graphqlEndpoint: '/graphql',
    logging: false,
    landingPage: false,
    graphiql: deps.graphiql === false ? false : { subscriptionsProtocol: 'WS', title: 'OptimoCMS webhooks', headers: JSON.stringify({ 'X-Api-Key': '' }) },
    plugins: [authRequired()],
    maskedErrors: {
      maskError(error, message, isDev) {
        const located = isGraphQLError(error) ? error : undefined;
        const original = located ? located.originalError : error;
        if (original instanceof AppError) return toGraphQLError(original, located);
        if (original instanceof PothosValidationError) {
          return toGraphQLError(new AppError('VALIDATION_ERROR', original.message), located);
        }
        if (isGraphQLError(original) && original.extensions?.code === 'VALIDATION_ERROR') return original;
        if (located && !located.originalError) return located;
        // A request-level error (no field path) caused by a GraphQLError: the variables did not
        // coerce (e.g. "Boolean cannot represent a non boolean value"). A client mistake.
        if (located && located.path === undefined && isGraphQLError(original)) {
          return toGraphQLError(new AppError('VALIDATION_ERROR', located.message), located);
        }
        deps.logger.error('graphql resolver failed', { error: original });
        const masked = yogaMaskError(error, message, isDev) as GraphQLError;
        return new GraphQLError(masked.message, {
          nodes: masked.nodes,
          path: masked.path,
          positions: masked.positions,
          extensions: { code: 'INTERNAL_ERROR' },
        });
      },
    },
    context: async ({ request, requestId, apiKey }): Promise<GraphQLContext> => {
      const key = apiKey !== undefined ? apiKey : request?.headers.get('x-api-key');
      const base = { requestId: requestId ?? crypto.randomUUID(), services: deps.services, live: deps.live };
      try {
        return { ...base, principal: await deps.services.apiKeys.authenticate(key), authError: null };
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        return { ...base, principal: null, authError: error };
      }
    },
  });
}

export type GraphQLServer = ReturnType<typeof createGraphQLServer>;
