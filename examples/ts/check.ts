/** What every example shares: the service URL and a check that fails the run with a message. */
export const url = process.env.WEFT_URL ?? 'http://127.0.0.1:8080';

export function check(ok: boolean, what: string): void {
  if (!ok) {
    console.error(`MISMATCH: ${what}`);
    process.exit(1);
  }
}

/** Deterministic pseudo-random integers in [lo, hi) (mulberry32), so runs are repeatable. */
export function randint(lo: number, hi: number, n: number, seed: number): number[] {
  let a = seed >>> 0;
  return Array.from({ length: n }, () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return lo + Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * (hi - lo));
  });
}
