/**
 * Scale-out: two API processes and three worker processes against one Redis,
 * started with the very commands the image and compose file run. Graphs go in
 * through either API and are read through the other; work spreads over the
 * workers; an API that stops loses nothing; the image's healthcheck passes.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { dockerfile, execForm, root, serviceCommand } from './helpers/docker.ts';
import { parsePrometheus } from './helpers/prometheus.ts';
import { freePort } from './helpers/redis.ts';
import { oid, ref, task } from './helpers/nodes.ts';

const spillDir = mkdtempSync(join(tmpdir(), 'weft-scale-spill-'));
const env: Record<string, string> = {
  ...(process.env as Record<string, string>),
  REDIS_URL: inject('redisUrl'),
  WEFT_PREFIX: `t${randomBytes(4).toString('hex')}`,
  SPILL_DIR: spillDir,
  WEFT_CONCURRENCY: '4',
  WEFT_WORKER_TIMEOUT_MS: '2000',
  WEFT_LOCK_MS: '2000',
  WEFT_STALLED_MS: '1000',
  HOST: '127.0.0.1',
  // As test/helpers/weft.ts: receivers in tests listen on loopback, which weft otherwise refuses as a target.
  WEFT_ALLOW_PRIVATE_WEBHOOKS: '1',
};
const children: ChildProcess[] = [];
const apis: { url: string; port: number; child: ChildProcess }[] = [];

/** Starts a command as a container would run it (from the repository root, with its environment); resolves when `ready` says so. */
async function run(
  command: string[],
  extraEnv: Record<string, string>,
  ready: (output: string) => boolean | Promise<boolean>,
): Promise<ChildProcess> {
  const [exe, ...args] = command;
  const child = spawn(exe === 'node' ? process.execPath : exe, args, {
    cwd: root,
    env: { ...env, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const deadline = Date.now() + 30_000;
  while (!(await ready(output))) {
    if (child.exitCode !== null) throw new Error(`${command.join(' ')} exited (${child.exitCode}): ${output}`);
    if (Date.now() > deadline) throw new Error(`${command.join(' ')} did not start: ${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return child;
}

async function answers(url: string): Promise<boolean> {
  try {
    return (await fetch(`${url}/healthz`)).ok;
  } catch {
    return false;
  }
}

async function json(url: string, init?: RequestInit & { body?: string }): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { ...init, headers: init?.body ? { 'content-type': 'application/json' } : {} });
  return { status: res.status, body: await res.json() };
}

/**
 * The command as run here: the image runs the compiled entry (`node dist/x.js`, built in the image);
 * this file runs its source instead (`node --import tsx src/x.ts`), so it needs no build of its own
 * (test/build.test.ts runs the compiled service).
 */
function fromSource(command: string[]): string[] {
  const compiled = command.length === 2 && /^dist\/(.+)\.js$/.exec(command[1]);
  return compiled ? [command[0], '--import', 'tsx', `src/${compiled[1]}.ts`] : command;
}

beforeAll(async () => {
  for (let i = 0; i < 2; i++) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const child = await run(fromSource(serviceCommand('api')), { PORT: String(port) }, () => answers(url));
    apis.push({ url, port, child });
  }
  for (let i = 0; i < 3; i++) await run(fromSource(serviceCommand('worker')), {}, (out) => out.includes('running'));
});

afterAll(async () => {
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          c.once('exit', () => resolve());
          c.kill('SIGTERM');
        }),
    ),
  );
  rmSync(spillDir, { recursive: true, force: true });
});

/** A map-reduce of n incs, with the expected sum. */
function mapReduce(n: number, offset: number): { graph: Record<string, unknown>; expected: number } {
  const graph: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) graph[`x${i}`] = task('inc', offset + i);
  graph.total = task(
    'sum',
    Array.from({ length: n }, (_, i) => ref(`x${i}`)),
  );
  return { graph, expected: n * offset + (n * (n + 1)) / 2 };
}

describe('2 API processes, 3 worker processes, one Redis', () => {
  it('both APIs see all three workers', async () => {
    for (const api of apis) {
      const { body } = await json(`${api.url}/v1/workers`);
      expect(body.workers).toHaveLength(3);
      expect(new Set(body.workers.map((w: any) => w.pid))).toEqual(new Set(children.slice(2).map((c) => c.pid)));
    }
  });

  it('graphs submitted through both APIs at once are all right', async () => {
    const runs = Array.from({ length: 12 }, (_, i) => ({ api: apis[i % 2], ...mapReduce(200, i * 1000) }));
    const answers = await Promise.all(
      runs.map((r) =>
        json(`${r.api.url}/v1/graphs`, {
          method: 'POST',
          body: JSON.stringify({ graph: r.graph, keys: 'total', wait: 60 }),
        }),
      ),
    );
    answers.forEach((a, i) => {
      expect(a.status).toBe(200);
      expect(a.body).toMatchObject({ status: 'done', result: runs[i].expected });
    });
    // Each graph is known to the other API too, and listed there.
    const listed = new Set(((await json(`${apis[1].url}/v1/graphs?limit=100`)).body.graphs as any[]).map((g) => g.id));
    answers.forEach((a, i) => {
      expect(listed.has(a.body.id), `graph ${i}`).toBe(true);
    });
    for (const [i, a] of answers.entries()) {
      const other = apis[(i + 1) % 2];
      const { body } = await json(`${other.url}/v1/graphs/${a.body.id}/result`);
      expect(body.result).toBe(runs[i].expected);
    }
  });

  it('a graph submitted on one API is followed, and its futures used, on the other', async () => {
    const [a, b] = apis;
    const submitted = await json(`${a.url}/v1/graphs`, {
      method: 'POST',
      body: JSON.stringify({
        graph: { x: task('sleep', 300, 20), y: task('inc', ref('x')) },
        keys: 'y',
        persist: true,
      }),
    });
    expect(submitted.status).toBe(202);
    // Live events through B until finish, for a graph registered by A.
    const res = await fetch(`${b.url}/v1/graphs/${submitted.body.id}/events`, {
      headers: { accept: 'text/event-stream' },
    });
    const text = await res.text();
    expect(text).toContain('event: finish');
    const future = submitted.body.outputs.$oid;
    const used = await json(`${b.url}/v1/graphs`, {
      method: 'POST',
      body: JSON.stringify({ graph: { z: task('add', oid(future), 100) }, keys: 'z', wait: 30 }),
    });
    expect(used.body).toMatchObject({ status: 'done', result: 121 });
    expect((await json(`${a.url}/v1/objects/${future}`)).body).toBe(21);
    expect((await json(`${b.url}/v1/objects/${future}`)).body).toBe(21);
  });

  it('slow tasks spread over all three workers', async () => {
    const graph = Object.fromEntries(Array.from({ length: 24 }, (_, i) => [`s${i}`, task('sleep', 250, i)]));
    const { body } = await json(`${apis[0].url}/v1/graphs`, {
      method: 'POST',
      body: JSON.stringify({ graph, keys: Object.keys(graph), wait: 60 }),
    });
    expect(body.status).toBe('done');
    const { tasks } = (await json(`${apis[1].url}/v1/graphs/${body.id}/tasks`)).body;
    expect(new Set(tasks.map((t: any) => t.worker)).size).toBe(3);
  });

  it('every API reports the same cluster-wide metrics', async () => {
    const [ma, mb] = await Promise.all(
      apis.map(async (api) => parsePrometheus(await (await fetch(`${api.url}/metrics`)).text())),
    );
    for (const name of [
      'weft_tasks_finished_total',
      'weft_graphs_submitted_total',
      'weft_workers',
      'weft_worker_slots',
    ])
      expect(ma.value(name), name).toBe(mb.value(name));
    expect(ma.value('weft_workers')).toBe(3);
    expect(ma.value('weft_worker_slots')).toBe(12);
    expect(ma.value('weft_tasks_finished_total')).toBeGreaterThanOrEqual(12 * 201 + 2 + 24);
  });

  it("the image's healthcheck passes against a running API and fails against a dead one", async () => {
    const probe = execForm(dockerfile().find((s) => s.op === 'HEALTHCHECK')!);
    const check = (port: number) =>
      spawnSync(process.execPath, probe.slice(1), { env: { ...env, PORT: String(port) }, timeout: 10_000 }).status;
    expect(check(apis[0].port)).toBe(0);
    expect(check(await freePort())).toBe(1);
  });

  it('an API that stops loses nothing: its graph finishes and the other API answers', async () => {
    const [a, b] = apis;
    const { graph, expected } = mapReduce(50, 7);
    for (const key of Object.keys(graph)) if (key !== 'total') graph[key] = task('sleep', 100, graph[key]);
    const submitted = await json(`${a.url}/v1/graphs`, {
      method: 'POST',
      body: JSON.stringify({ graph, keys: 'total' }),
    });
    expect(submitted.status).toBe(202);
    const exited = new Promise((r) => a.child.once('exit', r));
    a.child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(await answers(a.url)).toBe(false);
    const { body } = await json(`${b.url}/v1/graphs/${submitted.body.id}/result?wait=60`);
    expect(body).toMatchObject({ status: 'done', result: expected });
  });
});
