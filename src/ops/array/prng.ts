/**
 * The seeded random number generator behind array.random and array.randint:
 * xoshiro128** seeded through splitmix32, all in 32-bit integer arithmetic, so
 * the same seed gives the same stream on every platform and in every process.
 */

/** xoshiro128** (Blackman and Vigna), seeded through splitmix32: small, fast, and the same stream on every platform. */
export class Xoshiro128 {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    // The low and high 32 bits of the seed seed two splitmix32 streams, so distinct safe-integer seeds give distinct states.
    const lo = splitmix32(seed >>> 0);
    const hi = splitmix32((Math.floor(seed / 2 ** 32) ^ 0x6a09e667) >>> 0);
    this.s0 = lo();
    this.s1 = lo();
    this.s2 = hi();
    this.s3 = hi();
  }

  /** The next 32 random bits as an unsigned integer. */
  next(): number {
    const s1 = this.s1;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits, as numpy's random_sample. */
  double(): number {
    return ((this.next() >>> 5) * 67108864 + (this.next() >>> 6)) / 9007199254740992;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

function splitmix32(state: number): () => number {
  let a = state | 0;
  return () => {
    a = (a + 0x9e3779b9) | 0;
    let t = a ^ (a >>> 16);
    t = Math.imul(t, 0x21f0aaad);
    t ^= t >>> 15;
    t = Math.imul(t, 0x735a2d97);
    return (t ^ (t >>> 15)) >>> 0;
  };
}
