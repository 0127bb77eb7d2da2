/** The HTTP contract: status codes, error codes, lifecycle routes. Real Fastify, Redis and a worker process. */
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { poolQueue } from '../src/queue/dispatch.ts';
import { startWeft, type Weft } from './helpers/weft.ts';
import { ref, task } from './helpers/nodes.ts';
import { waitFor } from './helpers/wait.ts';

let weft: Weft;
let redis: Redis;
beforeAll(async () => {
  weft = await startWeft({ workers: 1, env: { WEFT_MAX_TASKS: '100', WEFT_BODY_LIMIT: '65536' } });
  redis = new Redis(weft.env.REDIS_URL);
});
afterAll(async () => {
  redis?.disconnect();
  await weft?.close();
});

/** This file's weft has small limits for the limit tests; big graphs need another. */
const startWeftWithoutLimits = () => startWeft({ workers: 1 });

async function post(body: string, contentType = 'application/json') {
  const res = await fetch(`${weft.url}/v1/graphs`, { method: 'POST', headers: { 'content-type': contentType }, body });
  return { status: res.status, body: (await res.json()) as any };
}

/** No job of the default pool's queue is waiting, delayed or running: every task handed to it has ended. */
async function queueIsIdle(): Promise<boolean> {
  const queue = new Queue(poolQueue('default'), { connection: redis, prefix: weft.env.WEFT_PREFIX });
  try {
    const counts = await queue.getJobCounts('active', 'wait', 'prioritized', 'delayed');
    return Object.values(counts).every((n) => n === 0);
  } finally {
    await queue.close();
  }
}

async function graphKeysInRedis(): Promise<string[]> {
  return redis.keys(`${weft.env.WEFT_PREFIX}:{*`);
}

describe('rejected submissions', () => {
  const cases: [string, unknown, string, Record<string, unknown>][] = [
    ['unknown_key', { graph: { x: 1 }, keys: ['x', ['nope']] }, 'unknown_key', { keys: ['nope'] }],
    [
      'missing_dependency',
      { graph: { x: task('inc', ref('y')) }, keys: 'x' },
      'missing_dependency',
      { key: 'x', missing: 'y' },
    ],
    [
      'cycle',
      { graph: { a: task('inc', ref('b')), b: ref('c'), c: task('inc', ref('a')), d: 1 }, keys: 'd' },
      'cycle',
      {},
    ],
    [
      'unknown_op',
      { graph: { x: task('inc', task('frobnicate', 1)) }, keys: 'x' },
      'unknown_op',
      { key: 'x', op: 'frobnicate' },
    ],
    [
      'malformed node',
      { graph: { x: task('inc', { $oid: 5 }) }, keys: 'x' },
      'invalid_graph',
      { key: 'x', path: '$["x"].args[0].$oid' },
    ],
    ['graph that is an array (keys that are not strings)', { graph: [1, 2], keys: 'x' }, 'invalid_graph', {}],
    ['empty graph', { graph: {}, keys: [] }, 'invalid_graph', {}],
    [
      'too many tasks',
      {
        graph: Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`t${i}`, task('inc', i)])),
        keys: Array.from({ length: 101 }, (_, i) => `t${i}`),
      },
      'too_many_tasks',
      { tasks: 101, limit: 100 },
    ],
    ['unknown request field', { graph: { x: 1 }, keys: 'x', wiat: 3 }, 'invalid_request', {}],
    ['wait of the wrong type', { graph: { x: 1 }, keys: 'x', wait: 'soon' }, 'invalid_request', {}],
    ['both graph and layers', { graph: { x: 1 }, layers: { a: { x: 1 } }, keys: 'x' }, 'invalid_request', {}],
  ];
  for (const [name, body, code, details] of cases) {
    it(`${name} is 400 ${code}, and nothing is registered`, async () => {
      const res = await post(JSON.stringify(body));
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe(code);
      expect(res.body.error.message.length).toBeGreaterThan(10);
      expect(res.body.error).toMatchObject(details);
      expect(await graphKeysInRedis()).toEqual([]);
    });
  }

  it('a cycle names its keys in order', async () => {
    const res = await post(
      JSON.stringify({ graph: { a: task('inc', ref('b')), b: ref('c'), c: task('inc', ref('a')) }, keys: 'a' }),
    );
    expect(res.body.error.cycle).toEqual(['a', 'b', 'c', 'a']);
    expect(res.body.error.message).toContain('"a" -> "b" -> "c" -> "a"');
  });

  it('malformed JSON is 400 invalid_json', async () => {
    const res = await post('{"graph": {"x": ');
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_json');
  });

  it("malformed JSON inside a graph's value (read only when the graph is parsed) is 400 invalid_json with JSON.parse's message for the body, and nothing is written", async () => {
    const body = '{"graph": {"x": 1, "y": {"$op": "inc", "args": [{"$ref": "x"},]}}, "keys": "y"}';
    let expected = '';
    try {
      JSON.parse(body);
    } catch (err) {
      expected = (err as Error).message;
    }
    const res = await post(body);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'invalid_json', message: `The body is not valid JSON: ${expected}` });
    expect(await graphKeysInRedis()).toEqual([]);
  });

  it('a graph is read in the order its keys were sent: the first missing reference in that order is the one named', async () => {
    // JSON.parse would put the integer-like key "2" first; the graph route keeps the text's order.
    const res = await post(
      '{"graph": {"b": {"$op": "inc", "args": [{"$ref": "nope-b"}]}, "2": {"$op": "inc", "args": [{"$ref": "nope-2"}]}}, "keys": ["b", "2"]}',
    );
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'missing_dependency', key: 'b' });
  });

  it('a wrong content type is 415', async () => {
    const res = await post('x=1', 'application/x-www-form-urlencoded');
    expect(res.status).toBe(415);
    expect(res.body.error.code).toBe('unsupported_media_type');
  });

  it('a body over the limit is 413', async () => {
    const res = await post(JSON.stringify({ graph: { x: 'a'.repeat(70_000) }, keys: 'x' }));
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('body_too_large');
  });

  it('an unknown route is 404 not_found', async () => {
    const res = await fetch(`${weft.url}/v2/nothing`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as any).error.code).toBe('not_found');
  });
});

describe('graph lifecycle', () => {
  it('wait holds until done; GET status and result agree', async () => {
    const res = await post(
      JSON.stringify({ graph: { x: task('inc', 1), y: task('mul', ref('x'), 10) }, keys: ['y', 'x'], wait: 10 }),
    );
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'done', result: [20, 2] });
    const info = (await (await fetch(`${weft.url}/v1/graphs/${res.body.id}`)).json()) as any;
    expect(info).toMatchObject({
      id: res.body.id,
      status: 'done',
      progress: { total: 2, done: 2, running: 0, failed: 0 },
      outputs: res.body.outputs,
      error: null,
    });
    expect(info.finished).toBeGreaterThanOrEqual(info.started);
    expect(info.started).toBeGreaterThanOrEqual(info.created);
    const result = (await (await fetch(`${weft.url}/v1/graphs/${res.body.id}/result`)).json()) as any;
    expect(result.result).toEqual([20, 2]);
  });

  it('without wait the answer is 202 running/queued with futures; result?wait gets the value', async () => {
    const res = await post(JSON.stringify({ graph: { x: task('sleep', 300, 7) }, keys: 'x' }));
    expect(res.status).toBe(202);
    expect(['queued', 'running']).toContain(res.body.status);
    expect(res.body.outputs.$oid).toMatch(/^[\w-]{22}\.\d+$/);
    const early = await fetch(`${weft.url}/v1/graphs/${res.body.id}/result?wait=0`);
    expect(early.status).toBe(202);
    const late = await fetch(`${weft.url}/v1/graphs/${res.body.id}/result?wait=10`);
    expect(late.status).toBe(200);
    expect(((await late.json()) as any).result).toBe(7);
  });

  it('unknown graph ids are 404 graph_not_found on every route', async () => {
    for (const [method, path] of [
      ['GET', ''],
      ['GET', '/result'],
      ['DELETE', ''],
    ]) {
      const res = await fetch(`${weft.url}/v1/graphs/nope${path}`, { method });
      expect(res.status).toBe(404);
      expect(((await res.json()) as any).error).toMatchObject({ code: 'graph_not_found', id: 'nope' });
    }
  });

  it('cancel: queued tasks never start, status and result say cancelled', async () => {
    const graph: Record<string, unknown> = { slow: task('sleep', 400, 1) };
    for (let i = 0; i < 20; i++) graph[`after${i}`] = task('inc', ref('slow'));
    const res = await post(JSON.stringify({ graph, keys: Object.keys(graph).filter((k) => k !== 'slow') }));
    const events = async () => (await (await fetch(`${weft.url}/v1/graphs/${res.body.id}/events`)).json()).events;
    // Cancelled while `slow` runs, so its completion comes after the cancel: were it accepted, its
    // dependents would be released then.
    await waitFor('slow to start', async () => (await events()).some((e: any) => e.type === 'pretask'));
    const del = await fetch(`${weft.url}/v1/graphs/${res.body.id}`, { method: 'DELETE' });
    expect(del.status).toBe(200);
    expect(((await del.json()) as any).status).toBe('cancelled');
    await waitFor('the worker to finish slow and the task queue to be empty', queueIsIdle);
    const info = (await (await fetch(`${weft.url}/v1/graphs/${res.body.id}`)).json()) as any;
    expect(info.status).toBe('cancelled');
    expect(info.progress.done).toBe(0);
    expect(info.error.code).toBe('cancelled');
    expect((await events()).filter((e: any) => e.type === 'pretask').map((e: any) => e.key)).toEqual(['slow']);
    const result = (await (await fetch(`${weft.url}/v1/graphs/${res.body.id}/result`)).json()) as any;
    expect(result.status).toBe('cancelled');
    expect(result.result).toBeUndefined();
  });

  it('intermediates are freed when the graph is done; outputs are kept for ttl', async () => {
    const graph: Record<string, unknown> = {};
    for (let i = 0; i < 50; i++) graph[`m${i}`] = task('range', 100);
    graph.total = task(
      'sum',
      Array.from({ length: 50 }, (_, i) => task('len', ref(`m${i}`))),
    );
    const res = await post(JSON.stringify({ graph, keys: 'total', wait: 10, ttl: 120 }));
    expect(res.body.result).toBe(5000);
    const vals = `${weft.env.WEFT_PREFIX}:{${res.body.id}}:vals`;
    expect(await redis.hkeys(vals)).toEqual([res.body.outputs.$oid.split('.')[1]]);
    const ttl = await redis.ttl(`${weft.env.WEFT_PREFIX}:{${res.body.id}}:meta`);
    expect(ttl).toBeGreaterThan(100);
    expect(ttl).toBeLessThanOrEqual(120);
    // Scheduling state is gone once the graph is done; its events are kept as long as its outputs.
    const events = `${weft.env.WEFT_PREFIX}:{${res.body.id}}:events`;
    expect((await graphKeysInRedis()).filter((k) => k.includes(res.body.id)).sort()).toEqual(
      [`${weft.env.WEFT_PREFIX}:{${res.body.id}}:meta`, vals, events].sort(),
    );
    expect(await redis.ttl(events)).toBeGreaterThan(100);
  });

  it('a graph bigger than one registration chunk runs while it registers, data nodes and all', async () => {
    const graph: Record<string, unknown> = {};
    const n = 12_000;
    for (let i = 0; i < n; i++) {
      graph[`d${i}`] = i;
      graph[`t${i}`] = task('inc', ref(`d${i}`));
    }
    for (let j = 0; j < n / 100; j++)
      graph[`s${j}`] = task(
        'sum',
        Array.from({ length: 100 }, (_, k) => ref(`t${j * 100 + k}`)),
      );
    graph.total = task(
      'sum',
      Array.from({ length: n / 100 }, (_, j) => ref(`s${j}`)),
    );
    const big = await startWeftWithoutLimits();
    try {
      const res = await big.compute(graph, 'total');
      expect(res.status).toBe('done');
      expect(res.result).toBe((n * (n + 1)) / 2);
      // A task failing while later chunks are still being written: the graph fails and leaves no scheduling state behind.
      // (Specs are written last node first, so the last task is among the first to run.)
      graph[`t${n - 1}`] = task('fail', 'early');
      const failed = await big.compute(graph, 'total');
      expect(failed.status).toBe('failed');
      expect(failed.error).toMatchObject({ key: `t${n - 1}`, message: 'early' });
      const left = await redis.keys(`${big.env.WEFT_PREFIX}:{${failed.id}}:*`);
      expect(left).toContain(`${big.env.WEFT_PREFIX}:{${failed.id}}:meta`);
      expect(left.filter((k) => /:(spec|pend|refs|done)$/.test(k))).toEqual([]);
    } finally {
      await big.close();
    }
  });

  it('no requested keys ("keys": [] or [[]]) is done at once with a result of the same shape; GET result agrees', async () => {
    for (const keys of [[], [[]]]) {
      const res = await post(JSON.stringify({ graph: { x: task('inc', 1) }, keys, wait: 5 }));
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ status: 'done', outputs: keys, result: keys });
      const later = (await (await fetch(`${weft.url}/v1/graphs/${res.body.id}/result`)).json()) as any;
      expect(later).toMatchObject({ status: 'done', result: keys });
    }
  });

  it('a graph of data only is done at once', async () => {
    const res = await post(JSON.stringify({ graph: { x: [1, 2], y: ref('x') }, keys: ['y'], wait: 5 }));
    expect(res.body).toMatchObject({ status: 'done', result: [[1, 2]] });
  });
});

describe('the finish notification', () => {
  it("carries a done graph's small result, which the answer is made from; a big one is read from the graph", async () => {
    const sub = new Redis(weft.env.REDIS_URL);
    const messages: Buffer[] = [];
    await sub.subscribe(`${weft.env.WEFT_PREFIX}:finished`);
    sub.on('messageBuffer', (_ch: Buffer, m: Buffer) => messages.push(m));
    try {
      const small = await post(
        JSON.stringify({ graph: { x: 41, y: task('inc', ref('x')) }, keys: [['y'], 'x'], wait: 10 }),
      );
      expect(small.body).toMatchObject({ status: 'done', result: [[42], 41] });
      // 10,000 integers: about 30 KB of MessagePack.
      const big = await post(JSON.stringify({ graph: { s: task('range', 10_000) }, keys: 's', wait: 10 }));
      expect(big.body.status, JSON.stringify(big.body)).toBe('done');
      expect(big.body.result).toEqual(Array.from({ length: 10_000 }, (_, i) => i));
      await waitFor('both notifications', () => messages.length >= 2);
      const [smallMessage, bigMessage] = messages;
      // The small one: the id, '\n', then its output values (2) as their lengths and stored bytes.
      const cut = smallMessage.indexOf(0x0a);
      expect(smallMessage.toString('latin1', 0, cut)).toBe(small.body.id);
      expect(smallMessage.readUInt32BE(cut + 1)).toBe(2);
      // The big one is over the notification's limit: the id alone.
      expect(bigMessage.toString('latin1')).toBe(big.body.id);
    } finally {
      sub.disconnect();
    }
  });
});

describe('service routes', () => {
  it('GET /v1/ops lists the built-in ops with descriptions', async () => {
    const body = (await (await fetch(`${weft.url}/v1/ops`)).json()) as any;
    const names = body.ops.map((o: { name: string }) => o.name);
    for (const op of [
      'identity',
      'inc',
      'add',
      'sub',
      'mul',
      'div',
      'neg',
      'sum',
      'len',
      'min',
      'max',
      'mean',
      'getitem',
      'concat',
      'range',
      'sleep',
      'fail',
    ])
      expect(names).toContain(op);
    for (const o of body.ops) expect(o.description.length).toBeGreaterThan(5);
  });

  it('GET /healthz reports Redis and the live worker', async () => {
    const body = (await (await fetch(`${weft.url}/healthz`)).json()) as any;
    expect(body).toEqual({ ok: true, redis: true, workers: 1, version: expect.any(String), api_version: 1 });
  });
});
