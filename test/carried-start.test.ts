/**
 * A small graph's first jobs carry their start (src/queue/carried-start.ts):
 * what they carry is what startTasks returns for them, only small graphs'
 * jobs of tasks on data carry it, a worker woken for such a job runs it
 * ahead of the start's answer when it calls standard ops only, with the
 * start's events in order, and a job that waited in the queue, or calls an
 * operator's op, starts as any other (its graph, cancelled or refused
 * meanwhile, runs nothing).
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
import { CARRY_MAX_BYTES, mayRunAhead, readCarriedStart } from '../src/queue/carried-start.ts';
import { CALL, FUSED, INPUT, LIT, type Template } from '../src/graph/template.ts';
import type { StartedTask } from '../src/queue/started.ts';
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

describe('which carried tasks run ahead of their start', () => {
  const task = (template: Template, lang?: string): StartedTask => ({
    index: 1,
    key: 'k',
    deps: [],
    template,
    inputs: [],
    ...(lang ? { lang } : {}),
  });
  const call = (name: string, ...args: Template[]): Template => [CALL, name, args, null, null];

  it('those of standard ops, fused or nested, run ahead', () => {
    expect(mayRunAhead([task(call('add', call('inc', [INPUT, 0]), [LIT, 2]))])).toBe(true);
    expect(mayRunAhead([task([FUSED, 'y', call('mul', [INPUT, 0], [LIT, 3])]), task(call('range', [LIT, 3]))])).toBe(
      true,
    );
  });

  it("a task calling an operator's op, anywhere in it, or a foreign call keeps its job waiting for the start", () => {
    expect(mayRunAhead([task(call('inc', [LIT, 1])), task(call('add', call('test.ones', [LIT, 1]), [LIT, 1]))])).toBe(
      false,
    );
    expect(mayRunAhead([task([FUSED, 'y', call('my.op', [INPUT, 0])])])).toBe(false);
    expect(mayRunAhead([task(call('inc', [LIT, 1]), 'python')])).toBe(false);
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
      env: {
        WEFT_OPS: 'test/fixtures/ops/counting.ts',
        WEFT_TEST_COUNT_FILE: countFile,
        // So the last test can have a graph refused (the job of a graph written in one chunk goes out with it).
        WEFT_MAX_GRAPHS_IN_FLIGHT: '1',
      },
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

  const workers = async () =>
    (
      (await (await fetch(`${weft.url}/v1/workers`)).json()) as {
        workers: { tasks_run_ahead: number; heartbeat: number }[];
      }
    ).workers;
  const eventTypes = async (id: string) =>
    ((await (await fetch(`${weft.url}/v1/graphs/${id}/events`)).json()) as { events: { type: string }[] }).events.map(
      (e) => e.type,
    );

  it('starts a job that waited in the queue as any other: a graph cancelled meanwhile runs nothing', async () => {
    // One graph of an operator's op (its runs are counted in a file), one of standard ops (the worker
    // counts those it runs ahead of their start); each carries its start, and is cancelled while queued.
    const ids: string[] = [];
    for (const graph of [{ a: op('test.ones', 3, 'cancelled') }, { x: 1, a: op('inc', ref('x')) }]) {
      const { body } = await weft.submit({ graph, keys: ['a'] });
      ids.push(body.id);
      expect((await fetch(`${weft.url}/v1/graphs/${body.id}`, { method: 'DELETE' })).status).toBe(200);
    }
    const q = queue();
    try {
      const queued = (await q.getJobs(['prioritized', 'wait'])).filter((j) => ids.includes(j.data.g));
      expect(queued.map((j) => j.data.s !== undefined)).toEqual([true, true]);
      await weft.startWorker();
      await waitFor('the jobs to be taken', async () => {
        const counts = await q.getJobCounts('active', 'wait', 'prioritized');
        return Object.values(counts).every((n) => n === 0);
      });
    } finally {
      await q.close();
    }
    const taken = Date.now();
    const [worker] = await waitFor('a heartbeat after the jobs were taken', async () => {
      const list = await workers();
      return list[0]?.heartbeat > taken && list;
    });
    expect(worker.tasks_run_ahead).toBe(0);
    expect(runs()).not.toContain('cancelled');
    for (const id of ids) expect(await eventTypes(id)).not.toContain('pretask');
  });

  it('runs a job of standard ops it was woken for ahead of its start, the start and its events still first', async () => {
    // The worker started above is idle now, blocked on the queue.
    const res = await weft.compute({ x: 2, y: op('inc', ref('x')), z: op('mul', ref('y'), 10) }, 'z');
    expect(res).toMatchObject({ status: 'done', result: 30 });
    await waitFor('the worker to count the task run ahead', async () => (await workers())[0]?.tasks_run_ahead === 1);
    const types = await eventTypes(res.id);
    expect(types.indexOf('pretask')).toBeGreaterThan(-1);
    expect(types.indexOf('pretask')).toBeLessThan(types.indexOf('posttask'));
    const info = (await (await fetch(`${weft.url}/v1/graphs/${res.id}`)).json()) as {
      progress: { done: number; running: number };
    };
    expect(info.progress).toMatchObject({ done: 1, running: 0 });
  });

  it("waits for the start of a job calling an operator's op: a graph refused at registration runs nothing", async () => {
    const ahead = (await workers())[0].tasks_run_ahead;
    // Of its one graph in flight, the tenant's is one that waits for a pool no worker serves.
    const blocker = await weft.submit({ graph: { b: op('inc', 1) }, keys: ['b'], options: { pool: 'nowhere' } });
    expect(blocker.status).toBe(202);
    try {
      const refused = await weft.submit({ graph: { a: op('test.ones', 2, 'refused') }, keys: ['a'], wait: 5 });
      expect(refused.status).toBe(429);
      // Its job went out with the registration: the idle worker was woken for it and has taken it.
      await waitFor("the refused graph's job to be taken", async () => {
        const q = queue();
        try {
          return Object.values(await q.getJobCounts('active', 'wait', 'prioritized')).every((n) => n === 0);
        } finally {
          await q.close();
        }
      });
    } finally {
      await fetch(`${weft.url}/v1/graphs/${blocker.body.id}`, { method: 'DELETE' });
    }
    const admitted = await weft.compute({ a: op('test.ones', 2, 'admitted') }, 'a');
    expect(admitted).toMatchObject({ status: 'done', result: [1, 1] });
    expect(runs()).not.toContain('refused');
    expect(runs().filter((r) => r === 'admitted')).toHaveLength(1);
    expect((await workers())[0].tasks_run_ahead).toBe(ahead);
  });
});
