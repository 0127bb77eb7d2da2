/** Lifecycle events over HTTP: JSON replay, Server-Sent Events, WebSocket, resume, task timings. */
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWeft, type Weft } from './helpers/weft.ts';
import { ref, task } from './helpers/nodes.ts';
import { waitFor } from './helpers/wait.ts';

let weft: Weft;
beforeAll(async () => {
  weft = await startWeft({ workers: 2 });
});
afterAll(() => weft?.close());

const slowGraph = { a: task('sleep', 150, 1), b: task('sleep', 150, 2), c: task('add', ref('a'), ref('b')) };

async function replay(id: string, from = 0): Promise<any[]> {
  return ((await (await fetch(`${weft.url}/v1/graphs/${id}/events?from=${from}`)).json()) as any).events;
}

async function sse(id: string, headers: Record<string, string> = {}): Promise<any[]> {
  const res = await fetch(`${weft.url}/v1/graphs/${id}/events`, {
    headers: { accept: 'text/event-stream', ...headers },
  });
  expect(res.headers.get('content-type')).toBe('text/event-stream');
  const text = await res.text(); // the stream ends after finish
  return text
    .split('\n\n')
    .filter((block) => block.includes('data: '))
    .map((block) => {
      const fields = Object.fromEntries(
        block.split('\n').map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]),
      );
      const event = JSON.parse(fields.data);
      expect(Number(fields.id)).toBe(event.seq);
      expect(fields.event).toBe(event.type);
      return event;
    });
}

function ws(id: string, from = 0): Promise<{ events: any[]; code: number }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${weft.url.replace('http', 'ws')}/v1/graphs/${id}/events?from=${from}`);
    const events: any[] = [];
    socket.on('message', (data) => events.push(JSON.parse(String(data))));
    socket.on('close', (code) => resolve({ events, code }));
    socket.on('error', reject);
  });
}

describe('events', () => {
  it('a graph records every event type, numbered in order, each task postsubmit < pretask < posttask', async () => {
    const res = await weft.compute({ x: 1, y: task('inc', ref('x')), z: task('add', ref('x'), ref('y')) }, 'z', {
      options: { optimize: { fuse: false } },
    });
    const events = await replay(res.id);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i));
    expect(new Set(events.map((e) => e.type))).toEqual(
      new Set(['postsubmit', 'pretask', 'posttask', 'postsubmit_all', 'finish']),
    );
    for (const key of ['y', 'z']) {
      const order = events.filter((e) => e.key === key).map((e) => e.type);
      expect(order).toEqual(['postsubmit', 'pretask', 'posttask']);
    }
    const post = events.find((e) => e.type === 'posttask' && e.key === 'z');
    expect(post).toMatchObject({ ok: true, graph: res.id });
    expect(post.bytes).toBeGreaterThan(0);
    expect(post.duration_ms).toBeGreaterThanOrEqual(0);
    expect(events.find((e) => e.type === 'pretask')).toMatchObject({
      attempt: expect.any(Number),
      worker: expect.any(String),
    });
    expect(events.find((e) => e.type === 'postsubmit_all')).toMatchObject({ tasks: 2, ready: 1 });
    expect(events.at(-1)).toMatchObject({ type: 'finish', status: 'done', outputs: res.outputs });
  });

  it('a failed task has a posttask with its error, and finish says failed', async () => {
    const res = await weft.compute({ bad: task('fail', 'boom') }, 'bad');
    const events = await replay(res.id);
    expect(events.find((e) => e.type === 'posttask')).toMatchObject({
      key: 'bad',
      ok: false,
      error: { message: 'boom' },
    });
    expect(events.at(-1)).toMatchObject({ type: 'finish', status: 'failed', error: { key: 'bad' } });
  });

  it('SSE and WebSocket deliver the same events live, end after finish, and resume from a sequence number', async () => {
    const { body } = await weft.submit({ graph: slowGraph, keys: 'c' });
    const [viaSse, viaWs] = await Promise.all([sse(body.id), ws(body.id)]);
    expect(viaWs.code).toBe(1000);
    expect(viaSse.at(-1).type).toBe('finish');
    expect(viaWs.events).toEqual(viaSse);
    expect(await replay(body.id)).toEqual(viaSse);
    const from = 3;
    expect((await ws(body.id, from)).events).toEqual(viaSse.slice(from));
    expect(await sse(body.id, { 'last-event-id': String(from - 1) })).toEqual(viaSse.slice(from));
  });

  it('an unknown graph is 404 for events and tasks', async () => {
    for (const path of ['events', 'tasks'])
      expect((await fetch(`${weft.url}/v1/graphs/nope/${path}`)).status).toBe(404);
  });
});

describe('task timings', () => {
  it('per task: queue wait, run time, worker and attempts', async () => {
    const res = await weft.compute(slowGraph, 'c');
    const { tasks } = (await (await fetch(`${weft.url}/v1/graphs/${res.id}/tasks`)).json()) as any;
    expect(tasks.map((t: { key: string }) => t.key).sort()).toEqual(['a', 'b', 'c']);
    for (const t of tasks) {
      expect(t).toMatchObject({ attempts: 1, ok: true, worker: expect.any(String) });
      expect(t.queue_wait_ms).toBeGreaterThanOrEqual(0);
      expect(t.finished).toBeGreaterThanOrEqual(t.started);
    }
    const a = tasks.find((t: { key: string }) => t.key === 'a');
    expect(a.run_ms).toBeGreaterThanOrEqual(140);
  });
});

describe('events true to each task', () => {
  it("a task is completed when it finishes, not with its bundle's slowest task: progress moves and timings are its own", async () => {
    // Every fourth task sleeps 6 s; bundles hold several neighbours, so each bundle has a slow one.
    const graph: Record<string, unknown> = {};
    for (let i = 0; i < 40; i++) graph[`s-${i}`] = task('sleep', i % 4 === 0 ? 6_000 : 20, i);
    const { body } = await weft.submit({ graph, keys: Object.keys(graph) });
    const info = await waitFor(
      'the 30 short tasks to count as done while the slow ones still sleep',
      async () => {
        const g = (await (await fetch(`${weft.url}/v1/graphs/${body.id}`)).json()) as any;
        return g.progress.done >= 30 && g;
      },
      { timeoutMs: 5_000, intervalMs: 50 },
    );
    expect(info.status).toBe('running');
    expect(info.progress.done).toBe(30);
    const res = (await (await fetch(`${weft.url}/v1/graphs/${body.id}/result?wait=30`)).json()) as any;
    expect(res.result).toEqual(Object.keys(graph).map((_, i) => i));
    const { tasks } = (await (await fetch(`${weft.url}/v1/graphs/${body.id}/tasks`)).json()) as any;
    for (const t of tasks) {
      const slow = Number(t.key.slice(2)) % 4 === 0;
      // Its own time from start to finish: a short task's is far under the slow ones' 6 s.
      if (slow) expect(t.finished - t.started).toBeGreaterThanOrEqual(5_900);
      else expect(t.finished - t.started, t.key).toBeLessThan(3_000);
    }
  });
});
