import { describe, expect, it } from 'vitest';
import { bundle, MAX_BURST_JOBS } from '../../src/queue/dispatch.ts';

const policy = { bundleMax: 64, bundleSpread: 8 };
const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

describe('bundle', () => {
  it('a single ready task is a job of its own; a small burst is spread over bundleSpread jobs', () => {
    expect(bundle([7], policy)).toEqual([[7]]);
    const jobs = bundle(range(0, 100), policy);
    expect(jobs).toHaveLength(8);
    expect(jobs[0]).toHaveLength(13);
    expect(jobs.flat()).toEqual(range(0, 100));
  });

  it('a big burst makes jobs of bundleMax tasks, up to MAX_BURST_JOBS jobs (the wide benchmark graph is not affected)', () => {
    expect(bundle(range(0, 20_000), policy).every((b) => b.length <= 64)).toBe(true);
    expect(bundle(range(0, 20_000), policy)).toHaveLength(Math.ceil(20_000 / 64));
    const limit = 64 * MAX_BURST_JOBS;
    expect(bundle(range(0, limit), policy)).toHaveLength(MAX_BURST_JOBS);
  });

  it('past that, bundles grow: a million ready tasks enqueued in chunks of 5,000 make about MAX_BURST_JOBS jobs in all, each task once', () => {
    const burst = 1_000_000;
    let jobs = 0;
    let next = 0;
    for (let from = 0; from < burst; from += 5000) {
      const bundles = bundle(range(from, 5000), policy, burst);
      for (const b of bundles) for (const t of b) expect(t).toBe(next++);
      expect(bundles[0]).toHaveLength(Math.ceil(burst / MAX_BURST_JOBS));
      jobs += bundles.length;
    }
    expect(next).toBe(burst);
    // 15,625 jobs of 64 before; per-chunk rounding adds a few over the bound.
    expect(jobs).toBeGreaterThan(MAX_BURST_JOBS * 0.95);
    expect(jobs).toBeLessThan(MAX_BURST_JOBS * 1.05);
  });
});
