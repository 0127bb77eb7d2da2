/**
 * The task model: what a task is and how it runs, defined once here and
 * carried from parsing to the worker.
 *
 *   parse     a task node has its own options (TaskOptions, types.ts), a
 *             request the graph's (graphTaskDefaults, below)
 *   plan      each planned task is a Task (key, inputs, returns, language)
 *             with its options, the graph's applied (withDefaults); it keeps
 *             its node and the slots of its references, and its template is
 *             made from them (plannedTemplate in plan.ts)
 *   register  pool and priority become its class, which places it in a queue
 *             (src/queue/dispatch.ts); the rest is its spec (src/queue/spec.ts:
 *             a Task and its dependents, the template written from the node)
 *   start     a worker gets a StartedTask: the Task read back from its spec,
 *             with its inputs (src/queue/started.ts)
 *
 * A task's op, for errors and events, is its template's outermost call
 * (rootOp in template.ts).
 */
import type { components } from '../shared/openapi-types.ts';
import type { Slot } from './plan.ts';
import type { Template } from './template.ts';
import type { TaskOptions } from './types.ts';

/** The options a worker needs: retries and the timeout travel in a task's spec; pool and priority only place it in a queue. */
export type RunOptions = Pick<TaskOptions, 'retries' | 'timeoutMs'>;

/** A task as every stage after planning knows it. */
export interface Task extends RunOptions {
  /** Its key in the graph: events and errors name it. */
  key: string;
  /** What it computes: its node tree with references replaced by input slots. */
  template: Template;
  /** Its inputs, by slot. */
  deps: Slot[];
  /** Set for a multiple-return task: the number of values it returns. */
  returns?: number;
  /** The language of a task an executor runs (`$call`: docs/executors.md); absent for weft ops. */
  lang?: string;
}

const OPTION_FIELDS = ['retries', 'timeoutMs', 'pool', 'priority'] as const satisfies readonly (keyof TaskOptions)[];

/** The options that apply to a task: its own, else its graph's. Fields neither sets are left out. */
export function withDefaults(own: TaskOptions | undefined, graph: TaskOptions | undefined): TaskOptions {
  const out: TaskOptions = {};
  for (const field of OPTION_FIELDS) {
    const value = own?.[field] ?? graph?.[field];
    if (value !== undefined) Object.assign(out, { [field]: value });
  }
  return out;
}

type GraphOptions = components['schemas']['GraphRequest']['options'];

/**
 * A request's graph `options` as its tasks' defaults: the same fields a task's
 * own "options" sets, the timeout named `task_timeout_ms` at graph level.
 */
export function graphTaskDefaults(options: GraphOptions): TaskOptions {
  return withDefaults(
    {
      retries: options?.retries,
      timeoutMs: options?.task_timeout_ms,
      pool: options?.pool,
      priority: options?.priority,
    },
    undefined,
  );
}
