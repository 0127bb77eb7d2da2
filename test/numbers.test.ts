/**
 * Numbers at their limits (issue 19, item 4): timeouts past what Node's
 * timers hold (2^31 - 1 ms), a `wait` that is not a number, and integers
 * past 2^53, which JSON cannot carry exactly and MessagePack can. Real API,
 * Redis and a worker process.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findInexactInteger } from '../src/api/plugins/bodies.ts';
import { decodeValue, encodeValue } from '../src/shared/codec.ts';
import { NDARRAY_EXTENSION_TYPE } from '../src/shared/values/ndarray.ts';
import { sleepFor } from '../src/ops/timers.ts';
import { startWeft, type Weft } from './helpers/weft.ts';
import { ref, task } from './helpers/nodes.ts';
import { waitFor } from './helpers/wait.ts';

let weft: Weft;
beforeAll(async () => {
  // The 1e12 ms sleep still runs when the file ends: the worker hands it back after 1 s of shutdown, not 10.
  weft = await startWeft({ workers: 1, env: { WEFT_SHUTDOWN_MS: '1000' } });
});
afterAll(async () => {
  await weft?.close();
});

const MAX_TIMER_MS = 2 ** 31 - 1;

async function send(method: string, path: string, body?: string | Uint8Array, headers: Record<string, string> = {}) {
  const res = await fetch(`${weft.url}${path}`, { method, headers, body: body as BodyInit | undefined });
  const bytes = Buffer.from(await res.arrayBuffer());
  const type = res.headers.get('content-type') ?? '';
  return { status: res.status, type, bytes, body: type.startsWith('application/json') ? JSON.parse(`${bytes}`) : null };
}

const json = (method: string, path: string, text: string) =>
  send(method, path, text, { 'content-type': 'application/json' });
const packed = (path: string, value: unknown, accept = 'application/json') =>
  send('POST', path, encodeValue(value), { 'content-type': 'application/msgpack', accept });

describe('timeouts and sleeps past 2^31 - 1 ms', () => {
  it('options.task_timeout_ms above 2^31 - 1 is 400 invalid_request naming the field; 2^31 - 1 lets the task finish', async () => {
    const over = await weft.submit({
      graph: { x: task('inc', 1) },
      keys: 'x',
      wait: 30,
      options: { task_timeout_ms: MAX_TIMER_MS + 1 },
    });
    expect(over.status, JSON.stringify(over.body)).toBe(400);
    expect(over.body.error.code).toBe('invalid_request');
    expect(over.body.error.path).toBe('body/options/task_timeout_ms');
    const max = await weft.compute({ x: task('inc', 1) }, 'x', { options: { task_timeout_ms: MAX_TIMER_MS } });
    expect(max.status, JSON.stringify(max.error)).toBe('done');
    expect(max.result).toBe(2);
  });

  it("a task's options.timeout_ms above 2^31 - 1 is 400 invalid_graph naming the key and path; 2^31 - 1 lets it finish", async () => {
    const over = await weft.submit({
      graph: { x: { $op: 'inc', args: [1], options: { timeout_ms: MAX_TIMER_MS + 1 } } },
      keys: 'x',
      wait: 30,
    });
    expect(over.status, JSON.stringify(over.body)).toBe(400);
    expect(over.body.error).toMatchObject({ code: 'invalid_graph', key: 'x', path: '$["x"].options' });
    expect(over.body.error.message).toContain(String(MAX_TIMER_MS));
    const max = await weft.compute({ x: { $op: 'inc', args: [1], options: { timeout_ms: MAX_TIMER_MS } } }, 'x');
    expect(max.status, JSON.stringify(max.error)).toBe('done');
    expect(max.result).toBe(2);
  });

  it('sleep of 1e12 ms is still sleeping a second later (a timer past 2^31 - 1 ms would have fired at once)', async () => {
    const res = await weft.submit({ graph: { s: task('sleep', 1e12, 'woke') }, keys: 's', wait: 1 });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(res.body.status).toBe('running');
    const events = await waitFor('the sleep to start', async () => {
      const body = (await (await fetch(`${weft.url}/v1/graphs/${res.body.id}/events`)).json()) as {
        events: { type: string }[];
      };
      const types = body.events.map((e) => e.type);
      return types.includes('pretask') && body.events;
    });
    expect(events.map((e) => e.type)).not.toContain('posttask');
    // A cancel discards the task's result; the sleep itself goes on until the worker stops (its abort signal).
    expect((await send('DELETE', `/v1/graphs/${res.body.id}`)).status).toBe(200);
  });

  it('sleepFor chains timers no longer than the longest Node holds, and stops when aborted', async () => {
    const started = performance.now();
    const delays: number[] = [];
    await sleepFor(60, undefined, 25, (ms) => delays.push(ms));
    expect(performance.now() - started).toBeGreaterThanOrEqual(59);
    expect(delays.length).toBeGreaterThan(0);
    expect(Math.max(...delays)).toBeLessThanOrEqual(25);
    const abort = new AbortController();
    const sleeping = sleepFor(MAX_TIMER_MS * 4, abort.signal);
    abort.abort();
    await expect(sleeping).rejects.toMatchObject({ name: 'AbortError' });
  });
});

describe('a JSON body says what it means', () => {
  it('"wait": "1", true and null are 400 invalid_request, not coerced to a number', async () => {
    for (const wait of ['1', true, null]) {
      const res = await weft.submit({ graph: { x: 1 }, keys: 'x', wait });
      expect(res.status, `wait: ${JSON.stringify(wait)}`).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'invalid_request', path: 'body/wait' });
    }
    for (const extra of [{ persist: 'true' }, { ttl: '5' }, { options: { retries: '2' } }, { keys: 5 }]) {
      const res = await weft.submit({ graph: { 5: 1, x: 1 }, keys: 'x', ...extra });
      expect(res.status, JSON.stringify(extra)).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
    }
  });

  it('a query string is text: ?wait=1 is one second', async () => {
    const done = await weft.submit({ graph: { x: 1 }, keys: 'x', wait: 0 });
    const res = await send('GET', `/v1/graphs/${done.body.id}/result?wait=1`);
    expect(res.status).toBe(200);
    expect(res.body.result).toBe(1);
    expect((await send('GET', `/v1/graphs/${done.body.id}/result?wait=soon`)).body.error).toMatchObject({
      code: 'invalid_request',
      path: 'querystring/wait',
    });
  });
});

describe('integers past 2^53', () => {
  const big = [2n ** 60n, -(2n ** 63n), 2n ** 64n - 1n];

  it('as MessagePack, 2^60, -2^63 and 2^64 - 1 are stored and read back exact', async () => {
    const put = await packed('/v1/objects', { big });
    expect(put.status, `${put.bytes}`).toBe(201);
    const got = await send('GET', `/v1/objects/${put.body.$oid}`, undefined, { accept: 'application/msgpack' });
    expect(got.type).toBe('application/msgpack');
    expect(decodeValue(got.bytes)).toEqual({ big });
  });

  it('as MessagePack, a graph literal and a task passing it on keep every digit', async () => {
    const res = await packed(
      '/v1/graphs',
      {
        graph: { x: big, y: task('identity', ref('x')) },
        keys: ['x', 'y'],
        wait: 30,
        options: { optimize: { fuse: false } },
      },
      'application/msgpack',
    );
    expect(res.status, `${res.bytes}`).toBe(200);
    const outcome = decodeValue(res.bytes) as { status: string; result: unknown; id: string };
    expect(outcome.status).toBe('done');
    expect(outcome.result).toEqual([big, big]);
    const again = await send('GET', `/v1/graphs/${outcome.id}/result`, undefined, { accept: 'application/msgpack' });
    expect((decodeValue(again.bytes) as { result: unknown }).result).toEqual([big, big]);
  });

  it('a body that is not MessagePack is 400 invalid_msgpack on both routes that take it', async () => {
    for (const path of ['/v1/objects', '/v1/graphs']) {
      const res = await send('POST', path, Buffer.from([0x92, 0x01]), { 'content-type': 'application/msgpack' });
      expect(res.status, path).toBe(400);
      expect(res.body.error.code, path).toBe('invalid_msgpack');
    }
  });

  it('a graph value whose extension cannot be read is 400 invalid_graph naming its key', async () => {
    // {"graph": {"a": 1, "b": <an array chunk whose payload is one nil>}, "keys": "a"}, as bytes.
    const body = Buffer.concat([
      Buffer.from([0x82, 0xa5, ...Buffer.from('graph'), 0x82, 0xa1, 0x61, 0x01, 0xa1, 0x62]),
      Buffer.from([0xd4, NDARRAY_EXTENSION_TYPE, 0xc0]),
      Buffer.from([0xa4, ...Buffer.from('keys'), 0xa1, 0x61]),
    ]);
    const res = await send('POST', '/v1/graphs', body, { 'content-type': 'application/msgpack' });
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'invalid_graph', key: 'b' });
    expect(res.body.error.message).toMatch(/^\$\["b"\] is not MessagePack weft reads/);
  });

  it('a JSON integer past ±(2^53 - 1) is 400 inexact_number naming its path and literal, on objects and graphs', async () => {
    const put = await json('POST', '/v1/objects', '{"a": [1, {"n": 1152921504606846976}]}');
    expect(put.status, JSON.stringify(put.body)).toBe(400);
    expect(put.body.error).toMatchObject({ code: 'inexact_number', path: '$.a[1].n', literal: '1152921504606846976' });
    expect(put.body.error.message).toMatch(/string|application\/msgpack/);
    const graph = await json('POST', '/v1/graphs', '{"graph": {"big key": -9007199254740992}, "keys": "big key"}');
    expect(graph.status, JSON.stringify(graph.body)).toBe(400);
    expect(graph.body.error).toMatchObject({
      code: 'inexact_number',
      path: '$.graph["big key"]',
      literal: '-9007199254740992',
    });
    expect((await json('POST', '/v1/objects', '18446744073709551615')).body.error).toMatchObject({
      code: 'inexact_number',
      path: '$',
    });
  });

  it('safe integers, floats, and digits inside strings and keys pass as they are', async () => {
    const text =
      '{"max": 9007199254740991, "min": -9007199254740991, "float": 12345678901234567890.5, "exp": 1e300,' +
      ' "s": "a\\"12345678901234567890", "12345678901234567890": [0, -5, 12345678901234567e3]}';
    const put = await json('POST', '/v1/objects', text);
    expect(put.status, JSON.stringify(put.body)).toBe(201);
    const got = await send('GET', `/v1/objects/${put.body.$oid}`);
    expect(got.body).toEqual(JSON.parse(text));
  });

  it('the scan finds exactly the integer literals past ±(2^53 - 1), at their paths, whatever the strings and keys hold (property)', () => {
    const leaf = fc.oneof(
      fc.string({ unit: 'binary' }),
      fc.stringMatching(/^[\d.eE+-]{0,40}$/),
      fc.string({ unit: fc.constantFrom('"', '\\', '1', '9', '-', 'e', '.', '{', '[', ',', ':') }),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.integer(),
      fc.bigInt({ min: -(2n ** 68n), max: 2n ** 68n }).map(Number),
      fc.constantFrom(true, false, null, 9007199254740991, -9007199254740991, 9007199254740992),
    );
    const { value } = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: 'small' }, leaf, tie('array'), tie('object')),
      array: fc.array(tie('value'), { maxLength: 5 }),
      object: fc.dictionary(
        fc.string({ unit: 'binary' }).filter((k) => k !== '__proto__'),
        tie('value'),
        { maxKeys: 5 },
      ),
    }));
    fc.assert(
      fc.property(value, fc.boolean(), (v, indent) => {
        const text = JSON.stringify(v, null, indent ? 2 : undefined);
        expect(findInexactInteger(text)).toEqual(firstUnsafeInteger(v, '$'));
      }),
      { numRuns: 2000 },
    );
  });
});

/** What the scan should find: the first number JSON.stringify writes as an integer literal that is not a safe integer. */
function firstUnsafeInteger(v: unknown, path: string): { literal: string; path: string } | null {
  if (typeof v === 'number')
    return Number.isInteger(v) && !Number.isSafeInteger(v) && Math.abs(v) < 1e21 ? { literal: String(v), path } : null;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const found = firstUnsafeInteger(v[i], `${path}[${i}]`);
      if (found) return found;
    }
  } else if (typeof v === 'object' && v !== null) {
    for (const [k, item] of Object.entries(v)) {
      const found = firstUnsafeInteger(
        item,
        /^[A-Za-z_$][\w$]*$/.test(k) ? `${path}.${k}` : `${path}[${JSON.stringify(k)}]`,
      );
      if (found) return found;
    }
  }
  return null;
}
