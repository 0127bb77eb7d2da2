/**
 * Dask's scheduler contract (GetFunctionTestMixin in dask/utils_test.py),
 * translated to weft's JSON graphs and run end to end: HTTP through Fastify,
 * BullMQ, two worker processes, Redis.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWeft, type Weft } from './helpers/weft.ts';
import { ref, task } from './helpers/nodes.ts';

let weft: Weft;
beforeAll(async () => {
  weft = await startWeft({ workers: 2 });
});
afterAll(() => weft?.close());

async function get(graph: unknown, keys: unknown): Promise<unknown> {
  const res = await weft.compute(graph, keys);
  expect(res.status, JSON.stringify(res.error)).toBe('done');
  return res.result;
}

async function rejected(
  graph: unknown,
  keys: unknown,
): Promise<{ code: string; message: string } & Record<string, unknown>> {
  const { status, body } = await weft.submit({ graph, keys });
  expect(status).toBe(400);
  return body.error;
}

describe('the scheduler contract of dask.utils_test.GetFunctionTestMixin', () => {
  it('get: data, a task over data, a task over tasks', async () => {
    const d = { ':x': 1, ':y': task('inc', ref(':x')), ':z': task('add', ref(':x'), ref(':y')) };
    expect(await get(d, ':x')).toBe(1);
    expect(await get(d, ':y')).toBe(2);
    expect(await get(d, ':z')).toBe(3);
  });

  it('badkey: a requested key not in the graph is unknown_key', async () => {
    const d = { ':x': 1, ':y': task('inc', ref(':x')), ':z': task('add', ref(':x'), ref(':y')) };
    const err = await rejected(d, 'badkey');
    expect(err.code).toBe('unknown_key');
    expect(err.keys).toEqual(['badkey']);
  });

  it('nested badkey: a missing key deep in nested keys is found', async () => {
    const d = { x: 1, y: 2, z: task('sum', [ref('x'), ref('y')]) };
    const err = await rejected(d, [['badkey'], 'y']);
    expect(err.code).toBe('unknown_key');
    expect(err.message).toContain('"badkey"');
  });

  it('data not in dict is ok: literals inside tasks', async () => {
    expect(await get({ x: 1, y: task('add', ref('x'), 10) }, 'y')).toBe(11);
  });

  it('get with list: a list of keys gives a list of values', async () => {
    const d = { x: 1, y: 2, z: task('sum', [ref('x'), ref('y')]) };
    expect(await get(d, ['x', 'y'])).toEqual([1, 2]);
    expect(await get(d, 'z')).toBe(3);
  });

  it('get with list at top level: lists of refs and tasks resolve at any depth', async () => {
    const d = {
      a: [1, 2, 3],
      b: ref('a'),
      c: [1, task('inc', 1)],
      d: [task('sum', ref('a'))],
      e: [ref('a'), ref('b')],
      f: [[[task('sum', ref('a')), ref('c')], task('sum', ref('b'))], 2],
    };
    expect(await get(d, 'a')).toEqual([1, 2, 3]);
    expect(await get(d, 'b')).toEqual([1, 2, 3]);
    expect(await get(d, 'c')).toEqual([1, 2]);
    expect(await get(d, 'd')).toEqual([6]);
    expect(await get(d, 'e')).toEqual([
      [1, 2, 3],
      [1, 2, 3],
    ]);
    expect(await get(d, 'f')).toEqual([[[6, [1, 2]], 6], 2]);
  });

  it('get with nested list: the result has the nesting of the keys', async () => {
    const d = { x: 1, y: 2, z: task('sum', [ref('x'), ref('y')]) };
    expect(await get(d, [['x'], 'y'])).toEqual([[1], 2]);
    expect(await get(d, 'z')).toBe(3);
  });

  it('unhashables in values: objects and arrays as literal arguments', async () => {
    const d = {
      x: 1,
      y: task('add', ref('x'), task('len', { a: 1 })),
      w: task('len', { $literal: { $weird: [1, 2] } }),
    };
    expect(await get(d, 'y')).toBe(2);
    expect(await get(d, 'w')).toBe(1);
  });

  it('nested tasks run inside their task', async () => {
    const d = { x: 1, y: task('inc', ref('x')), z: task('add', task('inc', ref('x')), ref('y')) };
    expect(await get(d, 'z')).toBe(4);
  });

  it('a 10,000-long chain (stack limit)', async () => {
    const d: Record<string, unknown> = { x0: 0 };
    for (let i = 1; i <= 10_000; i++) d[`x${i}`] = task('inc', ref(`x${i - 1}`));
    expect(await get(d, 'x10000')).toBe(10_000);
  });

  it('a high-level graph: layers are merged', async () => {
    const layers = { a: { x: 1, y: task('inc', ref('x')) }, b: { z: task('add', task('inc', ref('x')), ref('y')) } };
    const res = await weft.submit({ layers, dependencies: { a: [], b: ['a'] }, keys: 'z', wait: 30 });
    expect(res.body.result).toBe(4);
    const dup = await weft.submit({ layers: { a: { x: 1 }, b: { x: 2 } }, keys: 'x' });
    expect(dup.status).toBe(400);
    expect(dup.body.error.code).toBe('invalid_graph');
  });
});

describe('references, culling and errors', () => {
  it('aliases resolve through chains, and outputs name the target object', async () => {
    const d = { x: task('inc', 1), a: ref('x'), b: ref('a'), c: task('add', ref('b'), ref('a')) };
    const res = await weft.compute(d, ['b', 'c', 'x']);
    expect(res.result).toEqual([2, 4, 2]);
    expect(res.outputs[0]).toEqual(res.outputs[2]);
  });

  it('a bare string is a string, never a reference', async () => {
    expect(await get({ x: 'y', y: 5, z: task('identity', 'y') }, ['x', 'z'])).toEqual(['y', 'y']);
  });

  it('$literal passes data through untouched, even with markers inside', async () => {
    const data = { $ref: 'nope', list: [{ $op: 'x' }] };
    expect(await get({ x: task('identity', { $literal: data }) }, 'x')).toEqual(data);
  });

  it('plain objects resolve their values; kwargs are passed by name', async () => {
    const d = { x: 2, o: { a: ref('x'), b: [task('inc', ref('x'))] }, g: { $op: 'getitem', args: [ref('o'), 'a'] } };
    expect(await get(d, ['o', 'g'])).toEqual([{ a: 2, b: [3] }, 2]);
  });

  it('culling: an unrequested failing task does not run', async () => {
    const d = { x: 1, bad: task('fail', 'must not run'), y: task('inc', ref('x')) };
    const res = await weft.compute(d, 'y');
    expect(res.status).toBe('done');
    expect(res.result).toBe(2);
    const info = await (await fetch(`${weft.url}/v1/graphs/${res.id}`)).json();
    expect(info.progress.total).toBe(1);
  });

  it('a failing task fails the graph with key, op, message and stack; dependents never run', async () => {
    const d = {
      x: 1,
      bad: task('fail', 'boom'),
      after: task('sleep', 0, task('identity', ref('bad'))),
      ok: task('inc', ref('x')),
    };
    const res = await weft.compute(d, ['after', 'ok']);
    expect(res.status).toBe('failed');
    expect(res.error).toMatchObject({ key: 'bad', op: 'fail', message: 'boom' });
    expect(res.error.stack).toContain('boom');
    const info = await (await fetch(`${weft.url}/v1/graphs/${res.id}`)).json();
    expect(info.status).toBe('failed');
    expect(info.progress.done).toBeLessThan(info.progress.total);
    // The worker keeps serving other graphs.
    expect(await get({ a: task('inc', 41) }, 'a')).toBe(42);
  });

  it('a failing task fused into its dependent is still named in the error', async () => {
    const res = await weft.compute({ a: task('div', 1, 0), b: task('inc', ref('a')), c: task('inc', ref('b')) }, 'c');
    expect(res.status).toBe('failed');
    expect(res.error).toMatchObject({ key: 'a', op: 'div' });
    const info = await (await fetch(`${weft.url}/v1/graphs/${res.id}`)).json();
    expect(info.progress.total).toBe(1);
  });

  it('options.optimize.fuse: false runs every key as its own task', async () => {
    const res = await weft.compute({ a: task('inc', 1), b: task('inc', ref('a')), c: task('inc', ref('b')) }, 'c', {
      options: { optimize: { fuse: false } },
    });
    expect(res.result).toBe(4);
    const info = await (await fetch(`${weft.url}/v1/graphs/${res.id}`)).json();
    expect(info.progress.total).toBe(3);
  });

  it('an op throwing on bad arguments gives its message', async () => {
    const res = await weft.compute({ x: task('div', 1, 0) }, 'x');
    expect(res.status).toBe('failed');
    expect(res.error.message).toMatch(/division by zero/);
  });

  it('keys like __proto__ and constructor are ordinary keys', async () => {
    const d = JSON.parse(
      '{"__proto__": 1, "constructor": {"$op": "inc", "args": [{"$ref": "__proto__"}]}, "": {"$op": "inc", "args": [{"$ref": "constructor"}]}}',
    );
    expect(await get(d, ['__proto__', 'constructor', ''])).toEqual([1, 2, 3]);
  });

  it('every built-in op computes what its description says', async () => {
    const d = {
      id: task('identity', [1]),
      neg: task('neg', 2),
      sub: task('sub', 5, 3),
      mul: task('mul', 4, 3),
      div: task('div', 9, 3),
      sum: task('sum', [1, 2, 3]),
      len: task('len', [1, 2]),
      min: task('min', [3, 1, 2]),
      max: task('max', [3, 1, 2]),
      mean: task('mean', [1, 2, 3, 6]),
      gi: task('getitem', [1, 2, 3], -1),
      concat: task('concat', [[1], [2, 3]]),
      range: task('range', 4),
      range3: task('range', 1, 7, 2),
      sleep: task('sleep', 5, 'late'),
    };
    const keys = Object.keys(d);
    expect(await get(d, keys)).toEqual([
      [1],
      -2,
      2,
      12,
      3,
      6,
      2,
      1,
      3,
      3,
      3,
      [1, 2, 3],
      [0, 1, 2, 3],
      [1, 3, 5],
      'late',
    ]);
  });
});

describe('multiple-return tasks', () => {
  it('each output is its own object; consumers reference output j', async () => {
    const d = {
      s: { $op: 'range', args: [3], returns: 3 },
      a: task('add', { $ref: 's', index: 2 }, { $ref: 's', index: 1 }),
    };
    const res = await weft.compute(d, ['a', 's']);
    expect(res.status, JSON.stringify(res.error)).toBe('done');
    expect(res.result).toEqual([3, [0, 1, 2]]);
    expect(res.outputs[1]).toHaveLength(3);
    expect(res.outputs[1][2].$oid).toMatch(/\.\d+:2$/);
    const one = await (await fetch(`${weft.url}/v1/objects/${res.outputs[1][2].$oid}`)).json();
    expect(one).toBe(2);
  });

  it('a wrong number of values fails the task with a clear error', async () => {
    const res = await weft.compute(
      { s: { $op: 'range', args: [4], returns: 3 }, a: task('identity', { $ref: 's', index: 0 }) },
      'a',
    );
    expect(res.status).toBe('failed');
    expect(res.error).toMatchObject({ key: 's', op: 'range' });
    expect(res.error.message).toContain('"returns": 3, but its op returned 4 values');
  });

  it('an index out of range is rejected at submission', async () => {
    const { status, body } = await weft.submit({
      graph: { s: { $op: 'range', args: [3], returns: 3 }, a: task('identity', { $ref: 's', index: 3 }) },
      keys: 'a',
    });
    expect(status).toBe(400);
    expect(body.error).toMatchObject({ code: 'invalid_graph', target: 's', index: 3 });
  });

  it('a consumer of one output of a 100-output task gets that output; the unread ones are not kept', async () => {
    const res = await weft.compute(
      { s: { $op: 'range', args: [100], returns: 100 }, a: task('mul', { $ref: 's', index: 57 }, 2) },
      'a',
    );
    expect(res.result).toBe(114);
    const { Redis } = await import('ioredis');
    const redis = new Redis(weft.env.REDIS_URL);
    expect(await redis.hkeys(`${weft.env.WEFT_PREFIX}:{${res.id}}:vals`)).toEqual([res.outputs.$oid.split('.')[1]]);
    redis.disconnect();
  });
});
