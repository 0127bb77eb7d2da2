/**
 * Every error in the catalogue's shape (issue 19, item 5): each route of
 * openapi.yaml (responses.test.ts keeps them the app's routes, so a new route
 * is walked here without a change) is sent the malformed forms of a request:
 * an over-long or badly encoded id, a JSON content type with no body, a body
 * that is not JSON or not UTF-8, a type it does not take, an Accept it cannot
 * answer, a query value of the wrong type, a method it lacks. Each answer is
 * `{"error": {"code", "message", ...}}` with a code of src/api/errors.ts and
 * that code's status, never a 500 and never Fastify's own body.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorCatalogue } from '../src/api/errors.ts';
import { openApi, type Operation } from '../src/api/schemas.ts';
import { startWeft, type Weft } from './helpers/weft.ts';

let weft: Weft;
beforeAll(async () => {
  weft = await startWeft({ workers: 0 });
});
afterAll(async () => {
  await weft?.close();
});

interface Param {
  name: string;
  in: 'path' | 'query';
  schema: { type?: string; maxLength?: number; maximum?: number };
}
interface Route {
  method: string;
  path: string;
  op: Operation;
  pathParams: Param[];
  queryParams: Param[];
  takesBody: boolean;
  /** The media types of its 2xx answers. */
  offers: string[];
}

const routes: Route[] = Object.entries(openApi().paths).flatMap(([path, methods]) =>
  Object.entries(methods).map(([method, op]) => {
    const params = (op.parameters ?? []).map((p) =>
      '$ref' in p ? (openApi().components.parameters[p.$ref.split('/').pop()!] as Param) : (p as Param),
    );
    const offers = Object.entries(op.responses)
      .filter(([status]) => status.startsWith('2'))
      .flatMap(([, r]) => Object.keys(r.content ?? {}));
    return {
      method: method.toUpperCase(),
      path,
      op,
      pathParams: params.filter((p) => p.in === 'path'),
      queryParams: params.filter((p) => p.in === 'query'),
      takesBody: op.requestBody !== undefined,
      offers,
    };
  }),
);
const label = (r: Route) => `${r.method} ${r.path}`;

/** Ids that look right and name nothing. */
const SAMPLE: Record<string, string> = { id: 'nope', oid: 'nope.0', asset: 'nope.js' };
const urlOf = (r: Route, value?: string) =>
  r.path.replace(/\{(\w+)\}/g, (_, name: string) => value ?? SAMPLE[name] ?? 'x');

interface Answer {
  status: number;
  type: string;
  text: string;
  code: string | undefined;
}

async function call(
  method: string,
  url: string,
  { headers = {}, body }: { headers?: Record<string, string>; body?: string | Uint8Array } = {},
): Promise<Answer> {
  const res = await fetch(`${weft.url}${url}`, { method, headers, body: body as BodyInit | undefined });
  const text = await res.text();
  const type = res.headers.get('content-type') ?? '';
  let code: string | undefined;
  if (res.status >= 400) code = JSON.parse(text)?.error?.code;
  return { status: res.status, type, text, code };
}

/** An error answer in the catalogue's shape, with its code's status; any answer but a 500. */
function expectCatalogued(res: Answer, what: string): void {
  expect(res.status, `${what}: ${res.text}`).not.toBe(500);
  if (res.status < 400) return;
  expect(res.type, what).toMatch(/^application\/json/);
  const body = JSON.parse(res.text);
  expect(Object.keys(body), `${what}: ${res.text}`).toEqual(['error']);
  expect(Object.keys(errorCatalogue), `${what}: ${res.text}`).toContain(body.error.code);
  expect(typeof body.error.message, what).toBe('string');
  expect(errorCatalogue[body.error.code as keyof typeof errorCatalogue].status, `${what}: ${res.text}`).toBe(
    res.status,
  );
}

async function expectError(res: Promise<Answer>, status: number, code: string, what: string): Promise<Answer> {
  const answer = await res;
  expectCatalogued(answer, what);
  expect([answer.status, answer.code], `${what}: ${answer.text}`).toEqual([status, code]);
  return answer;
}

describe('the routes walked', () => {
  it('are the routes of the app, bodies and ids among them', () => {
    for (const r of routes)
      expect(weft.app.hasRoute({ method: r.method, url: r.path.replace(/\{(\w+)\}/g, ':$1') }), label(r)).toBe(true);
    expect(routes.filter((r) => r.takesBody).length).toBeGreaterThan(0);
    expect(routes.filter((r) => r.pathParams.length > 0).length).toBeGreaterThan(0);
    expect(routes.filter((r) => r.method === 'DELETE').length).toBeGreaterThan(0);
  });
});

describe('every route, every malformed form, in the catalogue shape', () => {
  it('an id longer than any id there is, or not valid percent-encoding, is 400 invalid_request', async () => {
    for (const r of routes.filter((r) => r.pathParams.length > 0)) {
      for (const length of [r.pathParams[0].schema.maxLength! + 1, 101, 5000])
        await expectError(
          call(r.method, urlOf(r, 'x'.repeat(length))),
          400,
          'invalid_request',
          `${label(r)} ${length}`,
        );
      await expectError(call(r.method, urlOf(r, '%E0%A4%A')), 400, 'invalid_request', `${label(r)} bad %`);
    }
  });

  it('a JSON (or any) content type with an empty body is no body where none is expected: the answer is the one without it', async () => {
    for (const r of routes.filter((r) => !r.takesBody)) {
      const plain = await call(r.method, urlOf(r));
      for (const type of [
        'application/json',
        'application/json; charset=utf-8',
        'text/plain',
        'application/msgpack',
        'application/octet-stream',
      ]) {
        // GET requests carry no body in fetch; a DELETE's empty body goes with content-length: 0.
        const res = await call(r.method, urlOf(r), {
          headers: { 'content-type': type },
          body: r.method === 'GET' ? undefined : '',
        });
        expectCatalogued(res, `${label(r)} ${type}`);
        expect([res.status, res.code], `${label(r)} ${type}: ${res.text}`).toEqual([plain.status, plain.code]);
      }
    }
  });

  it('a cancel and a release with content-type: application/json and no body do what they say', async () => {
    const json = { 'content-type': 'application/json' };
    const graph = await call('POST', '/v1/graphs', { headers: json, body: '{"graph": {"x": 1}, "keys": "x"}' });
    const { id } = JSON.parse(graph.text);
    const cancel = await call('DELETE', `/v1/graphs/${id}`, { headers: json, body: '' });
    expect(cancel.status, cancel.text).toBe(200);
    const put = await call('POST', '/v1/objects', { headers: json, body: '42' });
    const { $oid } = JSON.parse(put.text);
    const release = await call('DELETE', `/v1/objects/${$oid}`, { headers: json, body: '' });
    expect([release.status, JSON.parse(release.text)], release.text).toEqual([200, { oid: $oid, released: true }]);
  });

  it('a route that takes a body answers an empty, malformed or non-UTF-8 one with 400 invalid_json, and a type it does not take with 415', async () => {
    for (const r of routes.filter((r) => r.takesBody)) {
      const json = { 'content-type': 'application/json' };
      await expectError(
        call(r.method, urlOf(r), { headers: json, body: '' }),
        400,
        'invalid_json',
        `${label(r)} empty`,
      );
      await expectError(
        call(r.method, urlOf(r), { headers: json, body: '{"a": ' }),
        400,
        'invalid_json',
        `${label(r)} cut`,
      );
      const notUtf8 = Uint8Array.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]); // {"a":"\xff\xfe"}
      const bad = await expectError(
        call(r.method, urlOf(r), { headers: json, body: notUtf8 }),
        400,
        'invalid_json',
        `${label(r)} UTF-8`,
      );
      expect(bad.text).toContain('UTF-8');
      for (const type of ['text/xml', 'application/x-www-form-urlencoded', 'text/plain'])
        await expectError(
          call(r.method, urlOf(r), { headers: { 'content-type': type }, body: '<a/>' }),
          415,
          'unsupported_media_type',
          `${label(r)} ${type}`,
        );
    }
  });

  it('Accept: application/xml (or a q=0 of every type offered) is 406 not_acceptable', async () => {
    for (const r of routes) {
      for (const accept of ['application/xml', `${r.offers.join(';q=0, ')};q=0`, 'text/csv, image/*'])
        await expectError(
          call(r.method, urlOf(r), { headers: { accept } }),
          406,
          'not_acceptable',
          `${label(r)} ${accept}`,
        );
    }
  });

  it('every type a route offers, a wildcard, no Accept and the Accept headers clients send are accepted', async () => {
    const browserPage = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8';
    const prometheus = 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
    for (const r of routes) {
      const accepts = [...r.offers, '*/*', '', 'application/json, text/plain, */*', browserPage, 'text/css,*/*;q=0.1'];
      for (const type of r.offers) accepts.push(`${type.split('/')[0]}/*`, `${type.toUpperCase()};q=0.5`);
      if (r.path === '/metrics') accepts.push(prometheus);
      for (const accept of accepts) {
        const res = await call(r.method, urlOf(r), { headers: accept === '' ? {} : { accept } });
        expectCatalogued(res, `${label(r)} ${accept}`);
        expect(res.code, `${label(r)} Accept: ${accept}: ${res.text}`).not.toBe('not_acceptable');
      }
    }
  });

  it('a query value of the wrong type, or a number past its bounds (Infinity, 1e400 among them), is 400 invalid_request naming it; an unknown query field is ignored', async () => {
    for (const r of routes) {
      for (const p of r.queryParams.filter((p) => p.schema.type === 'number' || p.schema.type === 'integer'))
        for (const value of [
          'abc',
          '1x',
          '',
          'Infinity',
          '-Infinity',
          '1e400',
          'NaN',
          ...(p.schema.maximum ? ['1e308'] : []),
        ])
          await expectError(
            call(r.method, `${urlOf(r)}?${p.name}=${value}`),
            400,
            'invalid_request',
            `${label(r)} ?${p.name}=${value}`,
          ).then((res) => expect(JSON.parse(res.text).error.path).toBe(`querystring/${p.name}`));
      const plain = await call(r.method, urlOf(r));
      const unknown = await call(r.method, `${urlOf(r)}?nonsense=1&nonsense=2`);
      expectCatalogued(unknown, `${label(r)} ?nonsense`);
      expect(unknown.status, `${label(r)} ?nonsense`).toBe(plain.status);
    }
  });

  it('a method a path lacks is 404 not_found', async () => {
    const paths = [...new Set(routes.map((r) => r.path))];
    for (const path of paths)
      for (const method of ['PUT', 'PATCH'])
        await expectError(
          call(method, urlOf(routes.find((r) => r.path === path)!), {
            headers: { 'content-type': 'application/json' },
            body: '{}',
          }),
          404,
          'not_found',
          `${method} ${path}`,
        );
  });
});
