/**
 * Values known before a graph runs, so their tasks never run: results in the
 * result cache (options.cache, keyed by task fingerprint) and the answers of
 * a presubmit hook (the seed's ray_presubmit: a returned value replaces the
 * task). Both are looked up once, for all tasks, at submission.
 */
import type { Redis } from 'ioredis';
import { plannedTemplate, type Plan } from '../graph/plan.ts';
import { withKnownValues, type KnownValue } from '../graph/known.ts';
import { rootOp } from '../graph/template.ts';
import { fingerprints, templateOps } from '../graph/fingerprint.ts';
import { postJson, type TargetPolicy } from '../net/targets.ts';
import { encodeValue } from '../shared/codec.ts';
import type { RequestContext } from '../store/tenants.ts';
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
    if (
      node.kind === 'task' &&
      node.returns === undefined &&
      [...templateOps(plannedTemplate(node))].every(isDeterministic)
    )
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

/** Tasks one presubmit request asks about. */
const PRESUBMIT_CHUNK = 1000;
/**
 * Presubmit requests in flight at once. Each chunk's request may take the
 * whole deadline, so in sequence a big graph would be asked about its first
 * chunks only; a few at once reach the rest, while a hook is not flooded (a
 * graph of the maximum 2,000,000 tasks makes 2,000 requests) and the answers
 * read at once stay few (each up to PRESUBMIT_ANSWER_BYTES). Each request in
 * flight listens on the phase's deadline signal: kept under 10, Node warns
 * of no listener leak (MaxListenersExceededWarning).
 */
export const PRESUBMIT_CONCURRENCY = 8;
/** The presubmit phase's deadline when the request gives no `timeout_ms`. */
const PRESUBMIT_DEADLINE_MS = 2000;

/**
 * Asks the presubmit hook about the tasks, 1,000 per request: POST
 * {graph, tasks: [{key, op, fingerprint}]}, answered by {values: {key: value}}.
 * The requests go PRESUBMIT_CONCURRENCY at a time, and `timeout_ms` is the
 * deadline of them all together, not of each: past it the requests still
 * waiting are given up and the chunks not yet asked are not asked, so a hook
 * that never answers holds a submission once, however big its graph.
 * A key answered with null, or not at all (in time), runs as usual; a hook
 * that fails, times out, answers nonsense or is refused as a target
 * (src/net/targets.ts) answers nothing (never fails the graph), and so does a
 * value over `maxValueBytes` (the task runs instead).
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
  const deadline = AbortSignal.timeout(hook.timeout_ms ?? PRESUBMIT_DEADLINE_MS);
  const describe = (i: number) => {
    const node = plan.nodes[i];
    return { key: node.key, op: node.kind === 'task' ? rootOp(plannedTemplate(node)) : null, fingerprint: fps[i] };
  };
  const ask = async (chunk: number[]): Promise<void> => {
    try {
      const res = await postJson(hook.url, JSON.stringify({ graph, tasks: chunk.map(describe) }), {
        signal: deadline,
        maxResponseBytes: PRESUBMIT_ANSWER_BYTES,
        policy: limits.targets,
        what: 'presubmit.url',
      });
      if (res.status < 200 || res.status > 299 || deadline.aborted) return;
      const values = (JSON.parse(res.body.toString('utf8')) as { values?: Record<string, unknown> }).values;
      if (!values || typeof values !== 'object') return;
      for (const i of chunk) {
        const key = plan.nodes[i].key;
        if (!Object.hasOwn(values, key) || values[key] === null || values[key] === undefined) continue;
        const encoded = encodeValue(values[key]);
        if (encoded.length <= limits.maxValueBytes) answers.set(i, encoded);
      }
    } catch {
      // No answer: the tasks run.
    }
  };
  let next = 0;
  // Each lane asks about one chunk after another until none is left or the deadline has passed.
  const lane = async (): Promise<void> => {
    while (next < tasks.length && !deadline.aborted) {
      const chunk = tasks.slice(next, next + PRESUBMIT_CHUNK);
      next += chunk.length;
      await ask(chunk);
    }
  };
  const lanes = Math.min(PRESUBMIT_CONCURRENCY, Math.ceil(tasks.length / PRESUBMIT_CHUNK));
  // The deadline ends the phase even if a request fails to notice it; an
  // answer read after it is dropped (above), so what is returned stays as is.
  let passed!: () => void;
  const deadlinePassed = new Promise<void>((resolve) => (passed = resolve));
  deadline.addEventListener('abort', passed, { once: true });
  try {
    await Promise.race([Promise.all(Array.from({ length: lanes }, lane)), deadlinePassed]);
  } finally {
    deadline.removeEventListener('abort', passed);
  }
  return answers;
}

export interface KnownValuesContext {
  redis: Redis;
  prefix: string;
  ops: { versionOf: (op: string) => string; isDeterministic: (op: string) => boolean };
  targets: TargetPolicy;
  maxValueBytes: number;
}

/** What a submission looks up, and what it found. */
export interface KnownValues {
  /** The plan to register: known tasks replaced by data, what only they needed dropped. */
  plan: Plan;
  /** Task index -> the name its result is cached under (options.cache). */
  cache?: Map<number, string>;
  /** For the postsubmit_all event: cache_hits, cache_misses, presubmitted. */
  counts?: Record<string, number>;
}

/**
 * Tasks whose values are known before the graph runs never run: cached
 * results (`cache`) and presubmit answers become data, and what only they
 * needed is dropped too (withKnownValues, src/graph/known.ts). Fingerprints
 * are computed once, on the plan as given: a task that remains keeps its own.
 * Each tenant has its own result cache (`request`), so no one learns what
 * another computed; the hook sees plain fingerprints.
 */
export async function resolveKnownValues(
  ctx: KnownValuesContext,
  request: RequestContext,
  graphId: string,
  plan: Plan,
  ask: { cache: boolean; presubmit?: Presubmit },
): Promise<KnownValues> {
  if (!ask.cache && !ask.presubmit) return { plan };
  const ns = request.tenant ? `${request.tenant}/` : '';
  const fps = fingerprints(plan, ctx.ops.versionOf);
  const known = new Map<number, KnownValue>();
  const counts: Record<string, number> = {};
  const cacheable = ask.cache ? cacheableTasks(plan, ctx.ops.isDeterministic) : [];
  if (ask.cache) {
    const hits = await lookupCache(
      ctx.redis,
      ctx.prefix,
      cacheable,
      fps.map((f) => ns + f),
    );
    for (const [i, encoded] of hits) known.set(i, { encoded, fingerprint: fps[i] });
    counts.cache_hits = hits.size;
    counts.cache_misses = cacheable.length - hits.size;
    await ctx.redis
      .multi()
      .hincrby(statsKey(ctx.prefix), 'cache_hits', counts.cache_hits)
      .hincrby(statsKey(ctx.prefix), 'cache_misses', counts.cache_misses)
      .exec();
  }
  if (ask.presubmit) {
    const tasks = plan.nodes.flatMap((n, i) => (n.kind === 'task' && !known.has(i) ? [i] : []));
    const answers = await askPresubmit(ask.presubmit, graphId, plan, tasks, fps, ctx);
    // A multiple-return task's values are not one value: an answer for it is not taken.
    for (const [i, encoded] of answers) if (!isMultipleReturn(plan, i)) known.set(i, { encoded, fingerprint: fps[i] });
    counts.presubmitted = known.size - (counts.cache_hits ?? 0);
  }
  const { plan: final, oldToNew } = withKnownValues(plan, known);
  if (!ask.cache) return { plan: final, counts };
  const cache = new Map<number, string>();
  for (const i of cacheable) if (!known.has(i) && oldToNew[i] >= 0) cache.set(oldToNew[i], ns + fps[i]);
  return { plan: final, counts, cache };
}

function isMultipleReturn(plan: Plan, index: number): boolean {
  const node = plan.nodes[index];
  return node.kind === 'task' && node.returns !== undefined;
}
