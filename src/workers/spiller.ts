/**
 * Keeps the object store within its memory budget. Each worker runs one:
 * above the spill threshold it takes the least recently used values (the
 * store's LRU set, popped atomically so two workers never take the same ones),
 * appends them to a spill file and swaps them for stubs (spillObjects-1.lua).
 * Before a worker stores results, `admit` makes it wait while the store is
 * over budget: results wait for room, they never push Redis past it.
 */
import type { Config } from '../config.ts';
import { usedMemory } from '../queue/connection.ts';
import type { ScriptedRedis } from '../queue/scripts.ts';
import { parseObjectId } from '../store/objects.ts';
import { graphKeys, lruKey, spillIndexKey, spillLiveKey, statsKey } from '../queue/keys.ts';
import { OutOfDiskError, type SpillFiles } from '../store/spill.ts';
import { storedForm, type SpillLocation } from '../store/stored-bytes.ts';
import { BusyPeriods, epochNow } from '../store/busy-time.ts';
import { addBusyTime } from '../queue/scripts/addBusyTime.ts';
import { moveSpilled } from '../queue/scripts/moveSpilled.ts';
import { spillObjects } from '../queue/scripts/spillObjects.ts';

const POLL_MS = 20;
/** How often dead spill files are looked for and restore counters written. */
const SWEEP_MS = 2_000;
/** Files whose live objects are less than this fraction of their size are compacted. */
const COMPACT_BELOW = 0.25;
/** Smaller files are not worth compacting (they go when their last object dies). */
const COMPACT_MIN_BYTES = 16 * 1024 * 1024;
/**
 * A compacted file stays this long before it is deleted: a task whose start
 * answered just before its inputs were repointed reads them at their old
 * places (a start's spilled inputs, read all at once, take well under a
 * second), and so does a `GET /v1/objects` that looked one up then. Deleted
 * at once, such a read failed and the object was lost to its reader.
 */
const COMPACTED_KEEP_MS = 5_000;
const BATCH = 32;
/** Most bytes of values read from Redis per spill round trip. */
const READ_BYTES = 8 * 1024 * 1024;
/** Over budget with nothing left to spill for this long, results give up with store_full. */
const STUCK_MS = 60_000;
/**
 * After a full disk, spilling is tried again this long after (or as soon as
 * this worker deletes a dead spill file): objects released meanwhile may have
 * freed the disk, and spilling resumes without a restart. Results waiting for
 * room wait for that try, and fail with out_of_disk only if it fails too.
 */
const DISK_RETRY_MS = 2_000;

export class StoreFullError extends Error {
  override readonly name = 'StoreFullError';
  readonly code = 'store_full';
}

export class Spiller {
  private used = 0;
  private polledAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private spilling: Promise<number> | undefined;
  /** When the disk was last found full (0: not since the last retry; see `diskFull`). */
  private diskFullAt = 0;
  /** The stats say out_of_disk: the next spill that succeeds clears it. */
  private reportedFull = false;
  /** When this worker was spilling: written to the stats with the restores every SWEEP_MS, never per batch. */
  private readonly spilled = new BusyPeriods();
  private lastSweep = Date.now();
  /** Files this worker compacted, and when: kept COMPACTED_KEEP_MS before they are deleted. */
  private readonly compactedAt = new Map<string, number>();

  constructor(
    private readonly redis: ScriptedRedis,
    private readonly config: Config,
    private readonly files: SpillFiles,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.tick().catch(() => {}), POLL_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.spilling?.catch(() => {});
    await this.flushStats().catch(() => {});
    await this.files.close();
  }

  /** Waits until `bytes` more fit in the store's budget. */
  async admit(bytes: number): Promise<void> {
    const limit = this.config.storeMemoryLimit;
    let stuckSince = 0;
    for (;;) {
      await this.poll();
      if (this.used + bytes <= limit) return;
      if (this.diskFull()) {
        // The result waits for the next try; it fails with out_of_disk only if a spill tried since then fails.
        await new Promise((r) => setTimeout(r, POLL_MS));
        continue;
      }
      const moved = await this.spill();
      if (moved > 0) {
        stuckSince = 0;
        continue;
      }
      stuckSince ||= Date.now();
      if (Date.now() - stuckSince > STUCK_MS) {
        throw new StoreFullError(
          `The object store is over its budget (STORE_MEMORY_LIMIT ${limit} bytes, Redis uses ${this.used}) and nothing more can be spilled: raise the budget or make values of at least SPILL_MIN_BYTES.`,
        );
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  private async tick(): Promise<void> {
    await this.poll(true);
    while (this.used > this.config.storeMemoryLimit * this.config.spillThreshold && !this.diskFull()) {
      if ((await this.spill()) === 0) break;
      await this.poll(true);
    }
    if (Date.now() - this.lastSweep > SWEEP_MS) {
      this.lastSweep = Date.now();
      await this.flushStats();
      const live = await this.redis.hgetall(spillLiveKey(this.config.prefix));
      const liveBytes = new Map(Object.entries(live).map(([f, n]) => [f, Number(n)]));
      await this.compact(liveBytes);
      const removed = await this.files.removeDead(liveBytes, this.keptCompacted());
      if (removed.length > 0) {
        this.diskFullAt = 0;
        await this.redis.hdel(spillLiveKey(this.config.prefix), ...removed);
        await this.redis.unlink(...removed.map((f) => spillIndexKey(this.config.prefix, f)));
      }
    }
  }

  /** The compacted files still within COMPACTED_KEEP_MS of their compaction. */
  private keptCompacted(): Set<string> {
    const kept = new Set<string>();
    for (const [name, at] of this.compactedAt) {
      if (Date.now() - at < COMPACTED_KEEP_MS) kept.add(name);
      else this.compactedAt.delete(name);
    }
    return kept;
  }

  /** Is the last full disk under DISK_RETRY_MS old? Spilling is not tried again before then. */
  private diskFull(): boolean {
    return Date.now() - this.diskFullAt <= DISK_RETRY_MS;
  }

  private async poll(force = false): Promise<void> {
    if (!force && Date.now() - this.polledAt < POLL_MS) return;
    this.used = await usedMemory(this.redis, this.config.prefix);
    this.polledAt = Date.now();
  }

  /** Spills one batch of the least recently used values; returns how many bytes left memory. */
  private spill(): Promise<number> {
    this.spilling ??= this.spillBatch().finally(() => (this.spilling = undefined));
    return this.spilling;
  }

  private async spillBatch(): Promise<number> {
    const prefix = this.config.prefix;
    const popped = await this.redis.zpopmin(lruKey(prefix), BATCH);
    if (popped.length === 0) return 0;
    const candidates: { oid: string; score: string; size: number }[] = [];
    for (let i = 0; i < popped.length; i += 2) candidates.push({ oid: popped[i], score: popped[i + 1], size: 0 });
    // Read at most READ_BYTES of values per round trip: a reply is Redis memory too.
    const sizes = this.redis.pipeline();
    for (const { oid } of candidates) {
      const at = parseObjectId(oid)!;
      sizes.hstrlen(graphKeys(prefix, at.graph).vals, at.node);
    }
    ((await sizes.exec()) ?? []).forEach(([, n], i) => (candidates[i].size = Number(n)));
    let take = 0;
    for (let total = 0; take < candidates.length && (take === 0 || total + candidates[take].size <= READ_BYTES); take++)
      total += candidates[take].size;
    const later = candidates.slice(take);
    if (later.length > 0) await this.redis.zadd(lruKey(prefix), ...later.flatMap((c) => [c.score, c.oid]));
    const pipe = this.redis.pipeline();
    for (const { oid } of candidates.slice(0, take)) {
      const at = parseObjectId(oid)!;
      pipe.hgetBuffer(graphKeys(prefix, at.graph).vals, at.node);
    }
    const values = ((await pipe.exec()) ?? []).map(([, v]) => v as Buffer | null);
    const chosen = candidates
      .slice(0, take)
      .map((c, i) => ({ ...c, value: values[i] }))
      // A stub is on disk already.
      .filter((c): c is { oid: string; score: string; size: number; value: Buffer } => storedForm(c.value) === 'value');
    if (chosen.length === 0) return 0;
    const t0 = epochNow();
    let locations: SpillLocation[];
    try {
      locations = await this.files.append(chosen.map((c) => c.value));
    } catch (err) {
      // Nothing was swapped: the values stay in memory and go back in line.
      await this.redis.zadd(lruKey(prefix), ...chosen.flatMap((c) => [c.score, c.oid]));
      if (err instanceof OutOfDiskError) {
        this.diskFullAt = Date.now();
        this.reportedFull = true;
        await this.redis.hset(statsKey(prefix), 'out_of_disk', err.message);
      }
      throw err;
    }
    if (this.reportedFull) {
      this.reportedFull = false;
      await this.redis.hdel(statsKey(prefix), 'out_of_disk');
    }
    const { bytes } = await spillObjects(this.redis, prefix, {
      file: locations[0].file,
      objects: chosen.map((c, i) => ({ oid: c.oid, offset: locations[i].offset, length: locations[i].length })),
    });
    this.spilled.add(t0, epochNow());
    return bytes;
  }

  /**
   * Compaction: a file of ours whose live objects are under COMPACT_BELOW of
   * its size has them copied to the current file and repointed
   * (moveSpilled-1.lua); the old file is then dead, and removed once
   * COMPACTED_KEEP_MS have passed.
   */
  private async compact(liveBytes: Map<string, number>): Promise<void> {
    const prefix = this.config.prefix;
    for (const { name, size } of await this.files.ownFiles()) {
      const live = liveBytes.get(name) ?? 0;
      if (live <= 0 || live >= size * COMPACT_BELOW || size < COMPACT_MIN_BYTES) continue;
      await this.files.seal(name);
      const index = await this.redis.hgetall(spillIndexKey(prefix, name));
      const objects = Object.entries(index).map(([oid, at]) => {
        const [offset, length] = at.split(':').map(Number);
        return { oid, at, offset, length };
      });
      if (objects.length === 0) continue;
      const bytes = await Promise.all(
        objects.map((o) => this.files.read({ file: name, offset: o.offset, length: o.length })),
      );
      const locations = await this.files.append(bytes);
      const { bytes: moved } = await moveSpilled(this.redis, prefix, {
        from: name,
        to: locations[0].file,
        objects: objects.map((o, i) => ({ oid: o.oid, at: o.at, offset: locations[i].offset })),
      });
      liveBytes.set(name, live - moved);
      liveBytes.set(locations[0].file, (liveBytes.get(locations[0].file) ?? 0) + moved);
      this.compactedAt.set(name, Date.now());
    }
  }

  /** Spill and restore figures since the last flush (the bytes spilled are counted by spillObjects-1.lua). */
  private async flushStats(): Promise<void> {
    const prefix = this.config.prefix;
    const restored = this.files.restored.take();
    if (restored.bytes > 0) await this.redis.hincrby(statsKey(prefix), 'restored_bytes_total', restored.bytes);
    await addBusyTime(this.redis, prefix, 'restore', restored.periods);
    await addBusyTime(this.redis, prefix, 'spill', this.spilled.take().periods);
  }
}
