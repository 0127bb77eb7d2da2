/**
 * Persist and futures over HTTP: persisted graphs, $oid inputs (ready,
 * pending and failed), ray.put style objects, release with pinning, TTLs.
 */
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { Packr } from 'msgpackr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from './helpers/wait.ts';
import { startWeft, type Weft } from './helpers/weft.ts';
import { task } from './helpers/nodes.ts';

const countFile = join(mkdtempSync(join(tmpdir(), 'weft-count-')), 'runs.txt');
let weft: Weft;
let redis: Redis;
beforeAll(async () => {
  weft = await startWeft({
    workers: 2,
    env: { WEFT_OPS: 'test/fixtures/ops/counting.ts', WEFT_TEST_COUNT_FILE: countFile },
  });
  redis = new Redis(weft.env.REDIS_URL);
});
afterAll(async () => {
  redis?.disconnect();
  await weft?.close();
});

const oidRef = (o: { $oid: string }) => ({ $oid: o.$oid });
const runs = (label: string) =>
  existsSync(countFile)
    ? readFileSync(countFile, 'utf8')
        .split('\n')
        .filter((l) => l === label).length
    : 0;

async function http(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    if (Buffer.isBuffer(body)) init.body = new Uint8Array(body);
    else {
      init.body = JSON.stringify(body);
      (init.headers as Record<string, string>)['content-type'] = 'application/json';
    }
  }
  const res = await fetch(`${weft.url}${path}`, init);
  const type = res.headers.get('content-type') ?? '';
  const data = type.includes('json') ? await res.json() : Buffer.from(await res.arrayBuffer());
  return { status: res.status, body: data as any, type };
}

describe('persist', () => {
  it("the seed's example: ones(100) in chunks persisted, then sum, min and max as separate graphs, none re-running it", async () => {
    const chunks = Array.from({ length: 10 }, (_, i) => `ones-${i}`);
    const graph = Object.fromEntries(chunks.map((k) => [k, task('test.ones', 10, 'seed-chunk')]));
    const persisted = await weft.submit({ graph, keys: chunks, persist: true });
    expect(persisted.status).toBe(202);
    expect(persisted.body.outputs).toHaveLength(10);
    const all = task('concat', persisted.body.outputs.map(oidRef));
    const results: unknown[] = [];
    for (const op of ['sum', 'min', 'max']) {
      const res = await weft.compute({ r: task(op, all) }, 'r');
      expect(res.status, JSON.stringify(res.error)).toBe('done');
      results.push(res.result);
    }
    expect(results).toEqual([100, 1, 1]);
    expect(runs('seed-chunk')).toBe(10);
    const meta = await http('GET', `/v1/objects/${persisted.body.outputs[0].$oid}/meta`);
    expect(meta.body).toMatchObject({ state: 'ready', location: 'memory', graph: persisted.body.id, key: 'ones-0' });
    expect(meta.body.size).toBeGreaterThan(10);
  });

  it('a graph on a pending object waits for it, then runs', async () => {
    const a = await weft.submit({ graph: { slow: task('sleep', 400, 41) }, keys: 'slow', persist: true });
    const meta = await http('GET', `/v1/objects/${a.body.outputs.$oid}/meta`);
    expect(meta.body.state).toBe('pending');
    const t0 = Date.now();
    const b = await weft.compute({ x: task('inc', oidRef(a.body.outputs)) }, 'x');
    expect(b.status).toBe('done');
    expect(b.result).toBe(42);
    expect(Date.now() - t0).toBeGreaterThan(200);
  });

  it('a graph on an object whose graph fails, fails naming the object and the original error', async () => {
    const a = await weft.submit({
      graph: { bad: task('identity', task('sleep', 300, task('fail', 'boom'))) },
      keys: 'bad',
      persist: true,
    });
    const b = await weft.compute({ x: task('inc', oidRef(a.body.outputs)) }, 'x');
    expect(b.status).toBe('failed');
    expect(b.error).toMatchObject({ code: 'object_failed', object: a.body.outputs.$oid, cause: { message: 'boom' } });
    expect(b.error.message).toContain(a.body.outputs.$oid);
    expect(b.error.message).toContain('boom');
    // After the failure too, and GET of the object says why.
    const c = await weft.compute({ x: task('inc', oidRef(a.body.outputs)) }, 'x');
    expect(c.error).toMatchObject({ code: 'object_failed' });
    const get = await http('GET', `/v1/objects/${a.body.outputs.$oid}`);
    expect(get.status).toBe(409);
    expect(get.body.error).toMatchObject({ code: 'object_failed', cause: { message: 'boom' } });
  });

  it('cancelling a graph fails the graphs waiting for its outputs', async () => {
    const a = await weft.submit({ graph: { slow: task('sleep', 2000, 1) }, keys: 'slow', persist: true });
    const b = await weft.submit({ graph: { x: task('inc', oidRef(a.body.outputs)) }, keys: 'x' });
    await fetch(`${weft.url}/v1/graphs/${a.body.id}`, { method: 'DELETE' });
    const res = (await (await fetch(`${weft.url}/v1/graphs/${b.body.id}/result?wait=10`)).json()) as any;
    expect(res.status).toBe('failed');
    expect(res.error).toMatchObject({
      code: 'object_failed',
      object: a.body.outputs.$oid,
      cause: { code: 'cancelled' },
    });
    expect(res.error.message).toContain('was cancelled');
  });

  it('persist with wait is a clear error', async () => {
    const res = await weft.submit({ graph: { x: 1 }, keys: 'x', persist: true, wait: 1 });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
  });

  it('persisted outputs have no expiry; a ttl gives them one', async () => {
    const forever = await weft.submit({ graph: { x: task('inc', 1) }, keys: 'x', persist: true });
    const limited = await weft.submit({ graph: { x: task('inc', 1) }, keys: 'x', persist: true, ttl: 1 });
    // Stored before its key's expiry is looked at (the limited one may be gone again by the time it answers).
    expect((await http('GET', `/v1/objects/${forever.body.outputs.$oid}?wait=30`)).body).toBe(2);
    await http('GET', `/v1/objects/${limited.body.outputs.$oid}?wait=30`);
    expect(await redis.ttl(`${weft.env.WEFT_PREFIX}:{${forever.body.id}}:vals`)).toBe(-1);
    const expired = async () => (await http('GET', `/v1/objects/${limited.body.outputs.$oid}`)).status === 404;
    await waitFor('the 1 s ttl to expire', expired, { timeoutMs: 5_000 });
    expect((await http('GET', `/v1/objects/${forever.body.outputs.$oid}`)).body).toBe(2);
  });
});

describe('objects', () => {
  it('put and get a JSON value', async () => {
    const value = { a: [1, 2.5, 'x', null], b: { c: true } };
    const put = await http('POST', '/v1/objects', value);
    expect(put.status).toBe(201);
    expect(put.body.$oid).toMatch(/^[\w-]{22}\.0$/);
    expect((await http('GET', `/v1/objects/${put.body.$oid}`)).body).toEqual(value);
    const used = await weft.compute({ n: task('len', { $oid: put.body.$oid }) }, 'n');
    expect(used.result).toBe(2);
  });

  it('put and get bytes', async () => {
    const bytes = Buffer.from([0, 1, 2, 250, 255]);
    const put = await http('POST', '/v1/objects', bytes, { 'content-type': 'application/octet-stream' });
    const raw = await http('GET', `/v1/objects/${put.body.$oid}`, undefined, { accept: 'application/octet-stream' });
    expect(raw.type).toBe('application/octet-stream');
    expect(Buffer.compare(raw.body, bytes)).toBe(0);
    expect((await http('GET', `/v1/objects/${put.body.$oid}`)).body).toEqual({ $bytes: bytes.toString('base64') });
  });

  it('put and get MessagePack with typed arrays intact', async () => {
    const packr = new Packr({ useRecords: false, moreTypes: true });
    const value = { f: new Float64Array([1.5, -2.25, 1e300]), i: new Int32Array([7, -8]) };
    const put = await http('POST', '/v1/objects', packr.pack(value), { 'content-type': 'application/msgpack' });
    expect(put.status).toBe(201);
    const got = await http('GET', `/v1/objects/${put.body.$oid}`, undefined, { accept: 'application/msgpack' });
    const back = packr.unpack(got.body) as typeof value;
    expect(back.f).toBeInstanceOf(Float64Array);
    expect([...back.f]).toEqual([1.5, -2.25, 1e300]);
    expect([...back.i]).toEqual([7, -8]);
    // A task reads it as a typed array too.
    const res = await weft.compute({ s: task('sum', task('getitem', { $oid: put.body.$oid }, 'f')) }, 's');
    expect(res.result).toBe(1.5 - 2.25 + 1e300);
    expect(
      (await http('POST', '/v1/objects', Buffer.from([0x92, 1]), { 'content-type': 'application/msgpack' })).body.error
        .code,
    ).toBe('invalid_msgpack');
    expect(
      (await http('GET', `/v1/objects/${put.body.$oid}`, undefined, { accept: 'application/octet-stream' })).status,
    ).toBe(406);
  });

  it('release while a running graph uses it: gone for clients at once, kept for the graph, freed when it ends', async () => {
    const put = await http('POST', '/v1/objects', 100);
    const oid = put.body.$oid;
    const graph = { wait: task('sleep', 400, 1), use: task('add', { $ref: 'wait' }, { $oid: oid }) };
    const submitted = await weft.submit({ graph, keys: 'use' });
    const del = await http('DELETE', `/v1/objects/${oid}`);
    expect(del.body).toEqual({ oid, released: true });
    expect((await http('GET', `/v1/objects/${oid}`)).status).toBe(404);
    expect((await http('DELETE', `/v1/objects/${oid}`)).status).toBe(404);
    const [graphId] = oid.split('.');
    expect(await redis.hexists(`${weft.env.WEFT_PREFIX}:{${graphId}}:vals`, '0')).toBe(1);
    const res = await (await fetch(`${weft.url}/v1/graphs/${submitted.body.id}/result?wait=10`)).json();
    expect(res.result).toBe(101);
    expect(await redis.exists(`${weft.env.WEFT_PREFIX}:{${graphId}}:vals`)).toBe(0);
    expect(await redis.exists(`${weft.env.WEFT_PREFIX}:{${graphId}}:meta`)).toBe(0);
  });

  it('release of an unused object frees it at once', async () => {
    const put = await http('POST', '/v1/objects', 'x');
    const [graphId] = put.body.$oid.split('.');
    await http('DELETE', `/v1/objects/${put.body.$oid}`);
    expect(await redis.keys(`${weft.env.WEFT_PREFIX}:{${graphId}}:*`)).toEqual([]);
  });

  it('unknown objects are 404 on every route, and 400 unknown_object in a graph', async () => {
    for (const oid of ['AAAAAAAAAAAAAAAAAAAAAA.0', 'not-an-oid']) {
      for (const [method, path] of [
        ['GET', ''],
        ['GET', '/meta'],
        ['DELETE', ''],
      ]) {
        const res = await http(method, `/v1/objects/${oid}${path}`);
        expect(res.status, `${method} ${path}`).toBe(404);
        expect(res.body.error).toMatchObject({ code: 'object_not_found', oid });
      }
    }
    const res = await weft.submit({ graph: { x: task('inc', { $oid: 'AAAAAAAAAAAAAAAAAAAAAA.0' }) }, keys: 'x' });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'unknown_object', objects: ['AAAAAAAAAAAAAAAAAAAAAA.0'] });
  });

  it('a put with ttl expires', async () => {
    const put = await http('POST', '/v1/objects?ttl=1', [1]);
    expect((await http('GET', `/v1/objects/${put.body.$oid}`)).body).toEqual([1]);
    const expired = async () => (await http('GET', `/v1/objects/${put.body.$oid}`)).status === 404;
    await waitFor('the 1 s ttl to expire', expired, { timeoutMs: 5_000 });
  });

  it('GET of a pending object waits with ?wait, or answers 202 with its meta', async () => {
    const a = await weft.submit({ graph: { slow: task('sleep', 300, 'late') }, keys: 'slow', persist: true });
    const now = await http('GET', `/v1/objects/${a.body.outputs.$oid}`);
    expect(now.status).toBe(202);
    expect(now.body.state).toBe('pending');
    expect((await http('GET', `/v1/objects/${a.body.outputs.$oid}?wait=5`)).body).toBe('late');
  });
});
