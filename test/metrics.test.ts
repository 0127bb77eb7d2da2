/**
 * GET /metrics: the Prometheus text parses, and after known graphs the
 * cluster-wide counters (kept in Redis by the scripts and the workers'
 * heartbeats) and this API's request latency say what happened.
 */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePrometheus, type Scrape } from './helpers/prometheus.ts';
import { freePort } from './helpers/redis.ts';
import { waitFor } from './helpers/wait.ts';
import { startWeft, type Weft } from './helpers/weft.ts';
import { ref, task } from './helpers/nodes.ts';

let weft: Weft;
let receiver: Server;
let received = 0;
beforeAll(async () => {
  // No workers yet: the first test sees queued jobs; a short timeout makes heartbeats (and their histogram writes) frequent.
  weft = await startWeft({ workers: 0, env: { WEFT_WORKER_TIMEOUT_MS: '1000', WEFT_CONCURRENCY: '4' } });
  receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received++;
      res.end('ok');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
});
afterAll(async () => {
  receiver?.close();
  await weft?.close();
});

async function scrape(): Promise<Scrape> {
  const res = await fetch(`${weft.url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheus(await res.text());
}

describe('/metrics', () => {
  it('queue depth and graphs by state while no worker runs, then drained by one', async () => {
    const before = await scrape();
    expect(before.value('weft_workers')).toBe(0);
    const graph = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`x${i}`, task('inc', i)]));
    const { status, body } = await weft.submit({ graph, keys: Object.keys(graph) });
    expect(status).toBe(202);
    const queued = await scrape();
    expect(queued.value('weft_graphs', { state: 'queued' })).toBe(1);
    expect(queued.value('weft_graphs', { state: 'running' })).toBe(0);
    // 8 ready tasks spread over WEFT_BUNDLE_SPREAD (8) jobs; every job has a priority (fair ordering, dispatch.ts).
    expect(queued.value('weft_queue_jobs', { queue: 'tasks', state: 'prioritized' })).toBe(8);

    await weft.startWorker();
    const res = await fetch(`${weft.url}/v1/graphs/${body.id}/result?wait=30`);
    expect(((await res.json()) as any).result).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const after = await scrape();
    expect(after.value('weft_graphs', { state: 'queued' })).toBe(0);
    expect(after.value('weft_queue_jobs', { queue: 'tasks', state: 'prioritized' })).toBe(0);
    expect(after.value('weft_workers')).toBe(1);
    expect(after.value('weft_worker_slots')).toBe(4);
    expect(
      after.value('weft_graphs_ended_total', { status: 'done' }) -
        before.value('weft_graphs_ended_total', { status: 'done' }),
    ).toBe(1);
  });

  it('counts the tasks, graphs and task durations of known graphs', async () => {
    // Earlier tasks' durations reach Redis with a heartbeat after they finish: start from a scrape that has them all.
    const before = await waitFor(
      'earlier durations',
      async () => {
        const s = await scrape();
        return s.value('weft_task_duration_seconds_count') === s.value('weft_tasks_finished_total') && s;
      },
      { intervalMs: 100 },
    );
    // Five 60 ms sleeps and six quick tasks, unfused so each is a task: 11 tasks, all started and finished once.
    const graph: Record<string, unknown> = {};
    for (let i = 0; i < 5; i++) graph[`s${i}`] = task('sleep', 60, i);
    for (let i = 0; i < 5; i++) graph[`i${i}`] = task('inc', ref(`s${i}`));
    graph.total = task(
      'sum',
      Array.from({ length: 5 }, (_, i) => ref(`i${i}`)),
    );
    const done = await weft.compute(graph, 'total', { options: { optimize: { fuse: false } } });
    expect(done.result).toBe(15);
    const failed = await weft.compute({ a: 1, bad: task('fail', 'on purpose') }, 'bad');
    expect(failed.status).toBe('failed');

    // Durations reach Redis with the next heartbeat (every 200 ms here).
    const after = await waitFor(
      'the durations of 11 tasks',
      async () => {
        const s = await scrape();
        return (
          s.value('weft_task_duration_seconds_count') - before.value('weft_task_duration_seconds_count') >= 11 && s
        );
      },
      { intervalMs: 100 },
    );
    const delta = (name: string, labels?: Record<string, string>) =>
      after.value(name, labels) - before.value(name, labels);
    expect(delta('weft_tasks_started_total')).toBe(12);
    expect(delta('weft_tasks_finished_total')).toBe(11);
    expect(delta('weft_tasks_failed_total')).toBe(1);
    expect(delta('weft_graphs_submitted_total')).toBe(2);
    expect(delta('weft_graphs_ended_total', { status: 'done' })).toBe(1);
    expect(delta('weft_graphs_ended_total', { status: 'failed' })).toBe(1);
    expect(delta('weft_graphs_ended_total', { status: 'cancelled' })).toBe(0);

    // The failed task is not timed (it has no result); the sleeps land above 50 ms.
    expect(delta('weft_task_duration_seconds_count')).toBe(11);
    expect(delta('weft_task_duration_seconds_bucket', { le: '+Inf' })).toBe(11);
    expect(delta('weft_task_duration_seconds_bucket', { le: '0.05' })).toBeLessThanOrEqual(6);
    expect(delta('weft_task_duration_seconds_bucket', { le: '5' })).toBe(11);
    expect(delta('weft_task_duration_seconds_sum')).toBeGreaterThanOrEqual(5 * 0.059);
    // Buckets are cumulative.
    let previous = 0;
    for (const [id, v] of after.samples) {
      if (!id.startsWith('weft_task_duration_seconds_bucket')) continue;
      expect(v).toBeGreaterThanOrEqual(previous);
      previous = v;
    }
    expect(after.types.get('weft_task_duration_seconds')).toBe('histogram');
    expect(after.types.get('weft_tasks_finished_total')).toBe('counter');
  });

  it('request latency per route pattern, of this API process', async () => {
    const before = await scrape();
    const series = { method: 'POST', route: '/v1/graphs', status: '200' };
    const count = (s: Scrape) =>
      s.samples.has(`weft_http_request_duration_seconds_count{method="POST",route="/v1/graphs",status="200"}`)
        ? s.value('weft_http_request_duration_seconds_count', series)
        : 0;
    for (let i = 0; i < 3; i++) await weft.compute({ x: i, y: task('inc', ref('x')) }, 'y');
    await fetch(`${weft.url}/v1/graphs/nope`);
    const after = await scrape();
    expect(count(after) - count(before)).toBe(3);
    expect(
      after.value('weft_http_request_duration_seconds_count', {
        method: 'GET',
        route: '/v1/graphs/:id',
        status: '404',
      }),
    ).toBeGreaterThanOrEqual(1);
    expect(after.value('weft_http_request_duration_seconds_sum', series)).toBeGreaterThan(0);
    // Ids do not become labels.
    expect([...after.samples.keys()].some((id) => id.includes('/v1/graphs/nope'))).toBe(false);
    expect(after.value('process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it('store memory and spilled bytes match GET /v1/stats', async () => {
    const [s, stats] = await Promise.all([
      scrape(),
      fetch(`${weft.url}/v1/stats`).then((r) => r.json() as Promise<any>),
    ]);
    expect(s.value('weft_store_memory_budget_bytes')).toBe(stats.memory.budget_bytes);
    expect(s.value('weft_store_memory_bytes')).toBeGreaterThan(100_000);
    expect(Math.abs(s.value('weft_store_memory_bytes') - stats.memory.used_bytes)).toBeLessThan(
      stats.memory.used_bytes / 2,
    );
    expect(s.value('weft_store_spilled_bytes')).toBe(stats.spill.bytes);
    expect(s.value('weft_lineage_recomputes_total')).toBe(stats.lineage.recomputed);
  });

  it('webhook deliveries and failed attempts', async () => {
    const before = await scrape();
    const dead = `http://127.0.0.1:${await freePort()}/hook`;
    const live = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;
    const res = await weft.compute({ x: 1, y: task('inc', ref('x')) }, 'y', {
      callbacks: [
        { url: live, events: ['finish'] },
        { url: dead, events: ['finish'] },
      ],
    });
    expect(res.status).toBe('done');
    const after = await waitFor(
      'a delivery and a failed attempt',
      async () => {
        const s = await scrape();
        const d = s.value('weft_webhook_deliveries_total') - before.value('weft_webhook_deliveries_total');
        const f = s.value('weft_webhook_failures_total') - before.value('weft_webhook_failures_total');
        return d >= 1 && f >= 1 && s;
      },
      { intervalMs: 100 },
    );
    expect(after.value('weft_webhook_deliveries_total') - before.value('weft_webhook_deliveries_total')).toBe(received);
  });
});
