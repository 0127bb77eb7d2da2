/**
 * Lost objects come back from lineage, as Ray reconstructs lost objects: when
 * a task's input of its own graph is gone (its key deleted, its spill file
 * removed or cut short), the worker computes it again from the task that
 * made it, and from that task's inputs in turn if they are gone too, while
 * the graph runs (its specs are its lineage; they go when it ends). The value
 * is made for the task that needs it and not stored: lost values are rare,
 * and storing would have to redo the store's accounting.
 *
 * What has no lineage stays lost and fails the task with `object_lost`: data
 * nodes (values given in the graph), objects of other graphs (`$oid`), and
 * anything of a graph that has ended.
 */
import type { Slot } from '../graph/plan.ts';
import type { StartedTask, TaskState } from '../queue/tasks.ts';
import type { SpillFiles } from '../store/spill.ts';
import { parseLocation, storedForm } from '../store/stored-bytes.ts';

/** Most tasks one lost input may make run again: a chain longer than this is reported lost. */
const MAX_RECOMPUTE = 10_000;

export class Lineage {
  /** Values recomputed since the last `take()`, for the stats. */
  private recomputed = 0;

  /**
   * `evaluate` computes a task's stored values the way the worker runs it
   * (in the event loop, on an op thread or in an executor: evaluators.ts).
   */
  constructor(
    private readonly tasks: TaskState,
    private readonly files: SpillFiles,
    private readonly evaluate: (graph: string, task: StartedTask) => Promise<Buffer[]>,
  ) {}

  /**
   * Reads spilled inputs back from disk (all at once: the reads overlap) and
   * computes lost ones of the task's own graph again. What cannot be had
   * stays null, and decodeInputs reports it as `object_lost`. Inputs passed
   * by reference have been fetched already (TaskState.fetchReferenced).
   */
  async complete(graph: string, task: StartedTask, budget = { left: MAX_RECOMPUTE }): Promise<void> {
    await Promise.all(
      task.inputs.map(async (input, i) => {
        if (storedForm(input) !== 'spilled') return;
        try {
          task.inputs[i] = await this.files.readOnThread(parseLocation(input!));
        } catch {
          task.inputs[i] = null; // the spill file is gone or short: lost
        }
      }),
    );
    for (let i = 0; i < task.inputs.length; i++) {
      // A stub with no location left is as lost as a missing value.
      const form = storedForm(task.inputs[i]);
      if (form !== 'missing' && form !== 'stub') continue;
      task.inputs[i] = await this.recompute(graph, task.deps[i], budget);
    }
  }

  /** Values recomputed since the last call. */
  take(): number {
    const n = this.recomputed;
    this.recomputed = 0;
    return n;
  }

  private async recompute(graph: string, dep: Slot, budget: { left: number }): Promise<Buffer | null> {
    if (typeof dep === 'string' || budget.left <= 0) return null;
    const [index, output] = typeof dep === 'number' ? [dep, undefined] : dep;
    const producer = await this.tasks.lineage(graph, index);
    if (!producer) return null;
    // Its inputs (readTask) may be passed by reference, as a start's are.
    await this.tasks.fetchReferenced([producer]);
    budget.left--;
    await this.complete(graph, producer, budget);
    if (producer.inputs.some((v) => v === null)) return null;
    const encoded = await this.evaluate(graph, producer);
    this.recomputed++;
    return encoded[output ?? 0] ?? null;
  }
}
