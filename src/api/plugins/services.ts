/**
 * Decorates the app with `weft`: the Redis connections and the graph store
 * the routes use, closed when the app closes.
 */
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../../config.ts';
import { standardOps } from '../../ops/index.ts';
import { connect } from '../../queue/connection.ts';
import { TaskQueue } from '../../queue/dispatch.ts';
import { EventLog } from '../../queue/events.ts';
import { FinishWatcher } from '../../queue/finished.ts';
import { GraphStore } from '../../queue/graphs.ts';
import { GraphSubmitter } from '../../queue/submit.ts';
import type { ScriptedRedis } from '../../queue/scripts.ts';
import { TaskState } from '../../queue/tasks.ts';
import { Webhooks } from '../../queue/webhooks.ts';
import { OpCatalog, ServedPools } from '../../queue/workers.ts';
import { ObjectStore } from '../../queue/objects.ts';
import { SpillFiles } from '../../store/spill.ts';

export interface Services {
  config: Config;
  redis: ScriptedRedis;
  graphs: GraphStore;
  tasks: TaskState;
  /** The task queue, for its job counts (GET /metrics). */
  queue: TaskQueue;
  finished: FinishWatcher;
  ops: OpCatalog;
  /** The pools live workers serve (cached for a second). */
  servedPools: ServedPools;
  objects: ObjectStore;
  events: EventLog;
  webhooks: Webhooks;
  /** Submits graphs (POST /v1/graphs). */
  submitter: GraphSubmitter;
}

declare module 'fastify' {
  interface FastifyInstance {
    weft: Services;
    /** Aborted when the app starts closing. */
    closing: AbortSignal;
  }
}

async function services(app: FastifyInstance, opts: { config: Config }): Promise<void> {
  const { config } = opts;
  const redis = connect(config.redisUrl, 'weft-api', { failFast: true });
  const queue = new TaskQueue(redis, config.prefix, config);
  const finished = new FinishWatcher(connect(config.redisUrl, 'weft-api-sub'), config.prefix);
  const objects = new ObjectStore(redis, config.prefix, new SpillFiles(config.spillDir));
  const webhooks = new Webhooks(redis, config.prefix, redis);
  const graphs = new GraphStore(redis, config.prefix, queue, objects);
  const ops = new OpCatalog(redis, config.prefix, standardOps);
  await finished.ready;
  app.decorate('weft', {
    config,
    redis,
    graphs,
    tasks: new TaskState(redis, config.prefix),
    queue,
    finished,
    ops,
    servedPools: new ServedPools(redis, config.prefix, config.workerTimeoutMs),
    objects,
    events: new EventLog(redis, config.prefix),
    webhooks,
    submitter: new GraphSubmitter({ config, redis, graphs, objects, ops, webhooks, finished }),
  });
  // Closing: in-flight requests finish, but long polls and event streams end now rather than at their wait's end.
  const closing = new AbortController();
  app.decorate('closing', closing.signal);
  app.addHook('preClose', async () => {
    closing.abort();
    finished.wakeAll();
  });
  app.addHook('onClose', async () => {
    finished.close();
    await queue.close();
    await webhooks.close();
    redis.disconnect();
  });
}

export default fp(services, { name: 'weft-services' });
