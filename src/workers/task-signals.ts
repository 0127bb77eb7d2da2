/**
 * Each task's own abort signal, aborted when the signal of what runs it
 * (the worker shutting down) aborts. Ops listen on `ctx.signal` (the sleep op
 * does, through timers/promises): on the worker's one long-lived signal that
 * made a listener per running task, and Node warns
 * (MaxListenersExceededWarning) past 10 on one signal, as a worker running
 * more than 10 tasks at once did; an op that never removes its listener
 * added one per task to it for good. Here the long-lived signal has one
 * listener, added once, which aborts the tasks running then; what ops add
 * goes on their task's signal, dropped with it when the task ends.
 *
 * A task's signal is made the first time an op asks for it: most ops never
 * do, and a task costs no AbortController then.
 */
import type { OpContext } from '../ops/registry.ts';

export class TaskSignals {
  /** Signals of running tasks that an op asked for. */
  private readonly live = new Set<AbortController>();

  constructor(private readonly shared: AbortSignal) {
    shared.addEventListener(
      'abort',
      () => {
        for (const task of this.live) task.abort(shared.reason);
        this.live.clear();
      },
      { once: true },
    );
  }

  /** The context of one task's ops; call `end` when the task has ended (its value or error is in). */
  context(graph: string, key: string): { ctx: OpContext; end: () => void } {
    let own: AbortController | undefined;
    const { live, shared } = this;
    const ctx: OpContext = {
      graph,
      key,
      get signal(): AbortSignal {
        if (!own) {
          own = new AbortController();
          if (shared.aborted) own.abort(shared.reason);
          else live.add(own);
        }
        return own.signal;
      },
    };
    return { ctx, end: () => own && live.delete(own) };
  }
}
