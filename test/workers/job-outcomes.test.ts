/**
 * JobOutcomes, the gathering of a job's task outcomes between completions
 * (src/workers/job-outcomes.ts): a finished task is never held for a slow
 * neighbour, and no outcome is lost between takes.
 */
import { describe, expect, it } from 'vitest';
import type { StartedTask } from '../../src/queue/tasks.ts';
import { FLUSH_MS, JobOutcomes } from '../../src/workers/job-outcomes.ts';

const task = (index: number, extra: Partial<StartedTask> = {}): StartedTask =>
  ({ index, key: `t${index}`, template: { $op: 'inc', args: [] }, inputs: [], ...extra }) as unknown as StartedTask;
const value = Buffer.from([1]);

describe('JobOutcomes', () => {
  it('is ready within FLUSH_MS of the first outcome while a slow task still runs', async () => {
    const outcomes = new JobOutcomes();
    let finishSlow!: () => void;
    outcomes.start([task(0), task(1)], () => {
      outcomes.sink(task(0), { values: [value], ms: 1 });
      return new Promise<void>((resolve) => {
        finishSlow = () => {
          outcomes.sink(task(1), { values: [value], ms: 60_000 });
          resolve();
        };
      });
    });
    const t0 = performance.now();
    await outcomes.ready();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(FLUSH_MS - 1);
    expect(outcomes.take().results.map(([i]) => i)).toEqual([0]);
    expect(outcomes.busy).toBe(true);
    finishSlow();
    await outcomes.ready();
    expect(outcomes.take().results.map(([i]) => i)).toEqual([1]);
    expect(outcomes.busy).toBe(false);
  });

  it('an outcome that comes in after the last task was taken keeps the job busy until it is taken too', async () => {
    const outcomes = new JobOutcomes();
    let finish!: () => void;
    outcomes.start([task(0)], () => new Promise<void>((resolve) => (finish = resolve)));
    outcomes.start([task(1)], () => outcomes.sink(task(1), { values: [value], ms: 1 }));
    await outcomes.ready();
    expect(outcomes.take().results).toHaveLength(1);
    // While the caller completes task 1, task 0 finishes: nothing runs any more, but its result is not yet taken.
    outcomes.sink(task(0), { values: [value], ms: 1 });
    finish();
    expect(outcomes.busy).toBe(true);
    await outcomes.ready();
    expect(outcomes.take().results.map(([i]) => i)).toEqual([0]);
    expect(outcomes.busy).toBe(false);
  });

  it('a failure with retries left is a retry; without, it fails the job at once and later errors are not counted', async () => {
    const outcomes = new JobOutcomes();
    outcomes.start([task(0, { retries: 1, tries: 1 }), task(1), task(2)], () => {
      outcomes.sink(task(0, { retries: 1, tries: 1 }), { error: new Error('flaky'), ms: 1 });
      outcomes.sink(task(1), { error: new Error('broken'), ms: 1 });
      outcomes.sink(task(2), { error: new Error('also broken'), ms: 1 });
    });
    expect(outcomes.failed).toBe(true);
    await outcomes.ready();
    const { retries, failure } = outcomes.take();
    expect(retries.map(([t]) => t.index)).toEqual([0]);
    expect(failure).toMatchObject({ key: 't1', message: expect.stringContaining('broken') });
  });

  it('an evaluator that rejects as a whole makes ready throw, not hang', async () => {
    const outcomes = new JobOutcomes();
    outcomes.start([task(0)], () => Promise.reject(new Error('executor pool closed')));
    await expect(outcomes.ready()).rejects.toThrow('executor pool closed');
  });
});
