/**
 * GET /metrics in the Prometheus text format (prom-client).
 *
 * Two kinds of series. Those named weft_http_* and the process_* / nodejs_*
 * defaults describe this API process: scrape every instance. All other weft_*
 * series describe the whole installation and are read from Redis at scrape
 * time (src/queue/metrics.ts says where each comes from), so every API
 * instance answers the same for them: aggregate those with max(), not sum().
 */
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry, type MetricValueWithName } from 'prom-client';
import { usedMemory } from '../queue/connection.ts';
import { activeKey, graphKeys, statsKey } from '../queue/keys.ts';
import { DEFAULT_POOL, poolQueue } from '../queue/dispatch.ts';
import { readDurations, TASK_SECONDS_BUCKETS } from '../queue/metrics.ts';
import { listWorkers } from '../queue/workers.ts';
import { requireOperator } from './plugins/auth.ts';
import { routeSchema } from './schemas.ts';

const JOB_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'failed'] as const;
const ENDED = ['done', 'failed', 'cancelled'] as const;

/**
 * The task duration histogram as summed in Redis by every worker. prom-client's
 * Histogram only counts observations made in this process, so this metric
 * gives the registry its values directly, in the shape its own get() has.
 */
class ClusterHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly read: () => Promise<{ counts: number[]; sum: number; count: number }>,
  ) {}

  async get(): Promise<{
    name: string;
    help: string;
    type: 'histogram';
    values: MetricValueWithName<string>[];
    aggregator: 'sum';
  }> {
    const { counts, sum, count } = await this.read();
    let cumulative = 0;
    const values: MetricValueWithName<string>[] = counts.map((n, i) => {
      cumulative += n;
      return {
        metricName: `${this.name}_bucket`,
        labels: { le: i < TASK_SECONDS_BUCKETS.length ? TASK_SECONDS_BUCKETS[i] : '+Inf' },
        value: cumulative,
      };
    });
    values.push(
      { metricName: `${this.name}_sum`, labels: {}, value: sum },
      { metricName: `${this.name}_count`, labels: {}, value: count },
    );
    return { name: this.name, help: this.help, type: 'histogram', values, aggregator: 'sum' };
  }

  reset(): void {}
}

async function metrics(app: FastifyInstance): Promise<void> {
  const { redis, config, queue, webhooks } = app.weft;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const httpSeconds = new Histogram({
    name: 'weft_http_request_duration_seconds',
    help: 'API request latency of this API process, by route pattern and status.',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  // Route patterns, not URLs, as labels: one series per route whatever the ids.
  app.addHook('onResponse', async (req, reply) => {
    httpSeconds.observe(
      { method: req.method, route: req.routeOptions.url ?? 'unmatched', status: reply.statusCode },
      reply.elapsedTime / 1000,
    );
  });

  /** Counters kept in P:stats, mirrored into the registry at each scrape. */
  const counter = (name: string, help: string, labelNames: string[] = []) =>
    new Counter({ name, help, labelNames, registers });
  const gauge = (name: string, help: string, labelNames: string[] = []) =>
    new Gauge({ name, help, labelNames, registers });
  const mirrored: [Counter, string, Record<string, string>?][] = [
    [
      counter('weft_tasks_started_total', 'Task starts (a task run again after a lost worker counts again).'),
      'tasks_started',
    ],
    [counter('weft_tasks_finished_total', 'Tasks completed (each task once).'), 'tasks_finished'],
    [counter('weft_tasks_failed_total', 'Tasks whose error failed their graph.'), 'tasks_failed'],
    [
      counter('weft_task_retries_total', 'Failed task runs handed back to run again (options.retries).'),
      'task_retries',
    ],
    [counter('weft_lineage_recomputes_total', 'Lost values computed again from their lineage.'), 'lineage_recomputes'],
    [counter('weft_graphs_submitted_total', 'Graphs registered.'), 'graphs_submitted'],
    [counter('weft_store_spilled_bytes_total', 'Bytes spilled to disk.'), 'spill_bytes_total'],
    [counter('weft_store_restored_bytes_total', 'Bytes read back from spill files.'), 'restored_bytes_total'],
    [counter('weft_cache_hits_total', 'Tasks answered by the result cache.'), 'cache_hits'],
    [counter('weft_cache_misses_total', 'Cacheable tasks the result cache did not know.'), 'cache_misses'],
    [counter('weft_webhook_deliveries_total', 'Webhook POSTs the receiver accepted.'), 'webhook_deliveries'],
    [counter('weft_webhook_failures_total', 'Webhook POSTs that failed (each is retried).'), 'webhook_failures'],
    [counter('weft_webhooks_failed_total', 'Webhooks given up after their last retry.'), 'webhooks_failed'],
  ];
  const graphsEnded = counter('weft_graphs_ended_total', 'Graphs that ended, by status.', ['status']);
  for (const status of ENDED) mirrored.push([graphsEnded, `graphs_${status}`, { status }]);

  const graphs = gauge('weft_graphs', 'Graphs not yet ended, by state.', ['state']);
  const queueJobs = gauge('weft_queue_jobs', 'BullMQ jobs by queue and state (a task job carries a bundle of tasks).', [
    'queue',
    'state',
  ]);
  const memory = gauge('weft_store_memory_bytes', 'Redis used_memory, the measure the store budget applies to.');
  const budget = gauge('weft_store_memory_budget_bytes', 'STORE_MEMORY_LIMIT.');
  const spilled = gauge('weft_store_spilled_bytes', 'Bytes of objects on disk now.');
  const spilledObjects = gauge('weft_store_spilled_objects', 'Objects on disk now.');
  const workers = gauge('weft_workers', 'Live worker processes (a heartbeat within WEFT_WORKER_TIMEOUT_MS).');
  const slots = gauge('weft_worker_slots', 'Jobs the live workers can run at once (sum of their concurrency).');
  const runningTasks = gauge(
    'weft_worker_running_tasks',
    'Tasks the live workers are running, as of their last heartbeat.',
  );
  registry.registerMetric(
    new ClusterHistogram(
      'weft_task_duration_seconds',
      'Run time of tasks (the op), summed over workers at each heartbeat.',
      () => readDurations(redis, config.prefix),
    ) as unknown as Histogram,
  );

  /** Reads the installation's figures from Redis and sets the mirrored series. */
  async function gather(): Promise<void> {
    const [stats, used, active, live, hookJobs] = await Promise.all([
      redis.hgetall(statsKey(config.prefix)),
      usedMemory(redis, config.prefix),
      redis.zrange(activeKey(config.prefix), 0, -1),
      listWorkers(redis, config.prefix, config.workerTimeoutMs),
      webhooks.queue.getJobCounts(...JOB_STATES),
    ]);
    // A queue per pool: the default one and those live workers serve.
    const pools = [...new Set([DEFAULT_POOL, ...live.flatMap((w) => w.pools)])];
    const poolJobs = await Promise.all(pools.map((pool) => queue.queue(pool).getJobCounts(...JOB_STATES)));
    const n = (field: string) => Math.max(0, Number(stats[field] ?? 0));
    for (const [metric, field, labels] of mirrored) {
      if (labels) metric.remove(labels);
      else metric.reset();
      metric.inc(labels ?? {}, n(field));
    }
    const byState = { queued: 0, running: 0 };
    const stale: string[] = [];
    if (active.length > 0) {
      const pipe = redis.pipeline();
      for (const id of active) pipe.hget(graphKeys(config.prefix, id).meta, 'status');
      const rows = (await pipe.exec()) ?? [];
      active.forEach((id, i) => {
        const status = rows[i][1] as string | null;
        if (status === 'queued' || status === 'running') byState[status]++;
        else stale.push(id); // expired, or ended by a path that left it listed
      });
      if (stale.length > 0) await redis.zrem(activeKey(config.prefix), ...stale);
    }
    for (const [state, count] of Object.entries(byState)) graphs.set({ state }, count);
    const queues: [string, Record<string, number>][] = [
      ...pools.map((pool, i) => [poolQueue(pool), poolJobs[i]] as [string, Record<string, number>]),
      ['webhooks', hookJobs],
    ];
    for (const [name, counts] of queues) {
      for (const state of JOB_STATES) queueJobs.set({ queue: name, state }, counts[state] ?? 0);
    }
    memory.set(used);
    budget.set(config.storeMemoryLimit);
    spilled.set(n('spilled_bytes'));
    spilledObjects.set(n('spilled_objects'));
    workers.set(live.length);
    slots.set(live.reduce((s, w) => s + w.concurrency, 0));
    runningTasks.set(live.reduce((s, w) => s + w.running, 0));
  }

  app.get('/metrics', { schema: routeSchema('metrics') }, async (req, reply) => {
    requireOperator(req, config);
    await gather();
    return reply.type(registry.contentType).send(await registry.metrics());
  });
}

export default fp(metrics, { name: 'weft-metrics', dependencies: ['weft-services', 'weft-auth'] });
