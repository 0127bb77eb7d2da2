/**
 * A task as a worker handles it: started by a start script (its spec and
 * input values read in Redis), run, and its result handed to completeTasks.
 * The script wrappers (src/queue/scripts/*.ts) produce and take these; the
 * worker imports them through src/queue/tasks.ts.
 */
import type { Slot } from '../graph/plan.ts';
import type { Template } from '../graph/template.ts';

/** Who runs tasks, for the pretask and posttask events. */
export interface Runner {
  worker: string;
  attempt: number;
}

/** What a worker needs to run one task. */
export interface StartedTask {
  index: number;
  key: string;
  deps: Slot[];
  template: Template;
  /** Set for a multiple-return task. */
  returns?: number;
  /** Runs again after its op throws, this many times at most. */
  retries?: number;
  /** A run longer than this (ms) is stopped and fails with `timeout`. */
  timeoutMs?: number;
  /** The language of a task an executor runs (`$call`: docs/executors.md); absent for weft ops. */
  lang?: string;
  /** Set with `lang`: the template as stored, for the executor. */
  templateBytes?: Buffer;
  /** Which run of the task this is (1 for the first; an op error with retries left gives it another). */
  tries?: number;
  /** Encoded input values by slot; null where the object is missing (src/store/stored-bytes.ts says what else they may be). */
  inputs: (Buffer | null)[];
}

/** A finished task: its index, its run time (ms) and its encoded value, or values for a multiple-return task. */
export type TaskResult = [number, number, Buffer[]];

/** What a failed or cancelled graph records as its error (the API's TaskError). */
export interface TaskErrorBody {
  message: string;
  key?: string;
  op?: string;
  stack?: string;
  code?: string;
  [more: string]: unknown;
}
