/**
 * The API's rehearsal at start (GraphSubmitter.rehearse): the code a
 * submission runs is compiled for the graphs clients send, big and small, so
 * small graphs do not keep throwing compiled code away. Read off V8's own
 * trace of the real API process (`--trace-deopt`; compilation on the main
 * thread, so the count does not depend on timing).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { describe, expect, inject, it } from 'vitest';
import { freePort } from './helpers/redis.ts';
import { waitFor } from './helpers/wait.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

describe("the API's rehearsal", () => {
  it('leaves planning compiled for small graphs: 400 of them deoptimize almost nothing', async () => {
    const port = await freePort();
    const api = spawn(
      process.execPath,
      ['--trace-deopt', '--no-concurrent-recompilation', '--import', 'tsx', 'src/api/main.ts'],
      {
        cwd: root,
        env: {
          ...process.env,
          PORT: String(port),
          REDIS_URL: inject('redisUrl'),
          WEFT_PREFIX: `t${randomBytes(4).toString('hex')}`,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    api.stdout.on('data', (d) => (output += d));
    api.stderr.on('data', (d) => (output += d));
    try {
      await waitFor('the API to listen', () => output.includes('listening'), { timeoutMs: 30_000 });
      const started = output.length;
      const post = async (body: unknown) =>
        (await fetch(`http://127.0.0.1:${port}/v1/graphs`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        }).then((r) => r.json())) as any;
      // The latency benchmark's graphs: a data key alone (answered at once), and three tasks that fuse into one
      // (registered and queued; no worker runs here, planning is what is looked at).
      const compute = {
        x: 1,
        y: { $op: 'inc', args: [{ $ref: 'x' }] },
        z: { $op: 'add', args: [{ $ref: 'x' }, { $ref: 'y' }] },
        w: { $op: 'mul', args: [{ $ref: 'z' }, 2] },
      };
      for (let i = 0; i < 200; i++) {
        expect((await post({ graph: { x: i }, keys: 'x', wait: 5 })).result).toBe(i);
        expect((await post({ graph: compute, keys: 'w' })).id).toEqual(expect.any(String));
      }
      const deopts = output.slice(started).match(/\[bailout \(kind: deopt[^\n]*/g) ?? [];
      // Without the small graphs in the rehearsal: more than 2 per graph, all in src/graph/plan.ts
      // (and 1 per graph in callsUnknownOp when the rehearsal checked ops with a function of its own).
      expect(deopts.length, deopts.slice(0, 5).join('\n')).toBeLessThan(40);
    } finally {
      api.kill('SIGTERM');
      await new Promise((r) => api.once('exit', r));
    }
  });
});
