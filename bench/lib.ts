/** Helpers shared by the benchmark parts. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

/**
 * Starts a TypeScript entry point of the project; resolves once it prints `readyText`.
 * BENCH_NODE_ARGS adds options to its node command line (profiling: `--cpu-prof --cpu-prof-dir=DIR`,
 * which NODE_OPTIONS does not accept).
 */
export function startProcess(
  script: string,
  argv: string[],
  env: Record<string, string>,
  readyText: string,
): Promise<{ child: ChildProcess; output: () => string }> {
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', script, ...argv], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  return new Promise((resolve, reject) => {
    const check = () => {
      if (out.includes(readyText)) return resolve({ child, output: () => out });
      if (child.exitCode !== null) return reject(new Error(`${script} exited: ${out}`));
      setTimeout(check, 20);
    };
    check();
  });
}

export async function stopProcesses(procs: ChildProcess[]): Promise<void> {
  for (const p of procs) if (p.exitCode === null) p.kill('SIGTERM');
  await Promise.all(
    procs.map((p) => (p.exitCode === null && p.signalCode === null ? new Promise((r) => p.once('exit', r)) : null)),
  );
}
