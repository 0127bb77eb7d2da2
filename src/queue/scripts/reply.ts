/**
 * Reads a script's flat reply front to back. Lua returns one flat array (a
 * count, then that many items, then the next part...); a wrapper reads it
 * with these named steps instead of computing indexes, so the order it reads
 * in is the order the script's header documents.
 */
export class ReplyReader {
  private at: number;

  constructor(
    private readonly reply: readonly unknown[],
    start = 0,
  ) {
    this.at = start;
  }

  /** Whether everything has been read. */
  get done(): boolean {
    return this.at >= this.reply.length;
  }

  number(): number {
    return Number(this.reply[this.at++]);
  }

  /** A string (replies of Buffer variants hold strings as bytes). */
  string(): string {
    return String(this.reply[this.at++]);
  }

  /** Bytes, or null where Lua returned false (a missing value). */
  bytes(): Buffer | null {
    return (this.reply[this.at++] as Buffer | null) ?? null;
  }

  /** The next `n` items, each read by `read`. */
  times<T>(n: number, read: () => T): T[] {
    const out = new Array<T>(n);
    for (let i = 0; i < n; i++) out[i] = read();
    return out;
  }

  /** A count, then that many items, each read by `read`. */
  list<T>(read: () => T): T[] {
    return this.times(this.number(), read);
  }
}
