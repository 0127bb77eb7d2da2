/**
 * The executors of one pool of a worker: `size` processes of one command,
 * each running one batch at a time (docs/executors.md). This is the
 * evaluator for tasks of the executors' language (evaluators.ts).
 *
 * Failures around a task are told apart from the task's own:
 * - a process that dies during a batch of one task fails it with
 *   `executor_died` (retries apply, as for any failure: never re-run forever,
 *   unlike a lost worker's tasks);
 * - a batch of several tasks that dies is run again one task per batch, so
 *   only the task that kills its executor fails;
 * - a task with a timeout runs in a batch of its own, and its process is
 *   killed at the deadline (`timeout`).
 * A dead process is replaced at once; replacements that keep dying at start
 * are delayed more and more (up to 30 s) so a broken command does not spin.
 */
import { rootOp } from '../../graph/template.ts';
import { ByteChunks } from '../../store/byte-chunks.ts';
import type { StartedTask, TaskErrorBody } from '../../queue/tasks.ts';
import type { ExecutorInfo } from '../../queue/workers.ts';
import { TaskFailure, type Evaluator, type OutcomeSink } from '../evaluators.ts';
import { checkResultSizes, missingInput } from '../task-values.ts';
import { MAX_FRAME } from './frames.ts';
import {
  ExecutorDiedError,
  ExecutorProcess,
  ExecutorTimeoutError,
  type ExecutorError,
  type ExecutorResult,
  type ExecutorTask,
} from './process.ts';

export interface ExecutorPoolOptions {
  pool: string;
  command: string[];
  env: Record<string, string>;
  size: number;
  maxValueBytes: number;
}

const MAX_RESTART_DELAY_MS = 30_000;
/** Inputs one batch carries at most; a task with more goes alone. */
const BATCH_INPUT_BYTES = 256 * 2 ** 20;
/** Inputs one task may have: a frame is at most MAX_FRAME, with room for the frame around them. */
const MAX_TASK_BYTES = MAX_FRAME - 2 ** 20;

export class ExecutorPool implements Evaluator {
  lang = '';
  restarts = 0;
  private readonly processes = new Set<ExecutorProcess>();
  private readonly idle: ExecutorProcess[] = [];
  private readonly waiting: ((p: ExecutorProcess | undefined) => void)[] = [];
  /** Replacements in a row that died before saying hello. */
  private failedStarts = 0;
  private closed = false;
  private spawned = 0;

  constructor(private readonly options: ExecutorPoolOptions) {}

  /** Starts the processes and waits for their hellos; rejects, naming the command, if they cannot start. */
  async start(): Promise<void> {
    const started = Array.from({ length: this.options.size }, () => this.spawn());
    const hellos = await Promise.all(started.map((p) => p.hello));
    this.lang = hellos[0].lang;
    const other = hellos.find((h) => h.lang !== this.lang);
    if (other) throw new Error(`Executors of pool ${this.options.pool} speak ${this.lang} and ${other.lang}.`);
    this.idle.push(...started);
  }

  /** What the registry shows of these executors (GET /v1/workers). */
  info(): ExecutorInfo {
    const alive = [...this.processes].filter((p) => p.alive).length;
    const busy = this.processes.size - this.idle.length;
    return { pool: this.options.pool, lang: this.lang, processes: alive, busy, restarts: this.restarts };
  }

  /**
   * Tasks without a timeout go in batches of at most BATCH_INPUT_BYTES of
   * inputs (a frame is at most 2 GiB, and big inputs are better spread over
   * the processes), each task with a timeout in a batch of its own.
   */
  async run(graph: string, tasks: StartedTask[], done: OutcomeSink): Promise<void> {
    const batches: StartedTask[][] = [];
    let batch: StartedTask[] = [];
    let bytes = 0;
    const timed: StartedTask[] = [];
    for (const task of tasks) {
      const lost = missingInput(task);
      if (lost) {
        done(task, { error: lost, ms: 0 });
        continue;
      }
      const size = task.inputs.reduce((n, b) => n + (b?.length ?? 0), task.templateBytes?.length ?? 0);
      if (size > MAX_TASK_BYTES) {
        done(task, { error: this.tooBig(task, size), ms: 0 });
        continue;
      }
      if (task.timeoutMs) {
        timed.push(task);
        continue;
      }
      if (batch.length > 0 && bytes + size > BATCH_INPUT_BYTES) {
        batches.push(batch);
        batch = [];
        bytes = 0;
      }
      batch.push(task);
      bytes += size;
    }
    if (batch.length > 0) batches.push(batch);
    await Promise.all([
      ...batches.map((b) => this.runBatch(graph, b, done)),
      ...timed.map((task) => this.runBatch(graph, [task], done, task.timeoutMs)),
    ]);
  }

  private tooBig(task: StartedTask, size: number): TaskFailure {
    return new TaskFailure({
      key: task.key,
      op: rootOp(task.template),
      code: 'value_too_large',
      message: `The task's inputs are ${size} bytes; an executor takes at most ${MAX_TASK_BYTES} bytes of inputs for one task (a frame of the protocol is under 2 GiB). Split the data into smaller chunks.`,
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const wake of this.waiting.splice(0)) wake(undefined);
    await Promise.all([...this.processes].map((p) => p.close()));
  }

  private async runBatch(graph: string, tasks: StartedTask[], done: OutcomeSink, deadlineMs?: number): Promise<void> {
    const executor = await this.acquire();
    const t0 = performance.now();
    let results: ExecutorResult[] | undefined;
    let failure: Error | undefined;
    try {
      results = await executor.run(
        tasks.map((task, id) => executorTask(graph, task, id)),
        deadlineMs,
      );
    } catch (err) {
      failure = err as Error;
    } finally {
      this.release(executor);
    }
    if (results) return this.report(tasks, results, performance.now() - t0, done);
    if (failure instanceof ExecutorDiedError && tasks.length > 1 && !this.closed) {
      // Which task killed it is unknown: each runs again alone, and only that one fails.
      for (const task of tasks) await this.runBatch(graph, [task], done, deadlineMs);
      return;
    }
    const ms = performance.now() - t0;
    for (const task of tasks) done(task, { error: this.failureOf(task, failure!), ms });
  }

  private report(tasks: StartedTask[], results: ExecutorResult[], ms: number, done: OutcomeSink): void {
    const byId = new Map(results.map((r) => [r.id, r]));
    tasks.forEach((task, id) => {
      const result = byId.get(id);
      const taken = result?.ms ?? ms / tasks.length;
      if (!result) {
        done(task, { error: this.protocolError(task, 'its executor answered without a result for it'), ms: taken });
      } else if (result.ok) {
        const values = result.values.map((v) =>
          v instanceof ByteChunks || Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength),
        );
        if (values.length !== (task.returns ?? 1)) {
          done(task, {
            error: this.protocolError(task, `its executor gave ${values.length} values for ${task.returns ?? 1}`),
            ms: taken,
          });
          return;
        }
        try {
          done(task, { values: checkResultSizes(task, values, this.options.maxValueBytes), ms: taken });
        } catch (error) {
          done(task, { error, ms: taken });
        }
      } else {
        done(task, { error: new TaskFailure(executorErrorBody(task, result.error, this.lang)), ms: taken });
      }
    });
  }

  private failureOf(task: StartedTask, err: Error): TaskFailure {
    const code = err instanceof ExecutorTimeoutError ? 'timeout' : 'executor_died';
    return new TaskFailure({ key: task.key, op: rootOp(task.template), message: err.message, code, lang: this.lang });
  }

  private protocolError(task: StartedTask, problem: string): TaskFailure {
    return new TaskFailure({
      key: task.key,
      op: rootOp(task.template),
      code: 'executor_died',
      message: `The task has no result: ${problem} (an executor that does not follow docs/executors.md).`,
    });
  }

  private spawn(): ExecutorProcess {
    const n = ++this.spawned;
    const executor = new ExecutorProcess(this.options.command, this.options.env, `${this.options.pool}#${n}`);
    this.processes.add(executor);
    executor.hello.then(
      () => (this.failedStarts = 0),
      () => this.failedStarts++,
    );
    return executor;
  }

  private async acquire(): Promise<ExecutorProcess> {
    for (;;) {
      if (this.closed) throw new ExecutorDiedError('The worker is shutting down.');
      const executor = this.idle.pop() ?? (await new Promise<ExecutorProcess | undefined>((r) => this.waiting.push(r)));
      if (!executor) continue;
      try {
        await executor.hello;
        return executor;
      } catch {
        this.release(executor);
      }
    }
  }

  /** Gives a process back; a dead one is replaced first (after a delay when replacements keep dying at start). */
  private release(executor: ExecutorProcess): void {
    if (executor.alive) {
      this.handBack(executor);
      return;
    }
    this.processes.delete(executor);
    if (this.closed) return;
    this.restarts++;
    const delay = this.failedStarts === 0 ? 0 : Math.min(MAX_RESTART_DELAY_MS, 100 * 2 ** this.failedStarts);
    const replace = () => {
      if (!this.closed) this.handBack(this.spawn());
    };
    if (delay === 0) replace();
    else setTimeout(replace, delay).unref();
  }

  private handBack(executor: ExecutorProcess): void {
    const next = this.waiting.shift();
    if (next) next(executor);
    else this.idle.push(executor);
  }
}

function executorTask(graph: string, task: StartedTask, id: number): ExecutorTask {
  return {
    id,
    graph,
    key: task.key,
    template: task.templateBytes!,
    inputs: task.inputs as Buffer[],
    returns: task.returns ?? null,
  };
}

/** The graph's error for a task whose callable failed in its executor (docs/errors.md, task errors). */
function executorErrorBody(task: StartedTask, e: ExecutorError, lang: string): TaskErrorBody {
  const type = typeof e.type === 'string' ? e.type : 'Error';
  const message = typeof e.message === 'string' ? e.message : '';
  return {
    key: typeof e.key === 'string' ? e.key : task.key,
    op: typeof e.op === 'string' && e.op !== '' ? e.op : rootOp(task.template),
    message: message ? `${type}: ${message}` : type,
    ...(typeof e.traceback === 'string' ? { stack: e.traceback } : {}),
    code: typeof e.code === 'string' ? e.code : 'task_error',
    type,
    lang,
    // A pickled exception of 256 KiB or more comes out of a big frame as ByteChunks.
    ...(e.exception instanceof ByteChunks
      ? { exception: e.exception.join().toString('base64') }
      : e.exception instanceof Uint8Array
        ? { exception: Buffer.from(e.exception).toString('base64') }
        : {}),
  };
}
