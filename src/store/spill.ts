/**
 * Spill files: the disk side of the object store. Values evicted from Redis
 * are appended to large files (many objects per file, as Ray fuses small
 * objects, so a million small objects do not make a million files), and Redis
 * keeps a 1-byte stub plus the location `file:offset:length` (see
 * src/store/stored-bytes.ts and the store include of src/queue/scripts). Reads are positional and asynchronous, so a
 * worker's event loop keeps running while a value comes back from disk.
 */
import { mkdirSync, statSync } from 'node:fs';
import { open, readdir, rm, stat, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { BusyPeriods } from './busy-time.ts';
import type { SpillLocation } from './stored-bytes.ts';

/** Files are closed and a new one started past this size. */
const FILE_BYTES = 256 * 1024 * 1024;
/** A dead file of another process that has not been written for this long is that of a process that died. */
const ORPHAN_MS = 10 * 60_000;
/** Zero bytes that put each value at a multiple of 8 in its file. */
const PADDING = Buffer.alloc(8);
/** Read handles kept open. */
const READERS = 16;
/**
 * Read handles are closed once no read has used them for this long: another
 * process may delete a file (its last object died), and a handle held open
 * on it keeps its disk space taken until the handle closes.
 */
export const IDLE_HANDLE_MS = 1_000;

export class OutOfDiskError extends Error {
  override readonly name = 'OutOfDiskError';
  readonly code = 'out_of_disk';
}

export class SpillFiles {
  private current: { name: string; handle: FileHandle; size: number } | undefined;
  private readonly readers = new Map<string, Promise<FileHandle>>();
  /** Reads under way on `readers`; when it falls to 0 they are closed after IDLE_HANDLE_MS. */
  private reading = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private thread: Worker | undefined;
  private readonly threadReads = new Map<number, { resolve: (bytes: Buffer) => void; reject: (e: Error) => void }>();
  /** Bytes read back on the reader thread, and when it was reading (see busy-time.ts). */
  readonly restored = new BusyPeriods();
  private nextRead = 0;
  private readonly owner = randomBytes(4).toString('hex');
  private seq = 0;

  /** `limit`: most bytes all spill files may take (0: no limit but the disk's). */
  constructor(
    readonly dir: string,
    private readonly limit = 0,
  ) {
    mkdirSync(dir, { recursive: true });
  }

  /**
   * Appends values to the current file; returns each one's location. A full
   * disk (or the limit) throws OutOfDiskError, and nothing is left half written
   * that Redis points to: the caller swaps values for stubs only after this.
   */
  async append(values: Buffer[]): Promise<SpillLocation[]> {
    const total = values.reduce((n, v) => n + v.length, 0);
    if (this.limit > 0 && (await this.bytesOnDisk()) + total > this.limit) {
      throw new OutOfDiskError(
        `The spill directory ${this.dir} is full: ${total} more bytes would pass SPILL_DIR_LIMIT (${this.limit}).`,
      );
    }
    if (!this.current || this.current.size + total > FILE_BYTES) await this.rotate();
    const file = this.current!;
    const locations: SpillLocation[] = [];
    const start = file.size;
    // Each value starts at a multiple of 8, so an array read back is viewed where it lies, not copied (ndarrayValue).
    const parts: Buffer[] = [];
    let at = start;
    for (const v of values) {
      const pad = (8 - (at % 8)) % 8;
      if (pad > 0) parts.push(PADDING.subarray(0, pad));
      at += pad;
      locations.push({ file: file.name, offset: at, length: v.length });
      parts.push(v);
      at += v.length;
    }
    try {
      await writeFully(file.handle, parts, start, at - start);
      await file.handle.datasync();
    } catch (err) {
      // Nothing half written stays: the file goes back to its length before this append (the caller keeps the values in Redis).
      await file.handle.truncate(start).catch(() => {});
      // A file this append started holds nothing now: it goes, rather than stay empty until the next append
      // (removeDead leaves the file being written alone while it is empty: an append may be about to write it).
      if (start === 0 && this.current === file) {
        this.current = undefined;
        await file.handle.close().catch(() => {});
        await rm(join(this.dir, file.name), { force: true });
      }
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOSPC' || code === 'EDQUOT' || err instanceof ShortWriteError)
        throw new OutOfDiskError(
          `The disk of ${this.dir} is full (${code ?? 'a short write'}) while spilling ${total} bytes.`,
        );
      throw err;
    }
    file.size = at;
    return locations;
  }

  /**
   * Reads a value on the reader thread (spill-reader.mjs), counting it in
   * `restored`. Used by workers, whose event loop is busy.
   */
  readOnThread(at: SpillLocation): Promise<Buffer> {
    if (!this.thread) {
      this.thread = new Worker(new URL('./spill-reader.mjs', import.meta.url));
      this.thread.unref();
      this.thread.on(
        'message',
        (m: {
          id?: number;
          buffer?: ArrayBuffer;
          parts?: { id: number; at: number; length: number }[];
          from?: number;
          to?: number;
          error?: string;
        }) => {
          if (m.error !== undefined) {
            this.threadReads.get(m.id!)?.reject(new Error(m.error));
            this.threadReads.delete(m.id!);
            return;
          }
          this.restored.add(
            m.from!,
            m.to!,
            m.parts!.reduce((n, p) => n + p.length, 0),
          );
          for (const p of m.parts!) {
            this.threadReads.get(p.id)?.resolve(Buffer.from(m.buffer!, p.at, p.length));
            this.threadReads.delete(p.id);
          }
        },
      );
      this.thread.on('error', (err) => {
        for (const w of this.threadReads.values()) w.reject(err);
        this.threadReads.clear();
        this.thread = undefined;
      });
    }
    const id = this.nextRead++;
    return new Promise((resolve, reject) => {
      this.threadReads.set(id, { resolve, reject });
      this.thread!.postMessage({ id, path: join(this.dir, at.file), offset: at.offset, length: at.length });
    });
  }

  async read(at: SpillLocation): Promise<Buffer> {
    clearTimeout(this.idleTimer);
    this.reading++;
    try {
      const handle = await this.reader(at.file);
      const out = Buffer.allocUnsafe(at.length);
      const { bytesRead } = await handle.read(out, 0, at.length, at.offset);
      if (bytesRead !== at.length)
        throw new Error(
          `Spill file ${at.file} is shorter than expected (${bytesRead} of ${at.length} bytes at ${at.offset}).`,
        );
      return out;
    } finally {
      if (--this.reading === 0) {
        this.idleTimer = setTimeout(() => void this.closeReaders(), IDLE_HANDLE_MS);
        this.idleTimer.unref();
      }
    }
  }

  private async closeReaders(): Promise<void> {
    const open = [...this.readers.values()];
    this.readers.clear();
    for (const reader of open) await reader.then((h) => h.close()).catch(() => {});
  }

  /**
   * Opens the file a value is in, for the caller to stream the value from
   * (and close); checks the file holds all of it.
   */
  async open(at: SpillLocation): Promise<FileHandle> {
    const handle = await open(join(this.dir, at.file), 'r');
    const { size } = await handle.stat();
    if (size < at.offset + at.length) {
      await handle.close();
      throw new Error(
        `Spill file ${at.file} is shorter than expected (${size} bytes, the value ends at ${at.offset + at.length}).`,
      );
    }
    return handle;
  }

  /** An open handle for reading a file; a few are kept open (reads come in runs from the same files). */
  private async reader(file: string): Promise<FileHandle> {
    let handle = this.readers.get(file);
    if (handle) {
      this.readers.delete(file);
      this.readers.set(file, handle);
      return handle;
    }
    handle = open(join(this.dir, file), 'r');
    this.readers.set(file, handle);
    handle.catch(() => this.readers.delete(file));
    if (this.readers.size > READERS) {
      const [oldest, old] = this.readers.entries().next().value!;
      this.readers.delete(oldest);
      void old.then((h) => h.close()).catch(() => {});
    }
    return handle;
  }

  /**
   * Deletes this process's files with no live object left (the one being
   * written too, which is then started afresh). Another process's files are
   * its own to delete, unless it left them over ORPHAN_MS ago (it died).
   * Files in `keep` stay this time, dead or not.
   */
  async removeDead(liveBytes: Map<string, number>, keep: ReadonlySet<string> = new Set()): Promise<string[]> {
    const removed: string[] = [];
    for (const name of await readdir(this.dir)) {
      if (!name.endsWith('.spill') || (liveBytes.get(name) ?? 0) > 0 || keep.has(name)) continue;
      const mine = name.includes(`-${this.owner}-`);
      if (!mine) {
        const info = await stat(join(this.dir, name)).catch(() => null);
        if (!info || Date.now() - info.mtimeMs < ORPHAN_MS) continue;
      }
      if (name === this.current?.name) {
        if (this.current.size === 0) continue;
        await this.current.handle.close();
        this.current = undefined;
      }
      const reader = this.readers.get(name);
      this.readers.delete(name);
      await reader?.then((h) => h.close()).catch(() => {});
      this.thread?.postMessage({ close: join(this.dir, name) });
      await rm(join(this.dir, name), { force: true });
      removed.push(name);
    }
    return removed;
  }

  /** This process's files, the one being written included, with their sizes. */
  async ownFiles(): Promise<{ name: string; size: number }[]> {
    const out: { name: string; size: number }[] = [];
    for (const name of await readdir(this.dir)) {
      if (!name.endsWith('.spill') || !name.includes(`-${this.owner}-`)) continue;
      const info = await stat(join(this.dir, name)).catch(() => null);
      if (info) out.push({ name, size: info.size });
    }
    return out;
  }

  /** Stops appending to `name` if it is the file being written (the next append starts a new one). */
  async seal(name: string): Promise<void> {
    if (this.current?.name !== name) return;
    await this.current.handle.close();
    this.current = undefined;
  }

  async close(): Promise<void> {
    await this.current?.handle.close();
    this.current = undefined;
    clearTimeout(this.idleTimer);
    await this.closeReaders();
    await this.thread?.terminate();
    this.thread = undefined;
  }

  private async rotate(): Promise<void> {
    await this.current?.handle.close();
    const name = `${Date.now().toString(36)}-${this.owner}-${this.seq++}.spill`;
    this.current = { name, handle: await open(join(this.dir, name), 'w'), size: 0 };
  }

  private async bytesOnDisk(): Promise<number> {
    let n = 0;
    for (const name of await readdir(this.dir)) {
      try {
        n += statSync(join(this.dir, name)).size;
      } catch {
        // removed meanwhile
      }
    }
    return n;
  }
}

class ShortWriteError extends Error {}

/**
 * Writes every byte of `parts` at `position`: a write can come back short
 * without an error (the disk filled up during it); the rest is written
 * again, and a write that makes no progress is a full disk.
 */
async function writeFully(handle: FileHandle, parts: Buffer[], position: number, total: number): Promise<void> {
  let done = 0;
  let rest = parts;
  while (done < total) {
    const { bytesWritten } = await handle.writev(rest, position + done);
    if (bytesWritten <= 0) throw new ShortWriteError(`wrote ${done} of ${total} bytes`);
    done += bytesWritten;
    rest = after(rest, bytesWritten);
  }
}

/** `parts` without their first `n` bytes. */
function after(parts: Buffer[], n: number): Buffer[] {
  let skip = n;
  let i = 0;
  while (i < parts.length && skip >= parts[i].length) skip -= parts[i++].length;
  return i < parts.length ? [parts[i].subarray(skip), ...parts.slice(i + 1)] : [];
}
