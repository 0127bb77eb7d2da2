/**
 * Waiting for graphs to end without polling: one pub/sub subscription per
 * process on the channel that completeTasks/endGraph publish to, and a map of
 * graph id -> waiters.
 *
 * A message is the graph id, and for a graph that ended done with a small
 * result, '\n' and its output values (notifiedOutcome in finishGraph.lua):
 * a waiter answers from them without reading the graph again.
 */
import type { Redis } from 'ioredis';
import { finishedChannel } from './keys.ts';

export interface Watch {
  /** Resolves true when the graph's end is published, false after the timeout. */
  ended(ms: number): Promise<boolean>;
  /** The stored bytes of the output values (in `outidx` order) when the end's notification carried them. */
  readonly values: Buffer[] | undefined;
  stop(): void;
}

type Wake = (values: Buffer[] | undefined) => void;

export class FinishWatcher {
  private readonly waiters = new Map<string, Set<Wake>>();
  readonly ready: Promise<unknown>;

  constructor(
    private readonly subscriber: Redis,
    prefix: string,
  ) {
    const channel = Buffer.from(finishedChannel(prefix));
    this.ready = subscriber.subscribe(finishedChannel(prefix));
    subscriber.on('messageBuffer', (ch: Buffer, message: Buffer) => {
      if (!ch.equals(channel)) return;
      const cut = message.indexOf(0x0a);
      const graph = message.toString('latin1', 0, cut < 0 ? message.length : cut);
      const set = this.waiters.get(graph);
      if (!set) return;
      this.waiters.delete(graph);
      const values = cut < 0 ? undefined : notifiedValues(message.subarray(cut + 1));
      for (const wake of set) wake(values);
    });
  }

  /**
   * Starts listening for the end of `graph`. Call it before the graph can end
   * (before registering it) and no end is missed; otherwise check the status
   * after calling it, as `wait` does. Needs `ready` to have resolved.
   */
  watch(graph: string): Watch {
    let wake!: Wake;
    let values: Buffer[] | undefined;
    const woken = new Promise<true>(
      (resolve) =>
        (wake = (carried) => {
          values = carried;
          resolve(true);
        }),
    );
    let set = this.waiters.get(graph);
    if (!set) this.waiters.set(graph, (set = new Set()));
    set.add(wake);
    const stop = () => {
      set.delete(wake);
      if (set.size === 0 && this.waiters.get(graph) === set) this.waiters.delete(graph);
    };
    return {
      stop,
      get values() {
        return values;
      },
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
    for (const set of sets) for (const wake of set) wake(undefined);
  }

  close(): void {
    this.wakeAll();
    this.subscriber.disconnect();
  }
}

/** The values of a notification: a count, then each value as its length and bytes (all 4-byte big-endian lengths). */
function notifiedValues(bytes: Buffer): Buffer[] | undefined {
  if (bytes.length < 4) return undefined;
  const count = bytes.readUInt32BE(0);
  const values: Buffer[] = [];
  let at = 4;
  for (let i = 0; i < count; i++) {
    if (at + 4 > bytes.length) return undefined;
    const length = bytes.readUInt32BE(at);
    at += 4;
    if (at + length > bytes.length) return undefined;
    values.push(bytes.subarray(at, at + length));
    at += length;
  }
  return at === bytes.length ? values : undefined;
}
