/**
 * `npm run build` compiles the service to dist/ (tsc, .ts imports rewritten
 * to .js, the Lua scripts, the dashboard and the .mjs thread entries copied),
 * and `npm run start:prod` (node dist/supervisor/main.js) runs it without tsx:
 * no process of it loads tsx, and it computes a graph, with a task on an op
 * thread (a timeout) too. Prints start-up time and memory beside `npm start`.
 */
import { execFile, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { childPids, spawnSupervisor, treeRssMiB } from './helpers/processes.ts';
import { waitFor } from './helpers/wait.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const started: ChildProcess[] = [];

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');

/** Starts the service with `args`, waits until /healthz sees its worker; returns the process, URL and figures. */
async function start(args: string[], env: Record<string, string> = {}) {
  const port = await freePort();
  const t0 = performance.now();
  const { child, output } = spawnSupervisor(args, { port, redisUrl: inject('redisUrl'), env });
  started.push(child);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    `${args.join(' ')} to answer with a live worker`,
    async () => {
      if (child.exitCode !== null) throw new Error(`it exited:\n${output()}`);
      const res = await fetch(`${url}/healthz`).catch(() => undefined);
      return res?.ok && (await res.json()).workers === 1;
    },
    { timeoutMs: 60_000 },
  );
  const ms = performance.now() - t0;
  return { child, url, ms, mib: treeRssMiB(child.pid!), output };
}

async function compute(url: string) {
  const res = await fetch(`${url}/v1/graphs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      graph: {
        x: 1,
        y: { $op: 'inc', args: [{ $ref: 'x' }] },
        a: { $op: 'array.ones', args: [[3, 4]] },
        s: { $op: 'array.sum', args: [{ $ref: 'a' }], options: { timeout_ms: 30_000 } }, // a timeout: on an op thread
      },
      keys: ['y', 's'],
      wait: 30,
    }),
  });
  return res.json();
}

beforeAll(async () => {
  await promisify(execFile)('npm', ['run', '-s', 'build'], { cwd: root, timeout: 180_000 });
}, 200_000);

afterAll(async () => {
  for (const child of started) {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  }
});

describe('npm run build and start:prod', () => {
  it('emits JavaScript for every module, with the files loaded by URL beside it', () => {
    for (const f of [
      'supervisor/main.js',
      'api/main.js',
      'workers/main.js',
      'workers/op-thread.js',
      'workers/thread-boot.mjs',
      'store/spill-reader.mjs',
      'queue/scripts/admitGraph-1.lua',
      'queue/scripts/includes/store.lua',
      'api/ui/index.html',
    ])
      expect(existsSync(join(root, 'dist', f)), f).toBe(true);
    expect(readFileSync(join(root, 'dist/api/app.js'), 'utf8')).not.toMatch(/from '\.[^']*\.ts'/);
  });

  it('runs without tsx and computes (start-up time and memory printed beside tsx)', async () => {
    const prod = await start(['dist/supervisor/main.js']);
    const body = await compute(prod.url);
    // The supervisor, the API and the worker, and whatever they started: no tsx, no esbuild (tsx's compiler).
    const tree = (pid: number): number[] => [pid, ...childPids(pid).flatMap(tree)];
    const procs = tree(prod.child.pid!);
    expect(procs.length).toBeGreaterThanOrEqual(3);
    for (const pid of procs) expect(cmdline(pid)).not.toMatch(/tsx|esbuild/);
    expect(body.status, JSON.stringify(body)).toBe('done');
    expect(body.result).toEqual([2, 12]);
    prod.child.kill('SIGTERM');
    await new Promise((resolve) => prod.child.once('exit', resolve));

    const dev = await start(['--import', 'tsx', 'src/supervisor/main.ts']);
    expect((await compute(dev.url)).result).toEqual([2, 12]);
    console.log(
      `start-up to a live worker: tsx ${dev.ms.toFixed(0)} ms, ${dev.mib.toFixed(0)} MiB resident ` +
        `(supervisor, API, worker); compiled ${prod.ms.toFixed(0)} ms, ${prod.mib.toFixed(0)} MiB`,
    );
  }, 180_000);

  it('the packed package holds the compiled service and no sources or tests; installed into an empty project, its weft command runs with plain node', async () => {
    const run = promisify(execFile);
    const scratch = mkdtempSync(join(tmpdir(), 'weft-pack-'));
    try {
      // dist/ is built (beforeAll); --ignore-scripts skips prepack's second build.
      const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', scratch], {
        cwd: root,
        timeout: 120_000,
      });
      const [packed] = JSON.parse(stdout) as { filename: string; size: number; files: { path: string }[] }[];
      const paths = packed.files.map((f) => f.path);
      expect(paths).toContain('bin/weft');
      expect(paths).toContain('dist/cli/main.js');
      expect(paths).toContain('dist/queue/scripts/completeTasks-6.lua');
      expect(paths).toContain('openapi.yaml');
      expect(paths).toContain('clients/python/weft/executor.py');
      expect(paths.filter((p) => /^(src|test|bench|examples|docker)\/|\.map$|(?<!\.d)\.ts$/.test(p))).toEqual([]);
      expect(paths).toContain('dist/ops/registry.d.ts'); // for op modules: @weft/service/ops
      // Python's bytecode caches (written beside the sources when tests run them) stay out.
      expect(paths.filter((p) => /__pycache__|\.pyc$/.test(p))).toEqual([]);
      console.log(`weft tarball: ${paths.length} files, ${packed.size} bytes`);

      const project = join(scratch, 'project');
      mkdirSync(project);
      writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'uses-weft', private: true }));
      // From npm's cache where it has them (the project's own install filled it), else the registry.
      await run(
        'npm',
        ['install', '--prefer-offline', '--no-audit', '--no-fund', '--omit=optional', join(scratch, packed.filename)],
        { cwd: project, timeout: 180_000 },
      );
      const weft = join(project, 'node_modules/.bin/weft');
      const help = spawnSync(weft, ['--help'], { cwd: project, encoding: 'utf8' });
      expect(help.stdout + help.stderr).toMatch(/usage:\s+weft submit/);
      // The user's own op module, in TypeScript, importing defineOp from the installed package.
      const opModule = join(project, 'my-ops.ts');
      writeFileSync(
        opModule,
        `import { defineOp, OpArgumentError, type OpDefinition } from '@weft/service/ops';
const shout: OpDefinition = defineOp({
  name: 'my.shout',
  description: 'my.shout(s): s in upper case, with a bang.',
  run: ([s]) => {
    if (typeof s !== 'string') throw new OpArgumentError('my.shout expects a string.');
    return \`\${s.toUpperCase()}!\`;
  },
});
export const ops = [shout];
`,
      );
      // Against a running weft (compiled, as the package runs it), whose worker loads that module.
      const service = await start(['dist/supervisor/main.js'], { WEFT_OPS: opModule });
      const ops = spawnSync(weft, ['ops'], {
        cwd: project,
        encoding: 'utf8',
        env: { ...process.env, WEFT_URL: service.url },
      });
      expect(ops.status, ops.stderr).toBe(0);
      expect(ops.stdout).toMatch(/^inc\s+inc\(/m);
      expect(ops.stdout).toMatch(/^my\.shout\s+my\.shout\(s\)/m);
      const shouted = await fetch(`${service.url}/v1/graphs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ graph: { s: { $op: 'my.shout', args: ['hi'] } }, keys: 's', wait: 30 }),
      });
      expect((await shouted.json()).result).toBe('HI!');
      // Plain node: no tsx in the command's process.
      expect(readFileSync(weft, 'utf8')).toContain('dist/cli/main.js');
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }, 300_000);

  it('npm publish --dry-run succeeds for the service (@weft/service) and the SDK (@weft/client)', async () => {
    const run = promisify(execFile);
    // Online, the dry run asks the registry for the name's published versions: a name taken by another
    // package at a higher version (as `weft` is) fails it. Offline only where the registry cannot be reached.
    const publish = async (cwd: string, extra: string[]) => {
      const args = ['publish', '--dry-run', '--json', ...extra];
      try {
        return (await run('npm', args, { cwd, timeout: 180_000 })).stdout;
      } catch (e) {
        const err = e as { stdout?: string; stderr?: string };
        if (!/ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNREFUSED|ECONNRESET/.test(err.stderr ?? '')) throw e;
        console.log('npm publish --dry-run: the registry could not be reached; checked offline');
        return (await run('npm', [...args, '--offline'], { cwd, timeout: 180_000 })).stdout;
      }
    };
    const service = JSON.parse(await publish(root, ['--ignore-scripts']));
    expect(Object.keys(service)).toEqual(['@weft/service']);
    expect(service['@weft/service'].files.map((f: { path: string }) => f.path)).toContain('dist/api/main.js');
    // The SDK's prepack builds it.
    const sdk = JSON.parse(await publish(join(root, 'clients/ts'), []));
    expect(Object.keys(sdk)).toEqual(['@weft/client']);
    expect(sdk['@weft/client'].files.map((f: { path: string }) => f.path)).toContain('dist/client/index.js');
    for (const pkg of ['package.json', 'clients/ts/package.json'])
      expect(JSON.parse(readFileSync(join(root, pkg), 'utf8')).publishConfig, pkg).toEqual({ access: 'public' });
  }, 300_000);
});
