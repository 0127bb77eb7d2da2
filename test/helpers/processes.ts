/**
 * The service's process tree in tests and benchmarks: starting the supervisor, and the tree's
 * resident memory, read from /proc (Linux): the supervisor with its API and workers.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The direct children of `pid`. */
export function childPids(pid: number): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((p) => {
      try {
        return Number(readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ')[1]) === pid;
      } catch {
        return false; // it ended while we looked
      }
    });
}

/** Resident memory of a process and of its children, in MiB. */
export function treeRssMiB(pid: number): number {
  const kib = (p: number) => {
    try {
      return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      return 0;
    }
  };
  return (kib(pid) + childPids(pid).reduce((sum, c) => sum + kib(c), 0)) / 1024;
}

/**
 * Spawns the supervisor (`node <args>` from the project's root) with one worker and no Python
 * executors, on `port` and the Redis at `redisUrl` under a fresh prefix; its output is gathered.
 */
export function spawnSupervisor(
  args: string[],
  options: { port: number; redisUrl: string; env?: Record<string, string> },
): { child: ChildProcessWithoutNullStreams; output: () => string } {
  const child = spawn(process.execPath, args, {
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    env: {
      ...process.env,
      PORT: String(options.port),
      WORKERS: '1',
      REDIS_URL: options.redisUrl,
      WEFT_PREFIX: `t${randomBytes(4).toString('hex')}`,
      WEFT_PYTHON: '/nonexistent', // no Python executors: the same processes whatever runs them
      ...options.env,
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stdin.end();
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  return { child, output: () => output };
}
