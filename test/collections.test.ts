/**
 * The seed's array and dataframe examples over HTTP, each checked against a
 * straightforward single-process computation of the same data.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWeft, type Weft } from './helpers/weft.ts';

let weft: Weft;
beforeAll(async () => {
  weft = await startWeft({ workers: 2 });
});
afterAll(() => weft?.close());

const task = (op: string, ...args: unknown[]) => ({ $op: op, args });
const ref = (key: string) => ({ $ref: key });

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
      graph[`row-${i}`] = task('array.combine_moments', [0, 1, 2, 3].map((j) => ref(`moments-${i}-${j}`)));
    }
    graph.total = task('array.combine_moments', [0, 1, 2, 3].map((i) => ref(`row-${i}`)));
    graph.mean = task('array.finalize', ref('total'), 'mean');
    graph.std = task('array.finalize', ref('total'), 'std');
    const res = await weft.compute(graph, ['mean', 'std', chunks]);
    expect(res.status, JSON.stringify(res.error)).toBe('done');
    const [mean, std, blocks] = res.result as [number, number, { $ndarray: { dtype: string; shape: number[]; data: number[] } }[]];
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
