/**
 * Submitting a graph: everything POST /v1/graphs does between the request
 * body and the answer, in one place the route calls and a test can call
 * without HTTP. The steps, in order; each may refuse the graph:
 *
 *    1. the request's shape: a graph or layers, not both
 *    2. parse the graph and its keys (src/graph/parse.ts)
 *    3. may the tenant run foreign code? (`$call`, WEFT_CODE_TENANTS);
 *       `persist` is not given with `wait`
 *    4. webhook and presubmit URLs are public addresses (src/net/targets.ts)
 *    5. plan, once: check, cull, fuse, number (src/graph/plan.ts), with an op
 *       catalogue fresh enough to know the graph's ops
 *    6. the objects of other graphs it uses exist (unknown_object)
 *    7. admission: the tenant's graphs in flight (too_many_graphs), here
 *       for a graph that asks the cache or a presubmit hook; any other is
 *       admitted by its registration in step 9 (openGraph, in the same round
 *       trip for a graph of one chunk)
 *    8. values known before it runs: the result cache and the presubmit hook
 *       (known.ts), after every refusal, so a refused graph calls no hook;
 *       the graph keeps its admission meanwhile, so it cannot be refused
 *       for room after the hook answered. The hook holds it one deadline
 *       at most (the request's presubmit.timeout_ms, for all chunks)
 *    9. register the graph and its webhooks (graphs.ts, webhooks.ts)
 *   10. wait for it to end, when asked (finished.ts)
 *
 * Nothing is written before step 7; an admission whose graph is not then
 * registered is taken back, and a graph refused in step 9 leaves nothing.
 */
import type { Config } from '../config.ts';
import { OPERATOR_TENANT } from '../config.ts';
import { hasForeignCall } from '../graph/languages.ts';
import { PackedGraph, parsePackedGraph } from '../graph/graph-packed.ts';
import { GraphText, parseGraphText, splitGraphBody } from '../graph/graph-text.ts';
import { parseGraph, parseKeys, parseLayers } from '../graph/parse.ts';
import { planGraph, type ObjectField, type OutputSpec, type Plan, type PlanOptions } from '../graph/plan.ts';
import { graphTaskDefaults } from '../graph/task.ts';
import { wideGraph } from '../graph/wide.ts';
import { opsOf } from '../graph/template.ts';
import type { Graph } from '../graph/graph.ts';
import { defaultLimits, type GraphLimits, type KeySpec } from '../graph/types.ts';
import { checkTarget } from '../net/targets.ts';
import type { components } from '../shared/openapi-types.ts';
import type { RequestContext } from '../store/tenants.ts';
import type { FinishWatcher } from './finished.ts';
import { newGraphId, oidTree, type GraphStore } from './graphs.ts';
import { resolveKnownValues, type KnownValues } from './known.ts';
import type { ObjectStore } from './objects.ts';
import type { ScriptedRedis } from './scripts.ts';
import { HashFields } from './hash-fields.ts';
import { addSpecField } from './spec.ts';
import type { Webhooks } from './webhooks.ts';
import type { OpCatalog } from './workers.ts';

export type GraphRequest = components['schemas']['GraphRequest'];

/** Tasks of the graph `rehearse` plans at start. */
const REHEARSAL_TASKS = 20_000;
/**
 * Small graphs `rehearse` plans at start: data alone, and a few tasks on a data
 * key that fuse into one (the shapes of most small graphs clients send).
 */
const SMALL_REHEARSALS = [
  { graph: { a: [1, 2] }, keys: ['a'] },
  {
    graph: {
      a: 1,
      b: { $op: 'inc', args: [{ $ref: 'a' }] },
      c: { $op: 'add', args: [{ $ref: 'b' }, 10] },
      d: { $op: 'sum', args: [[{ $ref: 'a' }, { $ref: 'c' }]] },
    },
    keys: 'd',
  },
];

/** Why a submission was refused, with the API's error code and the data the client needs. */
export class SubmissionError extends Error {
  override readonly name = 'SubmissionError';
  constructor(
    readonly code: 'invalid_request' | 'code_forbidden' | 'unknown_object' | 'too_many_graphs',
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** What submitting needs of the service. */
export interface SubmitServices {
  config: Pick<
    Config,
    | 'prefix'
    | 'maxKeyBytes'
    | 'maxTasks'
    | 'maxValueBytes'
    | 'maxGraphsInFlight'
    | 'resultTtl'
    | 'allowPrivateTargets'
    | 'tokens'
    | 'codeTenants'
  >;
  redis: ScriptedRedis;
  graphs: GraphStore;
  objects: ObjectStore;
  ops: OpCatalog;
  webhooks: Webhooks;
  finished: FinishWatcher;
}

/** A registered graph: its id and its outputs (futures), and the fields of its output values (to read its result). */
export interface Submitted {
  id: string;
  outputs: components['schemas']['Outputs'];
  outputFields: ObjectField[];
  /** The requested keys' shape, over `outputFields`. */
  outputSpec: OutputSpec;
  /**
   * When the graph was waited for and ended done with a small result: the
   * stored bytes of its output values, by `outputFields` (carried by the
   * finish notification, or the graph's own data), so the answer needs no read.
   */
  doneValues?: Buffer[];
}

export class GraphSubmitter {
  constructor(private readonly s: SubmitServices) {}

  /**
   * Submits a graph for `request`'s tenant: from the request body to a
   * registered graph (ended, when `wait` asked for it and it ended in time).
   * `binary`: the body was MessagePack, so literals may be binary values.
   * The body's `graph` (or `layers`) is taken out of it once parsed.
   */
  async submit(request: RequestContext, body: GraphRequest, options: { binary?: boolean } = {}): Promise<Submitted> {
    const plan = await this.planRequest(request, body, options.binary ?? false);
    await this.checkObjectsExist(request, plan);
    const id = newGraphId();
    // A graph of data alone is done once registered: its values are at hand. It is never queued or
    // running, so it takes no place among its tenant's graphs in flight, and costs no admission.
    const dataOnly = plan.taskCount === 0;
    // A graph that asks the result cache or a presubmit hook is admitted before they are asked (a refused
    // graph calls no hook); any other is admitted by its registration, a round trip fewer (openGraph).
    const admitFirst = !dataOnly && (body.presubmit !== undefined || body.options?.cache === true);
    if (admitFirst) await this.admit(request, id);
    let known: KnownValues;
    const ttl = body.ttl ?? (body.persist ? 0 : this.s.config.resultTtl);
    // Listening before registering: the graph cannot end unnoticed in between.
    const watch = body.wait && !dataOnly ? this.s.finished.watch(id) : undefined;
    let doneValues: Buffer[] | undefined;
    try {
      try {
        known = await this.knownValues(request, id, plan, body);
        const registered = await this.s.graphs.register(request, known.plan, {
          id,
          ttl,
          cache: known.cache,
          counts: known.counts,
          maxValueBytes: this.s.config.maxValueBytes,
          admitLimit: dataOnly || admitFirst ? undefined : this.s.config.maxGraphsInFlight,
        });
        if (registered.refused) throw tooManyGraphs(this.s.config.maxGraphsInFlight);
        if (dataOnly && body.wait) doneValues = registered.values;
      } catch (err) {
        if (!dataOnly) await this.s.graphs.unadmit(request, id);
        throw err;
      }
      // Deliveries replay the events from the first, so starting them after registration misses none.
      if (body.callbacks?.length) await this.s.webhooks.register(id, body.callbacks, ttl);
      if (watch && body.wait && (await watch.ended(body.wait * 1000))) doneValues = watch.values;
    } finally {
      watch?.stop();
    }
    const { outputs, outputIndexes } = known.plan;
    return { id, outputs: oidTree(id, outputs), outputFields: outputIndexes, outputSpec: outputs, doneValues };
  }

  /**
   * Steps 1 to 5: the request's graph, checked and planned. Its own method so
   * that neither form of the graph outlives it: registration keeps only the
   * plan alive. Nothing reads the graph as sent again either, and the request
   * keeps its body until it is answered, so the graph is taken out of the
   * body once parsed: for a million tasks each form is millions of objects,
   * which every full collection would walk again (mark-compact pauses of
   * 4.3 s against 1.6 s in one in-process trial with the sent form kept).
   */
  private async planRequest(request: RequestContext, body: GraphRequest, binary: boolean): Promise<Plan> {
    const { graph, keys } = this.readRequest(request, body, binary);
    await this.checkTargets(body);
    return this.plan(graph, keys, body.options);
  }

  /** The request's graph parsed and its keys, checked as far as needs no I/O; the graph taken out of the body. */
  private readRequest(request: RequestContext, body: GraphRequest, binary: boolean): { graph: Graph; keys: KeySpec } {
    checkOneGraph(body);
    const graph = this.parse(body, binary);
    body.graph = undefined;
    body.layers = undefined;
    const keys = parseKeys(body.keys);
    this.checkMayRunCode(request, graph);
    checkPersistAlone(body);
    return { graph, keys };
  }

  /**
   * Plans and encodes small graphs and a graph of REHEARSAL_TASKS tasks
   * without registering them: the code every submission runs (reading,
   * checks, planning, spec encoding) is compiled by the JIT at start, so the
   * first big graph a client sends does not pay for it (measured: its
   * registration took twice as long as the third's). Writes nothing; the API
   * runs it before it listens.
   *
   * The big graph goes through twice: a function the first run compiles
   * during its one hot loop has no type feedback for the code after the loop,
   * and the first real graph would then throw that compiled code away and run
   * slowly until it is compiled again (a trace of the first 20,000-task graph
   * showed 16 such deoptimizations in parsing and planning).
   *
   * The small graphs go first, several times each: V8 gives a function its
   * type feedback only after a few calls, and code compiled during the big
   * graph's loops knew nothing of the branches only small graphs take (a data
   * key alone, a few fused tasks). Every small graph then left that compiled
   * code for the interpreter and kept it: a trace of 600 small computes and
   * 600 graphs of one data key showed about 5,300 deoptimizations in
   * `src/graph/plan.ts` (test/api-rehearsal.test.ts).
   */
  rehearse(): void {
    const { graph: wide, key } = wideGraph(REHEARSAL_TASKS);
    const small = SMALL_REHEARSALS.map((graph) => JSON.stringify(graph));
    const big = JSON.stringify({ graph: wide, keys: key });
    for (let run = 0; run < 8; run++) for (const text of small) this.rehearseOne(text);
    for (let run = 0; run < 2; run++) this.rehearseOne(big);
  }

  private rehearseOne(text: string): void {
    // The catalogue's own check, so the call sites compiled here stay right for real graphs.
    const isKnownOp = this.s.ops.isKnown;
    // Read as the graph route reads a JSON body (src/graph/graph-text.ts).
    const body = splitGraphBody(text) as GraphRequest;
    const { graph, keys } = this.readRequest({ tenant: OPERATOR_TENANT }, body, false);
    callsUnknownOp(graph, isKnownOp);
    // Whatever WEFT_MAX_TASKS says: the rehearsal's size is the code's, not a client's.
    const options = { ...this.planOptions(body.options, isKnownOp), maxTasks: Number.MAX_SAFE_INTEGER };
    const plan = planGraph(graph, keys, options);
    // Encoded as registration does, into the fields of an HSET that is never sent.
    const specs = new HashFields();
    plan.nodes.forEach((node, i) => {
      if (node.kind === 'task') addSpecField(specs, i, node, plan.dependents);
    });
  }

  private parse(body: GraphRequest, binary: boolean): Graph {
    const limits: GraphLimits = {
      ...defaultLimits,
      maxKeyBytes: this.s.config.maxKeyBytes,
      ...(binary ? { binary } : {}),
    };
    if (body.graph instanceof GraphText) return parseGraphText(body.graph, limits);
    if (body.graph instanceof PackedGraph) return parsePackedGraph(body.graph, limits);
    return body.graph !== undefined ? parseGraph(body.graph, limits) : parseLayers(body.layers, limits);
  }

  /** Without tokens everyone may (loopback only); with tokens, operators and the tenants in WEFT_CODE_TENANTS. */
  private checkMayRunCode(request: RequestContext, graph: Graph): void {
    const { tokens, codeTenants } = this.s.config;
    const may =
      tokens.size === 0 ||
      request.tenant === OPERATOR_TENANT ||
      codeTenants.has('*') ||
      codeTenants.has(request.tenant);
    if (!may && hasForeignCall(graph)) {
      throw new SubmissionError(
        'code_forbidden',
        "The graph calls foreign callables ($call), which run the submitter's code on the workers; this tenant may not submit them. An operator allows tenants with WEFT_CODE_TENANTS.",
        { tenant: request.tenant },
      );
    }
  }

  /** Webhook and presubmit URLs are checked before anything runs (and again when called: src/net/targets.ts). */
  private async checkTargets(body: GraphRequest): Promise<void> {
    const policy = { allowPrivate: this.s.config.allowPrivateTargets };
    const checks = (body.callbacks ?? []).map((c, i) => checkTarget(c.url, policy, `callbacks[${i}].url`));
    if (body.presubmit) checks.push(checkTarget(body.presubmit.url, policy, 'presubmit.url'));
    await Promise.all(checks);
  }

  /**
   * Plans the graph once. The op catalogue is a cache (a second old at most);
   * when the graph calls an op it does not know, it is read again first, as a
   * worker with new ops may just have started.
   */
  private async plan(graph: Graph, keys: KeySpec, options: GraphRequest['options']): Promise<Plan> {
    const { ops } = this.s;
    await ops.refreshIfOlderThan(1000);
    if (callsUnknownOp(graph, ops.isKnown)) await ops.refreshIfOlderThan(100);
    return planGraph(graph, keys, this.planOptions(options, ops.isKnown));
  }

  /** How a request's graph is planned: the options it gives, the service's limits. */
  private planOptions(options: GraphRequest['options'], isKnownOp: (op: string) => boolean): PlanOptions {
    return {
      isKnownOp,
      maxTasks: this.s.config.maxTasks,
      fuse: options?.optimize?.fuse ?? true,
      shuffle: options?.optimize?.shuffle ?? true,
      taskDefaults: graphTaskDefaults(options),
    };
  }

  /** A graph using objects that do not exist is refused before it runs (a release racing with this check fails the graph instead). */
  private async checkObjectsExist(request: RequestContext, plan: Plan): Promise<void> {
    const oids = new Set<string>();
    for (const node of plan.nodes) if (node.kind === 'task') for (const oid of node.objects) oids.add(oid);
    if (oids.size === 0) return;
    const states = await this.s.objects.states(request, [...oids]);
    const missing = [...oids].filter((_, i) => states[i] === null).slice(0, 20);
    if (missing.length === 0) return;
    throw new SubmissionError(
      'unknown_object',
      `The graph uses ${missing.length === 1 ? 'an object that does' : 'objects that do'} not exist (released, expired or never made): ${missing.join(', ')}.`,
      { objects: missing },
    );
  }

  private async admit(request: RequestContext, id: string): Promise<void> {
    const limit = this.s.config.maxGraphsInFlight;
    if (!(await this.s.graphs.admit(request, id, limit))) throw tooManyGraphs(limit);
  }

  private knownValues(request: RequestContext, id: string, plan: Plan, body: GraphRequest): Promise<KnownValues> {
    const { redis, config, ops } = this.s;
    return resolveKnownValues(
      {
        redis,
        prefix: config.prefix,
        ops,
        targets: { allowPrivate: config.allowPrivateTargets },
        maxValueBytes: config.maxValueBytes,
      },
      request,
      id,
      plan,
      { cache: body.options?.cache === true, presubmit: body.presubmit },
    );
  }
}

function tooManyGraphs(limit: number): SubmissionError {
  return new SubmissionError(
    'too_many_graphs',
    `This tenant already has ${limit} graphs queued or running (WEFT_MAX_GRAPHS_IN_FLIGHT); submit more when some have ended.`,
    { limit },
  );
}

function checkOneGraph(body: GraphRequest): void {
  if ((body.graph === undefined) === (body.layers === undefined))
    throw new SubmissionError(
      'invalid_request',
      'Give the graph as exactly one of "graph" (keys to nodes) or "layers" (a high-level graph).',
    );
}

function checkPersistAlone(body: GraphRequest): void {
  if (body.persist && body.wait)
    throw new SubmissionError(
      'invalid_request',
      'persist answers as soon as the graph is registered; leave out "wait" (fetch results with GET /v1/objects/{oid}?wait=...).',
    );
}

/** Whether the graph calls an op the catalogue does not know (as of its last refresh). */
function callsUnknownOp(graph: Graph, isKnown: (op: string) => boolean): boolean {
  const ops = new Set<string>();
  for (const node of graph.values()) opsOf(node, ops);
  return [...ops].some((op) => !isKnown(op));
}
