/**
 * A value's bytes in the pieces they arrived in, never joined: a result of
 * megabytes read from an executor's pipe 64 KiB at a time goes to Redis as
 * these pieces (src/queue/uncopied.ts), so Node never copies it. Whatever
 * needs the value in one buffer (an input recomputed by lineage, a value
 * small enough to pass through a script's arguments) joins it.
 */
export class ByteChunks {
  constructor(
    readonly chunks: readonly Buffer[],
    readonly length: number,
  ) {}

  join(): Buffer {
    return this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks as Buffer[], this.length);
  }
}

/** A stored value's bytes: one buffer, or the chunks it came in. */
export type ValueBytes = Buffer | ByteChunks;

/** The value's bytes in one buffer (a copy only for chunks). */
export function joined(value: ValueBytes): Buffer {
  return value instanceof ByteChunks ? value.join() : value;
}

/** The value's bytes as buffers to write one after the other. */
export function pieces(value: ValueBytes): readonly Buffer[] {
  return value instanceof ByteChunks ? value.chunks : [value];
}
