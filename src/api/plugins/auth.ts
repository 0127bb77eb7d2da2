/**
 * Bearer tokens. With tokens configured (WEFT_TOKENS, WEFT_TOKENS_FILE),
 * every route but the health check and the dashboard's files needs `Authorization: Bearer <token>`,
 * and the request acts for the token's tenant: its context (req.ctx), which
 * routes pass on so a tenant sees only its own graphs and objects. Without
 * tokens every request is tenant "" (and the API listens on loopback only, see main.ts).
 */
import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { OPERATOR_TENANT, tokenDigest, type Config } from '../../config.ts';
import type { RequestContext } from '../../store/tenants.ts';
import { ApiError } from '../errors.ts';

/** The request of everyone when the service has no tokens, and of the public routes. */
const NO_TENANT: RequestContext = Object.freeze({ tenant: '' });

declare module 'fastify' {
  interface FastifyRequest {
    /** Who the request acts for: the tenant of its token ("" without auth, "*" for an operator). */
    ctx: RequestContext;
  }
}

/**
 * Routes anyone may call: load balancers and orchestrators probe the health
 * check without tokens; the dashboard's static files hold no data (the page
 * asks for a token and sends it with its own requests).
 */
const PUBLIC = new Set(['/healthz', '/ui', '/ui/:asset']);

/** The token of a request: its Bearer header, or `access_token` in the query of an event stream (browsers' EventSource and WebSocket cannot set headers). */
function presentedToken(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization;
  if (header !== undefined) return /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
  const query = req.query as { access_token?: unknown } | undefined;
  if (req.method === 'GET' && req.url.split('?')[0].endsWith('/events') && typeof query?.access_token === 'string')
    return query.access_token;
  return undefined;
}

async function auth(app: FastifyInstance, opts: { config: Config }): Promise<void> {
  const { tokens } = opts.config;
  app.decorateRequest('ctx', null as unknown as RequestContext);
  app.addHook('onRequest', async (req, reply) => {
    req.ctx = NO_TENANT;
    if (tokens.size === 0) return;
    if (req.routeOptions.url !== undefined && PUBLIC.has(req.routeOptions.url)) return;
    const token = presentedToken(req);
    const tenant = token === undefined ? undefined : tokens.get(tokenDigest(token));
    if (tenant === undefined) {
      reply.header('www-authenticate', 'Bearer realm="weft"');
      throw new ApiError(
        'unauthorized',
        token === undefined
          ? 'This service needs an API token: send "Authorization: Bearer <token>".'
          : 'The API token is not valid (unknown or revoked).',
      );
    }
    req.ctx = { tenant };
  });
}

/** Service-wide routes (stats, workers, metrics) are for operators when tenants share the service. */
export function requireOperator(req: FastifyRequest, config: Config): void {
  if (config.tokens.size > 0 && req.ctx.tenant !== OPERATOR_TENANT) {
    throw new ApiError(
      'forbidden',
      `${req.routeOptions.url} shows the whole service: it needs an operator token (tenant "*" in WEFT_TOKENS).`,
    );
  }
}

export default fp(auth, { name: 'weft-auth' });
