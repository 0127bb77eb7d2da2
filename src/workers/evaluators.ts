/**
 * The executor seam: how a started task is evaluated, apart from everything
 * the job loop (worker.ts) does around it (start, complete, continuations,
 * retries, spilling, lineage, events). Three kinds:
 *
 * - the event loop (EventLoopEvaluator): weft ops in this process; a
 *   synchronous op completes synchronously, with no promise made;
 * - op threads (OpThreadEvaluator): weft ops with a timeout, so a runaway
 *   op can be stopped (op-threads.ts);
 * - executors (executors/pool.ts): callables of another language, in
 *   executor processes (docs/executors.md).
 *
 * An evaluator reports one outcome per task through `done`, in any order:
 * the stored bytes of its values, or its error. It never throws for a task's
 * own failure.
 */
import type { StartedTask, TaskErrorBody } from '../queue/tasks.ts';
import type { OpRegistry } from '../ops/registry.ts';
import type { ValueBytes } from '../store/byte-chunks.ts';
import { evaluate } from './evaluate.ts';
import type { OpThreads } from './op-threads.ts';
import { TaskSignals } from './task-signals.ts';
import { decodeInputs, encodeResult } from './task-values.ts';

export type Outcome = { values: ValueBytes[]; ms: number } | { error: unknown; ms: number };

export type OutcomeSink = (task: StartedTask, outcome: Outcome) => void;

export interface Evaluator {
  /** Evaluates `tasks` of `graph`, calling `done` once for each; a promise when some outcome comes later. */
  run(graph: string, tasks: StartedTask[], done: OutcomeSink): void | Promise<void>;
  close(): Promise<void>;
}

/** A task's failure as its evaluator already described it (a thread's or an executor's report): recorded as it is. */
export class TaskFailure extends Error {
  constructor(readonly body: TaskErrorBody) {
    super(body.message);
  }
}

export class EventLoopEvaluator implements Evaluator {
  /** Ops see their task's own signal, aborted with `signal` (task-signals.ts says why). */
  private readonly signals: TaskSignals;

  constructor(
    private readonly ops: OpRegistry,
    signal: AbortSignal,
    private readonly maxValueBytes: number,
  ) {
    this.signals = new TaskSignals(signal);
  }

  run(graph: string, tasks: StartedTask[], done: OutcomeSink): void | Promise<void> {
    let pending: Promise<void>[] | undefined;
    for (const task of tasks) {
      const t0 = performance.now();
      const { ctx, end } = this.signals.context(graph, task.key);
      try {
        const value = evaluate(task.template, decodeInputs(task), this.ops, ctx);
        if (value instanceof Promise) {
          (pending ??= []).push(
            value.then(
              (v) => {
                end();
                this.finish(task, v, t0, done);
              },
              (error: unknown) => {
                end();
                done(task, { error, ms: performance.now() - t0 });
              },
            ),
          );
        } else {
          end();
          this.finish(task, value, t0, done);
        }
      } catch (error) {
        end();
        done(task, { error, ms: performance.now() - t0 });
      }
    }
    if (pending) return Promise.all(pending).then(() => undefined);
  }

  private finish(task: StartedTask, value: unknown, t0: number, done: OutcomeSink): void {
    let values: Buffer[];
    try {
      values = encodeResult(task, value, this.maxValueBytes);
    } catch (error) {
      done(task, { error, ms: performance.now() - t0 });
      return;
    }
    done(task, { values, ms: performance.now() - t0 });
  }

  async close(): Promise<void> {}
}

/** Weft ops with a timeout, each on an op thread that is terminated at the timeout. */
export class OpThreadEvaluator implements Evaluator {
  constructor(
    private readonly threads: OpThreads,
    private readonly check: (task: StartedTask, values: Buffer[]) => Buffer[],
  ) {}

  async run(graph: string, tasks: StartedTask[], done: OutcomeSink): Promise<void> {
    await Promise.all(
      tasks.map(async (task) => {
        const t0 = performance.now();
        try {
          const values = this.check(task, await this.threads.run(graph, task, task.timeoutMs ?? 0));
          done(task, { values, ms: performance.now() - t0 });
        } catch (error) {
          done(task, { error, ms: performance.now() - t0 });
        }
      }),
    );
  }

  close(): Promise<void> {
    return this.threads.close();
  }
}

/** Where tasks go that no evaluator of this worker can run: each fails with the given code and message. */
export class RefusingEvaluator implements Evaluator {
  constructor(private readonly error: (task: StartedTask) => TaskErrorBody) {}

  run(_graph: string, tasks: StartedTask[], done: OutcomeSink): void {
    for (const task of tasks) done(task, { error: new TaskFailure(this.error(task)), ms: 0 });
  }

  async close(): Promise<void> {}
}
