/**
 * Installing weft and its Python client as a new user does (issue 21, items
 * 5 and 9). The npm side is checked on package.json and package-lock.json (a
 * real `npm ci` needs the registry): every locked package runs on the lowest
 * Node that package.json admits, so npm prints no EBADENGINE; every package
 * with an install script has an allowScripts entry, so npm prints no
 * install-scripts warning. The Python side runs what clients/python/README.md
 * says: a venv over Debian's /usr/bin/python3 with the system's packages, the
 * client installed into it offline, and a graph computed through it.
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { startWeft, type Weft } from './helpers/weft.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const json = (path: string) => JSON.parse(readFileSync(`${root}${path}`, 'utf8'));
// semver has no types here; these two functions are all the test uses.
const semver = createRequire(import.meta.url)('semver') as {
  satisfies(version: string, range: string): boolean;
  minVersion(range: string): { version: string } | null;
};

interface Locked {
  version?: string;
  engines?: { node?: string } | string[];
  hasInstallScript?: boolean;
}

describe('npm install', () => {
  const pkg = json('package.json');
  const lock = json('package-lock.json');
  const packages = Object.entries(lock.packages as Record<string, Locked>).filter(([path]) => path !== '');

  it("package-lock.json is package.json's: same engines and dependencies, overrides applied", () => {
    const top = lock.packages[''];
    expect(top.engines).toEqual(pkg.engines);
    expect(top.dependencies).toEqual(pkg.dependencies);
    expect(top.devDependencies).toEqual(pkg.devDependencies);
    // { parent: { child: range } }: the child that parent resolves (its own nested copy, else the hoisted one).
    for (const [parent, children] of Object.entries(pkg.overrides as Record<string, Record<string, string>>))
      for (const [child, range] of Object.entries(children)) {
        const locked =
          lock.packages[`node_modules/${parent}/node_modules/${child}`] ?? lock.packages[`node_modules/${child}`];
        expect(semver.satisfies(locked.version, range), `${parent} > ${child}@${locked.version}`).toBe(true);
      }
  });

  it('every locked package runs on the lowest Node package.json admits (no EBADENGINE)', () => {
    const lowest = semver.minVersion(pkg.engines.node)!.version;
    expect(Number(lowest.split('.')[0])).toBe(20);
    const excluded = packages
      .filter(([, p]) => p.engines && !Array.isArray(p.engines) && p.engines.node)
      .filter(([, p]) => !semver.satisfies(lowest, (p.engines as { node: string }).node))
      .map(([path, p]) => `${path}@${p.version} wants node ${(p.engines as { node: string }).node}`);
    expect(excluded, `Node ${lowest}`).toEqual([]);
  });

  it('every package with an install script is approved or denied in allowScripts (no install-scripts warning)', () => {
    const decided = new Set(Object.keys(pkg.allowScripts ?? {}).map((k) => k.replace(/(.)@.*$/, '$1')));
    const undecided = packages
      .filter(([, p]) => p.hasInstallScript)
      .map(([path]) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length))
      .filter((name) => !decided.has(name));
    expect(undecided).toEqual([]);
  });
});

describe('pip install clients/python, as clients/python/README.md says for Debian', () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-venv-'));
  let weft: Weft | undefined;
  afterAll(async () => {
    await weft?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("Debian's pip refuses the system Python (PEP 668), the README's venv installs offline and computes a graph", async () => {
    const refused = spawnSync('/usr/bin/python3', ['-m', 'pip', 'install', '--no-index', 'clients/python'], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain('externally-managed-environment');

    // The README's commands, with its placeholders filled in.
    const readme = readFileSync(`${root}clients/python/README.md`, 'utf8');
    const block = /```sh\n(\/usr\/bin\/python3 -m venv [^`]*)```/.exec(readme)?.[1];
    expect(block, 'the README has a venv block').toBeDefined();
    const script = block!
      .replaceAll('/path/to/weft', root.replace(/\/$/, ''))
      .replaceAll('~/.venvs/weft', `${dir}/venv`);
    writeFileSync(
      `${dir}/my_script.py`,
      'import weft\nfrom weft import Client\nassert weft.__file__.startswith(__import__("sys").prefix), weft.__file__\nprint(Client().get({"x": 1, "y": (lambda v: v + 41, "x")}, "y"))\n',
    );
    weft = await startWeft({ workers: 1, env: { WEFT_POOLS: 'default,python' } });
    // No PYTHONPATH: the installed client is the one imported. No index is reachable (--no-index in the README).
    const env: NodeJS.ProcessEnv = { ...process.env, WEFT_URL: weft.url, PIP_NO_INDEX: '1' };
    delete env.PYTHONPATH;
    const child = spawn('bash', ['-euo', 'pipefail', '-c', script], { cwd: dir, env });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code, output.slice(-3000)).toBe(0);
    expect(output).toMatch(/^42$/m);

    // The venv's console script as the workers' Python executor: its tasks run in the venv.
    await weft.close();
    const executor = `${dir}/venv/bin/weft-executor`;
    weft = await startWeft({ workers: 1, env: { WEFT_POOLS: 'default,python', WEFT_EXECUTOR_PYTHON: executor } });
    // Not spawnSync: the API runs in this process and must answer meanwhile.
    const where = await promisify(execFile)(
      `${dir}/venv/bin/python`,
      ['-c', 'from weft import Client\nprint(Client().get({"p": (lambda: __import__("sys").prefix,)}, "p"))'],
      { cwd: dir, env: { ...env, WEFT_URL: weft.url }, encoding: 'utf8', timeout: 60_000 },
    );
    expect(where.stdout.trim()).toBe(`${dir}/venv`);
  }, 180_000);
});
