/**
 * `npm run bench -- load [--seconds N]`: 32 concurrent clients, each
 * submitting 1,000-task graphs with `wait` in a loop for N seconds (default
 * 60, or BENCH_LOAD_SECONDS). Every graph differs (its inputs depend on the
 * client and the round), and every answer is checked: HTTP 200, status
 * done, the result computed here, an id never seen before. Every graph must
 * also finish exactly once: its end is published once on the finish channel
 * (counted by a subscriber here) and its progress counts each task once.
 * Prints p50/p99 latency per graph (POST to answer) and throughput.
 */
import http from 'node:http';
import { Redis } from 'ioredis';
import { finishedChannel } from '../src/queue/keys.ts';
import { percentile } from './lib.ts';

/** Chain of layers: WIDTH inc tasks, then LAYERS - 1 layers of adds over neighbours, then one sum: 1,000 tasks, none fusable. */
const WIDTH = 111;
const LAYERS = 9;
export const LOAD_TASKS = WIDTH * LAYERS + 1;

export function layeredGraph(base: number): { graph: Record<string, unknown>; key: string; expected: number } {
  const graph: Record<string, unknown> = {};
  let values = Array.from({ length: WIDTH }, (_, i) => {
    graph[`l0-${i}`] = { $op: 'inc', args: [base + i] };
    return base + i + 1;
  });
  for (let layer = 1; layer < LAYERS; layer++) {
    const next: number[] = [];
    for (let i = 0; i < WIDTH; i++) {
      const j = (i + 1) % WIDTH;
      graph[`l${layer}-${i}`] = { $op: 'add', args: [{ $ref: `l${layer - 1}-${i}` }, { $ref: `l${layer - 1}-${j}` }] };
      next.push(values[i] + values[j]);
    }
    values = next;
  }
  graph.total = { $op: 'sum', args: [Array.from({ length: WIDTH }, (_, i) => ({ $ref: `l${LAYERS - 1}-${i}` }))] };
  return { graph, key: 'total', expected: values.reduce((a, b) => a + b, 0) };
}

interface Answer {
  status: number;
  body: any;
}

function post(agent: http.Agent, api: URL, body: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: api.hostname,
        port: api.port,
        path: '/v1/graphs',
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
          } catch (err) {
            reject(err);
          }
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export interface LoadOptions {
  seconds: number;
  clients: number;
  redisUrl: string;
  prefix: string;
}

export async function loadBench(
  apiUrl: string,
  rawJobsPerSec: number,
  log: (line: string) => void,
  options: LoadOptions,
): Promise<Record<string, unknown>> {
  const api = new URL(apiUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.clients });
  const subscriber = new Redis(options.redisUrl);
  const published = new Map<string, number>();
  await subscriber.subscribe(finishedChannel(options.prefix));
  subscriber.on('message', (_channel: string, id: string) => published.set(id, (published.get(id) ?? 0) + 1));

  const errors: string[] = [];
  const ids = new Set<string>();
  const latencies: number[] = [];
  const submit = async (client: number, round: number): Promise<void> => {
    const { graph, key, expected } = layeredGraph(client * 1_000_000 + round * 1000);
    const t0 = performance.now();
    try {
      const res = await post(agent, api, JSON.stringify({ graph, keys: key, wait: 300 }));
      const ms = performance.now() - t0;
      const id = res.body?.id;
      if (res.status !== 200 || res.body.status !== 'done')
        errors.push(`client ${client} round ${round}: HTTP ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
      else if (res.body.result !== expected)
        errors.push(`client ${client} round ${round}: result ${res.body.result}, expected ${expected}`);
      else if (ids.has(id)) errors.push(`client ${client} round ${round}: graph id ${id} answered twice`);
      else {
        ids.add(id);
        latencies.push(ms);
      }
    } catch (err) {
      errors.push(`client ${client} round ${round}: ${(err as Error).message}`);
    }
  };

  try {
    // Warm-up: one graph per client, checked like the rest, not timed.
    await Promise.all(Array.from({ length: options.clients }, (_, c) => submit(c, 999)));
    latencies.length = 0;
    const warmIds = new Set(ids);

    const t0 = performance.now();
    const deadline = t0 + options.seconds * 1000;
    await Promise.all(
      Array.from({ length: options.clients }, async (_, client) => {
        for (let round = 0; performance.now() < deadline; round++) await submit(client, round);
      }),
    );
    const elapsed = (performance.now() - t0) / 1000;

    // Every graph answered ended exactly once, and counted each of its tasks once.
    await new Promise((r) => setTimeout(r, 500));
    for (const id of ids) {
      const n = published.get(id) ?? 0;
      if (n !== 1) errors.push(`graph ${id} was published as finished ${n} times`);
    }
    const measured = [...ids].filter((id) => !warmIds.has(id));
    for (let i = 0; i < measured.length; i += options.clients) {
      await Promise.all(
        measured.slice(i, i + options.clients).map(async (id) => {
          const info = (await (await fetch(`${apiUrl}/v1/graphs/${id}`)).json()) as any;
          const p = info.progress;
          if (info.status !== 'done' || p.total !== LOAD_TASKS || p.done !== LOAD_TASKS || p.running !== 0)
            errors.push(`graph ${id}: ${JSON.stringify(info).slice(0, 200)}`);
        }),
      );
    }

    const graphs = latencies.length;
    const figures = {
      clients: options.clients,
      seconds: +elapsed.toFixed(1),
      tasksPerGraph: LOAD_TASKS,
      graphs,
      errors: errors.length,
      p50ms: Math.round(percentile(latencies, 50)),
      p99ms: Math.round(percentile(latencies, 99)),
      maxMs: Math.round(Math.max(...latencies)),
      graphsPerSec: +(graphs / elapsed).toFixed(1),
      tasksPerSec: Math.round((graphs * LOAD_TASKS) / elapsed),
      ratioToRawBullmq: +((graphs * LOAD_TASKS) / elapsed / rawJobsPerSec).toFixed(2),
    };
    log(
      `load: ${options.clients} clients, ${LOAD_TASKS}-task graphs with wait, ${figures.seconds} s: ${graphs} graphs, ${errors.length} errors; ` +
        `latency per graph p50 ${figures.p50ms} ms, p99 ${figures.p99ms} ms (max ${figures.maxMs}); ${figures.graphsPerSec} graphs/s = ${figures.tasksPerSec} tasks/s = ${figures.ratioToRawBullmq}x raw BullMQ (every result, id and finish checked)`,
    );
    if (errors.length > 0)
      throw new Error(`load: ${errors.length} errors, the first: ${errors.slice(0, 5).join('; ')}`);
    return figures;
  } finally {
    agent.destroy();
    subscriber.disconnect();
  }
}
