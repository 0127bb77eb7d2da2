/**
 * Busy periods: the wall time during which some I/O (spilling, restoring) was
 * under way, as opposed to the sum of each operation's duration.
 *
 * Throughput is bytes over busy time. Summing durations would count twice the
 * time two workers spend writing side by side, and report half of what the
 * disk delivered; the union of the periods counts it once. Each process keeps
 * its own periods here (exact, one clock), and they are merged across
 * processes by addBusyTime-2.lua.
 *
 * Times are milliseconds since the epoch with sub-millisecond precision
 * (`epochNow`), so periods of different threads and processes compare.
 */

/** Milliseconds since the epoch, to the microsecond: `Date.now()` is too coarse for a 1 ms read. */
export function epochNow(): number {
  return performance.timeOrigin + performance.now();
}

export class BusyPeriods {
  /** Disjoint periods, sorted by start, as [start, end] pairs. */
  private periods: [number, number][] = [];
  private bytes = 0;

  /** Notes `bytes` moved during [start, end]; overlapping or touching periods merge. */
  add(start: number, end: number, bytes = 0): void {
    this.bytes += bytes;
    if (!(end > start)) return;
    const last = this.periods.at(-1);
    // Periods almost always come in order: a period continuing the last one extends it.
    if (last && start >= last[0]) {
      if (start <= last[1]) last[1] = Math.max(last[1], end);
      else this.periods.push([start, end]);
      return;
    }
    this.periods = mergePeriods([...this.periods, [start, end]]);
  }

  /** Periods and bytes noted since the last call (periods flat: start, end, start, end, ...). */
  take(): { periods: number[]; bytes: number } {
    const out = { periods: this.periods.flat(), bytes: this.bytes };
    this.periods = [];
    this.bytes = 0;
    return out;
  }
}

/** The union of periods, as disjoint periods sorted by start. */
export function mergePeriods(periods: [number, number][]): [number, number][] {
  const sorted = periods.filter(([s, e]) => e > s).sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const [s, e] of sorted) {
    const last = out.at(-1);
    if (last && s <= last[1]) last[1] = Math.max(last[1], e);
    else out.push([s, e]);
  }
  return out;
}

/** Total length of the union of periods. */
export function busyLength(periods: [number, number][]): number {
  return mergePeriods(periods).reduce((n, [s, e]) => n + (e - s), 0);
}
