/** Routes of /v1/graphs: submit, status, result, cancel. */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { parseGraph, parseKeys, parseLayers } from '../../graph/parse.ts';
import { GraphError } from '../../graph/errors.ts';
import { planGraph, type ObjectField, type Plan, type PlanOptions } from '../../graph/plan.ts';
import { checkTarget } from '../../net/targets.ts';
import { resolveKnownValues } from '../../queue/known.ts';
import { defaultLimits, type Graph, type GraphLimits, type KeySpec } from '../../graph/types.ts';
import { newGraphId, oidTree, type GraphInfo, type GraphStatus } from '../../queue/graphs.ts';
import { decodeValue, encodeValue } from '../../shared/codec.ts';
import { jsonReplacer } from '../../store/values.ts';
import { hasForeignCall } from '../../graph/languages.ts';
import { graphTaskDefaults } from '../../graph/task.ts';
import { OPERATOR_TENANT } from '../../config.ts';
import { ApiError } from '../errors.ts';
import { routeSchema } from '../schemas.ts';
import type { components } from '../../shared/openapi-types.ts';

type GraphRequest = components['schemas']['GraphRequest'];
type GraphOutcome = components['schemas']['GraphOutcome'];

const ENDED = new Set(['done', 'failed', 'cancelled']);
const MSGPACK = 'application/msgpack';

export default async function graphRoutes(app: FastifyInstance): Promise<void> {
  const { graphs, tasks, finished, ops, config, objects, webhooks, redis, servedPools } = app.weft;
  const jsonLimits: GraphLimits = { ...defaultLimits, maxKeyBytes: config.maxKeyBytes };
  const binaryLimits: GraphLimits = { ...jsonLimits, binary: true };

  /** Answers with a graph's outcome: its result when done, its error when failed or cancelled. */
  async function outcome(reply: FastifyReply, id: string, knownOutputs?: ObjectField[]): Promise<FastifyReply> {
    const found = await graphs.outcome(id, reply.request.tenant, knownOutputs);
    if (!found) throw notFound(id);
    const { info, result } = found;
    const body: GraphOutcome = { id, status: info.status, outputs: info.outputs };
    if (info.status === 'done') body.result = result;
    if (info.error) body.error = info.error;
    const status = ENDED.has(info.status) ? 200 : 202;
    // Arrays and frames stay binary for clients that read MessagePack (the SDKs do).
    if (reply.request.headers.accept?.includes(MSGPACK))
      return reply.code(status).type(MSGPACK).send(encodeValue(body));
    return sendJson(reply, status, body);
  }

  /** Plans with the cached op catalogue; an unknown op is looked up once more before the graph is rejected. */
  function planOptions(options: GraphRequest['options']): PlanOptions {
    return {
      isKnownOp: ops.isKnown,
      maxTasks: config.maxTasks,
      fuse: options?.optimize?.fuse ?? true,
      shuffle: options?.optimize?.shuffle ?? true,
      taskDefaults: graphTaskDefaults(options),
    };
  }

  async function planWithFreshOps(graph: Graph, keys: KeySpec, options: GraphRequest['options']): Promise<Plan> {
    await ops.refreshIfOlderThan(1000);
    try {
      return planGraph(graph, keys, planOptions(options));
    } catch (err) {
      if (!(err instanceof GraphError && err.code === 'unknown_op') || !(await ops.refreshIfOlderThan(100))) throw err;
      return planGraph(graph, keys, planOptions(options));
    }
  }

  /** A graph using objects that do not exist is rejected before it runs (a release racing with this check fails the graph instead). */
  async function checkObjectsExist(plan: Plan, tenant: string): Promise<void> {
    const oids = new Set<string>();
    for (const node of plan.nodes) if (node.kind === 'task') for (const oid of node.objects) oids.add(oid);
    if (oids.size === 0) return;
    const states = await objects.states([...oids], tenant);
    const missing = [...oids].filter((_, i) => states[i] === null);
    if (missing.length > 0) {
      throw new ApiError(
        'unknown_object',
        `The graph uses ${missing.length === 1 ? 'an object that does' : 'objects that do'} not exist (released, expired or never made): ${missing.slice(0, 20).join(', ')}.`,
        { objects: missing.slice(0, 20) },
      );
    }
  }

  /** Without tokens everyone may (loopback only); with tokens, operators and the tenants in WEFT_CODE_TENANTS. */
  function mayRunCode(tenant: string): boolean {
    if (config.tokens.size === 0 || tenant === OPERATOR_TENANT) return true;
    return config.codeTenants.has('*') || config.codeTenants.has(tenant);
  }

  /** Webhook and presubmit URLs are checked before anything runs (and again when called: src/net/targets.ts). */
  async function checkTargets(body: GraphRequest): Promise<void> {
    const policy = { allowPrivate: config.allowPrivateTargets };
    const checks = (body.callbacks ?? []).map((c, i) => checkTarget(c.url, policy, `callbacks[${i}].url`));
    if (body.presubmit) checks.push(checkTarget(body.presubmit.url, policy, 'presubmit.url'));
    await Promise.all(checks);
  }

  // A MessagePack body is the same request, with binary literals (bytes, arrays, partitions, foreign values).
  app.addContentTypeParser(MSGPACK, { parseAs: 'buffer' }, (_req, body, done) => {
    try {
      done(null, decodeValue(body as Buffer));
    } catch (err) {
      done(new ApiError('invalid_msgpack', `The body is not valid MessagePack: ${(err as Error).message}`), undefined);
    }
  });

  app.post<{ Body: GraphRequest }>('/v1/graphs', { schema: routeSchema('submitGraph') }, async (req, reply) => {
    const body = req.body;
    const limits = req.headers['content-type']?.startsWith(MSGPACK) ? binaryLimits : jsonLimits;
    if ((body.graph === undefined) === (body.layers === undefined)) {
      throw new ApiError(
        'invalid_request',
        'Give the graph as exactly one of "graph" (keys to nodes) or "layers" (a high-level graph).',
      );
    }
    const graph: Graph = body.graph !== undefined ? parseGraph(body.graph, limits) : parseLayers(body.layers, limits);
    const keys = parseKeys(body.keys);
    if (!mayRunCode(req.tenant) && hasForeignCall(graph)) {
      throw new ApiError(
        'code_forbidden',
        "The graph calls foreign callables ($call), which run the submitter's code on the workers; this tenant may not submit them. An operator allows tenants with WEFT_CODE_TENANTS.",
        { tenant: req.tenant },
      );
    }
    const id = newGraphId();
    if (body.persist && body.wait)
      throw new ApiError(
        'invalid_request',
        'persist answers as soon as the graph is registered; leave out "wait" (fetch results with GET /v1/objects/{oid}?wait=...).',
      );
    await checkTargets(body);
    const { plan, cache, counts } = await resolveKnownValues(
      {
        redis,
        prefix: config.prefix,
        ops,
        replan: (g) => planGraph(g, keys, planOptions(body.options)),
        tenant: req.tenant,
        targets: { allowPrivate: config.allowPrivateTargets },
        maxValueBytes: config.maxValueBytes,
      },
      id,
      graph,
      await planWithFreshOps(graph, keys, body.options),
      { cache: body.options?.cache === true, presubmit: body.presubmit },
    );
    await checkObjectsExist(plan, req.tenant);
    if (!(await graphs.admit(id, req.tenant, config.maxGraphsInFlight))) {
      throw new ApiError(
        'too_many_graphs',
        `This tenant already has ${config.maxGraphsInFlight} graphs queued or running (WEFT_MAX_GRAPHS_IN_FLIGHT); submit more when some have ended.`,
        { limit: config.maxGraphsInFlight },
      );
    }
    // Listening before registering: the graph cannot end unnoticed in between.
    const watch = body.wait ? finished.watch(id) : undefined;
    const ttl = body.ttl ?? (body.persist ? 0 : config.resultTtl);
    try {
      try {
        await graphs.register(plan, {
          id,
          ttl,
          cache,
          counts,
          tenant: req.tenant,
          maxValueBytes: config.maxValueBytes,
        });
      } catch (err) {
        await graphs.unadmit(id, req.tenant);
        throw err;
      }
      // Deliveries replay the events from the first, so starting them after registration misses none.
      if (body.callbacks?.length) await webhooks.register(id, body.callbacks, ttl);
      if (watch) await watch.ended(body.wait! * 1000);
    } finally {
      watch?.stop();
    }
    // A persisted graph's answer is its futures, never its values (they may be big): 202 whatever the status.
    if (body.persist)
      return sendJson(reply, 202, {
        id,
        status: (await graphs.status(id, req.tenant)) ?? 'queued',
        outputs: oidTree(id, plan.outputs),
      });
    return outcome(reply, id, plan.outputIndexes);
  });

  app.get<{ Querystring: { limit?: number; status?: GraphStatus } }>(
    '/v1/graphs',
    { schema: routeSchema('listGraphs') },
    async (req) => ({
      graphs: await graphs.list(req.query.limit ?? 50, req.tenant, req.query.status),
    }),
  );

  app.get<{ Params: { id: string } }>('/v1/graphs/:id', { schema: routeSchema('getGraph') }, async (req, reply) => {
    const found = await graphs.infoAndPools(req.params.id, req.tenant);
    if (!found) throw notFound(req.params.id);
    const { info, pools } = found;
    if (info.status === 'queued' || info.status === 'running') {
      const served = await servedPools.get();
      const waiting = pools.filter((p) => !served.has(p));
      if (waiting.length > 0) info.waiting_for_pools = waiting;
    }
    return sendJson(reply, 200, info);
  });

  app.get<{ Params: { id: string }; Querystring: { wait?: number } }>(
    '/v1/graphs/:id/result',
    { schema: routeSchema('getGraphResult') },
    async (req, reply) => {
      const { id } = req.params;
      if (!(await graphs.status(id, req.tenant))) throw notFound(id);
      const wait = req.query.wait ?? 0;
      if (wait > 0)
        await finished.wait(id, wait * 1000, async () => ENDED.has((await graphs.status(id, req.tenant)) ?? 'done'));
      return outcome(reply, id);
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/v1/graphs/:id',
    { schema: routeSchema('cancelGraph') },
    async (req, reply) => {
      const { id } = req.params;
      if (!(await graphs.status(id, req.tenant))) throw notFound(id);
      await tasks.end(id, 'cancelled', {
        code: 'cancelled',
        message: 'The graph was cancelled by a client (DELETE /v1/graphs/{id}).',
      });
      const info = (await graphs.info(id, req.tenant)) as GraphInfo;
      return sendJson(reply, 200, info);
    },
  );
}

function notFound(id: string): ApiError {
  return new ApiError(
    'graph_not_found',
    `No graph has id ${JSON.stringify(id)}: it never existed, or its retention time passed.`,
    { id },
  );
}

/** Results may hold typed arrays and bytes, which need the value codec's JSON form. */
function sendJson(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.code(status).type('application/json; charset=utf-8').send(JSON.stringify(body, jsonReplacer));
}
