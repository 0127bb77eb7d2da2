/**
 * The TypeScript SDK (@weft/client) against a running weft: delayed calls,
 * Array and DataFrame collections checked against straightforward
 * single-process computations of the same data, persist/release, put/get,
 * events, errors, and deterministic keys.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Client,
  DataFrame,
  Delayed,
  NDArray,
  RemoteTaskError,
  type WeftArray,
  WeftError,
  arange,
  delayed,
  fromArray,
  fromRecords,
  kwargs,
  ones,
  random,
  zeros,
} from '@weft/client';
import { startWeft, type Weft } from './helpers/weft.ts';
import { random as rng } from './helpers/random.ts';

let weft: Weft;
let client: Client;
beforeAll(async () => {
  weft = await startWeft({ workers: 2 });
  client = new Client({ url: weft.url });
});
afterAll(() => weft?.close());

/** A nested list of numbers, row-major, of a shape. */
function grid(shape: number[], f: (flat: number) => number): unknown[] {
  let i = 0;
  const build = (d: number): unknown[] =>
    Array.from({ length: shape[d] }, () => (d === shape.length - 1 ? f(i++) : build(d + 1)));
  return build(0);
}

const close = (a: number, b: number, rel = 1e-12) =>
  expect(Math.abs(a - b)).toBeLessThanOrEqual(rel * Math.max(1, Math.abs(b)));

describe('delayed', () => {
  it('builds graphs from calls, with kwargs, getitem and futures as arguments', async () => {
    const total = delayed('add')(delayed('inc')(1), 10);
    expect(await client.compute(total)).toBe(12);
    const pair = delayed('identity')([total, delayed('mul')(3, 4)]);
    expect(await client.compute([pair.get(1), pair])).toEqual([12, [12, 12]]);
    const sum = delayed('array.sum')(
      delayed('array.from')([
        [1, 2],
        [3, 4],
      ]),
      kwargs({ axis: 0 }),
    );
    expect(await client.compute(sum)).toEqual(new NDArray('float64', [2], new Float64Array([4, 6])));
    const stored = await client.put({ $ndarray: 'is data, not a marker' });
    expect(await client.compute(delayed('getitem')(stored, '$ndarray'))).toBe('is data, not a marker');
  });

  it('a Delayed computes and persists by itself, as collections do: x.mean().compute() (docs/client.md)', async () => {
    const x = fromArray(
      [
        [1, 2],
        [3, 6],
      ],
      { chunks: 1 },
    );
    expect(await x.mean().compute(client)).toBe(3);
    // Without a client: the newest Client is the default, as for collections.
    expect(await delayed('add')(delayed('inc')(1), 10).compute()).toBe(12);
    const kept = await x.sum().persist();
    expect(kept).toBeInstanceOf(Delayed);
    expect(await kept.compute()).toBe(12);
    await client.release(kept);
  });

  it('names equal calls equally, so they are one task', () => {
    expect(delayed('inc')(1).key).toBe(delayed('inc')(1).key);
    expect(delayed('inc')(1).key).not.toBe(delayed('inc')(2).key);
    expect(delayed('add')(delayed('inc')(1), 1).key).toBe(delayed('add')(delayed('inc')(1), 1).key);
  });

  it('raises a failed task as RemoteTaskError with key, op, message and stack; a rejected graph as WeftError with its code', async () => {
    const bad = delayed('fail')('boom');
    const err = await client.compute(delayed('inc')(bad)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteTaskError);
    expect(err).toMatchObject({ key: bad.key, op: 'fail', message: expect.stringContaining('boom') });
    expect((err as RemoteTaskError).remoteStack).toContain('boom');
    const rejected = await client.compute(delayed('no.such.op')(1)).catch((e: unknown) => e);
    expect(rejected).toBeInstanceOf(WeftError);
    expect(rejected).toMatchObject({ code: 'unknown_op', status: 400 });
    const down = await new Client({ url: 'http://127.0.0.1:1', asDefault: false }).ops().catch((e: unknown) => e);
    expect(down).toMatchObject({ code: 'unreachable' });
  });
});

describe('Array', () => {
  const data = grid([7, 5], (i) => (i * 37) % 11) as number[][];
  const flat = data.flat();

  it("fromArray keeps the data through uneven chunks, and the chunk structure is Dask's", async () => {
    const x = fromArray(data, { chunks: [3, 2] });
    expect(x.chunks).toEqual([
      [3, 3, 1],
      [2, 2, 1],
    ]);
    expect(x.shape).toEqual([7, 5]);
    expect(x.dtype).toBe('int32');
    const back = await x.compute(client);
    expect(back.shape).toEqual([7, 5]);
    expect(Array.from(back.data)).toEqual(flat);
  });

  it('reductions over all elements and along each axis match a direct computation', async () => {
    const x = fromArray(data, { chunks: [3, 2] });
    const n = flat.length;
    const mean = flat.reduce((a, b) => a + b, 0) / n;
    const variance = flat.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
    const [sum, m, lo, hi, sd, sd1] = await client.compute([
      x.sum(),
      x.mean(),
      x.min(),
      x.max(),
      x.std(),
      x.std({ ddof: 1 }),
    ] as any);
    expect(sum).toBe(flat.reduce((a, b) => a + b, 0));
    close(m as number, mean);
    expect(lo).toBe(Math.min(...flat));
    expect(hi).toBe(Math.max(...flat));
    close(sd as number, Math.sqrt(variance));
    close(sd1 as number, Math.sqrt((variance * n) / (n - 1)));
    const colMeans = x.mean({ axis: 0 }) as WeftArray;
    expect(colMeans.chunks).toEqual([[2, 2, 1]]);
    const cols = await colMeans.compute(client);
    data[0].forEach((_, j) => close(cols.data[j], data.reduce((a, row) => a + row[j], 0) / data.length));
    const rowMax = await (x.max({ axis: -1 }) as WeftArray).compute(client);
    expect(Array.from(rowMax.data)).toEqual(data.map((row) => Math.max(...row)));
  });

  it('elementwise ops with numbers and with arrays, and creation functions', async () => {
    const x = fromArray(data, { chunks: 3 });
    const y = x.mul(2).add(x).sub(1).div(4);
    expect(Array.from((await y.compute(client)).data)).toEqual(flat.map((v) => (v * 2 + v - 1) / 4));
    expect(Array.from((await x.gt(5).compute(client)).data)).toEqual(flat.map((v) => (v > 5 ? 1 : 0)));
    const total = ones([10, 10], { chunks: 4 })
      .add(zeros([10, 10], { chunks: 4 }))
      .sum();
    // A reduction to one number is lazy too (a Delayed), computed like any other.
    expect(total).toBeInstanceOf(Delayed);
    expect(await client.compute(total)).toBe(100);
    expect(await client.compute(ones([10, 10], { chunks: 4 }).mul(3).sum() as any)).toBe(300);
    const r = arange(0, 100, 3, { chunks: 10 });
    expect(r.shape).toEqual([34]);
    expect(Array.from((await r.compute(client)).data)).toEqual(Array.from({ length: 34 }, (_, i) => i * 3));
    expect(await client.compute(r.sum() as any)).toBe((33 * 34 * 3) / 2);
    expect(() => x.add(fromArray(data, { chunks: 2 }))).toThrow(/chunked differently/);
    expect(() => x.add(ones([5, 7]))).toThrow(/shapes \[7,5\] and \[5,7\] differ/);
  });

  it('random is reproducible from its seed, uniform in [0, 1), and its mean matches its blocks', async () => {
    const a = random([300, 200], { chunks: [100, 50], seed: 42 });
    expect(a.name).toBe(random([300, 200], { chunks: [100, 50], seed: 42 }).name);
    expect(a.name).not.toBe(random([300, 200], { chunks: [100, 50], seed: 43 }).name);
    const [values, mean] = (await client.compute([a, a.mean()] as any)) as [NDArray, number];
    expect(values.data.length).toBe(60_000);
    expect(Array.from(values.data).every((v) => v >= 0 && v < 1)).toBe(true);
    close(mean, Array.from(values.data).reduce((s, v) => s + v, 0) / values.data.length);
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.01);
    const again = await a.compute(client);
    expect(again.data).toEqual(values.data);
  });

  it('slices like numpy with starts, stops, steps and indexes, reading only the blocks it touches', async () => {
    const x = fromArray(data, { chunks: [3, 2] });
    const s = x.slice([
      [1, 6, 2],
      [-4, null],
    ]) as WeftArray;
    expect(s.shape).toEqual([3, 4]);
    const want = [1, 3, 5].flatMap((i) => data[i].slice(1));
    expect(Array.from((await s.compute(client)).data)).toEqual(want);
    const row = x.slice([4]) as WeftArray;
    expect(Array.from((await row.compute(client)).data)).toEqual(data[4]);
    expect(await client.compute(x.slice([-1, 2]) as any)).toBe(data[6][2]);
    const empty = x.slice([[5, 2]]) as WeftArray;
    expect(empty.shape).toEqual([0, 5]);
    expect(() => x.slice([[null, null, -1]])).toThrow(/positive integer steps/);
    expect(() => x.slice([9])).toThrow(/out of range/);
  });

  it('persist: later computes read the stored blocks instead of recomputing them; release frees them', async () => {
    const x = random([400, 400], { chunks: 100, seed: 3 }).mul(10);
    const p = await x.persist(client);
    expect(p.name).toBe(x.name);
    expect([...p.layers.keys()]).toEqual([x.name]);
    const [sum, lo, hi] = (await client.compute([p.sum(), p.min(), p.max()] as any)) as number[];
    const whole = await x.compute(client);
    close(
      sum,
      Array.from(whole.data).reduce((a, b) => a + b, 0),
    );
    expect(lo).toBe(Array.from(whole.data).reduce((a, b) => Math.min(a, b)));
    expect(hi).toBe(Array.from(whole.data).reduce((a, b) => Math.max(a, b)));
    await client.release(p);
    const gone = await client.compute(p.sum() as any).catch((e: unknown) => e);
    expect(gone).toMatchObject({ code: 'unknown_object' });
  });
});

describe('DataFrame', () => {
  const next = rng(9);
  const rows = Array.from({ length: 2000 }, (_, i) => ({
    id: i,
    age: Math.floor(next() * 60),
    grade: Math.floor(next() * 100),
    name: `n${i % 7}`,
  }));

  it('groupby(...).mean() and agg() match a direct computation, across partitions', async () => {
    const df = fromRecords(rows, { npartitions: 10 });
    expect(df.columns).toEqual(['id', 'age', 'grade', 'name']);
    expect(df.dtypes.name).toBe('string');
    const means = await df.groupby('age').mean().compute(client);
    const byAge = new Map<number, typeof rows>();
    for (const r of rows) byAge.set(r.age, [...(byAge.get(r.age) ?? []), r]);
    const ages = [...byAge.keys()].sort((a, b) => a - b);
    expect(means.map((r) => r.age)).toEqual(ages);
    means.forEach((r) => {
      const g = byAge.get(r.age as number)!;
      close(r.grade as number, g.reduce((a, x) => a + x.grade, 0) / g.length);
      close(r.id as number, g.reduce((a, x) => a + x.id, 0) / g.length);
      expect(r).not.toHaveProperty('name');
    });
    const agg = await df
      .groupby(['name'])
      .agg({ n: ['id', 'count'], top: ['grade', 'max'] })
      .compute(client);
    expect(agg).toEqual(
      [...new Set(rows.map((r) => r.name))].sort().map((name) => {
        const g = rows.filter((r) => r.name === name);
        return { name, n: g.length, top: Math.max(...g.map((r) => r.grade)) };
      }),
    );
  });

  it('setIndex then head(10, npartitions: -1) gives the smallest rows; sortValues descending sorts globally', async () => {
    const df = fromRecords(rows, { npartitions: 8 });
    const indexed = df.setIndex('grade');
    expect(indexed.index).toBe('grade');
    const head = await indexed.head(10, { npartitions: -1 }).compute(client);
    expect(head.map((r) => r.grade)).toEqual(
      rows
        .map((r) => r.grade)
        .sort((a, b) => a - b)
        .slice(0, 10),
    );
    const desc = await df.sortValues('age', { ascending: false }).compute(client);
    expect(desc.map((r) => r.age)).toEqual(rows.map((r) => r.age).sort((a, b) => b - a));
    expect(desc).toHaveLength(rows.length);
  });

  it('filter, assign, length and merge match a direct computation', async () => {
    const df = fromRecords(rows, { npartitions: 5 });
    const older = df
      .filter(['and', ['age', '>=', 30], ['name', 'in', ['n1', 'n2']]])
      .assign({ score: ['*', { col: 'grade' }, 2] });
    const want = rows.filter((r) => r.age >= 30 && (r.name === 'n1' || r.name === 'n2'));
    const got = await older.compute(client);
    expect(got.map((r) => [r.id, r.score])).toEqual(want.map((r) => [r.id, r.grade * 2]));
    expect(await client.compute(older.length())).toBe(want.length);
    const names = fromRecords(
      ['n0', 'n1', 'n2', 'n3'].map((name, i) => ({ name, label: i * 10 })),
      { npartitions: 2 },
    );
    for (const how of ['inner', 'left'] as const) {
      const merged = await df.merge(names, { on: 'name', how }).sortValues('id').compute(client);
      const labels = new Map([
        ['n0', 0],
        ['n1', 10],
        ['n2', 20],
        ['n3', 30],
      ]);
      const expected = rows
        .filter((r) => how === 'left' || labels.has(r.name))
        .map((r) => ({ ...r, label: labels.get(r.name) ?? null }));
      expect(merged).toEqual(expected);
    }
  });

  it('persist keeps the partitions as objects for later computes', async () => {
    const df = fromRecords(rows, { npartitions: 4 }).assign({ double: ['*', { col: 'grade' }, 2] });
    const p = await client.persist(df);
    expect(p).toBeInstanceOf(DataFrame);
    const [n, byName] = await client.compute([p.length(), p.groupby('name').sum()]);
    expect(n).toBe(rows.length);
    expect((byName as any[]).find((r) => r.name === 'n3').double).toBe(
      2 * rows.filter((r) => r.name === 'n3').reduce((a, r) => a + r.grade, 0),
    );
    await client.release(p);
  });
});

describe('client', () => {
  it('put/get keep NDArrays binary and plain values as JSON', async () => {
    const a = new NDArray('float32', [2, 2], new Float32Array([1.5, 2.5, -3, 4]));
    const ref = await client.put(a);
    expect(await client.get(ref)).toEqual(a);
    const v = await client.put({ a: [1, 'x', null] });
    expect(await client.get(v.$oid)).toEqual({ a: [1, 'x', null] });
    await client.release([ref, v]);
    await expect(client.get(ref)).rejects.toMatchObject({ code: 'object_not_found', status: 404 });
  });

  it("events(id) yields the graph's lifecycle, ending after finish", async () => {
    const chain = [1, 2, 3].reduce((acc: any, i) => delayed('sleep')(5, delayed('add')(acc, i)), 0);
    const submitted = await client.submit({
      graph: Object.fromEntries([...chain.layers.values()].flatMap((l: any) => Object.entries(l))),
      keys: chain.key,
      options: { optimize: { fuse: false } },
    });
    const types: string[] = [];
    for await (const e of client.events(submitted.id)) types.push(e.type);
    expect(types[0]).toBe('postsubmit');
    expect(types.at(-1)).toBe('finish');
    expect(types.filter((t) => t === 'posttask')).toHaveLength(6);
    expect((await client.status(submitted.id)).status).toBe('done');
  });

  it('equal expressions share keys, so a compute of several runs shared tasks once', async () => {
    const a = ones([100], { chunks: 10 });
    expect(a.add(1).name).toBe(ones([100], { chunks: 10 }).add(1).name);
    const res = await client.submit({
      graph: Object.fromEntries(
        [a.add(1).sum(), a.add(1).mean()].flatMap((d: any) =>
          [...d.layers.values()].flatMap((l: any) => Object.entries(l)),
        ),
      ),
      keys: [(a.add(1).sum() as any).key, (a.add(1).mean() as any).key],
      wait: 30,
      options: { optimize: { fuse: false } },
    });
    expect(res.result).toEqual([200, 2]);
    // 10 ones + 10 adds + 10 moments + 3 combines (8 + 2, then the root) + 2 finalizes: the sum and the mean share everything but their finalize.
    expect((await client.status(res.id)).progress.total).toBe(10 + 10 + 10 + 3 + 2);
  });
});
