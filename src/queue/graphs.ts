/**
 * The graph side of the scheduling state: registering a planned graph in
 * Redis, reading its status and result, cancelling it. Used by the API.
 *
 * Registration writes the graph's hashes in pipelined chunks and its meta hash
 * last: until the meta hash exists the graph is invisible, so a failure half
 * way leaves nothing behind (the partial keys are deleted).
 */
import { randomBytes } from 'node:crypto';
import type { Plan, OutputSpec } from '../graph/plan.ts';
import { encodeValue } from '../store/codec.ts';
import { objectId, ObjectStore } from '../store/objects.ts';
import type { TaskQueue } from './dispatch.ts';
import { finishedChannel, graphKeys } from './keys.ts';
import type { ScriptedRedis } from './scripts.ts';
import { encodeSpec } from './spec.ts';

export type GraphStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

export interface GraphInfo {
  id: string;
  status: GraphStatus;
  progress: { total: number; done: number; running: number; failed: number };
  outputs: unknown;
  error: unknown;
  created: number;
  started: number | null;
  finished: number | null;
}

export type Oid = { $oid: string };

/** Nodes written per pipelined round trip while registering. */
const REGISTER_CHUNK = 5000;

export function newGraphId(): string {
  return randomBytes(16).toString('base64url');
}

export class GraphStore {
  private readonly objects: ObjectStore;

  constructor(
    private readonly redis: ScriptedRedis,
    private readonly prefix: string,
    private readonly queue: TaskQueue,
  ) {
    this.objects = new ObjectStore(redis, prefix);
  }

  async register(plan: Plan, options: { ttl: number }): Promise<{ id: string; outputs: unknown }> {
    const id = newGraphId();
    const k = graphKeys(this.prefix, id);
    const pinned = new Set(plan.outputIndexes);
    try {
      for (let start = 0; start < plan.nodes.length; start += REGISTER_CHUNK) {
        const pipe = this.redis.pipeline();
        const spec: (string | Buffer)[] = [];
        const pend: (string | number)[] = [];
        const refs: (string | number)[] = [];
        const vals: (string | Buffer)[] = [];
        const end = Math.min(plan.nodes.length, start + REGISTER_CHUNK);
        for (let i = start; i < end; i++) {
          const node = plan.nodes[i];
          // refs holds "consumers left - 1" so the common single-consumer node needs no field (see completeTasks).
          const extra = node.outs.length + (pinned.has(i) ? 1 : 0) - 1;
          if (extra !== 0) refs.push(String(i), extra);
          if (node.kind === 'data') {
            vals.push(String(i), encodeValue(node.value));
            pipe.setbit(k.done, i, 1);
          } else {
            spec.push(String(i), encodeSpec(node));
            if (node.pending > 0) pend.push(String(i), node.pending);
          }
        }
        if (spec.length) pipe.hset(k.spec, ...spec);
        if (pend.length) pipe.hset(k.pend, ...pend);
        if (refs.length) pipe.hset(k.refs, ...refs);
        if (vals.length) pipe.hset(k.vals, ...vals);
        await execOrThrow(pipe);
      }
      const outputs = oidTree(id, plan.outputs);
      const finished = plan.taskCount === 0;
      const meta = this.redis.pipeline();
      meta.hset(k.meta, {
        status: finished ? 'done' : 'queued',
        total: plan.taskCount,
        done: 0,
        running: 0,
        created: Date.now(),
        ttl: options.ttl,
        out: JSON.stringify(plan.outputs),
        outidx: plan.outputIndexes.join(','),
        ...(finished ? { finished: Date.now() } : {}),
      });
      if (finished) {
        meta.expire(k.meta, options.ttl).expire(k.vals, options.ttl).unlink(k.refs, k.done);
        meta.publish(finishedChannel(this.prefix), id);
      }
      await execOrThrow(meta);
      if (!finished) await this.queue.enqueue(id, plan.ready);
      return { id, outputs };
    } catch (err) {
      await this.redis.unlink(k.meta, k.spec, k.pend, k.refs, k.done, k.vals).catch(() => {});
      throw err;
    }
  }

  async info(id: string): Promise<GraphInfo | null> {
    const m = await this.redis.hgetall(graphKeys(this.prefix, id).meta);
    if (!m.status) return null;
    const num = (v: string | undefined) => (v === undefined ? null : Number(v));
    return {
      id,
      status: m.status as GraphStatus,
      progress: { total: Number(m.total), done: Number(m.done), running: Number(m.running), failed: m.status === 'failed' ? 1 : 0 },
      outputs: oidTree(id, JSON.parse(m.out) as OutputSpec),
      error: m.error ? JSON.parse(m.error) : null,
      created: Number(m.created),
      started: num(m.started),
      finished: num(m.finished),
    };
  }

  /** The values of a finished graph's outputs, shaped like its requested keys. */
  async result(id: string): Promise<unknown> {
    const out = await this.redis.hget(graphKeys(this.prefix, id).meta, 'out');
    if (out === null) return undefined;
    const spec = JSON.parse(out) as OutputSpec;
    const indexes = [...new Set(flatten(spec))];
    const values = await this.objects.readNodes(id, indexes);
    const byIndex = new Map(indexes.map((n, i) => [n, values[i]]));
    return reshape(spec, (n) => byIndex.get(n));
  }

  async status(id: string): Promise<GraphStatus | null> {
    return (await this.redis.hget(graphKeys(this.prefix, id).meta, 'status')) as GraphStatus | null;
  }
}

export function oidTree(graph: string, spec: OutputSpec): unknown {
  return reshape(spec, (n): Oid => ({ $oid: objectId(graph, n) }));
}

function reshape<T>(spec: OutputSpec, fn: (n: number) => T): unknown {
  return typeof spec === 'number' ? fn(spec) : spec.map((s) => reshape(s, fn));
}

function flatten(spec: OutputSpec, out: number[] = []): number[] {
  if (typeof spec === 'number') out.push(spec);
  else for (const s of spec) flatten(s, out);
  return out;
}

async function execOrThrow(pipe: ReturnType<ScriptedRedis['pipeline']>): Promise<void> {
  const results = (await pipe.exec()) ?? [];
  for (const [err] of results) if (err) throw err;
}
