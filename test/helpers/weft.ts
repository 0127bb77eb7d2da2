/**
 * Starts weft for a test: the real API (Fastify, listening on a free port)
 * and real worker processes, against the test run's Redis under a fresh key
 * prefix so test files never see each other's graphs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { inject } from 'vitest';
import { buildApp } from '../../src/api/app.ts';
import { loadConfig, type Config } from '../../src/config.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface Weft {
  url: string;
  app: FastifyInstance;
  config: Config;
  env: Record<string, string>;
  workers: ChildProcess[];
  startWorker(extraEnv?: Record<string, string>): Promise<ChildProcess>;
  /** POST /v1/graphs and return status and body. */
  submit(body: unknown): Promise<{ status: number; body: any }>;
  /** Computes `keys` of `graph`, waiting up to 30 s; returns the response body. */
  compute(graph: unknown, keys: unknown, extra?: Record<string, unknown>): Promise<any>;
  /** Everything the workers (and the executors they started) wrote to stdout and stderr so far. */
  logs(): string;
  close(): Promise<void>;
}

export interface WeftOptions {
  workers?: number;
  env?: Record<string, string>;
  redisUrl?: string;
  /**
   * Tests run webhook and presubmit receivers on loopback, which weft refuses
   * as targets (SSRF) unless WEFT_ALLOW_PRIVATE_WEBHOOKS=1; it is set unless
   * this is false (for the tests of that refusal).
   */
  allowPrivateTargets?: boolean;
}

export async function startWeft(options: WeftOptions = {}): Promise<Weft> {
  const env: Record<string, string> = {
    REDIS_URL: options.redisUrl ?? inject('redisUrl'),
    WEFT_PREFIX: `t${randomBytes(4).toString('hex')}`,
    WEFT_LOCK_MS: '2000',
    WEFT_STALLED_MS: '1000',
    // Hundreds of workers start in the tests: none rehearses unless a test asks (test/workers/rehearsal.test.ts).
    WEFT_WORKER_REHEARSAL: '0',
    WEFT_ALLOW_PRIVATE_WEBHOOKS: options.allowPrivateTargets === false ? '0' : '1',
    ...options.env,
  };
  const config = loadConfig({ ...env, PORT: '0' });
  // Every JSON response of the tests is held to openapi.yaml (src/api/plugins/response-check.ts).
  const app = await buildApp(config, { checkResponses: true });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as { port: number };
  const url = `http://127.0.0.1:${port}`;
  const workers: ChildProcess[] = [];
  const outputs = new Map<ChildProcess, () => string>();

  async function startWorker(extraEnv: Record<string, string> = {}): Promise<ChildProcess> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/workers/main.ts'], {
      cwd: root,
      env: { ...process.env, ...env, ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    outputs.set(child, () => output);
    workers.push(child);
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        if (output.includes('running')) return resolve();
        if (child.exitCode !== null) return reject(new Error(`worker exited (${child.exitCode}): ${output}`));
        setTimeout(check, 25);
      };
      check();
    });
    return child;
  }

  for (let i = 0; i < (options.workers ?? 2); i++) await startWorker();

  async function submit(body: unknown) {
    const res = await fetch(`${url}/v1/graphs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  }

  return {
    url,
    app,
    config,
    env,
    workers,
    startWorker,
    submit,
    async compute(graph, keys, extra = {}) {
      const { body } = await submit({ graph, keys, wait: 30, ...extra });
      return body;
    },
    logs() {
      return workers.map((w) => outputs.get(w)?.() ?? '').join('');
    },
    async close() {
      // A worker whose shutdown fails or hangs exits non-zero by itself (src/workers/main.ts); say so, with its output.
      await Promise.all(
        workers.map(
          (w) =>
            new Promise<void>((resolve) => {
              if (w.exitCode !== null || w.signalCode !== null) return resolve();
              w.once('exit', (code) => {
                if (code !== 0 && code !== null)
                  console.error(
                    `test harness: worker ${w.pid} exited ${code} on SIGTERM:\n${outputs.get(w)?.().slice(-2000)}`,
                  );
                resolve();
              });
              w.kill('SIGTERM');
            }),
        ),
      );
      // Long polls and event streams end when the API closes. What has been seen to hold it open is a
      // keep-alive connection of this test process's own fetch (both ends in this process, no request
      // on it): it is cut after 2 s. Anything else still open then is cut too, and reported.
      const slow = setTimeout(() => {
        const open = app.websocketServer.clients.size;
        if (open > 0) console.error(`test harness: the API still had ${open} WebSocket clients 2 s into closing`);
        app.server.closeAllConnections();
      }, 2_000);
      await app.close();
      clearTimeout(slow);
    },
  };
}
