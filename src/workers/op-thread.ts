/**
 * An op thread: runs tasks that have a timeout, one at a time, so that a
 * runaway op (an endless loop never yields to a timer) can be stopped by
 * terminating this thread, while the worker's other tasks go on.
 *
 * Messages in: {id, graph, task} (inputs as the store's bytes). Out: {ready}
 * once the ops are loaded, then per task {id, values} (encoded results,
 * transferred) or {id, error} (the graph's error body).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadRegistry } from '../ops/load.ts';
import type { StartedTask } from '../queue/tasks.ts';
import { evaluate } from './evaluate.ts';
import { TaskSignals } from './task-signals.ts';
import { decodeInputs, encodeResult, taskError } from './task-values.ts';

const port = parentPort!;
const ops = await loadRegistry((workerData as { opModules: string[] }).opModules);
// Never aborted: a task is stopped by terminating its thread. Its ops still get a signal of their own (task-signals.ts).
const signals = new TaskSignals(new AbortController().signal);

port.on('message', async ({ id, graph, task }: { id: number; graph: string; task: StartedTask }) => {
  const { ctx, end } = signals.context(graph, task.key);
  try {
    task.inputs = task.inputs.map((b) => (b === null ? null : Buffer.from(b.buffer, b.byteOffset, b.byteLength)));
    const value = await evaluate(task.template, decodeInputs(task), ops, ctx);
    // Exact copies, transferred: the encoder's buffers are views into memory it reuses.
    const values = encodeResult(task, value).map((v) => new Uint8Array(v));
    port.postMessage(
      { id, values },
      values.map((v) => v.buffer as ArrayBuffer),
    );
  } catch (err) {
    port.postMessage({ id, error: taskError(task, err) });
  } finally {
    end();
  }
});
port.postMessage({ ready: true });
