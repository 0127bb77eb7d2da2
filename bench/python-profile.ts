/**
 * Where the time of 20,000 tiny Python tasks goes (issue 17), and what the
 * knobs do: `node --import tsx bench/python-profile.ts [--runs 3] [knob sets]`.
 *
 * For each set of knobs (environment of the workers, e.g.
 * `WEFT_BUNDLE_MAX=256,WEFT_EXECUTORS=1`; with none, the defaults) it starts
 * a private weft (bench/stack.ts: 2 workers with Python executors), runs
 * bench/py/tiny.py against it (a warm-up, then --runs timed runs, results
 * checked) and reads the CPU time (utime + stime, /proc) each process spent
 * meanwhile, by role: the API, the Node workers, the Python executors, Redis,
 * the Python client (which builds, pickles and sends the graph). With
 * --typescript, the same graph shape of TypeScript ops instead. It prints
 * tasks/s and CPU µs per task for each role; the CPU figures cover the warm-up
 * run too, so they are per task over all runs.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { median } from './lib.ts';
import { runPython } from './python.ts';
import { startStack } from './stack.ts';

const TICK_MS = 10; // USER_HZ is 100 on Linux

interface Proc {
  pid: number;
  ppid: number;
  cmd: string;
  cpuMs: number;
}

function processes(): Proc[] {
  const out: Proc[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' ');
      // Fields after the command: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14).
      out.push({
        pid: Number(name),
        ppid: Number(rest[1]),
        cmd,
        cpuMs: (Number(rest[11]) + Number(rest[12])) * TICK_MS,
      });
    } catch {
      // gone
    }
  }
  return out;
}

function role(cmd: string): string | undefined {
  if (cmd.includes('src/api/main.ts')) return 'api';
  if (cmd.includes('src/workers/main.ts')) return 'workers';
  if (cmd.includes('weft.executor')) return 'executors';
  if (cmd.includes('redis-server')) return 'redis';
  if (cmd.includes('bench/py/')) return 'client';
  return undefined;
}

/** CPU ms by role of this process's descendants, and their pids (so the run's client is counted even after it exits). */
function cpuByRole(): Map<number, { role: string; cpuMs: number }> {
  const all = processes();
  const children = new Map<number, Proc[]>();
  for (const p of all) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  const out = new Map<number, { role: string; cpuMs: number }>();
  const stack = [...(children.get(process.pid) ?? [])];
  while (stack.length > 0) {
    const p = stack.pop()!;
    const r = role(p.cmd);
    if (r) out.set(p.pid, { role: r, cpuMs: p.cpuMs });
    stack.push(...(children.get(p.pid) ?? []));
  }
  return out;
}

async function profile(env: Record<string, string>, runs: number): Promise<void> {
  const stack = await startStack({ workers: 2, env, prefix: 'profile' });
  try {
    const before = cpuByRole();
    const last = new Map(before);
    // The client exits before the final reading: sample while it runs.
    const sampler = setInterval(() => {
      for (const [pid, v] of cpuByRole()) last.set(pid, v);
    }, 100);
    const t0 = performance.now();
    const res = typescript
      ? await typescriptRuns(stack.url, runs)
      : await runPython(stack.python, 'tiny.py', ['weft', '--url', stack.url, '--runs', String(runs)]);
    const wallMs = performance.now() - t0;
    clearInterval(sampler);
    for (const [pid, v] of cpuByRole()) last.set(pid, v);
    const byRole = new Map<string, number>();
    for (const [pid, v] of last)
      byRole.set(v.role, (byRole.get(v.role) ?? 0) + v.cpuMs - (before.get(pid)?.cpuMs ?? 0));
    const tasks = res.tasks * (runs + 1);
    const rate = res.tasks / median(res.seconds);
    const parts = ['client', 'api', 'workers', 'executors', 'redis']
      .map((r) => `${r} ${((1000 * (byRole.get(r) ?? 0)) / tasks).toFixed(1)}`)
      .join(', ');
    const total = [...byRole.values()].reduce((a, b) => a + b, 0);
    process.stdout.write(
      `${typescript ? '[TypeScript ops] ' : ''}${
        Object.entries(env)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ') || 'defaults'
      }: ${Math.round(rate)} tasks/s (runs ${res.seconds.map((s: number) => s.toFixed(2)).join(', ')} s); ` +
        `CPU µs per task: ${parts}; total ${((1000 * total) / tasks).toFixed(1)} µs over ${(wallMs / 1000).toFixed(1)} s wall (${(total / wallMs).toFixed(2)} cores busy)\n`,
    );
  } finally {
    await stack.stop();
  }
}

/** The same graph shape with TypeScript ops, POSTed as JSON from here (no Python client). */
async function typescriptRuns(api: string, runs: number): Promise<{ tasks: number; seconds: number[] }> {
  const { wideGraph } = await import('./wide-graph.ts');
  const wide = wideGraph(20_000, 100);
  const body = JSON.stringify({ graph: wide.graph, keys: wide.key, wait: 600 });
  const seconds: number[] = [];
  for (let run = 0; run <= runs; run++) {
    const t0 = performance.now();
    const res = (await (
      await fetch(`${api}/v1/graphs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    ).json()) as { result: unknown };
    if (res.result !== wide.expected) throw new Error(`the wide graph gave ${JSON.stringify(res).slice(0, 200)}`);
    if (run > 0) seconds.push((performance.now() - t0) / 1000);
  }
  return { tasks: wide.tasks, seconds };
}

const argv = process.argv.slice(2);
const typescript = argv.includes('--typescript');
const runsAt = argv.indexOf('--runs');
const runs = runsAt >= 0 ? Number(argv[runsAt + 1]) : 3;
const sets = argv.filter((a, i) => !a.startsWith('--') && !(i > 0 && argv[i - 1] === '--runs'));
for (const set of sets.length > 0 ? sets : ['']) {
  const env = Object.fromEntries(
    set
      .split(',')
      .filter(Boolean)
      .map((kv) => kv.split('=') as [string, string]),
  );
  await profile(env, runs);
}
