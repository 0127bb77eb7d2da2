/**
 * Limits with clear errors: key length (WEFT_MAX_KEY_BYTES) and value size
 * (WEFT_MAX_VALUE_BYTES) for puts, graph data, task results and presubmit
 * answers. Real API, Redis and a worker process, with small limits.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';
import { encodeValue } from '../src/shared/codec.ts';
import { startWeft, type Weft } from './helpers/weft.ts';
import { ref, task } from './helpers/nodes.ts';

const LIMIT = 1000;
let weft: Weft;
let redis: Redis;
let hook: Server;
let hookUrl: string;

beforeAll(async () => {
  weft = await startWeft({ workers: 1, env: { WEFT_MAX_VALUE_BYTES: String(LIMIT), WEFT_MAX_KEY_BYTES: '16' } });
  redis = new Redis(weft.env.REDIS_URL);
  // A presubmit hook that answers every task with a value over the limit.
  hook = createServer((req, res) => {
    req.resume();
    req.on('end', () =>
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ values: { x: 'v'.repeat(5000) } })),
    );
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/presubmit`;
});
afterAll(async () => {
  await weft?.close();
  redis?.disconnect();
  hook?.close();
});

async function put(body: string | Uint8Array, contentType: string) {
  const res = await fetch(`${weft.url}/v1/objects`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body: typeof body === 'string' ? body : new Uint8Array(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

async function submit(body: unknown) {
  const res = await fetch(`${weft.url}/v1/graphs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

const graphKeys = () => redis.keys(`${weft.env.WEFT_PREFIX}:{*`);

describe('value size', () => {
  it('a put over WEFT_MAX_VALUE_BYTES is 413 value_too_large with its size and the limit, as JSON, bytes or MessagePack; one under it is stored', async () => {
    const keysBefore = (await graphKeys()).length;
    const big = 'x'.repeat(2000);
    for (const [body, type] of [
      [JSON.stringify(big), 'application/json'],
      [Buffer.alloc(2000, 7), 'application/octet-stream'],
      [encodeValue(big), 'application/msgpack'],
    ] as const) {
      const res = await put(body, type);
      expect(res.status, type).toBe(413);
      expect(res.body.error).toMatchObject({ code: 'value_too_large', limit: LIMIT });
      expect(res.body.error.bytes).toBeGreaterThan(2000);
      expect(res.body.error.message).toContain('WEFT_MAX_VALUE_BYTES');
    }
    expect((await graphKeys()).length).toBe(keysBefore);
    const ok = await put(JSON.stringify('x'.repeat(900)), 'application/json');
    expect(ok.status).toBe(201);
  });

  it('a JSON put nested too deeply to encode is 400 invalid_request, not a 500', async () => {
    const res = await put('['.repeat(100_000) + ']'.repeat(100_000), 'application/json');
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
    expect(res.body.error.message).toMatch(/nested too deeply/);
  });

  it('graph data over the limit is 413 value_too_large naming the key; nothing of the graph is left', async () => {
    const before = (await graphKeys()).sort();
    const res = await submit({
      graph: { small: 1, big: 'y'.repeat(2000), z: task('len', ref('big')) },
      keys: 'z',
      wait: 5,
    });
    expect(res.status).toBe(413);
    expect(res.body.error).toMatchObject({ code: 'value_too_large', limit: LIMIT });
    expect(res.body.error.message).toContain('"big"');
    expect((await graphKeys()).sort()).toEqual(before);
  });

  it('a task whose result is over the limit fails the graph with value_too_large; the value never reaches Redis', async () => {
    const res = await submit({
      graph: { n: task('range', 1000), total: task('sum', ref('n')) },
      keys: 'total',
      wait: 10,
      options: { optimize: { fuse: false } },
    });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('failed');
    expect(res.body.error).toMatchObject({ code: 'value_too_large', key: 'n', op: 'range' });
    expect(res.body.error.message).toMatch(
      /The result is \d+ bytes encoded; this service stores values of at most 1000 bytes/,
    );
    expect(await redis.hlen(`${weft.env.WEFT_PREFIX}:{${res.body.id}}:vals`)).toBe(0);
    // Under the limit the same graph is fine.
    const small = await submit({
      graph: { n: task('range', 100), total: task('sum', ref('n')) },
      keys: 'total',
      wait: 10,
    });
    expect(small.body).toMatchObject({ status: 'done', result: 4950 });
  });

  it('each value of a multiple-return task is held to the limit', async () => {
    const res = await submit({
      graph: {
        parts: { $op: 'identity', args: [[{ $op: 'range', args: [1000] }, 1]], returns: 2 },
        one: { $ref: 'parts', index: 1 },
      },
      keys: 'one',
      wait: 10,
    });
    expect(res.body.status).toBe('failed');
    expect(res.body.error).toMatchObject({ code: 'value_too_large', key: 'parts' });
    expect(res.body.error.message).toMatch(/^Result 0 is/);
  });

  it('a presubmit answer over the limit is no answer: the task runs', async () => {
    const res = await submit({ graph: { x: task('inc', 1) }, keys: 'x', wait: 10, presubmit: { url: hookUrl } });
    expect(res.body).toMatchObject({ status: 'done', result: 2 });
    const events = ((await (await fetch(`${weft.url}/v1/graphs/${res.body.id}/events`)).json()) as any).events;
    expect(events.find((e: any) => e.type === 'postsubmit_all')).toMatchObject({ presubmitted: 0 });
  });
});

describe('key length', () => {
  it('WEFT_MAX_KEY_BYTES sets the limit: a longer key is 400 key_too_long with its prefix, size and the limit; nothing is registered', async () => {
    const before = (await graphKeys()).length;
    const res = await submit({
      graph: { 'sixteen-bytes-ok': 1, 'seventeen-bytes-x': task('inc', ref('sixteen-bytes-ok')) },
      keys: 'seventeen-bytes-x',
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toEqual({
      code: 'key_too_long',
      key: 'seventeen-bytes-x',
      bytes: 17,
      limit: 16,
      message: expect.stringContaining('WEFT_MAX_KEY_BYTES'),
    });
    expect((await graphKeys()).length).toBe(before);
    const ok = await submit({ graph: { 'sixteen-bytes-ok': 1 }, keys: 'sixteen-bytes-ok', wait: 5 });
    expect(ok.body).toMatchObject({ status: 'done', result: 1 });
  });

  it('applies to keys of layers too', async () => {
    const res = await submit({ layers: { a: { ['k'.repeat(17)]: 1 } }, keys: 'x' });
    expect(res.body.error).toMatchObject({ code: 'key_too_long', bytes: 17 });
  });
});

describe('configuration', () => {
  it('reads the limits, with sizes in bytes or units, and rejects values it cannot honour', () => {
    expect(loadConfig({})).toMatchObject({
      maxKeyBytes: 1024,
      maxValueBytes: 512 * 2 ** 20,
      allowPrivateTargets: false,
    });
    expect(
      loadConfig({ WEFT_MAX_VALUE_BYTES: '64MB', WEFT_MAX_KEY_BYTES: '200', WEFT_ALLOW_PRIVATE_WEBHOOKS: '1' }),
    ).toMatchObject({ maxKeyBytes: 200, maxValueBytes: 64e6, allowPrivateTargets: true });
    expect(() => loadConfig({ WEFT_MAX_VALUE_BYTES: '1GiB' })).toThrow(ConfigError);
    expect(() => loadConfig({ WEFT_MAX_VALUE_BYTES: 'lots' })).toThrow(/WEFT_MAX_VALUE_BYTES=lots/);
    expect(() => loadConfig({ WEFT_MAX_KEY_BYTES: '0' })).toThrow(/WEFT_MAX_KEY_BYTES/);
    expect(() => loadConfig({ WEFT_ALLOW_PRIVATE_WEBHOOKS: 'yes' })).toThrow(/WEFT_ALLOW_PRIVATE_WEBHOOKS=yes/);
  });
});
