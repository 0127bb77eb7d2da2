/**
 * A task as a worker handles it: started by a start script (its spec and
 * input values read in Redis), run, and its result handed to completeTasks.
 * The script wrappers (src/queue/scripts/*.ts) produce and take these; the
 * worker imports them through src/queue/tasks.ts.
 */
import type { Task } from '../graph/task.ts';
import type { components } from '../shared/openapi-types.ts';
import type { ValueBytes } from '../store/byte-chunks.ts';

/** Who runs tasks, for the pretask and posttask events. */
export interface Runner {
  worker: string;
  attempt: number;
}

/** What a worker needs to run one task: the task (src/graph/task.ts), read back from its spec, and its inputs. */
export interface StartedTask extends Task {
  /** Its node index in the graph. */
  index: number;
  /** Set with `lang`: the template as stored, for the executor. */
  templateBytes?: Buffer;
  /** Which run of the task this is (1 for the first; an op error with retries left gives it another). */
  tries?: number;
  /** Encoded input values by slot; null where the object is missing (src/store/stored-bytes.ts says what else they may be). */
  inputs: (Buffer | null)[];
}

/**
 * A finished task: its index, its run time (ms) and its encoded value, or
 * values for a multiple-return task (`multi`: stored as `<index>:<j>`).
 */
export type TaskResult = [index: number, ms: number, values: ValueBytes[], multi?: boolean];

/** What a failed or cancelled graph records as its error (TaskError of the API). */
export type TaskErrorBody = components['schemas']['TaskError'];
