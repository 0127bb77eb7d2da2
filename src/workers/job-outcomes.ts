/**
 * The outcomes of a job's running tasks, gathered until the job loop
 * completes them (worker.ts). Completing is one script call for any number
 * of tasks (completeTasks), so tasks that finish together share it; but a
 * task never waits for a slow neighbour of its bundle: once an outcome is in,
 * `ready` says to complete it within FLUSH_MS, whatever still runs. So a
 * task's posttask event, its timing and its graph's done count follow the
 * task itself, and short tasks keep their shared round trips (a synchronous
 * op's outcome is in before `ready` is even asked).
 */
import type { StartedTask, TaskErrorBody, TaskResult } from '../queue/tasks.ts';
import { TaskFailure, type OutcomeSink } from './evaluators.ts';
import { taskError } from './task-values.ts';

/** Most time an outcome waits for others to join its completion. */
export const FLUSH_MS = 5;
/** Once outcomes hold this many bytes of results they are completed at once (big values are stored a few at a time). */
export const BATCH_BYTES = 1 << 20;
/** Errors that running the task again cannot fix. */
const NOT_RETRIED = new Set(['object_lost', 'object_failed', 'unknown_op', 'value_too_large']);

/** A failed run with retries left: [task, its run time, its error]. */
export type RetryLater = [task: StartedTask, ms: number, error: TaskErrorBody];

export interface TakenOutcomes {
  results: TaskResult[];
  retries: RetryLater[];
  /** A task failed for good (no retries left, or an error retries cannot fix): the graph fails. */
  failure: TaskErrorBody | undefined;
}

export class JobOutcomes {
  private results: TaskResult[] = [];
  private retries: RetryLater[] = [];
  private failure: TaskErrorBody | undefined;
  /** Bytes of the results not yet taken. */
  private resultBytes = 0;
  /** Tasks given to an evaluator whose outcome has not come in. */
  private running = 0;
  /** When the oldest outcome not yet taken came in (0: none is waiting). */
  private firstAt = 0;
  /** An evaluator that failed as a whole (not a task's own error): thrown by `ready`. */
  private crash: unknown;
  private wake: (() => void) | undefined;

  /** Called by evaluators, once per task, in any order. */
  readonly sink: OutcomeSink = (task, outcome) => {
    this.running--;
    if ('values' in outcome) {
      for (const b of outcome.values) this.resultBytes += b.length;
      this.results.push([task.index, outcome.ms, outcome.values, task.returns !== undefined]);
    } else if (!this.failure) {
      const error = outcome.error instanceof TaskFailure ? outcome.error.body : taskError(task, outcome.error);
      const tries = task.tries ?? 1;
      if (tries <= (task.retries ?? 0) && !NOT_RETRIED.has(error.code ?? ''))
        this.retries.push([task, outcome.ms, error]);
      else this.failure = tries > 1 ? { ...error, attempts: tries } : error;
    }
    this.firstAt ||= performance.now();
    this.wake?.();
  };

  /** Has a task failed for good? The job then starts nothing more. */
  get failed(): boolean {
    return this.failure !== undefined;
  }

  /** Are there results enough to complete before running more? */
  get full(): boolean {
    return this.resultBytes >= BATCH_BYTES;
  }

  /** Are tasks still running, or outcomes in that are not taken? The job goes on until neither. */
  get busy(): boolean {
    return this.running > 0 || this.firstAt > 0;
  }

  /** Counts `tasks` as running and hands them to `run` (an evaluator's run with this sink). */
  start(tasks: StartedTask[], run: () => void | Promise<void>): void {
    this.running += tasks.length;
    const ran = run();
    if (ran)
      ran.catch((err: unknown) => {
        this.crash = err;
        this.wake?.();
      });
  }

  /**
   * Resolves when the outcomes in should be completed: nothing runs any more,
   * a task failed for good, the results are BATCH_BYTES, or the oldest
   * outcome has waited FLUSH_MS.
   */
  async ready(): Promise<void> {
    for (;;) {
      if (this.crash !== undefined) throw this.crash;
      if (this.running <= 0 || this.failure || this.full) return;
      const waited = this.firstAt > 0 ? performance.now() - this.firstAt : 0;
      if (this.firstAt > 0 && waited >= FLUSH_MS) return;
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        if (this.firstAt > 0) timer = setTimeout(resolve, FLUSH_MS - waited);
      });
      clearTimeout(timer);
      this.wake = undefined;
    }
  }

  /** The outcomes in since the last take. */
  take(): TakenOutcomes {
    const taken = { results: this.results, retries: this.retries, failure: this.failure };
    this.results = [];
    this.retries = [];
    this.resultBytes = 0;
    this.firstAt = 0;
    return taken;
  }

  /** Resolves when every task given out has its outcome (a failed job waits for its running tasks before it ends). */
  async settled(): Promise<void> {
    while (this.running > 0 && this.crash === undefined) {
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }
}
