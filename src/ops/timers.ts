/**
 * Waiting longer than Node's timers can: a setTimeout of more than 2^31 - 1
 * ms (about 24.8 days) fires after 1 ms instead (TimeoutOverflowWarning), so
 * a long wait is a chain of timers no longer than that.
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** The longest delay a Node timer holds. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Resolves after `ms` milliseconds (Infinity: never), or rejects with an
 * AbortError when `signal` aborts. `maxTimerMs` and `onTimer` (given each
 * timer's delay) are for tests of the chaining.
 */
export async function sleepFor(
  ms: number,
  signal?: AbortSignal,
  maxTimerMs = MAX_TIMER_MS,
  onTimer: (ms: number) => void = () => {},
): Promise<void> {
  const end = performance.now() + ms;
  for (;;) {
    signal?.throwIfAborted();
    const left = end - performance.now();
    if (left <= 0) return;
    const delay = Math.min(Math.ceil(left), maxTimerMs);
    onTimer(delay);
    await sleep(delay, undefined, { signal });
  }
}
