/**
 * A small graph's first jobs carry their start (src/queue/carried-start.ts):
 * what they carry is what startTasks returns for them, only small graphs'
 * jobs of tasks on data carry it, a worker woken for such a job runs it
 * with the start's events in order, and a job that waited in the queue
 * starts as any other (its graph, cancelled meanwhile, runs nothing).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { unpack } from 'msgpackr';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseGraph } from '../src/graph/parse.ts';
import { planGraph } from '../src/graph/plan.ts';
import { CARRY_MAX_BYTES, readCarriedStart } from '../src/queue/carried-start.ts';
import { poolQueue, TaskQueue, type BundleJob } from '../src/queue/dispatch.ts';
import { GraphStore } from '../src/queue/graphs.ts';
import { ObjectStore } from '../src/queue/objects.ts';
import { withScripts, type ScriptedRedis } from '../src/queue/scripts.ts';
import { graphKeys } from '../src/queue/keys.ts';
import { startTasks } from '../src/queue/scripts/startTasks.ts';
import { decodeSpec } from '../src/queue/spec.ts';
import { SpillFiles } from '../src/store/spill.ts';
import { waitFor } from './helpers/wait.ts';
import { startWeft, type Weft } from './helpers/weft.ts';

const op = (name: string, ...args: unknown[]) => ({ $op: name, args });
const ref = (key: string) => ({ $ref: key });

describe("what a small graph's first jobs carry", () => {
  const prefix = `c${randomBytes(4).toString('hex')}`;
  let redis: ScriptedRedis;
  let queue: TaskQueue;
  let graphs: GraphStore;
  let jobs: Queue<BundleJob>;

  beforeAll(() => {
    redis = withScripts(new Redis(inject('redisUrl')));
    queue = new TaskQueue(redis, prefix, { bundleMax: 64, bundleSpread: 1 });
    graphs = new GraphStore(
      redis,
      prefix,
      queue,
      new ObjectStore(redis, prefix, new SpillFiles(mkdtempSync(join(tmpdir(), 'weft-carry-')))),
    );
    jobs = new Queue<BundleJob>(poolQueue('default'), { connection: redis, prefix });
  });
  afterAll(async () => {
    await jobs?.close();
    await queue?.close();
    redis?.disconnect();
  });

  /** What startTasks-4.lua returns for a job's tasks on data, read from Redis: index, 0, spec, n, inputs. */
  async function storedEntries(graph: string, job: Job<BundleJob>): Promise<unknown[]> {
    const k = graphKeys(prefix, graph);
    const out: unknown[] = [];
    for (const index of job.data.t) {
      const spec = (await redis.hgetBuffer(k.spec, String(index)))!;
      const deps = decodeSpec(spec).deps as number[];
      out.push(index, 0, spec, deps.length);
      for (const dep of deps) out.push(await redis.hgetBuffer(k.vals, String(dep)));
    }
    return out;
  }
  /** The tasks startTasks starts for a job, as the worker gets them. */
  async function started(graph: string, job: Job<BundleJob>) {
    const reply = await startTasks(redis, prefix, {
      graph,
      tasks: job.data.t,
      runner: { worker: 'w', attempt: 1 },
      tag: 0,
      maxBytes: 8 * 1024 * 1024,
    });
    expect(reply.status).toBe('running');
    return reply.run;
  }
  const carriedEntries = (job: Job<BundleJob>) => unpack(Buffer.from(job.data.s!, 'base64')) as unknown[];

  /** Registers `graph` as the API does; returns the jobs it queued. */
  async function registered(
    graph: Record<string, unknown>,
    keys: string[],
    options: { fuse?: boolean; cache?: Map<number, string> } = {},
  ) {
    const plan = planGraph(parseGraph(graph), keys, { fuse: options.fuse ?? true });
    const { id } = await graphs.register({ tenant: '' }, plan, { ttl: 600, cache: options.cache });
    const queued = (await jobs.getJobs(['prioritized', 'wait'])).filter((j: Job<BundleJob>) => j.data.g === id);
    return { id, plan, queued };
  }

  it('carries, for each task of the job, the bytes startTasks returns, and the worker reads them as it reads those', async () => {
    const graph = {
      x: 1,
      s: 'ünïcode',
      list: [1, [2, 'three'], { four: 4 }],
      a: op('add', ref('x'), 41),
      b: op('concat', ref('s'), ref('s')),
      c: op('len', ref('list')),
      d: op('mul', op('inc', ref('x')), 3),
    };
    for (const fuse of [true, false]) {
      const { id, plan, queued } = await registered(graph, ['a', 'b', 'c', 'd'], { fuse });
      expect(queued).toHaveLength(1);
      const [job] = queued;
      expect(job.data.s).toBeDefined();
      const carried = readCarriedStart(job.data.s!);
      expect(carried.map((t) => t.index)).toEqual(job.data.t);
      expect([...job.data.t].sort()).toEqual([...plan.ready].sort());
      expect(carriedEntries(job)).toEqual(await storedEntries(id, job));
      expect(carried).toEqual(await started(id, job));
    }
  });

  it('carries a task that looks its value up in the result cache with the cache in its spec', async () => {
    const graph = { x: 2, y: op('inc', ref('x')) };
    const plan = planGraph(parseGraph(graph), ['y'], { fuse: false });
    const y = plan.nodes.findIndex((n) => n.key === 'y');
    const { id, queued } = await registered(graph, ['y'], { fuse: false, cache: new Map([[y, 'fingerprint-of-y']]) });
    expect(carriedEntries(queued[0])).toEqual(await storedEntries(id, queued[0]));
    expect(readCarriedStart(queued[0].data.s!)).toEqual(await started(id, queued[0]));
  });

  it('carries nothing for a task on another task, for values over the limit, or for a graph of many jobs', async () => {
    // The first job's task is on data; its dependent is enqueued later, by a completion, and carries nothing.
    const chain = await registered({ x: 1, y: op('inc', ref('x')), z: op('inc', ref('y')) }, ['z'], { fuse: false });
    expect(chain.queued.map((j) => j.data.s !== undefined)).toEqual([true]);
    const big = await registered({ x: 'x'.repeat(CARRY_MAX_BYTES), y: op('len', ref('x')) }, ['y']);
    expect(big.queued).toHaveLength(1);
    expect(big.queued[0].data.s).toBeUndefined();
    // 300 ready tasks make 5 jobs of 64: a graph this size saves nothing worth carrying its start.
    const wide: Record<string, unknown> = { x: 1 };
    for (let i = 0; i < 300; i++) wide[`t${i}`] = op('inc', ref('x'));
    const many = await registered(
      wide,
      Object.keys(wide).filter((k) => k !== 'x'),
      { fuse: false },
    );
    expect(many.queued.length).toBeGreaterThan(4);
    expect(many.queued.every((j) => j.data.s === undefined)).toBe(true);
  });
});

describe('a worker and a job that carries its start', () => {
  let weft: Weft;
  let redis: Redis;
  const countFile = join(mkdtempSync(join(tmpdir(), 'weft-carry-count-')), 'runs');

  beforeAll(async () => {
    writeFileSync(countFile, '');
    weft = await startWeft({
      workers: 1,
      env: { WEFT_OPS: 'test/fixtures/ops/counting.ts', WEFT_TEST_COUNT_FILE: countFile },
    });
    redis = new Redis(inject('redisUrl'));
    // The first worker told the API its ops; it goes, so the first test's job waits in the queue.
    const [first] = weft.workers;
    const exited = new Promise((resolve) => first.once('exit', resolve));
    first.kill('SIGTERM');
    await exited;
  });
  afterAll(async () => {
    await weft?.close();
    redis?.disconnect();
  });

  const runs = () => readFileSync(countFile, 'utf8').split('\n').filter(Boolean);
  const queue = () => new Queue<BundleJob>(poolQueue('default'), { connection: redis, prefix: weft.env.WEFT_PREFIX });

  it('starts a job that waited in the queue as any other: a graph cancelled meanwhile runs nothing', async () => {
    const { body } = await weft.submit({ graph: { a: op('test.ones', 3, 'cancelled') }, keys: ['a'] });
    const q = queue();
    try {
      const [job] = (await q.getJobs(['prioritized', 'wait'])).filter((j) => j.data.g === body.id);
      expect(job.data.s).toBeDefined();
      expect((await fetch(`${weft.url}/v1/graphs/${body.id}`, { method: 'DELETE' })).status).toBe(200);
      await weft.startWorker();
      await waitFor('the job to be taken', async () => {
        const counts = await q.getJobCounts('active', 'wait', 'prioritized');
        return Object.values(counts).every((n) => n === 0);
      });
    } finally {
      await q.close();
    }
    expect(runs()).not.toContain('cancelled');
    const events = (await (await fetch(`${weft.url}/v1/graphs/${body.id}/events`)).json()) as {
      events: { type: string }[];
    };
    expect(events.events.map((e) => e.type)).not.toContain('pretask');
  });

  it('runs a job it was woken for, with the start and its events before the completion', async () => {
    // The worker started above is idle now, blocked on the queue.
    const res = await weft.compute({ a: op('test.ones', 2, 'woken') }, 'a');
    expect(res).toMatchObject({ status: 'done', result: [1, 1] });
    expect(runs().filter((r) => r === 'woken')).toHaveLength(1);
    const events = (await (await fetch(`${weft.url}/v1/graphs/${res.id}/events`)).json()) as {
      events: { type: string }[];
    };
    const types = events.events.map((e) => e.type);
    expect(types.indexOf('pretask')).toBeGreaterThan(-1);
    expect(types.indexOf('pretask')).toBeLessThan(types.indexOf('posttask'));
    const info = (await (await fetch(`${weft.url}/v1/graphs/${res.id}`)).json()) as {
      progress: { done: number; running: number };
    };
    expect(info.progress).toMatchObject({ done: 1, running: 0 });
  });
});
