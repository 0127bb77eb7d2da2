/**
 * Tasks with a timeout run on op threads (op-thread.ts), one task per thread
 * at a time. A task past its timeout has its thread terminated: that is the
 * only way to stop a synchronous op that never returns, and it stops nothing
 * else. A new thread takes its place when the next task needs one.
 */
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { StartedTask, TaskErrorBody } from '../queue/tasks.ts';
import { TaskFailure } from './evaluators.ts';

/** A task stopped at its timeout; the graph records code `timeout`. */
export class TaskTimeoutError extends Error {
  override readonly name = 'TaskTimeoutError';
  readonly code = 'timeout';
}

interface Slot {
  thread: Worker;
  ready: Promise<void>;
  busy: boolean;
}

export class OpThreads {
  private readonly slots: Slot[] = [];
  private readonly waiting: (() => void)[] = [];
  private nextId = 0;
  private closed = false;

  constructor(
    private readonly opModules: string[],
    private readonly size: number,
  ) {}

  /** Runs a task on a free thread; its encoded results, or a rejection: TaskTimeoutError, TaskFailure (the thread's report of the task's error). */
  async run(graph: string, task: StartedTask, timeoutMs: number): Promise<Buffer[]> {
    const slot = await this.acquire();
    const id = this.nextId++;
    try {
      return await new Promise<Buffer[]>((resolve, reject) => {
        const timer = setTimeout(() => {
          cleanup();
          // The only way to stop an op that does not return: the thread goes, a new one replaces it.
          this.replace(slot);
          reject(
            new TaskTimeoutError(
              `The task ran longer than its timeout of ${timeoutMs} ms and was stopped (raise "timeout_ms" in the task's options or options.task_timeout_ms if it needs longer).`,
            ),
          );
        }, timeoutMs);
        const onMessage = (m: { id?: number; values?: Uint8Array[]; error?: TaskErrorBody }) => {
          if (m.id !== id) return;
          cleanup();
          if (m.error) reject(new TaskFailure(m.error));
          else resolve(m.values!.map((v) => Buffer.from(v.buffer, v.byteOffset, v.byteLength)));
        };
        const onError = (err: Error) => {
          cleanup();
          this.replace(slot);
          reject(err);
        };
        const cleanup = () => {
          clearTimeout(timer);
          slot.thread.off('message', onMessage);
          slot.thread.off('error', onError);
        };
        slot.thread.on('message', onMessage);
        slot.thread.on('error', onError);
        // Inputs are copied: their buffers may be views of larger ones the worker still uses.
        const inputs = task.inputs.map((b) => (b === null ? null : new Uint8Array(b)));
        slot.thread.postMessage({ id, graph, task: { ...task, inputs } });
      });
    } finally {
      this.release(slot);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.splice(0).map((s) => s.thread.terminate()));
  }

  private async acquire(): Promise<Slot> {
    for (;;) {
      if (this.closed) throw new Error('The worker is shutting down.');
      let slot = this.slots.find((s) => !s.busy);
      if (!slot && this.slots.length < this.size) {
        slot = this.spawn();
        this.slots.push(slot);
      }
      if (slot) {
        slot.busy = true;
        await slot.ready;
        return slot;
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  private release(slot: Slot): void {
    slot.busy = false;
    this.waiting.shift()?.();
  }

  private spawn(): Slot {
    const thread = new Worker(new URL('./thread-boot.mjs', import.meta.url), {
      // op-thread.ts under tsx, op-thread.js compiled (dist/): the extension of this module.
      workerData: {
        entry: new URL(`./op-thread${extname(fileURLToPath(import.meta.url))}`, import.meta.url).href,
        opModules: this.opModules,
      },
    });
    thread.unref();
    const ready = new Promise<void>((resolve, reject) => {
      thread.once('message', () => resolve());
      thread.once('error', reject);
    });
    ready.catch(() => {});
    return { thread, ready, busy: false };
  }

  /** Swaps a slot's thread for a fresh one (after a timeout or a crash). */
  private replace(slot: Slot): void {
    void slot.thread.terminate();
    const fresh = this.spawn();
    slot.thread = fresh.thread;
    slot.ready = fresh.ready;
  }
}
