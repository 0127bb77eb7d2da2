/**
 * The seed's array and dataframe examples over HTTP, each checked against a
 * straightforward single-process computation of the same data.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWeft, type Weft } from './helpers/weft.ts';
import { random } from './helpers/random.ts';
import { ref, task } from './helpers/nodes.ts';

let weft: Weft;
beforeAll(async () => {
  weft = await startWeft({ workers: 2 });
});
afterAll(() => weft?.close());

describe('arrays', () => {
  it('the mean of a 256x256 random-int array in 64x64 chunks (a tree reduction of exact partials)', async () => {
    const graph: Record<string, unknown> = {};
    const chunks: string[] = [];
    for (let i = 0; i < 4; i++) {
      for (let j = 0; j < 4; j++) {
        const key = `chunk-${i}-${j}`;
        graph[key] = task('array.randint', 0, 1000, [64, 64], i * 4 + j);
        graph[`moments-${i}-${j}`] = task('array.moments', ref(key));
        chunks.push(key);
      }
      graph[`row-${i}`] = task(
        'array.combine_moments',
        [0, 1, 2, 3].map((j) => ref(`moments-${i}-${j}`)),
      );
    }
    graph.total = task(
      'array.combine_moments',
      [0, 1, 2, 3].map((i) => ref(`row-${i}`)),
    );
    graph.mean = task('array.finalize', ref('total'), 'mean');
    graph.std = task('array.finalize', ref('total'), 'std');
    const res = await weft.compute(graph, ['mean', 'std', chunks]);
    expect(res.status, JSON.stringify(res.error)).toBe('done');
    const [mean, std, blocks] = res.result as [
      number,
      number,
      { $ndarray: { dtype: string; shape: number[]; data: number[] } }[],
    ];
    const values = blocks.flatMap((b) => {
      expect(b.$ndarray).toMatchObject({ dtype: 'int32', shape: [64, 64] });
      return b.$ndarray.data;
    });
    expect(values).toHaveLength(256 * 256);
    const expected = values.reduce((a, b) => a + b, 0) / values.length;
    const variance = values.reduce((a, b) => a + (b - expected) ** 2, 0) / values.length;
    expect(Math.abs(mean - expected) / expected).toBeLessThan(1e-12);
    expect(Math.abs(std - Math.sqrt(variance)) / Math.sqrt(variance)).toBeLessThan(1e-12);
    expect(values.every((v) => Number.isInteger(v) && v >= 0 && v < 1000)).toBe(true);
  });
});

function ageGradeRows(n: number, seed: number): { age: number; grade: number }[] {
  const next = random(seed);
  return Array.from({ length: n }, () => ({ age: Math.floor(next() * 100), grade: Math.floor(next() * 100) }));
}

describe('dataframes', () => {
  it('groupby("age").mean() of a 1024-row frame in 4 partitions, exact across partitions', async () => {
    const rows = ageGradeRows(1024, 7);
    const graph: Record<string, unknown> = {};
    const aggs = { grade: ['grade', 'mean'] };
    for (let p = 0; p < 4; p++) {
      graph[`part-${p}`] = task('frame.from_records', { $literal: rows.slice(p * 256, (p + 1) * 256) });
      graph[`partial-${p}`] = task('frame.groupby_partial', ref(`part-${p}`), 'age', aggs);
    }
    graph.combined = task(
      'frame.groupby_combine',
      [0, 1, 2, 3].map((p) => ref(`partial-${p}`)),
      'age',
      aggs,
    );
    graph.mean = task('frame.to_records', task('frame.groupby_finalize', ref('combined'), 'age', aggs));
    const res = await weft.compute(graph, 'mean');
    expect(res.status, JSON.stringify(res.error)).toBe('done');
    const expected = new Map<number, number[]>();
    for (const r of rows) expected.set(r.age, [...(expected.get(r.age) ?? []), r.grade]);
    const want = [...expected]
      .sort(([a], [b]) => a - b)
      .map(([age, gs]) => ({ age, grade: gs.reduce((x, y) => x + y, 0) / gs.length }));
    expect(res.result).toHaveLength(want.length);
    res.result.forEach((row: { age: number; grade: number }, i: number) => {
      expect(row.age).toBe(want[i].age);
      expect(Math.abs(row.grade - want[i].grade)).toBeLessThanOrEqual(1e-12 * Math.abs(want[i].grade));
    });
  });

  it('set_index("age") over 100 partitions (a task-based shuffle, rewritten into one stage), then head(10) across all partitions', async () => {
    const rows = ageGradeRows(10_000, 11);
    const n = 100;
    const q = Array.from({ length: 19 }, (_, i) => (i + 1) / 20);
    const graph: Record<string, unknown> = {};
    for (let p = 0; p < n; p++) {
      graph[`part-${p}`] = task('frame.from_records', { $literal: rows.slice(p * 100, (p + 1) * 100) });
      graph[`q-${p}`] = task('frame.quantiles', ref(`part-${p}`), 'age', q);
      graph[`n-${p}`] = task('frame.len', ref(`part-${p}`));
    }
    graph.bounds = task(
      'frame.boundaries',
      Array.from({ length: n }, (_, p) => ref(`q-${p}`)),
      n,
      Array.from({ length: n }, (_, p) => ref(`n-${p}`)),
    );
    // Dask's task-based shuffle: a split per input, a getitem per (input, output), a concat per output.
    for (let p = 0; p < n; p++) {
      graph[`split-${p}`] = task('frame.shuffle_group', ref(`part-${p}`), 'age', n, ref('bounds'));
      for (let j = 0; j < n; j++) graph[`get-${p}-${j}`] = task('getitem', ref(`split-${p}`), j);
    }
    for (let j = 0; j < n; j++) {
      graph[`out-${j}`] = task(
        'frame.sort_values',
        task(
          'frame.concat',
          Array.from({ length: n }, (_, p) => ref(`get-${p}-${j}`)),
        ),
        'age',
      );
      graph[`head-${j}`] = task('frame.head', ref(`out-${j}`), 10);
    }
    // head(10, npartitions=-1): the first 10 rows over the partitions in order.
    graph.head = task(
      'frame.to_records',
      task(
        'frame.head',
        task(
          'frame.concat',
          Array.from({ length: n }, (_, j) => ref(`head-${j}`)),
        ),
        10,
      ),
    );

    const ages = [...rows].sort((a, b) => a.age - b.age).map((r) => r.age);
    const results: unknown[] = [];
    for (const shuffle of [true, false]) {
      const res = await weft.compute(graph, 'head', { options: { optimize: { shuffle } } });
      expect(res.status, JSON.stringify(res.error)).toBe('done');
      expect(res.result.map((r: { age: number }) => r.age)).toEqual(ages.slice(0, 10));
      const info = (await (await fetch(`${weft.url}/v1/graphs/${res.id}`)).json()) as any;
      results.push({ rows: res.result, tasks: info.progress.total });
    }
    const [rewritten, naive] = results as { rows: unknown; tasks: number }[];
    expect(rewritten.rows).toEqual(naive.rows);
    expect(naive.tasks - rewritten.tasks).toBe(n * n);
  });

  it('a distributed merge (inner and left) built on the shuffle: both sides split by the key, part j joined with part j', async () => {
    const next = random(5);
    const left = Array.from({ length: 600 }, (_, i) => ({ id: i, key: Math.floor(next() * 200) }));
    const right = Array.from({ length: 150 }, (_, i) => ({ key: i * 2, label: i }));
    const k = 4;
    for (const how of ['inner', 'left']) {
      const graph: Record<string, unknown> = {};
      for (let p = 0; p < 3; p++)
        graph[`l-${p}`] = task(
          'frame.shuffle_group',
          task('frame.from_records', { $literal: left.slice(p * 200, (p + 1) * 200) }),
          'key',
          k,
        );
      for (let p = 0; p < 2; p++)
        graph[`r-${p}`] = task(
          'frame.shuffle_group',
          task('frame.from_records', { $literal: right.slice(p * 75, (p + 1) * 75) }),
          'key',
          k,
        );
      for (let j = 0; j < k; j++) {
        for (let p = 0; p < 3; p++) graph[`lp-${p}-${j}`] = task('getitem', ref(`l-${p}`), j);
        for (let p = 0; p < 2; p++) graph[`rp-${p}-${j}`] = task('getitem', ref(`r-${p}`), j);
        graph[`m-${j}`] = task(
          'frame.merge',
          task(
            'frame.concat',
            [0, 1, 2].map((p) => ref(`lp-${p}-${j}`)),
          ),
          task(
            'frame.concat',
            [0, 1].map((p) => ref(`rp-${p}-${j}`)),
          ),
          'key',
          how,
        );
      }
      graph.all = task(
        'frame.to_records',
        task(
          'frame.sort_values',
          task(
            'frame.concat',
            Array.from({ length: k }, (_, j) => ref(`m-${j}`)),
          ),
          'id',
        ),
      );
      const res = await weft.compute(graph, 'all');
      expect(res.status, JSON.stringify(res.error)).toBe('done');
      const labels = new Map(right.map((r) => [r.key, r.label]));
      const want = left
        .filter((l) => how === 'left' || labels.has(l.key))
        .map((l) => ({ id: l.id, key: l.key, label: labels.has(l.key) ? labels.get(l.key)! : null }));
      expect(res.result).toEqual(want);
    }
  });
});
