/**
 * `npm run dask-suite [-- <dask_suite.run options>]`: Dask's own tests
 * (Debian's python3-dask) on Dask's sync scheduler and through a private weft
 * (bench/stack.ts: its own redis-server, the API and 2 workers with Python
 * executors), compared by area (clients/python/dask_suite). With no options it
 * runs the full selection; `-- --ci` runs the CI-sized one the test suite
 * runs; `-- --areas bag,delayed` some areas. Outcomes and summary.json go to
 * .weft/dask-suite. Exit status: the runner's (0, or 1 below --min-rate).
 */
import { spawn } from 'node:child_process';
import { ROOT, startStack } from './stack.ts';

const args = process.argv.slice(2);
const stack = await startStack({ workers: Number(process.env.BENCH_WORKERS ?? 2), prefix: 'dasksuite' });
let code = 2;
try {
  process.stdout.write(`weft for the suite: ${stack.url} (python ${stack.python})\n`);
  const child = spawn(stack.python, ['-m', 'dask_suite.run', ...args], {
    cwd: ROOT,
    env: { ...process.env, WEFT_URL: stack.url, PYTHONPATH: `${ROOT}clients/python` },
    stdio: 'inherit',
  });
  code = await new Promise<number>((resolve) => child.once('exit', (c) => resolve(c ?? 2)));
  if (stack.events.length > 0)
    process.stdout.write(`\nThe stack during the run (bench/stack.ts guards):\n  ${stack.events.join('\n  ')}\n`);
} finally {
  await stack.stop();
}
process.exit(code);
