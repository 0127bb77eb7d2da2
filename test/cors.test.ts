/**
 * CORS (WEFT_CORS_ORIGINS): off by default; when set, real preflights and
 * requests with an Origin header get the CORS headers for the allowed origins
 * only. A page on another origin computing through it is in
 * test/sdk-package.test.ts (headless Chromium).
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, ConfigError } from '../src/config.ts';
import { startWeft, type Weft } from './helpers/weft.ts';

const ALLOWED = 'http://app.example:3000';
const OTHER = 'https://evil.example';
const TOKEN = 'cors-test-token-0123456789';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw HTTP request (Origin is a header fetch may not let one set). */
function send(url: string, method: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function preflight(url: string, origin: string, method = 'POST'): Promise<Answer> {
  return send(url, 'OPTIONS', {
    origin,
    'access-control-request-method': method,
    'access-control-request-headers': 'authorization,content-type',
  });
}

let off: Weft;
let listed: Weft;
let any: Weft;

beforeAll(async () => {
  [off, listed, any] = await Promise.all([
    startWeft({ workers: 0 }),
    startWeft({ workers: 0, env: { WEFT_CORS_ORIGINS: `${ALLOWED}, http://127.0.0.1:5173` } }),
    startWeft({ workers: 0, env: { WEFT_CORS_ORIGINS: '*', WEFT_TOKENS: `alice=${TOKEN}` } }),
  ]);
}, 60_000);

afterAll(async () => {
  await Promise.all([off?.close(), listed?.close(), any?.close()]);
});

describe('CORS', () => {
  it('is off by default: no CORS headers on a preflight or a request', async () => {
    const pre = await preflight(`${off.url}/v1/graphs`, ALLOWED);
    expect(pre.headers['access-control-allow-origin']).toBeUndefined();
    const res = await send(`${off.url}/healthz`, 'GET', { origin: ALLOWED });
    expect(res.status).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('answers a preflight from a listed origin', async () => {
    const pre = await preflight(`${listed.url}/v1/graphs`, ALLOWED);
    expect(pre.status).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBe(ALLOWED);
    expect(String(pre.headers['access-control-allow-methods'])).toMatch(/POST/);
    expect(String(pre.headers['access-control-allow-methods'])).toMatch(/DELETE/);
    expect(String(pre.headers['access-control-allow-headers']).toLowerCase()).toMatch(/authorization/);
    expect(pre.headers['access-control-allow-credentials']).toBeUndefined();
    expect(pre.headers.vary).toMatch(/Origin/i);
  });

  it('adds the header to actual requests from a listed origin only', async () => {
    const ok = await send(`${listed.url}/v1/graphs`, 'GET', { origin: 'http://127.0.0.1:5173' });
    expect(ok.status).toBe(200);
    expect(ok.headers['access-control-allow-origin']).toBe('http://127.0.0.1:5173');
    const refused = await send(`${listed.url}/v1/graphs`, 'GET', { origin: OTHER });
    expect(refused.headers['access-control-allow-origin']).toBeUndefined();
    const refusedPre = await preflight(`${listed.url}/v1/graphs`, OTHER);
    expect(refusedPre.headers['access-control-allow-origin']).toBeUndefined();
    // An origin is matched whole: a listed origin's prefix or another port is another origin.
    const port = await send(`${listed.url}/v1/graphs`, 'GET', { origin: 'http://app.example:3001' });
    expect(port.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('with `*` answers any origin, and a preflight needs no token while requests still do', async () => {
    const pre = await preflight(`${any.url}/v1/graphs`, OTHER);
    expect(pre.status).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBe('*');
    const unauthenticated = await send(`${any.url}/v1/graphs`, 'GET', { origin: OTHER });
    expect(unauthenticated.status).toBe(401);
    expect(unauthenticated.headers['access-control-allow-origin']).toBe('*'); // so the page can read the error
    const authenticated = await send(`${any.url}/v1/graphs`, 'GET', {
      origin: OTHER,
      authorization: `Bearer ${TOKEN}`,
    });
    expect(authenticated.status).toBe(200);
    expect(authenticated.headers['access-control-allow-origin']).toBe('*');
  });

  it('refuses a setting that is not a list of origins', () => {
    expect(loadConfig({ WEFT_CORS_ORIGINS: 'https://a.example,http://b.example:8080' }).corsOrigins).toEqual([
      'https://a.example',
      'http://b.example:8080',
    ]);
    expect(loadConfig({ WEFT_CORS_ORIGINS: ' * ' }).corsOrigins).toBe('*');
    expect(loadConfig({}).corsOrigins).toBeUndefined();
    for (const bad of [
      'app.example',
      'https://a.example/',
      'https://a.example/path',
      'ftp://a.example',
      '*,https://a.example',
    ])
      expect(() => loadConfig({ WEFT_CORS_ORIGINS: bad }), bad).toThrow(ConfigError);
  });
});
