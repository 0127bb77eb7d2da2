/**
 * Values known before a graph runs, so their tasks never run: results in the
 * result cache (options.cache, keyed by task fingerprint) and the answers of
 * a presubmit hook (the seed's ray_presubmit: a returned value replaces the
 * task). Both are looked up once, for all tasks, at submission.
 */
import type { Redis } from 'ioredis';
import type { Plan } from '../graph/plan.ts';
import type { Graph } from '../graph/types.ts';
import { rootOp } from '../graph/template.ts';
import { fingerprints, templateOps } from '../graph/fingerprint.ts';
import { postJson, type TargetPolicy } from '../net/targets.ts';
import { encodeValue } from '../shared/codec.ts';
import type { components } from '../shared/openapi-types.ts';
import { cacheKey, statsKey } from './keys.ts';

/** Largest answer read from a presubmit hook (one request asks about 1,000 tasks). */
const PRESUBMIT_ANSWER_BYTES = 256 * 1024 * 1024;

/** The presubmit hook of a request. */
export type Presubmit = NonNullable<components['schemas']['GraphRequest']['presubmit']>;

/** Tasks whose results may be cached: one value, deterministic ops only. */
export function cacheableTasks(plan: Plan, isDeterministic: (op: string) => boolean): number[] {
  const out: number[] = [];
  plan.nodes.forEach((node, i) => {
    if (node.kind === 'task' && node.returns === undefined && [...templateOps(node.template)].every(isDeterministic))
      out.push(i);
  });
  return out;
}

/** Cached results of the given tasks, by task index. */
export async function lookupCache(
  redis: Redis,
  prefix: string,
  tasks: number[],
  fps: string[],
): Promise<Map<number, Buffer>> {
  const hits = new Map<number, Buffer>();
  for (let at = 0; at < tasks.length; at += 1000) {
    const chunk = tasks.slice(at, at + 1000);
    const values = await redis.mgetBuffer(...chunk.map((i) => cacheKey(prefix, fps[i])));
    values.forEach((v, j) => v && hits.set(chunk[j], v));
  }
  return hits;
}

/**
 * Asks the presubmit hook about the tasks, 1,000 per request: POST
 * {graph, tasks: [{key, op, fingerprint}]}, answered by {values: {key: value}}.
 * A key answered with null, or not at all, runs as usual; a hook that fails,
 * times out, answers nonsense or is refused as a target (src/net/targets.ts)
 * answers nothing (never fails the graph), and so does a value over
 * `maxValueBytes` (the task runs instead).
 */
export async function askPresubmit(
  hook: Presubmit,
  graph: string,
  plan: Plan,
  tasks: number[],
  fps: string[],
  limits: { targets: TargetPolicy; maxValueBytes: number },
): Promise<Map<number, Buffer>> {
  const answers = new Map<number, Buffer>();
  for (let at = 0; at < tasks.length; at += 1000) {
    const chunk = tasks.slice(at, at + 1000);
    const describe = (i: number) => {
      const node = plan.nodes[i];
      return { key: node.key, op: node.kind === 'task' ? rootOp(node.template) : null, fingerprint: fps[i] };
    };
    const body = JSON.stringify({ graph, tasks: chunk.map(describe) });
    try {
      const res = await postJson(hook.url, body, {
        timeoutMs: hook.timeout_ms ?? 2000,
        maxResponseBytes: PRESUBMIT_ANSWER_BYTES,
        policy: limits.targets,
        what: 'presubmit.url',
      });
      if (res.status < 200 || res.status > 299) continue;
      const values = (JSON.parse(res.body.toString('utf8')) as { values?: Record<string, unknown> }).values;
      if (!values || typeof values !== 'object') continue;
      for (const i of chunk) {
        const key = plan.nodes[i].key;
        if (!Object.hasOwn(values, key) || values[key] === null || values[key] === undefined) continue;
        const encoded = encodeValue(values[key]);
        if (encoded.length <= limits.maxValueBytes) answers.set(i, encoded);
      }
    } catch {
      // No answer: the tasks run.
    }
  }
  return answers;
}

export interface KnownValuesContext {
  redis: Redis;
  prefix: string;
  ops: { versionOf: (op: string) => string; isDeterministic: (op: string) => boolean };
  /** Plans the graph again (same keys and options) around the known values. */
  replan: (graph: Graph) => Plan;
  /** The tenant: each tenant has its own result cache, so no one learns what another computed. */
  tenant?: string;
  targets: TargetPolicy;
  maxValueBytes: number;
}

/**
 * Tasks whose values are known before the graph runs never run: cached
 * results (`cache`) and presubmit answers become data, and the graph is
 * planned again around them (so what only they needed is culled too).
 * Returns the plan to register, the fingerprints under which the remaining
 * cacheable results are to be stored, and counts for the postsubmit_all event.
 */
export async function resolveKnownValues(
  ctx: KnownValuesContext,
  graphId: string,
  graph: Graph,
  plan: Plan,
  ask: { cache: boolean; presubmit?: Presubmit },
): Promise<{ plan: Plan; cache?: Map<number, string>; counts?: Record<string, number> }> {
  if (!ask.cache && !ask.presubmit) return { plan };
  // Cache entries are named by tenant and fingerprint; the hook sees plain fingerprints.
  const ns = ctx.tenant ? `${ctx.tenant}/` : '';
  const fps = fingerprints(plan, ctx.ops.versionOf);
  const known = new Map<number, Buffer>();
  const counts: Record<string, number> = {};
  if (ask.cache) {
    const cacheable = cacheableTasks(plan, ctx.ops.isDeterministic);
    for (const [i, bytes] of await lookupCache(
      ctx.redis,
      ctx.prefix,
      cacheable,
      fps.map((f) => ns + f),
    ))
      known.set(i, bytes);
    counts.cache_hits = known.size;
    counts.cache_misses = cacheable.length - known.size;
    await ctx.redis
      .multi()
      .hincrby(statsKey(ctx.prefix), 'cache_hits', counts.cache_hits)
      .hincrby(statsKey(ctx.prefix), 'cache_misses', counts.cache_misses)
      .exec();
  }
  if (ask.presubmit) {
    const tasks = plan.nodes.flatMap((n, i) => (n.kind === 'task' && !known.has(i) ? [i] : []));
    const answers = await askPresubmit(ask.presubmit, graphId, plan, tasks, fps, ctx);
    counts.presubmitted = answers.size;
    for (const [i, bytes] of answers) known.set(i, bytes);
  }
  if (known.size > 0) {
    const rewritten: Graph = new Map(graph);
    for (const [i, encoded] of known) rewritten.set(plan.nodes[i].key, { kind: 'known', encoded, fingerprint: fps[i] });
    plan = ctx.replan(rewritten);
  }
  if (!ask.cache) return { plan, counts };
  const after = fingerprints(plan, ctx.ops.versionOf);
  return { plan, counts, cache: new Map(cacheableTasks(plan, ctx.ops.isDeterministic).map((i) => [i, ns + after[i]])) };
}
