/**
 * A private weft for the Python benchmarks and the Dask suite: a fresh
 * redis-server on a free port, one API process and `workers` worker
 * processes serving the pools `default,python` (so each starts its Python
 * executors), all stopped by `stop()`.
 *
 * Two guards, because the machine is shared and the suite runs thousands of
 * graphs: a process whose resident memory, with its children's (a worker's
 * executors), passes WEFT_STACK_MAX_RSS_MB (default 4096) is killed before the
 * kernel's OOM killer picks a victim, which may be someone else's process; and
 * a process that dies is started again (as `npm start` does), so one crash
 * fails the graphs it had, not every later one. Both are logged in `events`.
 *
 * `node --import tsx bench/stack.ts` keeps one running and prints its URL and
 * the processes' output (for working on the Python side by hand); Ctrl-C stops it.
 */
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { freePort, startRedis } from '../test/helpers/redis.ts';
import { findPython } from '../src/workers/executors/python.ts';
import { startProcess, stopProcesses } from './lib.ts';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface Stack {
  url: string;
  redisUrl: string;
  prefix: string;
  /** The Python the executors run (and the bench's scripts should run). */
  python: string;
  /** The running API and workers (restarted ones replace the dead). */
  procs: ChildProcess[];
  /** What the guards did: processes killed for memory, processes that died and were restarted. */
  events: string[];
  /** The last output of each process, for a failure message. */
  logs(): string;
  stop(): Promise<void>;
}

export interface StackOptions {
  workers?: number;
  env?: Record<string, string>;
  prefix?: string;
  /** Called with each process's output as it comes (the CLI prints it). */
  onOutput?: (chunk: Buffer) => void;
}

/** The interpreter the project uses: the first of $WEFT_PYTHON, /usr/bin/python3, python3 with cloudpickle and msgpack. */
export function projectPython(): string {
  const found = findPython();
  if (!found.python) throw new Error(`no Python with cloudpickle and msgpack: ${found.tried.join('; ')}`);
  return found.python;
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const redis = await startRedis();
  const port = await freePort();
  const prefix = options.prefix ?? 'stack';
  const python = projectPython();
  const env = {
    REDIS_URL: redis.url,
    PORT: String(port),
    WEFT_PREFIX: prefix,
    WEFT_POOLS: 'default,python',
    WEFT_PYTHON: python,
    ...options.env,
  };
  const limitMb = Number(process.env.WEFT_STACK_MAX_RSS_MB ?? 4096);
  const procs: ChildProcess[] = [];
  const outputs = new Map<ChildProcess, () => string>();
  const events: string[] = [];
  let stopping = false;

  const launch = async (script: string, ready: string, slot: number): Promise<void> => {
    const { child, output } = await startProcess(script, [], env, ready);
    if (options.onOutput) {
      child.stdout!.on('data', options.onOutput);
      child.stderr!.on('data', options.onOutput);
    }
    procs[slot] = child;
    outputs.set(child, output);
    child.once('exit', (code, signal) => {
      if (stopping) return;
      events.push(`${new Date().toISOString()} ${script} (pid ${child.pid}) exited (${signal ?? code}); restarted`);
      process.stderr.write(`stack: ${events.at(-1)}\n${output().slice(-1500)}\n`);
      launch(script, ready, slot).catch((err: Error) => events.push(`restart of ${script} failed: ${err.message}`));
    });
  };
  try {
    await launch('src/api/main.ts', 'listening', 0);
    for (let i = 0; i < (options.workers ?? 2); i++) await launch('src/workers/main.ts', 'running', i + 1);
  } catch (err) {
    stopping = true;
    await stopProcesses(procs);
    await redis.stop();
    throw err;
  }
  const watchdog = guardMemory(procs, limitMb, events);
  return {
    url: `http://127.0.0.1:${port}`,
    redisUrl: redis.url,
    prefix,
    python,
    procs,
    events,
    logs: () => procs.map((p) => outputs.get(p)?.().slice(-3000) ?? '').join('\n---\n'),
    async stop() {
      stopping = true;
      clearInterval(watchdog);
      await stopProcesses(procs);
      await redis.stop();
    },
  };
}

/** Resident kB of a process and its descendants (a worker's executors), from /proc. */
function treeRssKb(pid: number, children: Map<number, number[]>): number {
  let kb = 0;
  const stack = [pid];
  while (stack.length > 0) {
    const p = stack.pop()!;
    try {
      kb += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      continue; // gone
    }
    stack.push(...(children.get(p) ?? []));
  }
  return kb;
}

function childrenByParent(): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const ppid = Number(/PPid:\s+(\d+)/.exec(readFileSync(`/proc/${name}/status`, 'utf8'))?.[1]);
      const list = out.get(ppid) ?? [];
      list.push(Number(name));
      out.set(ppid, list);
    } catch {
      // gone
    }
  }
  return out;
}

function guardMemory(procs: ChildProcess[], limitMb: number, events: string[]): NodeJS.Timeout {
  const timer = setInterval(() => {
    let children: Map<number, number[]> | undefined;
    for (const p of procs) {
      if (!p?.pid || p.exitCode !== null || p.signalCode !== null) continue;
      children ??= childrenByParent();
      const kb = treeRssKb(p.pid, children);
      if (kb > limitMb * 1024) {
        events.push(
          `${new Date().toISOString()} ${p.spawnargs.at(-1)} (pid ${p.pid}) and its children passed ${limitMb} MB resident (${Math.round(kb / 1024)} MB): killed`,
        );
        process.stderr.write(`stack: ${events.at(-1)}\n`);
        for (const c of children.get(p.pid) ?? []) {
          try {
            process.kill(c, 'SIGKILL');
          } catch {
            // gone
          }
        }
        p.kill('SIGKILL');
      }
    }
  }, 500);
  timer.unref();
  return timer;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const stack = await startStack({
    workers: Number(process.env.BENCH_WORKERS ?? 2),
    onOutput: (d) => process.stdout.write(d),
  });
  process.stdout.write(`WEFT_URL=${stack.url} REDIS_URL=${stack.redisUrl} (python ${stack.python})\n`);
  const stop = () => void stack.stop().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
