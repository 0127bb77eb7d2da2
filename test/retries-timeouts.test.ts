/**
 * Retries of tasks whose op throws (options.retries, per task options) with
 * exponential backoff, and timeouts (options.task_timeout_ms): a runaway op
 * is stopped on its op thread while the worker goes on with other work.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWeft, type Weft } from './helpers/weft.ts';
import { retryDelay } from '../src/workers/worker.ts';
import { parsePrometheus } from './helpers/prometheus.ts';

let weft: Weft;
const faultsDir = mkdtempSync(join(tmpdir(), 'weft-faults-'));
let unique = 0;
const name = () => `t${unique++}-${Date.now()}`;

beforeAll(async () => {
  weft = await startWeft({ workers: 1, env: { WEFT_OPS: 'test/fixtures/ops/faults.ts', WEFT_FAULTS_DIR: faultsDir } });
});
afterAll(() => weft?.close());

async function events(id: string): Promise<any[]> {
  return ((await (await fetch(`${weft.url}/v1/graphs/${id}/events`)).json()) as any).events;
}

const flaky = (_n: number, failures: number, value: unknown, options?: object) => ({
  $op: 'faults.flaky',
  args: [name(), failures, value],
  ...(options ? { options } : {}),
});

describe('retries', () => {
  it('/metrics counts the retries and every start', async () => {
    const scrape = async () => parsePrometheus(await (await fetch(`${weft.url}/metrics`)).text());
    const before = await scrape();
    const res = await weft.compute({ x: flaky(0, 2, 'ok') }, 'x', { options: { retries: 2 } });
    expect(res.status).toBe('done');
    const after = await scrape();
    const delta = (name: string) => after.value(name) - before.value(name);
    expect(delta('weft_task_retries_total')).toBe(2);
    expect(delta('weft_tasks_started_total')).toBe(3);
    expect(delta('weft_tasks_finished_total')).toBe(1);
    expect(delta('weft_tasks_failed_total')).toBe(0);
  });

  it('a task that fails twice succeeds on its third attempt with options.retries 2, after backoffs of 100 and 200 ms', async () => {
    const res = await weft.compute(
      { x: flaky(0, 2, 'ok'), y: { $op: 'concat', args: [[[{ $ref: 'x' }], ['!']]] } },
      'y',
      { options: { retries: 2, optimize: { fuse: false } } },
    );
    expect(res.status, JSON.stringify(res.error)).toBe('done');
    expect(res.result).toEqual(['ok', '!']);
    const evs = (await events(res.id)).filter((e) => e.key === 'x');
    const runs = evs.filter((e) => e.type === 'pretask');
    expect(runs.map((e) => e.attempt)).toEqual([1, 2, 3]);
    const ends = evs.filter((e) => e.type === 'posttask');
    expect(ends.map((e) => [e.ok, e.retry ?? false])).toEqual([
      [false, true],
      [false, true],
      [true, false],
    ]);
    expect(ends[0].error.message).toContain('failure 1 of 2');
    expect(runs[1].time - ends[0].time).toBeGreaterThanOrEqual(retryDelay(1) - 5);
    expect(runs[2].time - ends[1].time).toBeGreaterThanOrEqual(retryDelay(2) - 5);
    const timings = ((await (await fetch(`${weft.url}/v1/graphs/${res.id}/tasks`)).json()) as any).tasks;
    expect(timings.find((t: any) => t.key === 'x')).toMatchObject({ attempts: 3, ok: true });
  });

  it('retries exhausted fail the graph with the last error and the attempts made; the default is no retry', async () => {
    const res = await weft.compute({ x: flaky(0, 5, 'never') }, 'x', { options: { retries: 1 } });
    expect(res.status).toBe('failed');
    expect(res.error).toMatchObject({
      key: 'x',
      op: 'faults.flaky',
      attempts: 2,
      message: expect.stringContaining('failure 2 of 5'),
    });
    const plain = await weft.compute({ x: flaky(0, 1, 'never') }, 'x');
    expect(plain.status).toBe('failed');
    expect((await events(plain.id)).filter((e) => e.type === 'pretask')).toHaveLength(1);
  });

  it("a task's own options override the graph's, and such a task is never fused into another", async () => {
    const graph = {
      a: flaky(0, 1, 1, { retries: 1 }),
      b: flaky(0, 1, 2),
      s: { $op: 'add', args: [{ $ref: 'a' }, { $ref: 'b' }] },
    };
    const res = await weft.compute(graph, 's', { options: { retries: 0 } });
    expect(res.status).toBe('failed');
    expect(res.error).toMatchObject({ key: 'b' });
    const ok = await weft.compute(
      { a: flaky(0, 1, 40, { retries: 1 }), s: { $op: 'inc', args: [{ $ref: 'a' }] } },
      's',
    );
    expect(ok.status, JSON.stringify(ok.error)).toBe('done');
    expect(ok.result).toBe(41);
  });

  it('bad task options are rejected with the path of the problem', async () => {
    for (const [options, problem] of [
      [{ retries: -1 }, /"retries" must be an integer from 0 to 100/],
      [{ timeout_ms: 0 }, /"timeout_ms" must be an integer from 1 to 2147483647/],
      [{ timeout_ms: 2 ** 31 }, /"timeout_ms" must be an integer from 1 to 2147483647/],
      [{ colour: 'red' }, /unknown task option "colour"/],
      ['fast', /must be an object/],
    ] as const) {
      const res = await fetch(`${weft.url}/v1/graphs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ graph: { x: { $op: 'inc', args: [1], options } }, keys: 'x' }),
      });
      expect(res.status).toBe(400);
      const body = (await res.json()) as any;
      expect(body.error.code).toBe('invalid_graph');
      expect(body.error.message).toMatch(problem);
    }
    const nested = await fetch(`${weft.url}/v1/graphs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        graph: { x: { $op: 'inc', args: [{ $op: 'inc', args: [1], options: { retries: 1 } }] } },
        keys: 'x',
      }),
    });
    expect(((await nested.json()) as any).error.message).toMatch(/only allowed on a task at the top of a key/);
  });
});

describe('timeouts', () => {
  it('a runaway op is stopped at its timeout and fails the graph with code timeout, while the worker runs other graphs', async () => {
    const started = Date.now();
    const [spinning, other] = await Promise.all([
      weft.compute({ x: { $op: 'faults.spin' } }, 'x', { options: { task_timeout_ms: 500 } }),
      weft.compute({ a: { $op: 'sleep', args: [100, 1] }, b: { $op: 'inc', args: [{ $ref: 'a' }] } }, 'b'),
    ]);
    expect(other.status).toBe('done');
    expect(other.result).toBe(2);
    expect(spinning.status).toBe('failed');
    expect(spinning.error).toMatchObject({
      key: 'x',
      code: 'timeout',
      message: expect.stringContaining('timeout of 500 ms'),
    });
    expect(Date.now() - started).toBeLessThan(10_000);
    // The worker is alive and its op threads work after one was terminated.
    const after = await weft.compute({ x: { $op: 'inc', args: [1], options: { timeout_ms: 2000 } } }, 'x');
    expect(after.status, JSON.stringify(after.error)).toBe('done');
    expect(after.result).toBe(2);
  });

  it('a task that times out can be retried, and one within its timeout returns its value (arrays stay binary through the thread)', async () => {
    const res = await weft.compute(
      {
        a: { $op: 'array.ones', args: [[3]], options: { timeout_ms: 5000 } },
        s: { $op: 'array.sum', args: [{ $ref: 'a' }] },
      },
      's',
    );
    expect(res.status, JSON.stringify(res.error)).toBe('done');
    expect(res.result).toBe(3);
    const retried = await weft.compute({ x: { $op: 'faults.spin', options: { timeout_ms: 200, retries: 1 } } }, 'x');
    expect(retried.status).toBe('failed');
    expect(retried.error).toMatchObject({ code: 'timeout', attempts: 2 });
  });
});
