/**
 * Waiting for graphs to end without polling: one pub/sub subscription per
 * process on the channel that completeTasks/endGraph publish to, and a map of
 * graph id -> waiters.
 */
import type { Redis } from 'ioredis';
import { finishedChannel } from './keys.ts';

export class FinishWatcher {
  private readonly waiters = new Map<string, Set<() => void>>();
  private ready: Promise<unknown>;

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
   * Resolves true when `isFinished` says the graph ended, false after `ms`.
   * `isFinished` is checked after subscribing, so a finish between the check
   * and the wait is never missed.
   */
  async wait(graph: string, ms: number, isFinished: () => Promise<boolean>): Promise<boolean> {
    await this.ready;
    let wake!: () => void;
    const woken = new Promise<void>((resolve) => (wake = resolve));
    let set = this.waiters.get(graph);
    if (!set) this.waiters.set(graph, (set = new Set()));
    set.add(wake);
    let timer: NodeJS.Timeout | undefined;
    try {
      if (await isFinished()) return true;
      if (ms <= 0) return false;
      const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
      return await Promise.race([woken.then(() => true as const), timedOut]);
    } finally {
      clearTimeout(timer);
      set.delete(wake);
      if (set.size === 0 && this.waiters.get(graph) === set) this.waiters.delete(graph);
    }
  }

  close(): void {
    this.subscriber.disconnect();
  }
}
