/** Routes about the service itself: ops and health. */
import type { FastifyInstance } from 'fastify';
import { liveWorkerCount } from '../../queue/workers.ts';
import { routeSchema } from '../schemas.ts';

export default async function systemRoutes(app: FastifyInstance): Promise<void> {
  const { redis, ops, config } = app.weft;

  app.get('/v1/ops', { schema: routeSchema('listOps', ['200']) }, async () => ({ ops: await ops.list() }));

  app.get('/healthz', { schema: routeSchema('health', ['200', '503']) }, async (_req, reply) => {
    try {
      await redis.ping();
      return { ok: true, redis: true, workers: await liveWorkerCount(redis, config.prefix) };
    } catch {
      return reply.code(503).send({ ok: false, redis: false, workers: 0 });
    }
  });
}
