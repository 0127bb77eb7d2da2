/**
 * API tokens and tenants: every route but /healthz needs a token; each
 * tenant sees only its own graphs, objects, events and cache (another
 * tenant's ids answer 404, as if they did not exist); operators see all and
 * the service-wide routes; graphs in flight per tenant are limited; without
 * tokens the API listens on loopback only.
 */
import { spawn } from 'node:child_process';
import { networkInterfaces } from 'node:os';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWeft, type Weft } from './helpers/weft.ts';
import { freePort } from './helpers/redis.ts';
import { waitFor } from './helpers/wait.ts';

const ALICE = 'alice-token-0123456789';
const BOB = 'bob-token-0123456789abc';
const OPERATOR = 'operator-token-0123456789';

let weft: Weft;
beforeAll(async () => {
  weft = await startWeft({ workers: 1, env: { WEFT_TOKENS: `alice=${ALICE},bob=${BOB},*=${OPERATOR}` } });
});
afterAll(() => weft?.close());

function call(
  token: string | null,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${weft.url}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function json(res: Response): Promise<any> {
  return res.json();
}

describe('tokens', () => {
  it('every route but /healthz answers 401 unauthorized without a valid token', async () => {
    expect((await call(null, 'GET', '/healthz')).status).not.toBe(401);
    for (const [method, path] of [
      ['GET', '/v1/ops'],
      ['POST', '/v1/graphs'],
      ['GET', '/v1/graphs'],
      ['GET', '/v1/graphs/x'],
      ['GET', '/v1/objects/x.0'],
      ['GET', '/v1/stats'],
      ['GET', '/v1/workers'],
      ['GET', '/metrics'],
      ['GET', '/v1/nothing'],
    ]) {
      for (const token of [null, 'not-a-token-at-all-123']) {
        const res = await call(token, method, path, method === 'POST' ? { graph: { x: 1 }, keys: 'x' } : undefined);
        expect(res.status, `${method} ${path}`).toBe(401);
        expect(res.headers.get('www-authenticate')).toBe('Bearer realm="weft"');
        expect((await json(res)).error.code).toBe('unauthorized');
      }
    }
    expect((await call(ALICE, 'GET', '/v1/ops')).status).toBe(200);
    // The dashboard's files hold no data; the page asks for a token itself.
    for (const path of ['/ui', '/ui/app.js']) expect((await call(null, 'GET', path)).status, path).toBe(200);
  });
});

describe('tenants', () => {
  let graphId: string;
  let oid: string;
  let putOid: string;
  beforeAll(async () => {
    const res = await json(
      await call(ALICE, 'POST', '/v1/graphs', {
        graph: { x: 40, y: { $op: 'add', args: [{ $ref: 'x' }, 2] } },
        keys: 'y',
        wait: 10,
        persist: false,
      }),
    );
    expect(res.status).toBe('done');
    graphId = res.id;
    oid = res.outputs.$oid;
    putOid = (await json(await call(ALICE, 'POST', '/v1/objects', { secret: 'alice' }))).$oid;
  });

  it("another tenant gets 404 on every route with alice's ids, and changes nothing", async () => {
    const tries: [string, string, unknown?, Record<string, string>?][] = [
      ['GET', `/v1/graphs/${graphId}`],
      ['GET', `/v1/graphs/${graphId}/result`],
      ['GET', `/v1/graphs/${graphId}/events`],
      ['GET', `/v1/graphs/${graphId}/events`, undefined, { accept: 'text/event-stream' }],
      ['GET', `/v1/graphs/${graphId}/webhooks`],
      ['GET', `/v1/graphs/${graphId}/tasks`],
      ['DELETE', `/v1/graphs/${graphId}`],
      ['GET', `/v1/objects/${oid}`],
      ['GET', `/v1/objects/${oid}/meta`],
      ['DELETE', `/v1/objects/${oid}`],
      ['GET', `/v1/objects/${putOid}`],
      ['DELETE', `/v1/objects/${putOid}`],
    ];
    for (const [method, path, body, headers] of tries) {
      const res = await call(BOB, method, path, body, headers);
      expect(res.status, `${method} ${path}`).toBe(404);
      expect((await json(res)).error.code).toMatch(/^(graph|object)_not_found$/);
    }
    const uses = await call(BOB, 'POST', '/v1/graphs', {
      graph: { z: { $op: 'inc', args: [{ $oid: oid }] } },
      keys: 'z',
      wait: 5,
    });
    expect(uses.status).toBe(400);
    expect((await json(uses)).error.code).toBe('unknown_object');
    // A WebSocket on the events path closes as for a graph that does not exist.
    const closed = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`${weft.url.replace('http', 'ws')}/v1/graphs/${graphId}/events`, {
        headers: { authorization: `Bearer ${BOB}` },
      });
      ws.on('close', (code) => resolve(code));
    });
    expect(closed).toBe(4404);
    // Alice's things are untouched.
    expect(await json(await call(ALICE, 'GET', `/v1/objects/${oid}`))).toBe(42);
    expect(await json(await call(ALICE, 'GET', `/v1/objects/${putOid}`))).toEqual({ secret: 'alice' });
    expect((await json(await call(ALICE, 'GET', `/v1/graphs/${graphId}`))).status).toBe('done');
    const hers = await call(ALICE, 'POST', '/v1/graphs', {
      graph: { z: { $op: 'inc', args: [{ $oid: oid }] } },
      keys: 'z',
      wait: 5,
    });
    expect((await json(hers)).result).toBe(43);
  });

  it('an operator sees every tenant and the service-wide routes; a tenant does not', async () => {
    expect((await json(await call(OPERATOR, 'GET', `/v1/graphs/${graphId}`))).status).toBe('done');
    expect(await json(await call(OPERATOR, 'GET', `/v1/objects/${oid}`))).toBe(42);
    const stats = await call(ALICE, 'GET', '/v1/stats');
    expect(stats.status).toBe(403);
    expect((await json(stats)).error.code).toBe('forbidden');
    expect((await call(OPERATOR, 'GET', '/v1/stats')).status).toBe(200);
    for (const path of ['/v1/workers', '/metrics']) {
      const denied = await call(ALICE, 'GET', path);
      expect(denied.status, path).toBe(403);
      expect((await json(denied)).error.code).toBe('forbidden');
      expect((await call(OPERATOR, 'GET', path)).status, path).toBe(200);
    }
  });

  it("GET /v1/graphs lists a tenant's own graphs only; an operator's list has every tenant's", async () => {
    const bobs = await json(
      await call(BOB, 'POST', '/v1/graphs', { graph: { b: { $op: 'inc', args: [1] } }, keys: 'b', wait: 10 }),
    );
    const ids = async (token: string) =>
      (await json(await call(token, 'GET', '/v1/graphs?limit=1000'))).graphs.map((g: any) => g.id);
    const [alice, bob, operator] = await Promise.all([ids(ALICE), ids(BOB), ids(OPERATOR)]);
    expect(alice).toContain(graphId);
    expect(alice).not.toContain(bobs.id);
    expect(bob).toContain(bobs.id);
    expect(bob).not.toContain(graphId);
    expect(operator).toEqual(expect.arrayContaining([graphId, bobs.id]));
    // The limit counts visible graphs, not graphs read.
    expect((await json(await call(BOB, 'GET', '/v1/graphs?limit=1'))).graphs.map((g: any) => g.id)).toEqual([bobs.id]);
  });

  it('an event stream takes the token as access_token where headers cannot be set', async () => {
    const res = await fetch(`${weft.url}/v1/graphs/${graphId}/events?access_token=${ALICE}`, {
      headers: { accept: 'text/event-stream' },
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('event: finish');
    expect((await fetch(`${weft.url}/v1/graphs/${graphId}?access_token=${ALICE}`)).status).toBe(401);
  });

  it('each tenant has its own result cache', async () => {
    const graph = { a: { $op: 'array.ones', args: [[50]] }, s: { $op: 'array.sum', args: [{ $ref: 'a' }] } };
    const hits = async (token: string) => {
      const res = await json(
        await call(token, 'POST', '/v1/graphs', { graph, keys: 's', wait: 10, options: { cache: true } }),
      );
      const events = (await json(await call(token, 'GET', `/v1/graphs/${res.id}/events`))).events;
      return events.find((e: any) => e.type === 'postsubmit_all').cache_hits;
    };
    await hits(ALICE);
    expect(await hits(ALICE)).toBeGreaterThan(0);
    expect(await hits(BOB)).toBe(0);
  });
});

describe('graphs in flight per tenant', () => {
  let small: Weft;
  beforeAll(async () => {
    small = await startWeft({
      workers: 1,
      env: { WEFT_TOKENS: `alice=${ALICE},bob=${BOB}`, WEFT_MAX_GRAPHS_IN_FLIGHT: '2' },
    });
  });
  afterAll(() => small?.close());

  it('a tenant at WEFT_MAX_GRAPHS_IN_FLIGHT gets 429 too_many_graphs; others do not; ended graphs free their places', async () => {
    const submit = (token: string, ms: number) =>
      fetch(`${small.url}/v1/graphs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ graph: { s: { $op: 'sleep', args: [ms, 1] } }, keys: 's' }),
      });
    const first = (await (await submit(ALICE, 400)).json()) as any;
    await submit(ALICE, 400);
    const third = await submit(ALICE, 10);
    expect(third.status).toBe(429);
    expect(((await third.json()) as any).error).toMatchObject({ code: 'too_many_graphs', limit: 2 });
    expect((await submit(BOB, 10)).status).toBe(202);
    const ended = await fetch(`${small.url}/v1/graphs/${first.id}/result?wait=10`, {
      headers: { authorization: `Bearer ${ALICE}` },
    });
    expect(((await ended.json()) as any).status).toBe('done');
    // Its place was freed as it ended (finishGraph), before the result was answered.
    expect((await submit(ALICE, 10)).status).toBe(202);
  });
});

describe('without tokens', () => {
  it('the API listens on loopback only and says so, whatever HOST says', async () => {
    const port = await freePort();
    const root = fileURLToPath(new URL('..', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/api/main.ts'], {
      cwd: root,
      env: { ...process.env, ...weft.env, HOST: '0.0.0.0', PORT: String(port), WEFT_TOKENS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    try {
      await waitFor('the API to listen', () => output.includes('Server listening'), { timeoutMs: 10_000 });
      expect(output).toContain('listening on 127.0.0.1 only');
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBeLessThan(500);
      const external = Object.values(networkInterfaces())
        .flat()
        .find((a) => a && a.family === 'IPv4' && !a.internal);
      if (external) await expect(fetch(`http://${external.address}:${port}/healthz`)).rejects.toThrow();
    } finally {
      child.kill('SIGTERM');
    }
  });
});
