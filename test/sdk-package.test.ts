/**
 * The TypeScript SDK as its own npm package (clients/ts): built by tsc to
 * ESM JavaScript with declarations, packed with `npm pack`, installed into an
 * empty project (offline from the npm cache when it can), then run by plain
 * `node` (no tsx) against a real weft, and loaded by a page in headless
 * Chromium that computes from the browser (CORS: WEFT_CORS_ORIGINS).
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { startWeft, type Weft } from './helpers/weft.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkgDir = join(root, 'clients/ts');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const PAGE_PORT_HOST = '127.0.0.1';

let weft: Weft;
let scratch: string;
let project: string;
let tarball: string;
let page: { server: Server; origin: string };
let installWarnings = '';

function run(cmd: string, args: string[], cwd: string): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
}

/** A static server for the page and the installed packages: another origin than the API's. */
async function servePage(dir: string): Promise<{ server: Server; origin: string }> {
  const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript' };
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)).replace(
      /^(\.\.[/\\])+/,
      '',
    );
    const file = join(dir, path);
    if (!file.startsWith(dir) || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' });
    res.end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, PAGE_PORT_HOST, resolve));
  const { port } = server.address() as { port: number };
  return { server, origin: `http://${PAGE_PORT_HOST}:${port}` };
}

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'weft-sdk-'));
  // The build, as `npm run build` in clients/ts runs it.
  run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], pkgDir);
  const packed = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', scratch], pkgDir));
  tarball = join(scratch, packed[0].filename);
  project = join(scratch, 'project');
  run('mkdir', ['-p', project], scratch);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'sdk-user', private: true, type: 'module' }));
  // --omit=optional: msgpackr without its native accelerator (msgpackr-extract, whose install script npm 11
  // warns about): plain JavaScript, as in a browser.
  const npmArgs = ['install', '--no-audit', '--no-fund', '--omit=optional', tarball];
  let install = spawnSync('npm', [...npmArgs, '--offline'], { cwd: project, encoding: 'utf8' });
  if (install.status === 0) console.log('sdk package: installed offline, from the npm cache');
  else {
    install = spawnSync('npm', npmArgs, { cwd: project, encoding: 'utf8' }); // msgpackr not in the cache
    console.log('sdk package: the offline install failed; installed from the registry');
  }
  expect(install.status, install.stderr).toBe(0);
  installWarnings = install.stderr;
  page = await servePage(project);
  weft = await startWeft({ workers: 1, env: { WEFT_CORS_ORIGINS: page.origin } });
}, 240_000);

afterAll(async () => {
  await weft?.close();
  if (page) await new Promise((resolve) => page.server.close(resolve));
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('the SDK package (clients/ts)', () => {
  it('packs JavaScript and declarations only, and depends on msgpackr alone', () => {
    const [dry] = JSON.parse(run('npm', ['pack', '--dry-run', '--json'], pkgDir));
    const files = (dry.files as { path: string }[]).map((f) => f.path).sort();
    console.log(
      `sdk package: ${dry.name}@${dry.version}, ${files.length} files, ${dry.size} bytes packed, ${dry.unpackedSize} unpacked:\n  ${files.join('\n  ')}`,
    );
    expect(files).toContain('dist/client/index.js');
    expect(files).toContain('dist/client/index.d.ts');
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
    const manifest = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
    expect(Object.keys(manifest.dependencies)).toEqual(['msgpackr']);
    // Nothing of the server in what was installed.
    // What is on disk (npm ls also names the optional packages of other platforms, which are not installed).
    const lock = JSON.parse(readFileSync(join(project, 'node_modules/.package-lock.json'), 'utf8'));
    const names = new Set(
      Object.keys(lock.packages as Record<string, unknown>)
        .filter((p) => existsSync(join(project, p)))
        .map((p) => p.replace(/^.*node_modules\//, '')),
    );
    console.log(`sdk package: installed ${names.size} packages: ${[...names].sort().join(', ')}`);
    for (const server of ['fastify', 'bullmq', 'ioredis', 'tsx']) expect(names.has(server)).toBe(false);
    expect([...names].sort()).toEqual(['@weft/client', 'msgpackr']);
    expect(installWarnings).not.toMatch(/warn/i);
    // No Node built-in in what a browser loads.
    const dist = join(project, 'node_modules', manifest.name, 'dist');
    const js = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? js(join(dir, e.name)) : e.name.endsWith('.js') ? [join(dir, e.name)] : [],
      );
    for (const file of js(dist)) {
      const code = readFileSync(file, 'utf8')
        .split('\n')
        .filter((line) => !/^\s*(\*|\/\/|\/\*)/.test(line)); // not the comments
      expect(code.join('\n'), file).not.toMatch(/from ['"]node:|import\(['"]node:|\bBuffer\.|require\(/);
    }
  });

  it('bundles for browsers with esbuild (platform browser: a Node built-in would fail it); prints the bundle size', async () => {
    const { build } = await import('esbuild');
    const out = await build({
      stdin: { contents: "export * from '@weft/client';", resolveDir: project, loader: 'js' },
      bundle: true,
      minify: true,
      format: 'esm',
      platform: 'browser',
      write: false,
      logLevel: 'silent',
    });
    const bytes = out.outputFiles[0].contents;
    const gzipped = gzipSync(bytes, { level: 9 }).length;
    console.log(
      `sdk package: browser bundle (esbuild, minified, with msgpackr) ${bytes.length} bytes, ${gzipped} gzipped`,
    );
    expect(out.errors).toEqual([]);
    expect(bytes.length).toBeGreaterThan(10_000);
  });

  it('its declarations type-check in a project without Node types (a browser project), libraries checked too', () => {
    writeFileSync(
      join(project, 'use.ts'),
      `import { Client, delayed, NDArray, VERSION, type GraphInfo } from '@weft/client';
const client = new Client({ url: 'http://127.0.0.1:8080' });
export const n: number = await client.compute<number>(delayed('inc')(1));
export const a = new NDArray('float64', [1], new Float64Array([1]));
export const v: string = (await client.health()).version + VERSION;
export type G = GraphInfo;
`,
    );
    const tsconfig = {
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        noEmit: true,
        types: [],
        lib: ['ES2022', 'DOM'],
        skipLibCheck: false,
      },
      files: ['use.ts'],
    };
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify(tsconfig));
    run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', '.'], project);
  });

  it('runs under plain node: computes a graph against weft', async () => {
    writeFileSync(
      join(project, 'main.js'),
      `import { Client, delayed, ones, NDArray } from '@weft/client';
const client = new Client({ url: process.argv[2] });
const total = await client.compute(delayed('add')(delayed('inc')(1), 10));
const sums = await client.compute(delayed('array.sum')(ones([3, 4], { chunks: 2 })));
const col = await ones([3, 4], { chunks: 2 }).sum({ axis: 0 }).compute();
console.log(JSON.stringify({ total, sums, col: Array.from(col.data), isNDArray: col instanceof NDArray }));
`,
    );
    // Not execFileSync: the API runs in this process and must answer meanwhile.
    const { stdout: out } = await promisify(execFile)(process.execPath, ['main.js', weft.url], {
      cwd: project,
      timeout: 60_000,
    });
    expect(JSON.parse(out)).toEqual({ total: 12, sums: 12, col: [3, 3, 3, 3], isNDArray: true });
  });

  it('loads with require() from CommonJS (Node 20.19+ requires ES modules without top-level await)', async () => {
    writeFileSync(
      join(project, 'main.cjs'),
      `const { Client, delayed } = require('@weft/client');
new Client({ url: process.argv[2] }).compute(delayed('add')(delayed('inc')(1), 10)).then((total) => console.log(total));
`,
    );
    const { stdout: out } = await promisify(execFile)(process.execPath, ['main.cjs', weft.url], {
      cwd: project,
      timeout: 60_000,
    });
    expect(out.trim()).toBe('12');
  });

  // The same script under Bun and Deno, from the devDependencies' platform binaries (their packages'
  // install scripts, which only link these, do not run: package.json allowScripts).
  const runtimes: [string, string, string[]][] = [
    ['Bun', 'node_modules/@oven/bun-linux-x64/bin/bun', ['main.js']],
    // Deno reads the project's package.json and node_modules (no import map, no npm: specifiers).
    [
      'Deno',
      'node_modules/@deno/linux-x64-glibc/deno',
      ['run', '--allow-net', '--allow-read', '--allow-env', 'main.js'],
    ],
  ];
  for (const [name, binary, args] of runtimes)
    it(`runs under ${name}: the same script computes against weft`, async () => {
      const { stdout: version } = await promisify(execFile)(join(root, binary), ['--version']);
      console.log(`sdk package under ${name} ${version.split('\n')[0]}`);
      const { stdout: out } = await promisify(execFile)(join(root, binary), [...args, weft.url], {
        cwd: project,
        timeout: 60_000,
        env: { ...process.env, DENO_DIR: join(scratch, 'deno-cache'), NO_COLOR: '1' },
      });
      expect(JSON.parse(out)).toEqual({ total: 12, sums: 12, col: [3, 3, 3, 3], isNDArray: true });
    });

  it('runs in a browser: a page on another origin computes through CORS', async () => {
    writeFileSync(
      join(project, 'index.html'),
      `<!doctype html><html><head>
<script type="importmap">{"imports": {
  "msgpackr": "/node_modules/msgpackr/index.js",
  "@weft/client": "/node_modules/@weft/client/dist/client/index.js"
}}</script>
<script type="module">import * as sdk from '@weft/client'; window.sdk = sdk;</script>
</head><body></body></html>`,
    );
    const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    try {
      const tab = await browser.newPage();
      const errors: string[] = [];
      tab.on('pageerror', (e) => errors.push(String(e)));
      await tab.goto(`${page.origin}/index.html`);
      await tab.waitForFunction(() => 'sdk' in window, undefined, { timeout: 10_000 });
      const result = await tab.evaluate(async (url) => {
        const sdk = (window as any).sdk;
        const client = new sdk.Client({ url });
        const total = await client.compute(sdk.delayed('add')(sdk.delayed('inc')(1), 10));
        const col = await sdk.ones([3, 4], { chunks: 2 }).sum({ axis: 0 }).compute();
        const oid = await client.put(new sdk.NDArray('float64', [2], new Float64Array([1.5, 2.5])));
        const back = await client.get(oid);
        // Past ALIGN_FROM (4096 bytes): the padded header forms, written into a Uint8Array here.
        const big = new sdk.NDArray(
          'float64',
          [1000],
          Float64Array.from({ length: 1000 }, (_, i) => i),
        );
        const bigBack = await client.get(await client.put(big));
        const bigSum = await sdk.fromArray(big, { chunks: 250 }).sum().compute();
        // Frames (dataframe partitions) both ways.
        const rows = Array.from({ length: 20 }, (_, i) => ({ g: i % 2, v: i }));
        const grouped = await sdk.fromRecords(rows, { npartitions: 3 }).groupby('g').sum().compute();
        return {
          big: Array.from(bigBack.data as Float64Array).every((v: number, i: number) => v === i),
          bigSum,
          grouped,
          total,
          col: Array.from(col.data as Float64Array),
          back: Array.from(back.data as Float64Array),
          hasBuffer: typeof (globalThis as { Buffer?: unknown }).Buffer !== 'undefined',
        };
      }, weft.url);
      expect(errors).toEqual([]);
      expect(result).toEqual({
        total: 12,
        col: [3, 3, 3, 3],
        back: [1.5, 2.5],
        big: true,
        bigSum: 499500,
        grouped: [
          { g: 0, v: 90 },
          { g: 1, v: 100 },
        ],
        hasBuffer: false,
      });
    } finally {
      await browser.close();
    }
  }, 60_000);
});
