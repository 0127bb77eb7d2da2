/**
 * Graceful shutdown. A worker that gets SIGTERM takes no new jobs, finishes
 * what it runs, and hands back what is still running after WEFT_SHUTDOWN_MS
 * (other workers take it at once). An API process that gets SIGTERM stops
 * accepting and answers its in-flight requests, long polls included.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWeft, type Weft } from './helpers/weft.ts';
import { freePort } from './helpers/redis.ts';
import { waitFor } from './helpers/wait.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('workers', () => {
  let weft: Weft;
  beforeAll(async () => {
    // A long lock: a handed-back job must not wait for the lock to expire.
    weft = await startWeft({
      workers: 1,
      env: { WEFT_SHUTDOWN_MS: '300', WEFT_LOCK_MS: '60000', WEFT_STALLED_MS: '30000' },
    });
  });
  afterAll(() => weft?.close());

  async function events(id: string): Promise<any[]> {
    return ((await (await fetch(`${weft.url}/v1/graphs/${id}/events`)).json()) as any).events;
  }

  async function untilStarted(id: string): Promise<void> {
    await waitFor(`a task of graph ${id} to start`, async () => (await events(id)).some((e) => e.type === 'pretask'));
  }

  it('SIGTERM: a task that ends within the grace time finishes there', async () => {
    const { body } = await weft.submit({ graph: { s: { $op: 'sleep', args: [150, 'done'] } }, keys: 's' });
    await untilStarted(body.id);
    const worker = weft.workers.at(-1)!;
    worker.kill('SIGTERM');
    await new Promise((r) => worker.once('exit', r));
    expect(worker.exitCode).toBe(0);
    const out = (await (await fetch(`${weft.url}/v1/graphs/${body.id}/result`)).json()) as any;
    expect(out.status).toBe('done');
    expect(out.result).toBe('done');
    await weft.startWorker();
  });

  it('SIGTERM: a task still running after the grace time is handed back and runs on another worker at once', async () => {
    const { body } = await weft.submit({
      graph: { s: { $op: 'sleep', args: [2000, 'slow'] }, t: { $op: 'concat', args: [[[{ $ref: 's' }], ['!']]] } },
      keys: 't',
      options: { optimize: { fuse: false } },
    });
    await untilStarted(body.id);
    const worker = weft.workers.at(-1)!;
    const t0 = Date.now();
    worker.kill('SIGTERM');
    await new Promise((r) => worker.once('exit', r));
    expect(Date.now() - t0).toBeLessThan(1500);
    await weft.startWorker();
    const out = (await (await fetch(`${weft.url}/v1/graphs/${body.id}/result?wait=20`)).json()) as any;
    expect(out.status, JSON.stringify(out.error)).toBe('done');
    expect(out.result).toEqual(['slow', '!']);
    // Well before the 60 s lock would have run out.
    expect(Date.now() - t0).toBeLessThan(10_000);
    const starts = (await events(body.id)).filter((e) => e.type === 'pretask' && e.key === 's');
    expect(starts.length).toBe(2);
    expect(starts[0].worker).not.toBe(starts[1].worker);
  });
});

describe('the API', () => {
  it('SIGTERM: in-flight requests are answered (a long poll with the status as it is), then the port closes', async () => {
    const weft = await startWeft({ workers: 1 });
    const port = await freePort();
    const api = spawn(process.execPath, ['--import', 'tsx', 'src/api/main.ts'], {
      cwd: root,
      env: { ...process.env, ...weft.env, PORT: String(port), WEFT_LOG_REQUESTS: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    api.stdout.on('data', (d) => (output += d));
    api.stderr.on('data', (d) => (output += d));
    try {
      await waitFor('the API to listen', () => output.includes('Server listening'), { timeoutMs: 10_000 });
      const base = `http://127.0.0.1:${port}`;
      const submitted = (await (
        await fetch(`${base}/v1/graphs`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ graph: { s: { $op: 'sleep', args: [3000, 1] } }, keys: 's' }),
        })
      ).json()) as any;
      // The answer should say running: the task has started.
      await waitFor('the task to start', async () => {
        const { events } = (await (await fetch(`${base}/v1/graphs/${submitted.id}/events`)).json()) as any;
        return events.some((e: any) => e.type === 'pretask');
      });
      const path = `/v1/graphs/${submitted.id}/result?wait=30`;
      const poll = fetch(`${base}${path}`);
      // The long poll is in flight once the API has logged it (WEFT_LOG_REQUESTS=1 logs each incoming request).
      await waitFor('the API to receive the long poll', () => output.includes(path));
      const t0 = Date.now();
      api.kill('SIGTERM');
      const res = await poll;
      expect(res.status).toBe(202);
      expect(((await res.json()) as any).status).toBe('running');
      expect(Date.now() - t0).toBeLessThan(2000);
      await new Promise((r) => api.once('exit', r));
      await expect(fetch(`${base}/healthz`)).rejects.toThrow();
      // The graph goes on: another API instance (the test's) answers for it.
      const done = (await (await fetch(`${weft.url}/v1/graphs/${submitted.id}/result?wait=20`)).json()) as any;
      expect(done.status).toBe('done');
    } finally {
      api.kill('SIGKILL');
      await weft.close();
    }
  });
});
