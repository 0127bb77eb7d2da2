/**
 * An HSET of many fields built as the bytes Redis reads: ioredis makes each
 * Buffer argument of a command three pieces and copies it twice, about a
 * microsecond and a half per argument (2.7 s of API time when a
 * million-task graph registered, in a profile). Here each field and value is
 * written into one buffer as it comes, the command's header goes in front
 * once the fields are counted, and ioredis sends those bytes as they are,
 * in a pipeline as well (it takes a Buffer from a command's toWritable, as
 * src/queue/uncopied.ts does for a single command). The reply is read as
 * HSET's.
 */
import { Command } from 'ioredis';

/** Bytes kept free before the fields for the command's header (a longer one is put in front by a copy). */
const HEAD_ROOM = 128;
const CR = 13;
const LF = 10;
const DOLLAR = 0x24;
/** Values up to this many bytes are copied by a loop. */
const SHORT_COPY = 64;
/** Buffers of answered commands kept for the next ones (registration keeps a few chunks in flight). */
const MAX_SPARE = 8;

class PrebuiltCommand extends Command {
  constructor(
    name: string,
    key: string,
    private readonly bytes: Buffer,
  ) {
    // The key is an argument for ioredis too: a cluster sends the command to its slot's node.
    super(name, [key]);
  }

  override toWritable(): Buffer {
    return this.bytes;
  }
}

const NO_BYTES = Buffer.alloc(0);

/** Fields and values of one HSET, added one by one; `hset` queues the command on a pipeline. */
export class HashFields {
  private bytes: Buffer;
  private at = HEAD_ROOM;
  /** How far the last command's bytes went: the next starts with that much room, not grown again by copies. */
  private lastLength = 0;
  private count = 0;
  /**
   * Buffers of HSETs Redis has answered, which the next commands fill again.
   * Each is a block of memory outside V8's heap, and V8 counts such memory:
   * a million-task graph's registration made about 50 MB of them, one per
   * chunk, and that growth set off a full collection of the heap the plan
   * filled, which freed nothing (0.26 s of a 1.1 s spec encoding in process,
   * measured). Taken back only once answered: Redis has read the bytes then.
   */
  private readonly spare: Buffer[] = [];

  constructor(private readonly sizeHint = 64 * 1024) {
    // Allocated by the first field: a registration ends with an HSET and makes no buffer after it.
    this.bytes = NO_BYTES;
  }

  get size(): number {
    return this.count;
  }

  /** Adds field `field` (a node's number) with the first `length` bytes of `value`, copied at once. */
  add(field: number, value: Uint8Array, length = value.length): void {
    this.room(2 * 16 + 4 + length);
    // It runs once per task of a graph: the buffer and the position in locals, digits by integer division.
    const bytes = this.bytes;
    let at = writeBulkLength(bytes, this.at, decimalLength(field));
    at = writeDecimal(bytes, at, field);
    bytes[at++] = CR;
    bytes[at++] = LF;
    at = writeBulkLength(bytes, at, length);
    // A task's spec is a few dozen bytes: a loop copies them faster than a call into the runtime.
    if (length <= SHORT_COPY) for (let i = 0; i < length; i++) bytes[at + i] = value[i];
    else bytes.set(length === value.length ? value : value.subarray(0, length), at);
    at += length;
    bytes[at++] = CR;
    bytes[at++] = LF;
    this.at = at;
    this.count++;
  }

  /** Queues HSET `key` of the fields added on `queue` (a CommandBatch or a pipeline), if any, and starts again empty. */
  hset(queue: { sendCommand(command: Command): unknown }, key: string): void {
    if (this.count === 0) return;
    const head = Buffer.from(`*${2 + 2 * this.count}\r\n$4\r\nhset\r\n$${Buffer.byteLength(key)}\r\n${key}\r\n`);
    const fields = this.bytes.subarray(HEAD_ROOM, this.at);
    // The command views this buffer when its header fits the room kept for it; else it is a copy.
    const viewsBytes = head.length <= HEAD_ROOM;
    let command: Buffer;
    if (viewsBytes) {
      head.copy(this.bytes, HEAD_ROOM - head.length);
      command = this.bytes.subarray(HEAD_ROOM - head.length, this.at);
    } else command = Buffer.concat([head, fields]);
    const sent = new PrebuiltCommand('hset', key, command);
    queue.sendCommand(sent);
    if (viewsBytes) {
      // The command keeps its bytes until it is answered: the next fields go to another buffer.
      const bytes = this.bytes;
      sent.promise.then(
        () => void (this.spare.length < MAX_SPARE && this.spare.push(bytes)),
        () => {},
      );
      this.bytes = NO_BYTES;
    }
    this.lastLength = this.at;
    this.at = HEAD_ROOM;
    this.count = 0;
  }

  private room(n: number): void {
    if (this.at + n <= this.bytes.length) return;
    const size = Math.max(
      this.bytes.length * 2,
      HEAD_ROOM + this.sizeHint,
      this.at + n,
      this.lastLength + (this.lastLength >> 3),
    );
    const spare = this.bytes === NO_BYTES ? this.spare.pop() : undefined;
    const bigger = spare !== undefined && spare.length >= this.at + n ? spare : Buffer.allocUnsafe(size);
    this.bytes.copy(bigger, 0, 0, this.at);
    this.bytes = bigger;
  }
}

/** `$<n>\r\n`, a bulk string's length line, written at `at`; where it ends. */
function writeBulkLength(bytes: Buffer, at: number, n: number): number {
  bytes[at++] = DOLLAR;
  at = writeDecimal(bytes, at, n);
  bytes[at++] = CR;
  bytes[at++] = LF;
  return at;
}

/** The digits of `n` (a node's number or a length: below 2^31, so integer division is exact) written at `at`; where they end. */
function writeDecimal(bytes: Buffer, at: number, n: number): number {
  const end = at + decimalLength(n);
  for (let i = end - 1; i >= at; i--) {
    const rest = (n / 10) | 0;
    bytes[i] = 0x30 + n - rest * 10;
    n = rest;
  }
  return end;
}

/** Digits of a non-negative integer below 2^31. */
function decimalLength(n: number): number {
  let digits = 1;
  while (n >= 10) {
    n = (n / 10) | 0;
    digits++;
  }
  return digits;
}
