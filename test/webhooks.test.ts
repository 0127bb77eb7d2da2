/** Webhooks: signed, batched, in order, retried; a dead receiver never holds a graph up. */
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort } from './helpers/redis.ts';
import { waitFor } from './helpers/wait.ts';
import { startWeft, type Weft } from './helpers/weft.ts';
import { task } from './helpers/nodes.ts';

let weft: Weft;
let server: Server;
let base: string;
/** Per path: the deliveries received, and how many to fail first. */
const received = new Map<string, { body: any; headers: Record<string, string | string[] | undefined> }[]>();
const failFirst = new Map<string, number>();

beforeAll(async () => {
  weft = await startWeft({ workers: 1 });
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const path = req.url ?? '/';
      const left = failFirst.get(path) ?? 0;
      if (left > 0) {
        failFirst.set(path, left - 1);
        res.writeHead(500).end('not now');
        return;
      }
      if (!received.has(path)) received.set(path, []);
      received.get(path)!.push({ body: JSON.parse(body), headers: { ...req.headers, raw: body } as never });
      res.writeHead(204).end();
    });
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  base = `http://127.0.0.1:${port}`;
});
afterAll(async () => {
  await weft?.close();
  server?.close();
});

const graph = { a: task('sleep', 50, 1), b: task('sleep', 50, 2), c: task('add', { $ref: 'a' }, { $ref: 'b' }) };

async function webhook(id: string): Promise<any> {
  return ((await (await fetch(`${weft.url}/v1/graphs/${id}/webhooks`)).json()) as any).webhooks[0];
}

/** The webhook's status once its deliverer has recorded the last delivery (it does so after the receiver answers). */
async function settled(id: string): Promise<any> {
  return waitFor(`the webhook of ${id} to settle`, async () => {
    const hook = await webhook(id);
    return hook.status !== 'delivering' && hook;
  });
}

const events = (path: string) => (received.get(path) ?? []).flatMap((d) => d.body.events);
const finishReceived = (path: string) =>
  waitFor(
    `${path} to receive the finish event`,
    () => events(path).some((e: { type: string }) => e.type === 'finish'),
    {
      timeoutMs: 30_000,
    },
  );

it('a receiver gets every event type, in order, signed (verified here), in batches', async () => {
  const res = await weft.compute(graph, 'c', { callbacks: [{ url: `${base}/all`, secret: 's3cret' }] });
  expect(res.result).toBe(3);
  await finishReceived('/all');
  const got = events('/all');
  expect(got.map((e: { seq: number }) => e.seq)).toEqual(got.map((_: unknown, i: number) => i));
  expect(new Set(got.map((e: { type: string }) => e.type))).toEqual(
    new Set(['postsubmit', 'pretask', 'posttask', 'postsubmit_all', 'finish']),
  );
  const replay = ((await (await fetch(`${weft.url}/v1/graphs/${res.id}/events`)).json()) as any).events;
  expect(got).toEqual(replay);
  expect(received.get('/all')!.length).toBeLessThan(got.length); // batched
  for (const d of received.get('/all')!) {
    const ts = d.headers['weft-timestamp'] as string;
    const expected = `v1=${createHmac('sha256', 's3cret')
      .update(`${ts}.${(d.headers as any).raw}`)
      .digest('hex')}`;
    expect(d.headers['weft-signature']).toBe(expected);
    expect(d.body.graph).toBe(res.id);
  }
  expect(await settled(res.id)).toEqual({
    url: `${base}/all`,
    events: null,
    status: 'done',
    delivered_until: got.length,
    deliveries: received.get('/all')!.length,
    attempts: 0,
    last_error: null,
  });
});

it('a receiver that fails the first 3 deliveries still gets them all, after retries', async () => {
  failFirst.set('/flaky', 3);
  const res = await weft.compute(graph, 'c', { callbacks: [{ url: `${base}/flaky` }] });
  await finishReceived('/flaky');
  const got = events('/flaky');
  expect(got.map((e: { seq: number }) => e.seq)).toEqual(got.map((_: unknown, i: number) => i));
  expect(await settled(res.id)).toMatchObject({
    status: 'done',
    attempts: 3,
    last_error: expect.stringContaining('HTTP 500'),
  });
});

it('only the event types asked for are sent', async () => {
  await weft.compute(graph, 'c', { callbacks: [{ url: `${base}/finish-only`, events: ['finish'] }] });
  await finishReceived('/finish-only');
  expect(events('/finish-only').map((e: { type: string }) => e.type)).toEqual(['finish']);
});

it('a dead receiver does not hold the graph up; its deliveries are retried and reported', async () => {
  const dead = `http://127.0.0.1:${await freePort()}/gone`;
  const res = await weft.compute(graph, 'c', { callbacks: [{ url: dead }] });
  expect(res.status).toBe('done');
  const hook = await waitFor('a failed delivery attempt', async () => {
    const now = await webhook(res.id);
    return now.attempts > 0 && now;
  });
  expect(hook).toMatchObject({ status: 'delivering', deliveries: 0 });
  expect(hook.attempts).toBeGreaterThan(0);
  expect(hook.last_error).toMatch(/fetch failed|ECONNREFUSED|TypeError/);
});

it('a callback URL that is not http(s) is rejected, even with private targets allowed (as in these tests)', async () => {
  const { status, body } = await weft.submit({ graph, keys: 'c', callbacks: [{ url: 'file:///etc/passwd' }] });
  expect(status).toBe(400);
  expect(body.error).toMatchObject({ code: 'forbidden_target', url: 'file:///etc/passwd' });
  expect(body.error.message).toContain('only http and https');
});
