/**
 * The API's answers are the contract's: every route has its response schemas
 * from openapi.yaml, every response the test suite sees is checked against
 * them (the harness turns on src/api/plugins/response-check.ts, which fails a
 * response with a field or type the contract does not declare), and the body
 * types in code are the generated ones, never hand copies. Here each route
 * is called in its usual answers, so none goes unchecked.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeValue } from '../src/shared/codec.ts';
import { openApi, responseSchemas } from '../src/api/schemas.ts';
import { startWeft, type Weft } from './helpers/weft.ts';

let weft: Weft;

beforeAll(async () => {
  weft = await startWeft({
    workers: 1,
    env: { WEFT_OPS: 'test/fixtures/ops/faults.ts', WEFT_FAULTS_DIR: mkdtempSync(join(tmpdir(), 'weft-responses-')) },
  });
});
afterAll(async () => {
  await weft?.close();
});

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${weft.url}${path}`, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  // A response the check refused is a 500 that says why.
  expect(res.status, text).not.toBe(500);
  return { status: res.status, text, json: () => JSON.parse(text) };
}

describe('every route', () => {
  it('has every response it documents in its schema, and openapi.yaml documents a response for each', () => {
    const routes = (readdirSync(new URL('../src/api/routes', import.meta.url)) as string[])
      .map((f) => read(`src/api/routes/${f}`))
      .concat(read('src/api/metrics.ts'));
    const used = routes.flatMap((source) => [...source.matchAll(/routeSchema\('(\w+)'\)/g)].map(([, id]) => id));
    const documented = Object.values(openApi().paths).flatMap((methods) => Object.values(methods));
    expect(used.sort()).toEqual(documented.map((op) => op.operationId).sort());
    for (const op of documented) expect(Object.keys(responseSchemas(op)), op.operationId).not.toEqual([]);
  });

  it('answers graphs as the contract says: submit, list, status, result, events, tasks, webhooks, cancel', async () => {
    const graph = { x: 1, y: { $op: 'inc', args: [{ $ref: 'x' }] } };
    const done = await call('POST', '/v1/graphs', { graph, keys: ['y'], wait: 30 });
    expect(done.status).toBe(200);
    const { id } = done.json();
    expect((await call('POST', '/v1/graphs', { graph, keys: 'y', persist: true })).status).toBe(202);
    expect((await call('POST', '/v1/graphs', { graph, keys: 'nope' })).status).toBe(400);
    expect((await call('GET', '/v1/graphs')).status).toBe(200);
    expect((await call('GET', `/v1/graphs/${id}`)).status).toBe(200);
    expect((await call('GET', '/v1/graphs/nope')).status).toBe(404);
    expect((await call('GET', `/v1/graphs/${id}/result`)).status).toBe(200);
    expect((await call('GET', `/v1/graphs/${id}/events`)).status).toBe(200);
    expect((await call('GET', `/v1/graphs/${id}/tasks`)).status).toBe(200);
    expect((await call('GET', `/v1/graphs/${id}/webhooks`)).status).toBe(200);
    // Without wait the answer is 202 while the graph runs (a sleeping task, so it cannot end first).
    const slow = await call('POST', '/v1/graphs', { graph: { s: { $op: 'sleep', args: [30_000] } }, keys: 's' });
    expect(slow.status).toBe(202);
    expect((await call('GET', `/v1/graphs/${slow.json().id}/result`)).status).toBe(202);
    expect((await call('DELETE', `/v1/graphs/${slow.json().id}`)).status).toBe(200);
  });

  it('answers a failed graph, and the events of a retried task, with what the contract declares', async () => {
    const flaky = { $op: 'faults.flaky', args: ['responses', 1, 7], options: { retries: 1 } };
    const retried = await call('POST', '/v1/graphs', { graph: { f: flaky }, keys: 'f', wait: 30 });
    expect(retried.json().result).toBe(7);
    const events = (await call('GET', `/v1/graphs/${retried.json().id}/events`)).json().events;
    expect(events.some((e: { retry?: boolean }) => e.retry)).toBe(true);
    const failed = await call('POST', '/v1/graphs', {
      graph: { e: { $op: 'fail', args: ['no'] } },
      keys: 'e',
      wait: 30,
    });
    expect(failed.json().status).toBe('failed');
    expect((await call('GET', `/v1/graphs/${failed.json().id}`)).json().error.message).toContain('no');
  });

  it('answers objects: put, get, meta, pending, release', async () => {
    const put = await call('POST', '/v1/objects', { a: [1, 2] });
    expect(put.status).toBe(201);
    const oid = put.json().$oid;
    expect((await call('GET', `/v1/objects/${oid}`)).json()).toEqual({ a: [1, 2] });
    expect((await call('GET', `/v1/objects/${oid}/meta`)).status).toBe(200);
    expect((await call('GET', '/v1/objects/nope.0')).status).toBe(404);
    const res = await fetch(`${weft.url}/v1/objects/${oid}`, { headers: { accept: 'application/msgpack' } });
    expect(Buffer.from(await res.arrayBuffer()).equals(encodeValue({ a: [1, 2] }))).toBe(true);
    const slow = await call('POST', '/v1/graphs', { graph: { s: { $op: 'sleep', args: [30_000] } }, keys: 's' });
    expect((await call('GET', `/v1/objects/${slow.json().outputs.$oid}`)).status).toBe(202);
    await call('DELETE', `/v1/graphs/${slow.json().id}`);
    expect((await call('DELETE', `/v1/objects/${oid}`)).status).toBe(200);
  });

  it('answers the service routes: stats, ops, workers, health, metrics, dashboard', async () => {
    for (const path of ['/v1/stats', '/v1/ops', '/v1/workers', '/healthz', '/metrics', '/ui', '/ui/app.js'])
      expect((await call('GET', path)).status, path).toBe(200);
    expect((await call('GET', '/ui/nope.js')).status).toBe(404);
  });
});

describe('body types', () => {
  it('no server code declares its own copy of a contract schema: it uses src/shared/openapi-types.ts', () => {
    const names = Object.keys(openApi().components.schemas);
    const copies: string[] = [];
    for (const layer of ['api', 'queue', 'store', 'workers', 'graph']) {
      const dir = `src/${layer}`;
      for (const file of readdirSync(new URL(`../${dir}`, import.meta.url), { recursive: true }) as string[]) {
        if (!file.endsWith('.ts')) continue;
        const source = read(join(dir, file));
        for (const name of names)
          if (new RegExp(`(interface ${name}\\b|type ${name} = \\{)`).test(source))
            copies.push(`${dir}/${file}: ${name}`);
      }
    }
    expect(copies).toEqual([]);
  });
});
