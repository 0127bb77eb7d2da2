/**
 * Builds the Fastify app: shared schemas from openapi.yaml, the services
 * plugin, one error handler that answers with the error catalogue, and the
 * route plugins. `main.ts` listens; tests use `inject` or supertest.
 */
import { registerCors } from './plugins/cors.ts';
import Fastify, { LogController, type FastifyInstance, type FastifyReply } from 'fastify';
import type { Config } from '../config.ts';
import { ApiError, toApiError } from './errors.ts';
import accept from './plugins/accept.ts';
import auth from './plugins/auth.ts';
import bodies from './plugins/bodies.ts';
import responseCheck from './plugins/response-check.ts';
import services from './plugins/services.ts';
import websocket from '@fastify/websocket';
import eventRoutes from './routes/events.ts';
import graphRoutes from './routes/graphs.ts';
import objectRoutes from './routes/objects.ts';
import systemRoutes from './routes/system.ts';
import uiRoutes from './routes/ui.ts';
import metrics from './metrics.ts';
import { addSharedSchemas } from './schemas.ts';
import { buildValidator } from './validation.ts';

export interface AppOptions {
  logger?: boolean;
  /** Hold every JSON response to openapi.yaml (plugins/response-check.ts): the tests do. */
  checkResponses?: boolean;
}

export async function buildApp(config: Config, options: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ? { level: 'info' } : false,
    // A line per request is I/O on every request's path: only when asked (WEFT_LOG_REQUESTS=1); errors are logged either way.
    logController: new LogController({ disableRequestLogging: !config.logRequests }),
    bodyLimit: config.bodyLimit,
    // Query strings coerce, bodies do not (validation.ts).
    schemaController: { compilersFactory: { buildValidator } },
    // Errors of the router (a path parameter past maxParamLength, a bad %-escape) skip the error
    // handler: without this they answer Fastify's own body, not the catalogue's.
    frameworkErrors: (err, _req, reply) => {
      const apiError = toApiError(err);
      (reply as FastifyReply).code(apiError.status).send(apiError.toBody());
    },
  });
  // Only JSON is accepted; a text body is an unsupported media type, not a string to validate.
  app.removeContentTypeParser('text/plain');
  await app.register(bodies);
  addSharedSchemas(app);
  await app.register(services, { config });
  // Before auth: a preflight has no token (plugins/cors.ts).
  if (config.corsOrigins) await registerCors(app, config.corsOrigins);
  await app.register(auth, { config });
  // Before the routes: it reads each route's responses as it is added.
  await app.register(accept);
  if (options.checkResponses) await app.register(responseCheck);

  app.setErrorHandler((err, req, reply) => {
    const apiError = toApiError(err);
    if (apiError.status >= 500) req.log.error({ err }, 'request failed');
    return reply.code(apiError.status).send(apiError.toBody());
  });
  app.setNotFoundHandler((req, reply) => {
    const e = new ApiError('not_found', `No route ${req.method} ${req.url}. The API is described in openapi.yaml.`);
    return reply.code(e.status).send(e.toBody());
  });

  // After the error handler (its route answers with the catalogue), before the routes (its latency hook sees them all).
  await app.register(metrics);
  await app.register(websocket);
  await app.register(graphRoutes);
  await app.register(eventRoutes);
  await app.register(objectRoutes);
  await app.register(systemRoutes);
  await app.register(uiRoutes);
  return app;
}
