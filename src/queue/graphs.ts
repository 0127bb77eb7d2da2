/**
 * The graph side of the scheduling state: registering a planned graph in
 * Redis, reading its status and result, cancelling it. Used by the API.
 *
 * Registration. The graph's keys are written in chunks of
 * REGISTER_CHUNK nodes, so a graph of a million tasks is many bounded
 * commands, not one giant one. Meta, data values and consumer counts go
 * first; then task specs from the last node to the first, each chunk's ready
 * tasks enqueued as soon as it is written, so workers start while the rest of
 * a big graph is still being written. The client learns the graph id only
 * from the response, after registration; if a write fails, every key of the
 * graph is deleted, so no graph is ever left half registered.
 */
import { randomBytes } from 'node:crypto';
import type { components } from '../shared/openapi-types.ts';
import { dependentsOf, type ObjectField, type Plan, type PlannedTask, type OutputSpec } from '../graph/plan.ts';
import { decodeValue, encodeValue } from '../shared/codec.ts';
import { checkValueSize } from '../store/values.ts';
import { objectId, parseObjectId } from '../store/objects.ts';
import type { ObjectStore } from './objects.ts';
import type { PlannedJobs, TaskQueue } from './dispatch.ts';
import { activeKey, finishedChannel, graphKeys, graphsKey, inFlightKey, statsKey } from './keys.ts';
import type { ScriptedRedis } from './scripts.ts';
import { CommandBatch, type BatchReply } from './batch.ts';
import { HashFields } from './hash-fields.ts';
import { addSpecField, encodePlannedSpec, type PlannedSpec } from './spec.ts';
import { carriedStart, type CarriedTask } from './carried-start.ts';
import { addEvents } from './scripts/addEvents.ts';
import { admitGraph } from './scripts/admitGraph.ts';
import { openGraph } from './scripts/openGraph.ts';
import { linkObjects } from './scripts/linkObjects.ts';
import { releaseObject } from './scripts/releaseObject.ts';
import { DEFAULT_POOL, encodeClass } from './dispatch.ts';
import { visibleTo, type RequestContext } from '../store/tenants.ts';
import { objectFailed, TaskState } from './tasks.ts';

export type GraphStatus = components['schemas']['GraphState'];

/** A graph's status and progress, as GET /v1/graphs/{id} shows it. */
export type GraphInfo = components['schemas']['GraphInfo'];

export type Oid = components['schemas']['ObjectRef'];

/** A graph as GET /v1/graphs lists it: no outputs (they may be many), the first requested keys as its name. */
export type GraphSummary = components['schemas']['GraphSummary'];

/** Nodes written per round trip while registering (one CommandBatch, src/queue/batch.ts). */
const REGISTER_CHUNK = 5000;
/** Chunks sent and not yet written, at most: enough that Redis has the next while the API encodes, few enough to bound what waits in memory. */
const CHUNKS_IN_FLIGHT = 4;
/** GET /v1/graphs remembers this many of the newest graphs (ids only; a graph's own keys expire with its retention). */
export const GRAPH_LIST_MAX = 10_000;
/** Requested keys a summary names. */
const SUMMARY_KEYS = 5;
const RUNNING = new Set(['queued', 'running']);
/** A graph written in one chunk whose first tasks make at most this many jobs has them carry their start (carried-start.ts). */
const CARRY_MAX_JOBS = 4;

/** A registered graph; `refused` when its tenant had no room (admitLimit): then nothing of it is left in Redis. */
export interface Registered {
  id: string;
  outputs: unknown;
  /** A graph of data alone: its output values, as stored. */
  values?: Buffer[];
  refused?: true;
}

/**
 * Whether registration writes the plan in one chunk: it counts an entry per
 * output's consumer count, per data value and per task, and sends a chunk at
 * REGISTER_CHUNK (in `register`); this bounds them from above.
 */
function fitsOneChunk(plan: Plan): boolean {
  let entries = 0;
  for (const node of plan.nodes) entries += node.consumers.length + 1;
  return entries < REGISTER_CHUNK;
}

/** A planned task as its spec is stored: with the result cache's fingerprint for it, when the cache was asked. */
function storedSpec(node: PlannedTask, index: number, cache?: Map<number, string>): PlannedSpec {
  const fingerprint = cache?.get(index);
  return fingerprint === undefined ? node : { ...node, cache: fingerprint };
}

/**
 * Has each job whose tasks' inputs are all data of the graph carry their
 * start (`BundleJob.s`): their specs as addSpecField stores them, and their
 * inputs as stored. Jobs of other tasks, or of too many bytes, carry nothing.
 */
function carryStarts(jobs: PlannedJobs, plan: Plan, data: Map<number, Buffer>, cache?: Map<number, string>): void {
  for (const { jobs: ofPool } of jobs.byPool) {
    for (const job of ofPool) {
      const tasks: CarriedTask[] = [];
      for (const index of job.data.t) {
        const node = plan.nodes[index];
        // A foreign call never runs ahead of its start (carried-start.ts): nothing to carry.
        if (node.kind !== 'task' || node.lang) break;
        const inputs = node.deps.map((slot) => (typeof slot === 'number' ? data.get(slot) : undefined));
        if (!inputs.every((v) => v !== undefined)) break;
        const spec = encodePlannedSpec(storedSpec(node, index, cache), dependentsOf(plan.dependents, index));
        tasks.push({ index, spec, inputs: inputs as Buffer[] });
      }
      const carried = tasks.length === job.data.t.length ? carriedStart(tasks) : undefined;
      if (carried !== undefined) job.data.s = carried;
    }
  }
}

export function newGraphId(): string {
  return randomBytes(16).toString('base64url');
}

export class GraphStore {
  private readonly tasks: TaskState;
  constructor(
    private readonly redis: ScriptedRedis,
    private readonly prefix: string,
    private readonly queue: TaskQueue,
    private readonly objects: ObjectStore,
  ) {
    this.tasks = new TaskState(redis, prefix);
  }

  /**
   * Writes a planned graph to Redis and enqueues its ready tasks; returns at
   * once, tasks run in the background (a graph of data alone is done then, and
   * `values` holds its output values as stored). Workers may start on the first tasks
   * while later ones are still being written (see "Registration" at the top).
   */
  async register(
    request: RequestContext,
    plan: Plan,
    options: {
      ttl: number;
      id?: string;
      cache?: Map<number, string>;
      counts?: Record<string, number>;
      maxValueBytes?: number;
      /**
       * Admit the graph first unless its tenant has this many graphs queued or
       * running (WEFT_MAX_GRAPHS_IN_FLIGHT). A graph written in one chunk is
       * admitted by the chunk's first command (openGraph), in the same round trip.
       */
      admitLimit?: number;
    },
  ): Promise<Registered> {
    const id = options.id ?? newGraphId();
    const k = graphKeys(this.prefix, id);
    const outputs = oidTree(id, plan.outputs);
    const pinned = new Set<ObjectField>(plan.outputIndexes);
    /** A graph of data alone is done once written: its output values, as stored, are its answer. */
    const outputValues = new Map<ObjectField, Buffer>();
    const now = Date.now();
    const finished = plan.taskCount === 0;
    const oneChunk = fitsOneChunk(plan);
    /** A small graph's data values as stored, by node index, for its first jobs to carry. */
    const carriedData = oneChunk && !finished ? new Map<number, Buffer>() : undefined;
    // A graph of data alone is never queued or running: it takes no place among its tenant's graphs in flight.
    const admitLimit = finished ? undefined : options.admitLimit;
    // A graph of several chunks is admitted before any is written: its first chunk's jobs may start before the last is out.
    if (admitLimit !== undefined && !oneChunk && !(await this.admit(request, id, admitLimit)))
      return { id, outputs, refused: true };
    // The chunk being built (src/queue/batch.ts: not an ioredis pipeline, which young-generation GC cannot free).
    let batch = new CommandBatch(this.redis);
    /** openGraph's reply, the first chunk's first: 0 when the tenant had no room. */
    let opened: Promise<number> | undefined;
    let inBatch = 0;
    let ready: number[] = [];
    let flushes = 0;
    // The first jobs' fairness tags (dispatch.ts) count up from 0 across the chunks.
    let jobsMade = 0;
    // Classes (pool and priority) of tasks not in the default one.
    const classes = new Map<number, string>();
    const poolsUsed = new Set<string>();
    plan.nodes.forEach((node, i) => {
      if (node.kind !== 'task') return;
      // A task an executor runs goes to the pool named after its language unless told otherwise.
      const pool = node.pool ?? node.lang ?? DEFAULT_POOL;
      const cls = encodeClass(pool, node.priority);
      if (cls !== '') classes.set(i, cls);
      poolsUsed.add(pool);
    });
    // Chunks are written while the next are encoded: Redis and the API work at the same time.
    const inFlight: Promise<unknown>[] = [];
    /** Sends the chunk built so far once at most CHUNKS_IN_FLIGHT - 1 are unwritten; waits for all to be written when `last`. */
    const flush = async (last = false) => {
      if (ready.length > 0)
        addEvents(batch, this.prefix, id, 'postsubmit', ready.length, { k: ready.map((i) => plan.nodes[i].key) });
      if (last)
        addEvents(batch, this.prefix, id, 'postsubmit_all', 1, {
          tasks: plan.taskCount,
          ready: plan.ready.length,
          ...options.counts,
        });
      const chunk = batch;
      const chunkReady = ready;
      batch = new CommandBatch(this.redis);
      inBatch = 0;
      ready = [];
      flushes++;
      // Chunks go out in order on one connection, a few at a time: waiting for
      // each before sending the next left the API idle while Redis wrote it
      // (about a third of the last phase of the million-task graph's registration).
      if (inFlight.length >= CHUNKS_IN_FLIGHT) await inFlight.shift();
      // The jobs are made now, so the next chunk's tags follow on without waiting for these to be added.
      const jobs = this.queue.jobsFor(id, chunkReady, {
        tag: jobsMade,
        // The graph's start is one burst, enqueued chunk by chunk.
        burst: plan.ready.length,
        classes: classes.size > 0 ? chunkReady.map((t) => classes.get(t) ?? '') : undefined,
      });
      jobsMade += jobs.count;
      if (carriedData && jobs.count <= CARRY_MAX_JOBS) carryStarts(jobs, plan, carriedData, options.cache);
      // The jobs go out on the same connection right after the chunk, so
      // Redis stores the specs before any worker can take the jobs.
      const written = execOrThrow(chunk);
      if (!opened) {
        opened = written.then((replies) => replies[0][1] as number);
        // Read once the graph is written; a failed write is thrown by the chunk's own promise, not left unhandled here.
        opened.catch(() => {});
      }
      const sent = Promise.all([written, this.queue.send(jobs)]);
      // Awaited by a later flush or the end; marked handled so a failure meanwhile is not an unhandled rejection.
      sent.catch(() => {});
      inFlight.push(sent);
      if (last) await Promise.all(inFlight);
    };
    try {
      // Phase 1: meta, data values and consumer counts of every node, which
      // any task may touch as soon as it runs. The graph is listed at once, and
      // active before any task can end it (finishGraph takes it off).
      openGraph(batch, this.prefix, {
        graph: id,
        tenant: request.tenant,
        admitLimit: oneChunk ? admitLimit : undefined,
        created: now,
        listMax: GRAPH_LIST_MAX,
        active: !finished,
        // Counted once the graph is whole, so a failed registration never counts: here when this is its one chunk.
        count: oneChunk && !finished,
        meta: {
          status: finished ? 'done' : 'queued',
          total: plan.taskCount,
          done: 0,
          running: 0,
          created: now,
          ttl: options.ttl,
          out: JSON.stringify(plan.outputs),
          outidx: plan.outputIndexes.join(','),
          outkeys: JSON.stringify(plan.outputIndexes.map((f) => plan.nodes[Number(String(f).split(':')[0])].key)),
          ...(finished ? { finished: now } : {}),
          ...(request.tenant ? { tenant: request.tenant } : {}),
          ...(classes.size > 0 ? { classes: 1, pools: [...poolsUsed].join(',') } : {}),
        },
      });
      // Classes go first: a task may start (and complete, and consult them) as soon as the first chunk is out.
      const clsEntries = [...classes].flat();
      for (let i = 0; i < clsEntries.length; i += 2 * REGISTER_CHUNK)
        batch.add('hset', k.cls, ...clsEntries.slice(i, i + 2 * REGISTER_CHUNK));
      let refs: (string | number)[] = [];
      let vals: (string | Buffer)[] = [];
      const flushPhase1 = () => {
        if (refs.length) batch.add('hset', k.refs, ...refs);
        if (vals.length) batch.add('hset', k.vals, ...vals);
        refs = [];
        vals = [];
      };
      for (let i = 0; i < plan.nodes.length; i++) {
        const node = plan.nodes[i];
        // refs holds "consumers left - 1" so the common single-consumer node needs no field (see completeTasks).
        for (let j = 0; j < node.consumers.length; j++) {
          const field = node.kind === 'task' && node.returns ? `${i}:${j}` : i;
          const extra = node.consumers[j] + (pinned.has(field) ? 1 : 0) - 1;
          if (extra !== 0) {
            refs.push(field, extra);
            inBatch++;
          }
        }
        if (node.kind === 'data') {
          const encoded = node.encoded ? Buffer.from(node.encoded) : encodeValue(node.value);
          // Before any task is enqueued (those come in phase 2), so a refusal leaves nothing running.
          if (options.maxValueBytes !== undefined)
            checkValueSize(encoded, options.maxValueBytes, `The data of key ${JSON.stringify(node.key.slice(0, 64))}`);
          vals.push(String(i), encoded);
          carriedData?.set(i, encoded);
          if (finished && pinned.has(i)) outputValues.set(i, encoded);
          batch.add('setbit', k.done, i, 1);
          inBatch++;
        }
        if (inBatch >= REGISTER_CHUNK) {
          flushPhase1();
          await flush();
        }
      }
      flushPhase1();
      if (finished) {
        addEvents(batch, this.prefix, id, 'postsubmit_all', 1, { tasks: 0, ready: 0, ...options.counts });
        addEvents(batch, this.prefix, id, 'finish', 1, { status: 'done' });
        batch
          .add('hincrby', statsKey(this.prefix), 'graphs_submitted', 1)
          .add('hincrby', statsKey(this.prefix), 'graphs_done', 1);
        batch
          .add('expire', k.meta, options.ttl)
          .add('expire', k.vals, options.ttl)
          .add('expire', k.events, options.ttl)
          .add('unlink', k.refs, k.done);
        batch.add('publish', finishedChannel(this.prefix), id);
        await flush();
        await Promise.all(inFlight);
        const values = plan.outputIndexes.map((f) => outputValues.get(f));
        return { id, outputs, values: values.every((v) => v !== undefined) ? values : undefined };
      }
      // Phase 2: task specs from the last node to the first. A task's
      // dependents have higher indexes, so they are written before it is, and
      // each chunk's ready tasks can be enqueued as soon as the chunk is.
      const specs = new HashFields();
      let pend: number[] = [];
      const flushSpecs = async (last: boolean) => {
        specs.hset(batch, k.spec);
        if (pend.length) batch.add('hset', k.pend, ...pend);
        // Counted once the graph is whole, so a failed registration never counts (openGraph counts a graph of one chunk).
        if (last && !oneChunk) batch.add('hincrby', statsKey(this.prefix), 'graphs_submitted', 1);
        pend = [];
        await flush(last);
      };
      for (let i = plan.nodes.length - 1; i >= 0; i--) {
        const node = plan.nodes[i];
        if (node.kind !== 'task') continue;
        addSpecField(specs, i, storedSpec(node, i, options.cache), plan.dependents);
        const waits = node.pending + node.objects.length;
        if (waits > 0) pend.push(i, waits);
        else ready.push(i);
        if (++inBatch >= REGISTER_CHUNK) await flushSpecs(false);
      }
      await flushSpecs(true);
      if ((await opened) === 0) {
        await this.deleteUnregistered(id);
        return { id, outputs, refused: true };
      }
      await this.linkUsedObjects(id, plan, classes, jobsMade);
      // A task that failed while later chunks were written ended the graph and
      // dropped its scheduling state, which those chunks then wrote again.
      if (flushes > 1 && !RUNNING.has((await this.redis.hget(k.meta, 'status')) ?? ''))
        await this.redis.unlink(k.spec, k.pend, k.refs, k.done, k.cls);
      return { id, outputs };
    } catch (err) {
      // Nothing still being written may bring a key back after it is deleted.
      await Promise.allSettled(inFlight);
      await this.deleteUnregistered(id).catch(() => {});
      throw err;
    }
  }

  /**
   * Deletes every key a registration that did not complete wrote (it failed,
   * or its tenant had no room). Its jobs, if any went out, find no graph.
   */
  private async deleteUnregistered(id: string): Promise<void> {
    const k = graphKeys(this.prefix, id);
    await this.redis
      .multi()
      .unlink(k.meta, k.spec, k.pend, k.refs, k.done, k.vals, k.cls, k.events)
      .zrem(graphsKey(this.prefix), id)
      .zrem(activeKey(this.prefix), id)
      .exec();
  }

  /** Stores a value given by a client (ray.put): a graph of one data node, done at once. */
  async put(request: RequestContext, encoded: Buffer, ttl: number): Promise<string> {
    const id = newGraphId();
    const k = graphKeys(this.prefix, id);
    const now = Date.now();
    const pipe = this.redis.multi();
    pipe.hset(k.vals, '0', encoded);
    pipe.hset(k.meta, {
      status: 'done',
      total: 0,
      done: 0,
      running: 0,
      created: now,
      finished: now,
      ttl,
      out: '0',
      outidx: '0',
      outkeys: '["put"]',
      ...(request.tenant ? { tenant: request.tenant } : {}),
    });
    if (ttl > 0) pipe.expire(k.meta, ttl).expire(k.vals, ttl);
    await execOrThrow(pipe);
    return objectId(id, 0);
  }

  /** Releases an object (releaseObject-1.lua). False when there is no such object. */
  async release(oid: string): Promise<boolean> {
    const at = parseObjectId(oid);
    if (!at) return false;
    return releaseObject(this.redis, this.prefix, { graph: at.graph, node: at.node });
  }

  /** Links the graph's tasks to the objects of other graphs they use (linkObjects-2.lua); enqueues those ready now. */
  private async linkUsedObjects(id: string, plan: Plan, classes: Map<number, string>, tag: number): Promise<void> {
    const users = new Map<string, number[]>();
    plan.nodes.forEach((node, i) => {
      if (node.kind !== 'task') return;
      for (const oid of node.objects) {
        let list = users.get(oid);
        if (!list) users.set(oid, (list = []));
        list.push(i);
      }
    });
    if (users.size === 0) return;
    const linked = await linkObjects(this.redis, this.prefix, { graph: id, users });
    if (linked.outcome === 'linked') {
      const ready = linked.ready;
      if (ready.length > 0)
        await this.queue.enqueue(id, ready, { classes: ready.map((t) => classes.get(t) ?? ''), tag });
      return;
    }
    const { oid } = linked;
    const error =
      linked.outcome === 'missing'
        ? {
            code: 'object_lost',
            message: `Input object ${oid} does not exist: it was released, expired or never existed.`,
            object: oid,
          }
        : objectFailed(oid, linked.error);
    await this.tasks.end(id, 'failed', error);
  }

  /** Admits a graph of the request's tenant unless it has `limit` queued or running (admitGraph-1.lua). */
  async admit(request: RequestContext, id: string, limit: number): Promise<boolean> {
    return admitGraph(this.redis, this.prefix, { graph: id, tenant: request.tenant, limit });
  }

  /** Takes back an admission whose graph was never registered. */
  async unadmit(request: RequestContext, id: string): Promise<void> {
    await this.redis.srem(inFlightKey(this.prefix, request.tenant), id);
  }

  /** A graph's public info and the pools it has tasks in; null when there is no such graph or `request` may not see it. */
  async infoAndPools(request: RequestContext, id: string): Promise<{ info: GraphInfo; pools: string[] } | null> {
    const found = readMeta(id, await this.redis.hgetall(graphKeys(this.prefix, id).meta), request);
    return found && { info: found.info, pools: found.pools };
  }

  /** A graph's public info; null when there is no such graph or `request` may not see it. */
  async info(request: RequestContext, id: string): Promise<GraphInfo | null> {
    return (await this.infoAndPools(request, id))?.info ?? null;
  }

  /**
   * Status and, when done, the result (shaped like the requested keys), in
   * one round trip when the caller knows the output nodes. With `stored`, the
   * result's leaves are the values' stored bytes (Buffers), not decoded: an
   * answer in MessagePack splices them in as they are.
   */
  async outcome(
    request: RequestContext,
    id: string,
    outputNodes?: ObjectField[],
    stored = false,
  ): Promise<{ info: GraphInfo; result: unknown } | null> {
    const k = graphKeys(this.prefix, id);
    if (!outputNodes) {
      const found = readMeta(id, await this.redis.hgetall(k.meta), request);
      if (found?.info.status !== 'done') return found && { info: found.info, result: undefined };
      outputNodes = [...new Set(flatten(found.out))];
    }
    // HMGET needs a field: with no requested keys ("keys": []) the result is [] and only the meta is read.
    const read = this.redis.multi().hgetall(k.meta);
    if (outputNodes.length > 0) read.hmgetBuffer(k.vals, ...outputNodes.map(String));
    const [[metaErr, meta], [valsErr, vals] = [null, []]] = (await read.exec()) as [
      [Error | null, Record<string, string>],
      [Error | null, (Buffer | null)[]]?,
    ];
    if (metaErr || valsErr) throw metaErr ?? valsErr;
    const found = readMeta(id, meta, request);
    if (!found) return null;
    if (found.info.status !== 'done') return { info: found.info, result: undefined };
    const restored = await Promise.all(
      vals.map((v, i) => (v === null ? undefined : this.objects.restore(id, String(outputNodes![i]), v))),
    );
    return { info: found.info, result: resultOf(found.out, outputNodes, restored, stored) };
  }

  /**
   * The newest graphs `request` may see first, at most `limit`, only those in
   * `status` when given. Ids whose graph has expired are dropped from the
   * list on the way.
   */
  async list(request: RequestContext, limit: number, status?: GraphStatus): Promise<GraphSummary[]> {
    const key = graphsKey(this.prefix);
    const out: GraphSummary[] = [];
    const gone: string[] = [];
    // A filter (status, tenant) may keep few of a page: the pages grow, so a sparse list still takes few round trips.
    let page = limit;
    for (let start = 0; out.length < limit; start += page, page = Math.min(1000, page * 4)) {
      const ids = await this.redis.zrevrange(key, start, start + page - 1);
      if (ids.length === 0) break;
      const pipe = this.redis.pipeline();
      for (const id of ids)
        pipe.hmget(
          graphKeys(this.prefix, id).meta,
          'status',
          'total',
          'done',
          'running',
          'created',
          'started',
          'finished',
          'outkeys',
          'error',
          'evseq',
          'tenant',
        );
      const rows = (await pipe.exec()) ?? [];
      ids.forEach((id, i) => {
        const [err, fields] = rows[i] as [Error | null, (string | null)[]];
        if (err) throw err;
        if (fields[0] === null) return void gone.push(id);
        if (!visibleTo(request, fields[10])) return;
        const summary = readSummary(id, fields);
        if (out.length < limit && (!status || summary.status === status)) out.push(summary);
      });
      if (ids.length < page) break;
    }
    if (gone.length > 0) await this.redis.zrem(key, ...gone);
    return out;
  }

  /** A graph's status; null when there is no such graph or `request` may not see it. */
  async status(request: RequestContext, id: string): Promise<GraphStatus | null> {
    const [status, tenant] = await this.redis.hmget(graphKeys(this.prefix, id).meta, 'status', 'tenant');
    return status !== null && visibleTo(request, tenant) ? (status as GraphStatus) : null;
  }
}

/** A graph's meta hash as its public info, plus its requested keys as node indexes. */
function readMeta(
  id: string,
  m: Record<string, string>,
  request: RequestContext,
): { info: GraphInfo; out: OutputSpec; pools: string[] } | null {
  if (!m.status || !visibleTo(request, m.tenant)) return null;
  const num = (v: string | undefined) => (v === undefined ? null : Number(v));
  const out = JSON.parse(m.out) as OutputSpec;
  const info: GraphInfo = {
    id,
    status: m.status as GraphStatus,
    progress: {
      total: Number(m.total),
      done: Number(m.done),
      running: Number(m.running),
      failed: m.status === 'failed' ? 1 : 0,
    },
    outputs: oidTree(id, out),
    error: m.error ? JSON.parse(m.error) : null,
    created: Number(m.created),
    started: num(m.started),
    finished: num(m.finished),
  };
  return { info, out, pools: (m.pools || DEFAULT_POOL).split(',') };
}

/** A summary from meta fields read in the order `list` asks for them. */
function readSummary(id: string, f: (string | null)[]): GraphSummary {
  const [status, total, done, running, created, started, finished, outkeys, error, evseq] = f;
  const num = (v: string | null) => (v === null ? null : Number(v));
  const e = error ? (JSON.parse(error) as { message?: string; key?: string; code?: string }) : null;
  return {
    id,
    status: status as GraphStatus,
    progress: {
      total: Number(total),
      done: Number(done),
      running: Number(running),
      failed: status === 'failed' ? 1 : 0,
    },
    keys: firstKeys(outkeys ?? '[]'),
    events: Number(evseq ?? 0),
    error: e && {
      message: String(e.message ?? ''),
      ...(e.key !== undefined ? { key: e.key } : {}),
      ...(e.code !== undefined ? { code: e.code } : {}),
    },
    created: Number(created),
    started: num(started),
    finished: num(finished),
  };
}

/** The first requested keys of a graph's `outkeys` (a JSON array), without parsing a huge one whole. */
function firstKeys(outkeys: string): string[] {
  if (outkeys.length < 4096) return (JSON.parse(outkeys) as string[]).slice(0, SUMMARY_KEYS);
  const keys: string[] = [];
  for (const [quoted] of outkeys.slice(0, 4096).matchAll(/"(?:[^"\\]|\\.)*"/g)) {
    if (keys.length === SUMMARY_KEYS) break;
    keys.push(JSON.parse(quoted) as string);
  }
  return keys;
}

/** A graph's outputs as futures: its requested keys' shape with an object reference for each. */
export function oidTree(graph: string, spec: OutputSpec): components['schemas']['Outputs'] {
  return reshape(spec, (n): Oid => ({ $oid: objectId(graph, n) })) as components['schemas']['Outputs'];
}

/**
 * A done graph's result: its output values (the stored bytes, by `fields`)
 * in the requested keys' shape, decoded unless `stored` (then the bytes stay
 * as they are, for a MessagePack answer).
 */
export function resultOf(
  spec: OutputSpec,
  fields: ObjectField[],
  values: (Buffer | undefined)[],
  stored: boolean,
): unknown {
  const byNode = new Map(
    fields.map((n, i) => {
      const v = values[i];
      return [n, v === undefined || stored ? v : decodeValue(v)];
    }),
  );
  return reshape(spec, (n) => byNode.get(n));
}

function reshape<T>(spec: OutputSpec, fn: (n: ObjectField) => T): unknown {
  return Array.isArray(spec) ? spec.map((s) => reshape(s, fn)) : fn(spec);
}

function flatten(spec: OutputSpec, out: ObjectField[] = []): ObjectField[] {
  if (Array.isArray(spec)) for (const s of spec) flatten(s, out);
  else out.push(spec);
  return out;
}

/** Sends a pipeline or a batch; its replies, or the first command's error. */
async function execOrThrow(queued: { exec(): Promise<BatchReply[] | null> }): Promise<BatchReply[]> {
  const results = (await queued.exec()) ?? [];
  for (const [err] of results) if (err) throw err;
  return results;
}
