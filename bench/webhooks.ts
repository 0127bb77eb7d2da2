/**
 * `npm run bench -- webhooks`: the wide graph (20,000 inc + sum tree) with a
 * webhook receiver subscribed to every event, and with none, alternating, in
 * one run: the ratio of throughputs and the number of HTTP deliveries made.
 */
import { createServer } from 'node:http';
import { freePort } from '../test/helpers/redis.ts';
import { median } from './lib.ts';

export async function webhookBench(
  api: string,
  wide: { graph: Record<string, unknown>; key: string; expected: number; tasks: number },
  log: (line: string) => void,
): Promise<Record<string, unknown>> {
  let deliveries = 0;
  let events = 0;
  let finishes = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const parsed = JSON.parse(body) as { events: { type: string }[] };
      deliveries++;
      events += parsed.events.length;
      finishes += parsed.events.filter((e) => e.type === 'finish').length;
      res.writeHead(204).end();
    });
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  const run = async (callbacks: unknown[]) => {
    const t0 = performance.now();
    const res = (await (
      await fetch(`${api}/v1/graphs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ graph: wide.graph, keys: wide.key, wait: 600, callbacks }),
      })
    ).json()) as any;
    const ms = performance.now() - t0;
    if (res.result !== wide.expected)
      throw new Error(`wide graph with webhooks gave ${JSON.stringify(res).slice(0, 200)}`);
    return (wide.tasks / ms) * 1000;
  };
  try {
    const hook = [{ url: `http://127.0.0.1:${port}/events`, secret: 'bench' }];
    await run([]);
    const plain: number[] = [];
    const hooked: number[] = [];
    for (let i = 0; i < 3; i++) {
      plain.push(await run([]));
      hooked.push(await run(hook));
      // Deliveries go on after the graph ends: let them finish before the next run, so they do not slow it.
      const deadline = Date.now() + 60_000;
      while (finishes < i + 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      if (finishes < i + 1) throw new Error(`webhook stream ${i + 1} did not finish`);
    }
    // A dead receiver (nothing listens): its deliveries fail and are retried with backoff, off the graph's path.
    const dead = [{ url: `http://127.0.0.1:${await freePort()}/gone` }];
    const withDead: number[] = [];
    for (let i = 0; i < 3; i++) withDead.push(await run(dead));
    const slower = 1 - median(hooked) / median(plain);
    const deadSlower = 1 - median(withDead) / median(plain);
    const figures = {
      withoutTasksPerSec: Math.round(median(plain)),
      withTasksPerSec: Math.round(median(hooked)),
      slowerBy: +slower.toFixed(3),
      deliveriesPerGraph: Math.round(deliveries / 3),
      eventsPerGraph: Math.round(events / 3),
      deadReceiverTasksPerSec: Math.round(median(withDead)),
      deadReceiverSlowerBy: +deadSlower.toFixed(3),
    };
    log(
      `webhooks: wide graph without a receiver ${figures.withoutTasksPerSec} tasks/s, with one subscribed to every event ${figures.withTasksPerSec} tasks/s (${(slower * 100).toFixed(1)}% slower); ` +
        `${figures.eventsPerGraph} events in ${figures.deliveriesPerGraph} HTTP deliveries per graph; with a dead receiver ${figures.deadReceiverTasksPerSec} tasks/s (${(deadSlower * 100).toFixed(1)}% slower)`,
    );
    return figures;
  } finally {
    server.close();
  }
}
