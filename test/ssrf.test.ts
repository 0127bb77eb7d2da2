/**
 * Webhook and presubmit targets with WEFT_ALLOW_PRIVATE_WEBHOOKS unset:
 * private and loopback URLs are refused at submission (nothing registered,
 * nothing called) and, for a webhook that got in anyway, again at delivery
 * by the worker. Real API, worker process and a loopback receiver.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Webhooks } from '../src/queue/webhooks.ts';
import { waitFor } from './helpers/wait.ts';
import { startWeft, type Weft } from './helpers/weft.ts';
import { task } from './helpers/nodes.ts';

let weft: Weft;
let redis: Redis;
let receiver: Server;
let port: number;
const hits: string[] = [];

beforeAll(async () => {
  weft = await startWeft({ workers: 1, allowPrivateTargets: false });
  redis = new Redis(weft.env.REDIS_URL);
  receiver = createServer((req, res) => {
    hits.push(req.url ?? '');
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"values": {"x": 100}}');
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  port = (receiver.address() as AddressInfo).port;
});
afterAll(async () => {
  await weft?.close();
  redis?.disconnect();
  receiver?.close();
});

async function submit(extra: Record<string, unknown>) {
  const res = await fetch(`${weft.url}/v1/graphs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ graph: { x: task('inc', 1) }, keys: 'x', wait: 10, ...extra }),
  });
  return { status: res.status, body: (await res.json()) as any };
}

describe('at submission', () => {
  const loopbackForms = () => [
    `http://127.0.0.1:${port}/hook`,
    `http://localhost:${port}/hook`,
    `http://2130706433:${port}/hook`,
    `http://0x7f.1:${port}/hook`,
    `http://[::1]:${port}/hook`,
    `http://[::ffff:127.0.0.1]:${port}/hook`,
    `http://0:${port}/hook`,
  ];

  it('a callback to a loopback address, however written, is 400 forbidden_target naming it; nothing is registered or called', async () => {
    hits.length = 0;
    for (const url of loopbackForms()) {
      const res = await submit({ callbacks: [{ url: 'https://example.com/ok' }, { url }] });
      expect(res.status, url).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'forbidden_target', url });
      expect(res.body.error.message).toContain('callbacks[1].url');
      expect(res.body.error.message).toContain('WEFT_ALLOW_PRIVATE_WEBHOOKS=1');
    }
    expect(await redis.keys(`${weft.env.WEFT_PREFIX}:{*`)).toEqual([]);
    expect(hits).toEqual([]);
  });

  it('a presubmit hook on a private address is refused the same way, and never asked', async () => {
    hits.length = 0;
    for (const url of [
      `http://127.0.0.1:${port}/presubmit`,
      'http://169.254.169.254/latest/meta-data/',
      'http://10.0.0.1/',
      'http://[fd00::1]/',
    ]) {
      const res = await submit({ presubmit: { url } });
      expect(res.status, url).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'forbidden_target', url });
      expect(res.body.error.message).toContain('presubmit.url');
    }
    expect(hits).toEqual([]);
  });

  it('schemes other than http(s) are forbidden_target too', async () => {
    for (const url of ['ftp://example.com/x', 'file:///etc/passwd', `gopher://127.0.0.1:${port}/_x`, 'nonsense']) {
      const res = await submit({ callbacks: [{ url }] });
      expect(res.status, url).toBe(400);
      expect(res.body.error.code).toBe('forbidden_target');
      expect(res.body.error.message).toMatch(/only http and https|not a valid URL/);
    }
  });

  it('a name that does not resolve now is accepted (the worker checks it again when it delivers); tests never call out', async () => {
    const res = await submit({ callbacks: [{ url: 'http://weft-test.invalid/hook' }] });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'done', result: 2 });
  });
});

describe('at delivery', () => {
  it('a webhook whose target is private when delivered is refused by the worker, marked failed at once and never retried', async () => {
    hits.length = 0;
    // A graph with a webhook registered behind the API's back, as if its name had resolved to a public address at submission.
    const res = await submit({});
    const hooks = new Webhooks(redis, weft.env.WEFT_PREFIX, redis);
    await hooks.register(res.body.id, [{ url: `http://localhost:${port}/rebound` }], 60);
    const state = await waitFor('the delivery to end', async () => {
      const [hook] = ((await (await fetch(`${weft.url}/v1/graphs/${res.body.id}/webhooks`)).json()) as any).webhooks;
      return hook.status !== 'delivering' && hook;
    });
    await hooks.close();
    expect(state).toMatchObject({ status: 'failed', attempts: 1, deliveries: 0 });
    expect(state.last_error).toContain('localhost is a loopback address');
    expect(hits).toEqual([]);
  });
});
