/**
 * One version (issue 22, item 3): the service's (package.json), the SDK
 * package's (clients/ts), the Python client's (clients/python) and the
 * contract's (openapi.yaml info.version) agree, and GET /healthz reports it
 * with the HTTP API's major version (the /v1 of the paths), so a client can
 * tell that a service is older than it needs.
 */
import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { API_VERSION, Client, VERSION } from '../src/client/index.ts';
import { startWeft, type Weft } from './helpers/weft.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const read = (path: string) => readFileSync(`${root}/${path}`, 'utf8');

const service = JSON.parse(read('package.json')).version as string;
const spec = parse(read('openapi.yaml'));

let weft: Weft;
beforeAll(async () => {
  weft = await startWeft({ workers: 0 });
}, 30_000);
afterAll(() => weft?.close());

describe('versions', () => {
  it('the service, the SDK package, the Python client and openapi.yaml have one version', () => {
    expect(service).toMatch(/^\d+\.\d+\.\d+$/);
    expect(JSON.parse(read('clients/ts/package.json')).version, 'clients/ts/package.json').toBe(service);
    expect(/^version = "([^"]+)"$/m.exec(read('clients/python/pyproject.toml'))?.[1], 'pyproject.toml').toBe(service);
    expect(/^__version__ = "([^"]+)"$/m.exec(read('clients/python/weft/__init__.py'))?.[1], 'weft/__init__.py').toBe(
      service,
    );
    expect(spec.info.version, 'openapi.yaml info.version').toBe(service);
    expect(VERSION, 'src/shared/version.ts').toBe(service);
    expect(API_VERSION, 'src/shared/version.ts').toBe(spec.info['x-api-version']);
    // The SDK's msgpackr is the service's (one codec).
    expect(JSON.parse(read('clients/ts/package.json')).dependencies.msgpackr).toBe(
      JSON.parse(read('package.json')).dependencies.msgpackr,
    );
  });

  it('npm version sets it in one place: its "version" script writes package.json\'s version everywhere else', () => {
    const copy = mkdtempSync(join(tmpdir(), 'weft-version-'));
    try {
      const files = [
        'package.json',
        'clients/ts/package.json',
        'clients/python/pyproject.toml',
        'clients/python/weft/__init__.py',
        'openapi.yaml',
        'src/shared/version.ts',
      ];
      for (const f of files) {
        mkdirSync(dirname(join(copy, f)), { recursive: true });
        copyFileSync(join(root, f), join(copy, f));
      }
      const pkg = JSON.parse(read('package.json'));
      expect(pkg.scripts.version).toMatch(/^node scripts\/sync-version\.mjs && git add /);
      writeFileSync(join(copy, 'package.json'), JSON.stringify({ ...pkg, version: '7.8.9' }));
      execFileSync(process.execPath, [join(root, 'scripts/sync-version.mjs'), copy]);
      const at = (f: string) => readFileSync(join(copy, f), 'utf8');
      expect(JSON.parse(at('clients/ts/package.json')).version).toBe('7.8.9');
      expect(at('clients/python/pyproject.toml')).toMatch(/^version = "7\.8\.9"$/m);
      expect(at('clients/python/weft/__init__.py')).toMatch(/^__version__ = "7\.8\.9"$/m);
      expect(parse(at('openapi.yaml')).info.version).toBe('7.8.9');
      expect(at('src/shared/version.ts')).toContain("export const VERSION = '7.8.9';");
      // Nothing else changed: the files differ from the originals only in the version.
      for (const f of files.slice(1))
        expect(at(f).replaceAll('7.8.9', service), f).toBe(read(f).replaceAll('7.8.9', service));
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });

  it('the API version is the major of every versioned path', () => {
    const api = spec.info['x-api-version'];
    expect(Number.isInteger(api)).toBe(true);
    const paths = Object.keys(spec.paths).filter((p) => !['/healthz', '/metrics'].includes(p) && !p.startsWith('/ui'));
    expect(paths.length).toBeGreaterThan(5);
    for (const p of paths) expect(p.startsWith(`/v${api}/`), p).toBe(true);
  });

  it('GET /healthz reports the version and the API version', async () => {
    const res = await fetch(`${weft.url}/healthz`);
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.version).toBe(service);
    expect(body.api_version).toBe(spec.info['x-api-version']);
  });

  it("both clients read them: the SDK's health() and the Python client's", async () => {
    const health = await new Client({ url: weft.url, asDefault: false }).health();
    expect(health).toMatchObject({ ok: true, version: service, api_version: 1 });
    const { stdout } = await promisify(execFile)(
      '/usr/bin/python3',
      [
        '-c',
        'import json, sys, weft; print(json.dumps([weft.__version__, weft.Client(sys.argv[1]).health()]))',
        weft.url,
      ],
      { env: { ...process.env, PYTHONPATH: `${root}/clients/python` } },
    );
    const [pyVersion, pyHealth] = JSON.parse(stdout);
    expect(pyVersion).toBe(service);
    expect(pyHealth).toMatchObject({ ok: true, version: service, api_version: 1 });
  });
});
