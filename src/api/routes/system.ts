/** Routes about the service itself: store statistics, ops, workers and health. */
import type { FastifyInstance } from 'fastify';
import { usedMemory } from '../../queue/connection.ts';
import { statsKey } from '../../queue/keys.ts';
import { listWorkers, liveWorkerCount } from '../../queue/workers.ts';
import { requireOperator } from '../plugins/auth.ts';
import { VERSION } from '../../version.ts';
import { openApi, routeSchema } from '../schemas.ts';

export default async function systemRoutes(app: FastifyInstance): Promise<void> {
  const { redis, ops, config } = app.weft;

  app.get('/v1/stats', { schema: routeSchema('getStats') }, async (req) => {
    requireOperator(req, config);
    const [used, stats] = await Promise.all([usedMemory(redis, config.prefix), redis.hgetall(statsKey(config.prefix))]);
    const n = (k: string) => Number(stats[k] ?? 0);
    const rate = (bytes: number, ms: number) => (ms > 0 ? +(bytes / 1e6 / (ms / 1000)).toFixed(1) : null);
    return {
      memory: {
        used_bytes: used,
        budget_bytes: config.storeMemoryLimit,
        threshold: config.spillThreshold,
        spill_above_bytes: Math.floor(config.storeMemoryLimit * config.spillThreshold),
      },
      spill: {
        bytes: n('spilled_bytes'),
        objects: n('spilled_objects'),
        total_bytes: n('spill_bytes_total'),
        total_objects: n('spill_objects_total'),
        restored_bytes: n('restored_bytes_total'),
        spill_mb_per_s: rate(n('spill_bytes_total'), n('spill_ms_total')),
        restore_mb_per_s: rate(n('restored_bytes_total'), n('restore_ms_total')),
        out_of_disk: stats.out_of_disk ?? null,
      },
      cache: { hits: n('cache_hits'), misses: n('cache_misses') },
      lineage: { recomputed: n('lineage_recomputes') },
    };
  });

  app.get('/v1/ops', { schema: routeSchema('listOps') }, async () => ({ ops: await ops.list() }));

  app.get('/v1/workers', { schema: routeSchema('listWorkers') }, async (req) => {
    requireOperator(req, config);
    return {
      timeout_ms: config.workerTimeoutMs,
      workers: await listWorkers(redis, config.prefix, config.workerTimeoutMs),
    };
  });

  // Which service this is, so a client can tell that it is older than the client needs.
  const versions = { version: VERSION, api_version: openApi().info['x-api-version'] };
  app.get('/healthz', { schema: routeSchema('health') }, async (_req, reply) => {
    try {
      await redis.ping();
      const workers = await liveWorkerCount(redis, config.prefix, config.workerTimeoutMs);
      return { ok: true, redis: true, workers, ...versions };
    } catch {
      return reply.code(503).send({ ok: false, redis: false, workers: 0, ...versions });
    }
  });
}
