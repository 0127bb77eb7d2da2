/**
 * CORS, for pages on other origins that call the API (the SDK in a browser):
 * registered only when WEFT_CORS_ORIGINS is set (config.corsOrigins). Before
 * auth: a preflight carries no token, and is answered here without reaching
 * it; actual requests still need their token. Tokens travel in the
 * Authorization header, never in cookies, so credentials are not allowed.
 */
import cors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';

export async function registerCors(app: FastifyInstance, origins: string[] | '*'): Promise<void> {
  await app.register(cors, {
    origin: origins === '*' ? '*' : origins,
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    // The SDK reads content-type (safelisted); retry-after lets a page back off on 429 and 503.
    exposedHeaders: ['retry-after'],
    credentials: false,
    maxAge: 600,
    // Preflights are answered in the onRequest hook, before auth and the routes.
    hideOptionsRoute: true,
  });
}
