/**
 * `npm run bench -- startup` (issue 22): the service started as `npm start` does (the TypeScript
 * sources through tsx) against `npm run start:prod` (dist/, plain node), alternating, three times
 * each: from spawning the supervisor until a 3-task graph is answered correctly by its one worker,
 * and the resident memory of the supervisor, API and worker then. Plain `node -e 0` is the floor.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from '../test/helpers/redis.ts';
import { spawnSupervisor, treeRssMiB } from '../test/helpers/processes.ts';
import { median } from './lib.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const RUNS = 3;

interface Start {
  ms: number;
  mib: number;
}

async function startOnce(args: string[], redisUrl: string): Promise<Start> {
  const port = await freePort();
  const t0 = performance.now();
  const { child, output } = spawnSupervisor(args, { port, redisUrl });
  try {
    const url = `http://127.0.0.1:${port}`;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${args.join(' ')} exited:\n${output()}`);
      if (performance.now() - t0 > 120_000) throw new Error(`${args.join(' ')} did not start in 120 s:\n${output()}`);
      const res = await fetch(`${url}/v1/graphs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          graph: {
            x: 1,
            y: { $op: 'inc', args: [{ $ref: 'x' }] },
            z: { $op: 'add', args: [{ $ref: 'x' }, { $ref: 'y' }] },
          },
          keys: 'z',
          wait: 30,
        }),
      }).catch(() => undefined);
      if (res?.ok) {
        const body = (await res.json()) as { result?: unknown };
        if (body.result !== 3) throw new Error(`the first graph gave ${JSON.stringify(body)}, expected 3`);
        break;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    return { ms: performance.now() - t0, mib: treeRssMiB(child.pid!) };
  } finally {
    child.kill('SIGTERM');
    if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
  }
}

export async function startupBench(redisUrl: string, log: (line: string) => void): Promise<Record<string, unknown>> {
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: root, stdio: 'ignore' });
  const floor: number[] = [];
  const tsx: Start[] = [];
  const compiled: Start[] = [];
  for (let run = 0; run < RUNS; run++) {
    const t0 = performance.now();
    execFileSync(process.execPath, ['-e', '0']);
    floor.push(performance.now() - t0);
    tsx.push(await startOnce(['--import', 'tsx', 'src/supervisor/main.ts'], redisUrl));
    compiled.push(await startOnce(['dist/supervisor/main.js'], redisUrl));
  }
  const summary = (starts: Start[]) => ({
    ms: Math.round(median(starts.map((s) => s.ms))),
    mib: Math.round(median(starts.map((s) => s.mib))),
    runs: starts.map((s) => Math.round(s.ms)),
  });
  const figures = { nodeFloorMs: Math.round(median(floor)), tsx: summary(tsx), compiled: summary(compiled) };
  log(
    `startup: from spawning the supervisor to the first graph answered by its worker, median of ${RUNS}: compiled (npm run start:prod) ${figures.compiled.ms} ms, ${figures.compiled.mib} MiB resident (supervisor, API, worker); tsx (npm start) ${figures.tsx.ms} ms, ${figures.tsx.mib} MiB: compiled starts in ${(figures.compiled.ms / figures.tsx.ms).toFixed(2)}x the time with ${figures.tsx.mib - figures.compiled.mib} MiB less; plain node -e 0 takes ${figures.nodeFloorMs} ms (results checked)`,
  );
  return figures;
}
