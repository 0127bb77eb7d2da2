/**
 * docker/: no Docker engine runs here, so the image and compose file are
 * checked as far as that allows: their structure, that every file they copy
 * or run exists and reaches the build context, and that their settings load.
 * test/scale-out.test.ts runs the commands they name.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseBytes } from '../src/config.ts';
import { openApi } from '../src/api/schemas.ts';
import { compose, dockerfile, execForm, ignored, imageCommand, root, serviceCommand } from './helpers/docker.ts';
import pkg from '../package.json' with { type: 'json' };
import { readFileSync } from 'node:fs';
import { DEFAULT_REDIS_URL } from '../src/queue/connection.ts';
import { INSTALL_HELP } from '../src/supervisor/redis.ts';

/** The source of the entry a `node dist/<path>.js` command runs: the image runs the compiled service (npm run build). */
function scriptOf(command: string[]): string {
  expect(command).toHaveLength(2);
  expect(command[0]).toBe('node');
  const compiled = /^dist\/(.+)\.js$/.exec(command[1]);
  expect(compiled, command[1]).not.toBeNull();
  return `src/${compiled![1]}.ts`;
}

describe('docker/Dockerfile', () => {
  const steps = dockerfile();
  const last = Math.max(...steps.map((s) => s.stage));

  it('builds in stages: dependencies apart, a slim runtime without dev dependencies', () => {
    expect(last).toBeGreaterThanOrEqual(1);
    const from = steps.filter((s) => s.op === 'FROM').map((s) => s.args);
    for (const image of from) expect(image).toMatch(/^node:20-[\w-]*slim\b/);
    const install = steps.find((s) => s.op === 'RUN' && s.args.includes('npm ci'));
    expect(install?.stage).toBeLessThan(last);
    expect(install?.args).toContain('--omit=dev');
    // The runtime stage installs nothing: it copies the installed modules.
    expect(
      steps
        .filter((s) => s.stage === last && s.op === 'RUN')
        .map((s) => s.args)
        .join(' '),
    ).not.toMatch(/npm (ci|install)/);
    expect(
      steps.some(
        (s) => s.stage === last && s.op === 'COPY' && s.args.startsWith('--from=') && s.args.includes('node_modules'),
      ),
    ).toBe(true);
  });

  it('compiles the service in a stage of its own; the runtime stages get dist/, never the sources or tsx', () => {
    const build = steps.find((s) => s.op === 'RUN' && s.args.includes('npm run build'));
    expect(build).toBeDefined();
    const stage = steps.find((s) => s.op === 'FROM' && s.stage === build!.stage)!;
    const name = /\bAS (\w+)$/.exec(stage.args)?.[1];
    expect(name).toBeDefined();
    for (const runtime of [last, steps.find((s) => s.op === 'FROM' && /\bAS python$/.test(s.args))!.stage]) {
      const copies = steps.filter((s) => s.stage === runtime && s.op === 'COPY').map((s) => s.args);
      expect(copies).toContain(`--from=${name} /app/dist ./dist`);
      expect(copies.filter((c) => /\bsrc\b/.test(c))).toEqual([]);
      const cmd = execForm(steps.filter((s) => s.stage === runtime && s.op === 'CMD').pop()!);
      expect(cmd.join(' ')).not.toMatch(/tsx/);
    }
  });

  it('runs as a non-root user', () => {
    const user = steps.filter((s) => s.stage === last && s.op === 'USER').pop();
    expect(user?.args).toBeDefined();
    expect(['root', '0']).not.toContain(user!.args.split(':')[0]);
  });

  it('copies files that exist and that .dockerignore lets into the context', () => {
    const copies = steps.filter((s) => s.op === 'COPY' && !s.args.startsWith('--from='));
    expect(copies.length).toBeGreaterThan(0);
    for (const copy of copies) {
      const sources = copy.args.split(/\s+/).slice(0, -1);
      for (const source of sources) {
        expect(existsSync(`${root}${source}`), source).toBe(true);
        expect(ignored(source), `${source} is in .dockerignore`).toBe(false);
      }
    }
    // The runtime needs these, and all of them come in with src/.
    for (const path of [
      'src/api/main.ts',
      'src/workers/main.ts',
      'src/api/ui/index.html',
      'src/store/spill-reader.mjs',
      'openapi.yaml',
    ])
      expect(ignored(path), path).toBe(false);
    for (const path of ['node_modules', '.git', 'test-artifacts']) expect(ignored(path), path).toBe(true);
  });

  it('its command is `npm run api:prod` (compiled, no tsx), and its healthcheck asks a route of the API', () => {
    expect(imageCommand().join(' ')).toBe(pkg.scripts['api:prod']);
    expect(existsSync(`${root}${scriptOf(imageCommand())}`)).toBe(true);
    const health = steps.find((s) => s.op === 'HEALTHCHECK')!;
    expect(health.stage).toBe(last);
    const probe = execForm(health).join(' ');
    const path = /\/(\w[\w/]*)'/.exec(probe)?.[1];
    expect(Object.keys(openApi().paths)).toContain(`/${path}`);
  });
});

describe('docker/compose.yaml', () => {
  const file = compose();
  const { redis, api, worker } = file.services;

  it('has Redis with an append-only file and noeviction, a maxmemory above the store budget', () => {
    const args = redis.command!;
    const flag = (name: string) => args[args.indexOf(name) + 1];
    expect(flag('--appendonly')).toBe('yes');
    expect(flag('--maxmemory-policy')).toBe('noeviction');
    const maxmemory = parseBytes(flag('--maxmemory'))!;
    for (const service of [api, worker])
      expect(parseBytes(service.environment!.STORE_MEMORY_LIMIT)!).toBeLessThan(maxmemory);
    expect(redis.healthcheck?.test).toEqual(['CMD', 'redis-cli', 'ping']);
  });

  it('builds the API and workers from the Dockerfile, after Redis is healthy, against it', () => {
    for (const service of [api, worker]) {
      expect(service.build).toEqual({ context: '..', dockerfile: 'docker/Dockerfile' });
      expect(service.depends_on).toEqual({ redis: { condition: 'service_healthy' } });
      expect(new URL(service.environment!.REDIS_URL).hostname).toBe('redis');
    }
    expect(existsSync(`${root}docker/Dockerfile`)).toBe(true);
  });

  it('workers scale (`--scale worker=8`): no fixed name, no host port; the API publishes its port', () => {
    expect(worker.container_name).toBeUndefined();
    expect(worker.ports).toBeUndefined();
    expect(worker.healthcheck).toEqual({ disable: true });
    expect(api.ports).toHaveLength(1);
    expect(api.ports![0]).toMatch(/:8080:8080$/);
    // Listening beyond the container's loopback needs tokens or WEFT_ALLOW_OPEN (src/api/main.ts).
    const config = loadConfig(api.environment as NodeJS.ProcessEnv);
    expect(config.host).toBe('0.0.0.0');
    expect(config.tokens.size > 0 || config.allowOpen).toBe(true);
  });

  it("has Python workers from the image's python stage, serving the pool python, sharing the spill volume", () => {
    const service = file.services['python-worker'];
    expect(service.build).toEqual({ context: '..', dockerfile: 'docker/Dockerfile', target: 'python' });
    expect(service.depends_on).toEqual({ redis: { condition: 'service_healthy' } });
    expect(loadConfig(service.environment as NodeJS.ProcessEnv).pools).toEqual(['python']);
    expect(service.volumes).toEqual(worker.volumes);
    expect(service.ports).toBeUndefined();
    const stage = dockerfile().find((i) => i.op === 'FROM' && /\bAS python$/.test(i.args));
    expect(stage).toBeDefined();
    const python = dockerfile().filter((i) => i.stage === stage!.stage);
    expect(python.find((i) => i.op === 'RUN' && i.args.includes('apt-get install'))?.args).toContain(
      'python3-cloudpickle',
    );
    expect(execForm(python.find((i) => i.op === 'CMD')!).join(' ')).toBe(pkg.scripts['worker:prod']);
    expect(python.find((i) => i.op === 'USER')?.args).toBe('node');
  });

  it('ships no API tokens, so it publishes the API on the host loopback only', () => {
    expect(loadConfig(api.environment as NodeJS.ProcessEnv).tokens.size).toBe(0);
    expect(api.ports![0].startsWith('127.0.0.1:')).toBe(true);
  });

  it('the API and every worker share one spill volume at SPILL_DIR', () => {
    const mounts = (s: typeof api) => (s.volumes ?? []).map((v) => v.split(':'));
    const spill = mounts(api).find(([, target]) => target === api.environment!.SPILL_DIR);
    expect(spill).toBeDefined();
    expect(mounts(worker)).toContainEqual(spill);
    expect(worker.environment!.SPILL_DIR).toBe(api.environment!.SPILL_DIR);
    expect(Object.keys(file.volumes)).toContain(spill![0]);
  });

  it('runs existing entry points, compiled: the worker command is `npm run worker:prod`', () => {
    expect(serviceCommand('worker').join(' ')).toBe(pkg.scripts['worker:prod']);
    expect(serviceCommand('api').join(' ')).toBe(pkg.scripts['api:prod']);
    for (const name of ['api', 'worker'])
      expect(existsSync(`${root}${scriptOf(serviceCommand(name))}`), name).toBe(true);
  });

  it('every setting it gives loads (src/config.ts rejects bad values)', () => {
    for (const service of [api, worker]) {
      const config = loadConfig(service.environment as NodeJS.ProcessEnv);
      expect(config.storeMemoryLimit).toBe(parseBytes(service.environment!.STORE_MEMORY_LIMIT));
    }
    expect(loadConfig(worker.environment as NodeJS.ProcessEnv).concurrency).toBe(8);
  });
});

/** Every `docker compose ... up ...` command the docs, the compose file and npm start's install help give. */
function composeUpCommands(): { where: string; args: string[] }[] {
  const texts: [string, string][] = [
    ...['README.md', 'docs/deploy.md', 'docker/compose.yaml', 'examples/README.md'].map((f): [string, string] => [
      f,
      readFileSync(`${root}${f}`, 'utf8'),
    ]),
    ['INSTALL_HELP (src/supervisor/redis.ts)', INSTALL_HELP],
  ];
  const out: { where: string; args: string[] }[] = [];
  for (const [where, text] of texts)
    for (const [command] of text.matchAll(/docker compose [^`\n(#]*/g)) {
      const args = command.trim().split(/\s+/).slice(2);
      if (args.includes('up')) out.push({ where, args });
    }
  return out;
}

describe('docker compose commands in the docs', () => {
  const file = compose();

  it("npm start's install help starts the compose file's Redis where npm start looks for it: published on 127.0.0.1:6379", () => {
    const help = composeUpCommands().filter((c) => c.where.startsWith('INSTALL_HELP'));
    expect(help).toHaveLength(1);
    const services = help[0].args.slice(help[0].args.indexOf('up') + 1).filter((a) => !a.startsWith('-'));
    expect(services).toEqual(['redis']);
    // Detached: the terminal is free for npm start.
    expect(help[0].args).toContain('-d');
    const { hostname, port } = new URL(DEFAULT_REDIS_URL);
    expect(file.services.redis.ports).toEqual([`${hostname}:${port}:6379`]);
  });

  it('every command that starts services built from the Dockerfile has --build, so a changed checkout is rebuilt', () => {
    const commands = composeUpCommands();
    expect(commands.filter((c) => c.where === 'README.md').length).toBeGreaterThan(0);
    for (const { where, args } of commands) {
      const after = args.slice(args.indexOf('up') + 1);
      // Service names are the arguments that are neither flags nor a flag's value (--scale worker=8).
      const services = after.filter((a, i) => !a.startsWith('-') && !(i > 0 && after[i - 1] === '--scale'));
      const built = services.length === 0 || services.some((s) => file.services[s]?.build);
      if (built) expect(args, `${where}: docker compose ${args.join(' ')}`).toContain('--build');
    }
  });
});
