/**
 * The scheduling scripts, called directly through their wrappers on a real
 * Redis (no worker, no API): each test registers a small graph as the API
 * does, then drives the script and checks its reply and what it left in
 * Redis. End-to-end tests cover the same scripts through workers; these pin
 * down each one's contract (its header in src/queue/scripts/*.lua).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseGraph } from '../src/graph/parse.ts';
import { dependentsOf, plannedTemplate, planGraph, type Plan } from '../src/graph/plan.ts';
import { jobPriority, TaskQueue } from '../src/queue/dispatch.ts';
import { GraphStore } from '../src/queue/graphs.ts';
import { graphKeys, graphsKey, statsKey } from '../src/queue/keys.ts';
import { ObjectStore } from '../src/queue/objects.ts';
import { withScripts, type ScriptedRedis } from '../src/queue/scripts.ts';
import { completeTasks } from '../src/queue/scripts/completeTasks.ts';
import { endGraph } from '../src/queue/scripts/endGraph.ts';
import { findLostTasks } from '../src/queue/scripts/findLostTasks.ts';
import { linkObjects } from '../src/queue/scripts/linkObjects.ts';
import { releaseObject } from '../src/queue/scripts/releaseObject.ts';
import { retryTask } from '../src/queue/scripts/retryTask.ts';
import { hsetnxUncopied } from '../src/queue/uncopied.ts';
import { CommandBatch } from '../src/queue/batch.ts';
import { addEvents } from '../src/queue/scripts/addEvents.ts';
import { HashFields } from '../src/queue/hash-fields.ts';
import { addSpecField, encodeSpec } from '../src/queue/spec.ts';
import { startTasks } from '../src/queue/scripts/startTasks.ts';
import type { TaskResult } from '../src/queue/started.ts';
import { decodeValue, encodeValue } from '../src/shared/codec.ts';
import { SpillFiles } from '../src/store/spill.ts';

const PREFIX = `s${randomBytes(4).toString('hex')}`;
const runner = { worker: 'w1', attempt: 1 };
const MAX_BYTES = 8 * 1024 * 1024;
let redis: ScriptedRedis;
let queue: TaskQueue;
let graphs: GraphStore;

beforeAll(() => {
  redis = withScripts(new Redis(inject('redisUrl')));
  queue = new TaskQueue(redis, PREFIX, { bundleMax: 64, bundleSpread: 1 });
  const files = new SpillFiles(mkdtempSync(join(tmpdir(), 'weft-scripts-')));
  graphs = new GraphStore(redis, PREFIX, queue, new ObjectStore(redis, PREFIX, files));
});
afterAll(async () => {
  await queue?.close();
  redis?.disconnect();
});

/** Registers a graph as the API does (unfused, so every key is its own task); returns its id and a key -> node index map. */
async function register(
  graph: Record<string, unknown>,
  keys: string | string[],
): Promise<{ id: string; plan: Plan; at: (key: string) => number }> {
  const plan = planGraph(parseGraph(graph), keys, { fuse: false });
  const { id } = await graphs.register({ tenant: '' }, plan, { ttl: 600 });
  return { id, plan, at: (key) => plan.nodes.findIndex((n) => n.key === key) };
}

const inc = (ref: string) => ({ $op: 'inc', args: [{ $ref: ref }] });
const result = (index: number, value: unknown): TaskResult => [index, 1.5, [encodeValue(value)]];
const meta = async (id: string) => redis.hgetall(graphKeys(PREFIX, id).meta);
const start = (graph: string, tasks: number[]) =>
  startTasks(redis, PREFIX, { graph, tasks, runner, tag: 0, maxBytes: MAX_BYTES });
const complete = (graph: string, results: TaskResult[], take = 0, pools = ['default']) =>
  completeTasks(redis, PREFIX, { graph, results, take, spread: 1, maxBytes: MAX_BYTES, runner, pools });

describe('completeTasks', () => {
  it('stores a result, counts down its dependent and returns it ready for the queue', async () => {
    const g = await register({ x: 1, a: inc('x'), b: inc('a') }, 'b');
    expect(g.plan.ready).toEqual([g.at('a')]);
    await start(g.id, [g.at('a')]);
    const done = await complete(g.id, [result(g.at('a'), 2)]);
    expect(done).toMatchObject({ status: 'running', elsewhere: [], skipped: [] });
    expect(done.ready.tasks).toEqual([g.at('b')]);
    expect(done.next.run).toEqual([]);
    expect(decodeValue((await redis.hgetBuffer(graphKeys(PREFIX, g.id).vals, String(g.at('a'))))!)).toBe(2);
    expect(await meta(g.id)).toMatchObject({ done: '1', running: '0' });
  });

  it('with take, starts the ready task for the caller, its input in the reply', async () => {
    const g = await register({ x: 1, a: inc('x'), b: inc('a') }, 'b');
    await start(g.id, [g.at('a')]);
    const done = await complete(g.id, [result(g.at('a'), 2)], 1);
    expect(done.ready.tasks).toEqual([]);
    expect(done.next.status).toBe('running');
    expect(done.next.run.map((t) => [t.index, t.key])).toEqual([[g.at('b'), 'b']]);
    expect(decodeValue(done.next.run[0].inputs[0]!)).toBe(2);
    expect((await meta(g.id)).running).toBe('1');
  });

  it('the last task ends the graph done: the intermediate is freed, the output kept', async () => {
    const g = await register({ x: 1, a: inc('x'), b: inc('a') }, 'b');
    await start(g.id, [g.at('a')]);
    await complete(g.id, [result(g.at('a'), 2)]);
    await start(g.id, [g.at('b')]);
    const done = await complete(g.id, [result(g.at('b'), 3)]);
    expect(done.status).toBe('done');
    expect(await meta(g.id)).toMatchObject({ status: 'done', done: '2' });
    const k = graphKeys(PREFIX, g.id);
    expect(await redis.hexists(k.vals, String(g.at('a')))).toBe(0);
    expect(decodeValue((await redis.hgetBuffer(k.vals, String(g.at('b'))))!)).toBe(3);
    expect(await redis.exists(k.spec, k.pend, k.done)).toBe(0);
  });

  it('a task completed twice is skipped the second time and counted once', async () => {
    const g = await register({ x: 1, a: inc('x'), b: inc('a') }, 'b');
    await start(g.id, [g.at('a')]);
    await complete(g.id, [result(g.at('a'), 2)]);
    const again = await complete(g.id, [result(g.at('a'), 99)]);
    expect(again.skipped).toEqual([g.at('a')]);
    expect(again.ready.tasks).toEqual([]);
    expect(decodeValue((await redis.hgetBuffer(graphKeys(PREFIX, g.id).vals, String(g.at('a'))))!)).toBe(2);
    expect((await meta(g.id)).done).toBe('1');
  });

  describe('values over 256 KiB, written ahead of the script', () => {
    const big = (fill: number) => new Float64Array(64 * 1024).fill(fill); // 512 KiB
    const read = async (id: string, field: number) =>
      decodeValue((await redis.hgetBuffer(graphKeys(PREFIX, id).vals, String(field)))!);
    const marks = async (id: string) => redis.hgetall(graphKeys(PREFIX, id).staged);

    it('are taken in place by the completion, which leaves no mark', async () => {
      const g = await register({ x: 1, a: inc('x'), b: inc('a') }, 'b');
      await start(g.id, [g.at('a')]);
      const done = await complete(g.id, [result(g.at('a'), big(3))]);
      expect(done.ready.tasks).toEqual([g.at('b')]);
      expect(await read(g.id, g.at('a'))).toEqual(big(3));
      expect(await marks(g.id)).toEqual({});
      expect(await meta(g.id)).toMatchObject({ big: '1', done: '1' });
    });

    it('a second completion of a done task keeps the first value', async () => {
      const g = await register({ x: 1, a: inc('x'), b: inc('a') }, 'b');
      await start(g.id, [g.at('a')]);
      await complete(g.id, [result(g.at('a'), big(3))]);
      const again = await complete(g.id, [result(g.at('a'), big(9))]);
      expect(again.skipped).toEqual([g.at('a')]);
      expect(await read(g.id, g.at('a'))).toEqual(big(3));
      expect(await marks(g.id)).toEqual({});
    });

    it('a run that completes a task whose value was already consumed and freed drops what it wrote', async () => {
      const g = await register({ x: 1, a: inc('x'), b: inc('a'), c: inc('b') }, 'c');
      const vals = graphKeys(PREFIX, g.id).vals;
      await start(g.id, [g.at('a')]);
      await complete(g.id, [result(g.at('a'), big(3))]);
      await start(g.id, [g.at('b')]);
      await complete(g.id, [result(g.at('b'), 4)]);
      expect(await redis.hexists(vals, String(g.at('a')))).toBe(0); // b consumed a: freed
      await complete(g.id, [result(g.at('a'), big(9))]);
      expect(await redis.hexists(vals, String(g.at('a')))).toBe(0);
      expect(await marks(g.id)).toEqual({});
    });

    it('of two runs of one task, the value the first completion takes stays when the other completes', async () => {
      const g = await register({ x: 1, a: inc('x'), b: inc('a') }, 'b');
      const k = graphKeys(PREFIX, g.id);
      await start(g.id, [g.at('a')]);
      // Run A wrote its value ahead and has not completed yet (its worker is slow, or died).
      await redis
        .multi()
        .hsetnx(k.vals, String(g.at('a')), encodeValue(big(1)))
        .hsetnx(k.staged, String(g.at('a')), 'runA')
        .exec();
      // Run B finds the field taken: its completion takes A's value, a value of the same task.
      await complete(g.id, [result(g.at('a'), big(2))]);
      expect(await read(g.id, g.at('a'))).toEqual(big(1));
      expect(await marks(g.id)).toEqual({});
      // Run A completes at last: done already, and the value it wrote is the graph's now, not dropped.
      const late = await completeTasks(redis, PREFIX, {
        graph: g.id,
        results: [[g.at('a'), 1, [Buffer.concat([Buffer.from([0xc1, 0x3d]), Buffer.from(`1runA:${g.at('a')}`)])]]],
        take: 0,
        spread: 1,
        maxBytes: MAX_BYTES,
        runner,
        pools: ['default'],
      });
      expect(late.skipped).toEqual([g.at('a')]);
      expect(await read(g.id, g.at('a'))).toEqual(big(1));
    });

    it('a value whose run died before its mark was written is taken by the next run, and no mark is left', async () => {
      const g = await register({ x: 1, a: inc('x'), b: inc('a') }, 'b');
      const k = graphKeys(PREFIX, g.id);
      await start(g.id, [g.at('a')]);
      // The value and its mark go as two commands: a worker can die between them.
      await redis.hsetnx(k.vals, String(g.at('a')), encodeValue(big(4)));
      await complete(g.id, [result(g.at('a'), big(5))]);
      expect(await read(g.id, g.at('a'))).toEqual(big(4));
      expect(await marks(g.id)).toEqual({});
    });

    it('a graph that ended meanwhile drops what the run wrote', async () => {
      const g = await register({ x: 1, a: inc('x'), b: inc('a') }, 'b');
      await start(g.id, [g.at('a')]);
      await endGraph(redis, PREFIX, { graph: g.id, status: 'cancelled', error: { message: 'stop' } });
      expect((await complete(g.id, [result(g.at('a'), big(3))])).status).toBe('cancelled');
      expect(await redis.hexists(graphKeys(PREFIX, g.id).vals, String(g.at('a')))).toBe(0);
      expect(await marks(g.id)).toEqual({});
    });

    it('each value of a multiple-return task goes to its own field', async () => {
      const g = await register(
        {
          x: 1,
          s: { $op: 'f', args: [{ $ref: 'x' }], returns: 2 },
          a: {
            $op: 'add',
            args: [
              { $ref: 's', index: 0 },
              { $ref: 's', index: 1 },
            ],
          },
        },
        'a',
      );
      await start(g.id, [g.at('s')]);
      await complete(g.id, [[g.at('s'), 1, [encodeValue(big(1)), encodeValue(big(2))], true]]);
      const vals = graphKeys(PREFIX, g.id).vals;
      expect(decodeValue((await redis.hgetBuffer(vals, `${g.at('s')}:1`))!)).toEqual(big(2));
      expect(await marks(g.id)).toEqual({});
    });
  });

  it('a graph that has ended writes nothing and answers its status', async () => {
    const g = await register({ x: 1, a: inc('x'), b: inc('a') }, 'b');
    await endGraph(redis, PREFIX, { graph: g.id, status: 'cancelled', error: { message: 'stop' } });
    const done = await complete(g.id, [result(g.at('a'), 2)]);
    expect(done).toMatchObject({ status: 'cancelled', ready: { tasks: [] }, elsewhere: [], skipped: [] });
    expect(await redis.hexists(graphKeys(PREFIX, g.id).vals, String(g.at('a')))).toBe(0);
  });

  it('a ready task of a pool the caller does not serve goes to the queue with its class', async () => {
    const g = await register({ x: 1, a: inc('x'), b: { ...inc('a'), options: { pool: 'gpu', priority: 2 } } }, 'b');
    await start(g.id, [g.at('a')]);
    const done = await complete(g.id, [result(g.at('a'), 2)], 1, ['default']);
    expect(done.next.run).toEqual([]);
    expect(done.ready).toEqual({ tasks: [g.at('b')], placement: { tag: 0, classes: ['gpu|2'] } });
  });

  it('stores each value of a multiple-return task under its own field', async () => {
    const g = await register({ x: 1, s: { $op: 'split', args: [{ $ref: 'x' }], returns: 2 } }, 's');
    const s = g.at('s');
    await start(g.id, [s]);
    const done = await complete(g.id, [[s, 1, [encodeValue('first'), encodeValue('second')]]]);
    expect(done.status).toBe('done');
    const vals = graphKeys(PREFIX, g.id).vals;
    expect(decodeValue((await redis.hgetBuffer(vals, `${s}:1`))!)).toBe('second');
  });

  it('wakes a task of another graph that waits for the result as an $oid input', async () => {
    const producer = await register({ x: 1, a: inc('x') }, 'a');
    const consumer = await register({ y: { $op: 'inc', args: [{ $oid: `${producer.id}.${producer.at('a')}` }] } }, 'y');
    // Registration linked the consumer: the object is still being computed, so its task waits.
    expect(await redis.hget(graphKeys(PREFIX, producer.id).waiters, String(producer.at('a')))).toBe(
      `${consumer.id} ${consumer.at('y')}`,
    );
    await start(producer.id, [producer.at('a')]);
    const done = await complete(producer.id, [result(producer.at('a'), 2)]);
    expect(done.elsewhere).toEqual([{ graph: consumer.id, task: consumer.at('y') }]);
  });
});

describe('endGraph', () => {
  it('fails a running graph: status, error, scheduling state dropped; a second end changes nothing', async () => {
    const g = await register({ x: 1, a: inc('x'), b: inc('a') }, 'b');
    const error = { message: 'boom', key: 'a', op: 'inc' };
    expect(await endGraph(redis, PREFIX, { graph: g.id, status: 'failed', error })).toEqual({
      ended: true,
      waiting: [],
    });
    const m = await meta(g.id);
    expect(m.status).toBe('failed');
    expect(JSON.parse(m.error)).toEqual(error);
    const k = graphKeys(PREFIX, g.id);
    expect(await redis.exists(k.spec, k.pend, k.refs, k.done)).toBe(0);
    expect(await endGraph(redis, PREFIX, { graph: g.id, status: 'cancelled', error })).toEqual({
      ended: false,
      status: 'failed',
    });
  });

  it('names the graphs that wait for its outputs, for the caller to fail them', async () => {
    const producer = await register({ x: 1, a: inc('x') }, 'a');
    const oid = `${producer.id}.${producer.at('a')}`;
    const consumer = await register({ y: { $op: 'inc', args: [{ $oid: oid }] } }, 'y');
    const ended = await endGraph(redis, PREFIX, { graph: producer.id, status: 'cancelled', error: { message: 'no' } });
    expect(ended).toEqual({ ended: true, waiting: [{ graph: consumer.id, oid }] });
  });

  it('answers missing for a graph that never existed', async () => {
    expect(await endGraph(redis, PREFIX, { graph: 'nope', status: 'failed', error: { message: 'x' } })).toEqual({
      ended: false,
      status: 'missing',
    });
  });
});

describe('linkObjects', () => {
  it('a ready object is pinned and its users are ready at once', async () => {
    const producer = await register({ a: 5 }, 'a');
    const oid = `${producer.id}.${producer.at('a')}`;
    // A graph of its own whose task 7 waits for the object: GraphStore links the graphs it registers by
    // itself, so this one is made by hand, and the reply is the test's to see.
    const { id } = await register({ z: 0 }, 'z');
    await redis.hset(graphKeys(PREFIX, id).pend, '7', 1);
    const linked = await linkObjects(redis, PREFIX, { graph: id, users: new Map([[oid, [7]]]) });
    expect(linked).toEqual({ outcome: 'linked', ready: [7] });
    expect(await redis.hget(graphKeys(PREFIX, producer.id).pins, String(producer.at('a')))).toBe('1');
    expect((await meta(id)).ext).toBe(oid);
  });

  it('an object still being computed gets the task as a waiter', async () => {
    const producer = await register({ x: 1, a: inc('x') }, 'a');
    const oid = `${producer.id}.${producer.at('a')}`;
    const { id } = await register({ z: 0 }, 'z');
    await redis.hset(graphKeys(PREFIX, id).pend, '3', 1);
    expect(await linkObjects(redis, PREFIX, { graph: id, users: new Map([[oid, [3]]]) })).toEqual({
      outcome: 'linked',
      ready: [],
    });
    expect(await redis.hget(graphKeys(PREFIX, producer.id).waiters, String(producer.at('a')))).toBe(`${id} 3`);
    expect((await meta(producer.id)).waited).toBe('1');
  });

  it('a missing object, or one whose graph failed, is reported with its id', async () => {
    const { id } = await register({ z: 0 }, 'z');
    expect(await linkObjects(redis, PREFIX, { graph: id, users: new Map([['nope.0', [1]]]) })).toEqual({
      outcome: 'missing',
      oid: 'nope.0',
    });
    const producer = await register({ x: 1, a: inc('x') }, 'a');
    const error = { message: 'boom', key: 'a' };
    await endGraph(redis, PREFIX, { graph: producer.id, status: 'failed', error });
    const oid = `${producer.id}.${producer.at('a')}`;
    expect(await linkObjects(redis, PREFIX, { graph: id, users: new Map([[oid, [1]]]) })).toEqual({
      outcome: 'failed',
      oid,
      error,
    });
  });
});

describe('findLostTasks', () => {
  it('walks down from finished tasks to the ready ones not finished', async () => {
    const g = await register({ x: 1, a: inc('x'), b: inc('a'), c: inc('b') }, 'c');
    await start(g.id, [g.at('a')]);
    await complete(g.id, [result(g.at('a'), 2)]);
    // b became ready, but (as if its worker died) was never enqueued.
    expect(await findLostTasks(redis, PREFIX, { graph: g.id, finished: [g.at('a')], limit: 100 })).toEqual([g.at('b')]);
  });

  it('finds nothing in a graph that has ended', async () => {
    const g = await register({ x: 1, a: inc('x'), b: inc('a') }, 'b');
    await start(g.id, [g.at('a')]);
    await complete(g.id, [result(g.at('a'), 2)]);
    await endGraph(redis, PREFIX, { graph: g.id, status: 'cancelled', error: { message: 'stop' } });
    expect(await findLostTasks(redis, PREFIX, { graph: g.id, finished: [g.at('a')], limit: 100 })).toEqual([]);
  });
});

describe('retryTask', () => {
  it('a running task stops counting as running, a posttask event says it runs again, the retry is counted', async () => {
    const g = await register({ x: 1, a: inc('x') }, 'a');
    await start(g.id, [g.at('a')]);
    const retriesBefore = Number((await redis.hget(statsKey(PREFIX), 'task_retries')) ?? 0);
    const error = { message: 'flaky', key: 'a', op: 'inc' };
    expect(await retryTask(redis, PREFIX, { graph: g.id, key: 'a', ms: 2.5, runner, error })).toBe(true);
    expect((await meta(g.id)).running).toBe('0');
    expect(Number(await redis.hget(statsKey(PREFIX), 'task_retries'))).toBe(retriesBefore + 1);
    const entries = await redis.xrange(graphKeys(PREFIX, g.id).events, '-', '+');
    const last = entries.at(-1)![1];
    expect(last[last.indexOf('t') + 1]).toBe('posttask');
    expect(JSON.parse(last[last.indexOf('d') + 1])).toMatchObject({ k: ['a'], ok: false, retry: true, error });
  });

  it('a graph that has ended has nothing to retry', async () => {
    const g = await register({ x: 1, a: inc('x') }, 'a');
    await endGraph(redis, PREFIX, { graph: g.id, status: 'cancelled', error: { message: 'stop' } });
    expect(await retryTask(redis, PREFIX, { graph: g.id, key: 'a', ms: 1, runner, error: { message: 'x' } })).toBe(
      false,
    );
  });
});

describe('releaseObject', () => {
  it('releases an output of a finished graph: its value goes, and with every output released the graph', async () => {
    const g = await register({ x: 1, a: inc('x') }, 'a');
    await start(g.id, [g.at('a')]);
    await complete(g.id, [result(g.at('a'), 2)]);
    const node = String(g.at('a'));
    expect(await releaseObject(redis, PREFIX, { graph: g.id, node })).toBe(true);
    const k = graphKeys(PREFIX, g.id);
    expect(await redis.exists(k.meta, k.vals)).toBe(0);
    expect(await releaseObject(redis, PREFIX, { graph: g.id, node })).toBe(false);
  });

  it('refuses what is not an output, and what does not exist', async () => {
    const g = await register({ x: 1, a: inc('x') }, 'a');
    expect(await releaseObject(redis, PREFIX, { graph: g.id, node: String(g.at('x')) })).toBe(false);
    expect(await releaseObject(redis, PREFIX, { graph: 'nope', node: '0' })).toBe(false);
  });

  it('a released object a running graph uses stays until that graph ends', async () => {
    const producer = await register({ a: 5, b: 6 }, ['a', 'b']);
    const oid = `${producer.id}.${producer.at('a')}`;
    const consumer = await register({ y: { $op: 'inc', args: [{ $oid: oid }] } }, 'y');
    const node = String(producer.at('a'));
    expect(await releaseObject(redis, PREFIX, { graph: producer.id, node })).toBe(true);
    const vals = graphKeys(PREFIX, producer.id).vals;
    expect(await redis.hexists(vals, node)).toBe(1);
    await endGraph(redis, PREFIX, { graph: consumer.id, status: 'cancelled', error: { message: 'stop' } });
    expect(await redis.hexists(vals, node)).toBe(0);
    // Its other output is still there, so the graph is.
    expect(await redis.hexists(vals, String(producer.at('b')))).toBe(1);
  });
});

describe('hsetnxUncopied (a big value written to the socket as it is)', () => {
  const key = `${PREFIX}:uncopied`;
  const chunks = [Buffer.alloc(70_000, 1), Buffer.alloc(0), Buffer.from('\r\n$3\r\n'), Buffer.alloc(1_000_001, 2)];

  it('stores the chunks as one value, once: a second write to the field answers 0 and changes nothing', async () => {
    expect(await hsetnxUncopied(redis, key, 'f', chunks)).toBe(1);
    expect(await redis.hgetBuffer(key, 'f')).toEqual(Buffer.concat(chunks));
    expect(await hsetnxUncopied(redis, key, 'f', [Buffer.from('other')])).toBe(0);
    expect(await redis.hstrlen(key, 'f')).toBe(Buffer.concat(chunks).length);
  });

  it('commands sent around it on the same connection get their own replies, in order', async () => {
    const replies = await Promise.all([
      redis.set(`${key}:a`, 'A'),
      hsetnxUncopied(redis, key, 'g', chunks),
      redis.get(`${key}:a`),
      hsetnxUncopied(redis, key, 'h', [Buffer.alloc(0)]),
      redis.hstrlen(key, 'g'),
    ]);
    expect(replies).toEqual(['OK', 1, 'A', 1, Buffer.concat(chunks).length]);
    expect(await redis.hgetBuffer(key, 'h')).toEqual(Buffer.alloc(0));
  });

  it('a command sent before the connection is up goes when it is', async () => {
    const lazy = new Redis(inject('redisUrl'), { lazyConnect: true });
    try {
      // Sent while not connected: it waits in ioredis's offline queue, which connects and then writes it.
      expect(lazy.status).toBe('wait');
      expect(await hsetnxUncopied(lazy, key, 'lazy', chunks)).toBe(1);
      expect(await redis.hgetBuffer(key, 'lazy')).toEqual(Buffer.concat(chunks));
    } finally {
      lazy.disconnect();
    }
  });
});

describe('HashFields (an HSET of many fields, built as the bytes Redis reads)', () => {
  const key = `${PREFIX}:fields`;
  const values = [Buffer.alloc(0), Buffer.from('\r\n$3\r\n*2'), Buffer.alloc(70_000, 7), Buffer.from([0, 255, 13, 10])];

  it('stores every field, in a batch among other commands, which get their own replies in order', async () => {
    const fields = new HashFields(16);
    const batch = new CommandBatch(redis);
    batch.add('set', `${key}:a`, 'A');
    values.forEach((v, i) => fields.add(i * 1_000_003, v));
    expect(fields.size).toBe(values.length);
    fields.hset(batch, key);
    expect(fields.size).toBe(0);
    fields.hset(batch, key); // nothing added: no command
    fields.add(9, Buffer.from('nine'));
    // The largest node number a field may have (numbers and lengths are written by 32-bit integer division).
    fields.add(2 ** 31 - 1, Buffer.from('last'));
    fields.hset(batch, key);
    batch.add('get', `${key}:a`);
    expect(batch.length).toBe(4);
    const replies = (await batch.exec()).map(([err, reply]) => err ?? reply);
    expect(replies).toEqual(['OK', values.length, 2, 'A']);
    const stored = await redis.hgetallBuffer(key);
    expect(Object.keys(stored).sort()).toEqual(['0', '1000003', '2000006', '2147483647', '3000009', '9']);
    expect(stored['2147483647']).toEqual(Buffer.from('last'));
    values.forEach((v, i) => expect(stored[String(i * 1_000_003)]).toEqual(v));
    expect(stored['9']).toEqual(Buffer.from('nine'));
  });

  it('takes the first bytes of a longer buffer (a reused one), short and long', async () => {
    const fields = new HashFields(16);
    const reused = Buffer.alloc(200, 1);
    reused.write('short', 0);
    fields.add(1, reused, 5);
    reused.fill(2, 0, 100);
    fields.add(2, reused, 100);
    fields.add(3, reused, 0);
    const batch = new CommandBatch(redis);
    fields.hset(batch, `${key}:prefix`);
    expect((await batch.exec())[0]).toEqual([null, 3]);
    const stored = await redis.hgetallBuffer(`${key}:prefix`);
    expect(stored['1']).toEqual(Buffer.from('short'));
    expect(stored['2']).toEqual(Buffer.alloc(100, 2));
    expect(stored['3']).toEqual(Buffer.alloc(0));
  });

  it("stores each task's spec as encodeSpec encodes it (addSpecField, registration's path)", async () => {
    const plan = planGraph(
      parseGraph({ x: 1, y: inc('x'), z: { $op: 'add', args: [{ $ref: 'y' }, { text: 'ü', n: -1.5 }] } }),
      'z',
      { fuse: false },
    );
    const fields = new HashFields();
    const tasks = plan.nodes.flatMap((node, i) => (node.kind === 'task' ? [[i, node] as const] : []));
    for (const [i, node] of tasks) addSpecField(fields, i, node, plan.dependents);
    const batch = new CommandBatch(redis);
    fields.hset(batch, `${key}:specs`);
    await batch.exec();
    const stored = await redis.hgetallBuffer(`${key}:specs`);
    expect(Object.keys(stored).sort()).toEqual(tasks.map(([i]) => String(i)).sort());
    for (const [i, node] of tasks)
      expect(stored[String(i)]).toEqual(
        encodeSpec({ ...node, outs: dependentsOf(plan.dependents, i), template: plannedTemplate(node) }),
      );
  });

  it('takes a key longer than the room kept for the header', async () => {
    const long = `${key}:${'k'.repeat(300)}`;
    const fields = new HashFields();
    fields.add(1, Buffer.from('one'));
    const batch = new CommandBatch(redis);
    fields.hset(batch, long);
    expect((await batch.exec())[0]).toEqual([null, 1]);
    expect(await redis.hget(long, '1')).toBe('one');
  });

  it("fills an answered command's buffer again, never one still in flight", async () => {
    const fields = new HashFields(16);
    const bufferOf = () => (fields as unknown as { bytes: Buffer }).bytes;
    const send = (round: number) => {
      for (let f = 0; f < 50; f++) fields.add(f, Buffer.from(`round ${round} field ${f}`));
      const used = bufferOf();
      const batch = new CommandBatch(redis);
      fields.hset(batch, `${key}:round${round}`);
      return { used, replies: batch.exec() };
    };
    // Two in flight at once: the second may not write into the first's bytes.
    const first = send(1);
    const second = send(2);
    expect(second.used).not.toBe(first.used);
    await Promise.all([first.replies, second.replies]);
    // Both answered: the next command takes one of their buffers.
    const third = send(3);
    expect([first.used, second.used]).toContain(third.used);
    await third.replies;
    for (const round of [1, 2, 3]) {
      const stored = await redis.hgetall(`${key}:round${round}`);
      expect(Object.keys(stored)).toHaveLength(50);
      for (let f = 0; f < 50; f++) expect(stored[String(f)]).toBe(`round ${round} field ${f}`);
    }
  });
});

describe('registration', () => {
  it('a write that fails leaves no key of the graph, is thrown to the caller and leaves no promise rejected unhandled', async () => {
    const id = `failing-${randomBytes(4).toString('hex')}`;
    const k = graphKeys(PREFIX, id);
    // The data values' hash is a string already: the first chunk's HSET fails (WRONGTYPE), after openGraph wrote meta.
    await redis.set(k.vals, 'in the way');
    const plan = planGraph(parseGraph({ x: 1, y: inc('x') }), 'y', { fuse: false });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      await expect(graphs.register({ tenant: '' }, plan, { id, ttl: 600, admitLimit: 5 })).rejects.toThrow(/WRONGTYPE/);
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).toEqual([]);
    expect(await redis.exists(k.meta, k.spec, k.vals, k.events, k.refs, k.done)).toBe(0);
    expect(await redis.zscore(graphsKey(PREFIX), id)).toBeNull();
  });
});

describe('registration of a graph of several chunks (written a few chunks at a time)', () => {
  /** `n` ready tasks and their sum: n + 1 nodes, so n past REGISTER_CHUNK makes several chunks. */
  const wide = (n: number) => {
    const graph: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) graph[`i${i}`] = { $op: 'inc', args: [i] };
    graph.s = { $op: 'sum', args: [Array.from({ length: n }, (_, i) => ({ $ref: `i${i}` }))] };
    return planGraph(parseGraph(graph), 's', { fuse: false });
  };

  it("enqueues every ready task once, the jobs' fairness tags 0, 1, 2, ... across the chunks", async () => {
    const plan = wide(23_000);
    const { id } = await graphs.register({ tenant: '' }, plan, { ttl: 600 });
    const jobs = (await queue.queue().getJobs(['prioritized', 'wait'], 0, -1)).filter((j) => j.data.g === id);
    const tags = jobs.map((j) => j.data.p!).sort((a, b) => a - b);
    expect(tags).toEqual(tags.map((_, i) => i));
    for (const job of jobs) expect(job.opts.priority).toBe(jobPriority(0, job.data.p!));
    const tasks = jobs.flatMap((j) => j.data.t).sort((a, b) => a - b);
    expect(tasks).toEqual([...plan.ready].sort((a, b) => a - b));
    expect(tasks).toHaveLength(23_000);
    // Every spec was written before the answer: the last chunk's too.
    expect(await redis.hlen(graphKeys(PREFIX, id).spec)).toBe(23_001);
    await Promise.all(jobs.map((j) => j.remove()));
  });

  it('a write that fails in every chunk in flight is thrown once, leaves no key and no promise rejected unhandled', async () => {
    const id = `failing-${randomBytes(4).toString('hex')}`;
    const k = graphKeys(PREFIX, id);
    // Every chunk's HSET of specs fails (WRONGTYPE), with several chunks unwritten at once.
    await redis.set(k.spec, 'in the way');
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      await expect(graphs.register({ tenant: '' }, wide(23_000), { id, ttl: 600 })).rejects.toThrow(/WRONGTYPE/);
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).toEqual([]);
    expect(await redis.exists(k.meta, k.spec, k.pend, k.vals, k.events, k.refs, k.done)).toBe(0);
    expect(await redis.zscore(graphsKey(PREFIX), id)).toBeNull();
    const jobs = (await queue.queue().getJobs(['prioritized', 'wait'], 0, -1)).filter((j) => j.data.g === id);
    await Promise.all(jobs.map((j) => j.remove()));
  });
});

describe('CommandBatch (commands sent back to back in one write)', () => {
  const key = `${PREFIX}:batch`;

  it('sends nothing until exec, then every command in order with its own reply, errors included, scripts too', async () => {
    const batch = new CommandBatch(redis).add('set', key, '1').add('incr', key).add('hincrby', key, 'f', 1);
    addEvents(batch, PREFIX, 'batch-graph', 'postsubmit', 1, { k: ['x'] });
    batch.add('get', key);
    expect(await redis.exists(key)).toBe(0);
    const replies = await batch.exec();
    expect(replies.map(([err]) => err?.message ?? null)).toEqual([
      null,
      null,
      expect.stringContaining('WRONGTYPE'),
      null,
      null,
    ]);
    expect(replies.map(([, reply]) => reply)).toEqual(['OK', 2, null, null, '2']);
    expect(await redis.xlen(graphKeys(PREFIX, 'batch-graph').events)).toBe(1);
  });

  it('writes its commands to the socket in one write', async () => {
    const socket = (redis as unknown as { stream: import('node:net').Socket }).stream;
    const writes: number[] = [];
    const writev = (socket as unknown as { _writev: (chunks: unknown[], cb: () => void) => void })._writev;
    const write = (socket as unknown as { _write: (chunk: unknown, enc: string, cb: () => void) => void })._write;
    const spy = socket as unknown as Record<string, unknown>;
    spy._writev = function (this: unknown, chunks: unknown[], cb: () => void) {
      writes.push(chunks.length);
      return writev.call(this, chunks, cb);
    };
    spy._write = function (this: unknown, chunk: unknown, enc: string, cb: () => void) {
      writes.push(1);
      return write.call(this, chunk, enc, cb);
    };
    try {
      const batch = new CommandBatch(redis);
      for (let i = 0; i < 20; i++) batch.add('set', `${key}:${i}`, String(i));
      const replies = await batch.exec();
      expect(replies.every(([err, reply]) => err === null && reply === 'OK')).toBe(true);
    } finally {
      spy._writev = writev;
      spy._write = write;
    }
    expect(writes).toEqual([20]);
  });
});
