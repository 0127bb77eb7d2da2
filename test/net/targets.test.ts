/**
 * The SSRF guard of outgoing requests (src/net/targets.ts): checks at
 * submission with resolvers given here (no network), and the check at
 * connection time against a loopback server.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkTarget, ForbiddenTargetError, postJson, type Resolver } from '../../src/net/targets.ts';

const strict = { allowPrivate: false };
const open = { allowPrivate: true };
const answers = (table: Record<string, string[]>) => async (name: string) => {
  if (!(name in table)) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
  return table[name];
};
const dns = answers({
  'hooks.example.com': ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946'],
  'internal.example.com': ['10.0.0.7'],
  'mixed.example.com': ['93.184.216.34', '192.168.1.1'],
  'v6.example.com': ['fd00::1'],
  'meta.example.com': ['169.254.169.254'],
});

async function refused(p: Promise<unknown>): Promise<ForbiddenTargetError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ForbiddenTargetError);
  return err as ForbiddenTargetError;
}

describe('checkTarget at submission', () => {
  it('accepts http(s) URLs whose host resolves only to public addresses', async () => {
    await checkTarget('https://hooks.example.com/weft', strict, 'callbacks[0].url', dns);
    await checkTarget('http://93.184.216.34:8080/x', strict, 'x', dns);
    await checkTarget('https://[2606:4700:4700::1111]/', strict, 'x', dns);
  });

  it('refuses other schemes and what is not a URL, even when private targets are allowed', async () => {
    for (const url of [
      'ftp://hooks.example.com/',
      'file:///etc/passwd',
      'gopher://127.0.0.1:6379/_INFO',
      'javascript:alert(1)',
      'http://',
      'not a url',
      'http://[::1',
    ]) {
      for (const policy of [strict, open]) {
        const err = await refused(checkTarget(url, policy, 'presubmit.url', dns));
        expect(err.message).toMatch(/^presubmit\.url /);
        expect(err.message).toMatch(/only http and https|not a valid URL/);
      }
    }
  });

  it('refuses private, loopback, link-local, unique-local, CGNAT, multicast and unspecified hosts, however written', async () => {
    const urls = [
      'http://127.0.0.1/',
      'http://localhost:8080/',
      'http://2130706433/',
      'http://0x7f.1/',
      'http://017700000001/',
      'http://0/',
      'http://[::1]/',
      'http://[::ffff:127.0.0.1]/',
      'http://[::ffff:a00:1]/',
      'http://10.1.2.3/',
      'http://172.20.0.1/',
      'http://192.168.0.10/',
      'http://169.254.169.254/latest/meta-data/',
      'http://100.100.100.200/',
      'http://[fd00::1]/',
      'http://[fe80::1]/',
      'http://224.0.0.251/',
      'http://[ff02::1]/',
      'http://[64:ff9b::a00:1]/',
    ];
    for (const url of urls) {
      const err = await refused(checkTarget(url, strict, 'callbacks[0].url', dns));
      expect(err.message, url).toContain('WEFT_ALLOW_PRIVATE_WEBHOOKS=1');
      expect(err.url).toBe(url);
    }
  });

  it('refuses a name that resolves to a non-public address, naming the address; one bad answer among good ones is enough', async () => {
    expect((await refused(checkTarget('http://internal.example.com/', strict, 'x', dns))).message).toContain(
      'internal.example.com resolves to 10.0.0.7, which is a private address',
    );
    expect((await refused(checkTarget('http://mixed.example.com/', strict, 'x', dns))).message).toContain(
      '192.168.1.1',
    );
    expect((await refused(checkTarget('http://v6.example.com/', strict, 'x', dns))).message).toContain('unique-local');
    expect((await refused(checkTarget('http://meta.example.com/', strict, 'x', dns))).message).toContain('link-local');
  });

  it('lets a name that does not resolve pass (delivery checks it again), and allows everything http(s) when private targets are allowed', async () => {
    await checkTarget('http://nowhere.invalid/', strict, 'x', dns);
    await checkTarget('http://127.0.0.1:9/', open, 'x', dns);
    await checkTarget('http://internal.example.com/', open, 'x', dns);
  });
});

describe('postJson at delivery', () => {
  let server: Server;
  let port: number;
  const hits: string[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      hits.push(req.url ?? '');
      req.resume();
      if (req.url === '/redirect') return void res.writeHead(307, { location: '/secret' }).end();
      if (req.url === '/big') return void res.writeHead(200).end('x'.repeat(10_000));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => server?.close());
  const post = (url: string, policy = strict, resolver?: Resolver) =>
    postJson(url, '{}', { timeoutMs: 2000, maxResponseBytes: 1000, policy, resolver });

  it('reaches a loopback receiver only when private targets are allowed', async () => {
    hits.length = 0;
    await refused(post(`http://127.0.0.1:${port}/a`));
    await refused(post(`http://localhost:${port}/a`));
    expect(hits).toEqual([]);
    const res = await post(`http://127.0.0.1:${port}/a`, open);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body.toString())).toEqual({ ok: true });
    expect(hits).toEqual(['/a']);
  });

  it('checks the address it connects to: a name that now resolves to loopback (DNS rebinding) is refused before connecting', async () => {
    hits.length = 0;
    // At submission the name was public...
    await checkTarget(
      `http://rebind.example.com:${port}/hook`,
      strict,
      'x',
      answers({ 'rebind.example.com': ['93.184.216.34'] }),
    );
    // ...at delivery it resolves to the service's own host.
    const rebound: Resolver = (_name, _opts, cb) => cb(null, [{ address: '127.0.0.1', family: 4 }]);
    const err = await refused(post(`http://rebind.example.com:${port}/hook`, strict, rebound));
    expect(err.message).toContain('rebind.example.com resolves to 127.0.0.1, which is a loopback address');
    expect(hits).toEqual([]);
  });

  it('does not follow redirects: a 307 to another URL is the answer', async () => {
    hits.length = 0;
    const res = await post(`http://127.0.0.1:${port}/redirect`, open);
    expect(res.status).toBe(307);
    expect(hits).toEqual(['/redirect']);
  });

  it('stops reading an answer over maxResponseBytes', async () => {
    await expect(post(`http://127.0.0.1:${port}/big`, open)).rejects.toThrow(/larger than 1000 bytes/);
  });
});
