/**
 * `npm start`: Redis (found or started), one API process and WORKERS worker
 * processes, restarted if they die. SIGTERM or Ctrl-C stops them all.
 * In production run `npm run api` and `npm run worker` (or, compiled by
 * `npm run build`, `api:prod` and `worker:prod`) under your own process
 * manager instead (docs/deploy.md). `npm run start:prod` runs this compiled.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../config.ts';
import { checkEvictionPolicy, connect, DEFAULT_REDIS_URL } from '../queue/connection.ts';
import { answers, hasRedisServer, INSTALL_HELP, launchRedis, localRedis, redisDir } from './redis.ts';
import { findPython, PYTHON_INSTALL_HELP } from '../workers/executors/python.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
/** Run from src/ through tsx (`npm start`), or compiled in dist/ (`npm run start:prod`): the children likewise. */
const compiled = import.meta.url.endsWith('.js');
const say = (line: string) => process.stdout.write(`[weft] ${line}\n`);

const config = loadConfig();
const redisUrl = config.redisUrl ?? DEFAULT_REDIS_URL;
let redisChild: ChildProcess | undefined;
if (!(await answers(redisUrl))) {
  const local = localRedis(redisUrl);
  if (typeof local === 'string') {
    process.stderr.write(
      `REDIS_URL=${redisUrl} does not answer, and npm start starts a Redis itself only on a local port (${local}). Start Redis there, or point REDIS_URL at a local port (or unset it for 127.0.0.1:6379).\n`,
    );
    process.exit(1);
  }
  if (!hasRedisServer()) {
    process.stderr.write(`Nothing answers on ${redisUrl} and there is no redis-server on PATH.\n${INSTALL_HELP}\n`);
    process.exit(1);
  }
  const dir = redisDir(local.port);
  say(`nothing answers on ${redisUrl}: starting redis-server there, data in ${dir} (append-only file on)`);
  redisChild = await launchRedis(local.port, dir, local);
}
{
  const probe = connect(redisUrl, 'weft-start');
  const warning = await checkEvictionPolicy(probe);
  if (warning) say(`warning: ${warning}`);
  probe.disconnect();
}

const env: NodeJS.ProcessEnv = { ...process.env, REDIS_URL: redisUrl, ...pythonTasks() };
const children = new Set<ChildProcess>();
let stopping = false;

function run(name: string, script: string, restartDelay = 500): void {
  const path = fileURLToPath(new URL(`../${script}.${compiled ? 'js' : 'ts'}`, import.meta.url));
  const args = compiled ? [path] : ['--import', 'tsx', path];
  const child = spawn(process.execPath, args, { cwd: root, env, stdio: 'inherit' });
  children.add(child);
  child.once('exit', (code, signal) => {
    children.delete(child);
    if (stopping) return;
    say(`${name} exited (${signal ?? code}); restarting in ${restartDelay} ms`);
    setTimeout(() => run(name, script, Math.min(restartDelay * 2, 30_000)), restartDelay).unref();
  });
}

run('api', 'api/main');
for (let i = 0; i < config.workers; i++) run(`worker ${i + 1}`, 'workers/main');
say(`API on http://${config.host}:${config.port}, ${config.workers} worker processes, Redis ${redisUrl}`);

/**
 * Python tasks run when a Python with cloudpickle is here: the workers then
 * serve the pool "python" too, with its executors (docs/executors.md). One
 * line says which, and how to enable them when they are off.
 */
function pythonTasks(): NodeJS.ProcessEnv {
  if (process.env.WEFT_POOLS !== undefined) {
    const on = config.pools.includes('python') || config.executorCommands.size > 0;
    say(`Python tasks: ${on ? 'on' : 'off'} (WEFT_POOLS=${process.env.WEFT_POOLS})`);
    return {};
  }
  const found = findPython();
  if (!found.python) {
    say(
      `Python tasks: off, no Python with cloudpickle and msgpack (${found.tried.join('; ')}); to enable them, ${PYTHON_INSTALL_HELP}`,
    );
    return {};
  }
  say(`Python tasks: on (${found.python}; executors in the pool "python")`);
  return { WEFT_POOLS: [...config.pools, 'python'].join(','), WEFT_PYTHON: found.python };
}

/** Workers and the API first, while the Redis they use still answers; a Redis started here last. */
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  const exits = [...children].map((c) => new Promise((r) => c.once('exit', r)));
  for (const c of children) c.kill('SIGTERM');
  await Promise.all(exits);
  if (redisChild) {
    const exited = new Promise((r) => redisChild!.once('exit', r));
    redisChild.kill('SIGTERM');
    await exited;
  }
  process.exit(0);
}
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
