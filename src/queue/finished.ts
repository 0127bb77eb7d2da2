/**
 * Waiting for graphs to end without polling: one pub/sub subscription per
 * process on the channel that completeTasks/endGraph publish to, and a map of
 * graph id -> waiters.
 */
import type { Redis } from 'ioredis';
import { finishedChannel } from './keys.ts';

export interface Watch {
  /** Resolves true when the graph's end is published, false after the timeout. */
  ended(ms: number): Promise<boolean>;
  stop(): void;
}

export class FinishWatcher {
  private readonly waiters = new Map<string, Set<() => void>>();
  readonly ready: Promise<unknown>;

  constructor(
    private readonly subscriber: Redis,
    prefix: string,
  ) {
    const channel = finishedChannel(prefix);
    this.ready = subscriber.subscribe(channel);
    subscriber.on('message', (ch: string, graph: string) => {
      if (ch !== channel) return;
      const set = this.waiters.get(graph);
      if (!set) return;
      this.waiters.delete(graph);
      for (const wake of set) wake();
    });
  }

  /**
   * Starts listening for the end of `graph`. Call it before the graph can end
   * (before registering it) and no end is missed; otherwise check the status
   * after calling it, as `wait` does. Needs `ready` to have resolved.
   */
  watch(graph: string): Watch {
    let wake!: () => void;
    const woken = new Promise<true>((resolve) => (wake = () => resolve(true)));
    let set = this.waiters.get(graph);
    if (!set) this.waiters.set(graph, (set = new Set()));
    set.add(wake);
    const stop = () => {
      set.delete(wake);
      if (set.size === 0 && this.waiters.get(graph) === set) this.waiters.delete(graph);
    };
    return {
      stop,
      async ended(ms) {
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
        try {
          return await Promise.race([woken, timedOut]);
        } finally {
          clearTimeout(timer);
        }
      },
    };
  }

  /** Resolves true once `isFinished` says the graph ended, false after `ms`. */
  async wait(graph: string, ms: number, isFinished: () => Promise<boolean>): Promise<boolean> {
    await this.ready;
    const watch = this.watch(graph);
    try {
      if (await isFinished()) return true;
      return ms > 0 && (await watch.ended(ms));
    } finally {
      watch.stop();
    }
  }

  /**
   * Wakes every waiter now, as if its graph had ended: a closing API answers
   * its long polls with the status as it is (clients ask again elsewhere)
   * instead of holding its shutdown for their whole wait.
   */
  wakeAll(): void {
    const sets = [...this.waiters.values()];
    this.waiters.clear();
    for (const set of sets) for (const wake of set) wake();
  }

  close(): void {
    this.wakeAll();
    this.subscriber.disconnect();
  }
}
