/**
 * Reads objects from Redis for the API: their state and size, their bytes
 * (from memory, or from their spill file when on disk). Object ids and the
 * error of a lost object are src/store/objects.ts; changes of an object's
 * state are scripts (completeTasks stores, releaseObject releases).
 */
import type { FileHandle } from 'node:fs/promises';
import type { Redis } from 'ioredis';
import type { components } from '../shared/openapi-types.ts';
import { ObjectLostError, parseObjectId } from '../store/objects.ts';
import type { SpillFiles } from '../store/spill.ts';
import { parseLocation, storedForm, type SpillLocation } from '../store/stored-bytes.ts';
import { visibleTo, type RequestContext } from '../store/tenants.ts';
import { graphKeys } from './keys.ts';

/** An object's state and size, as GET /v1/objects/{oid}/meta shows it. */
export type ObjectMeta = components['schemas']['ObjectMeta'];

const RUNNING = new Set(['queued', 'running']);

export class ObjectStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly files: SpillFiles,
  ) {}

  /** A stored value's bytes (as read from field `field` of graph `graph`'s vals), read back from its spill file if it is on disk. */
  async restore(graph: string, field: string, bytes: Buffer): Promise<Buffer> {
    const location = await this.spilledAt(graph, field, bytes);
    if (!location) return bytes;
    return this.lostUnless(`${graph}.${field}`, this.files.read(location));
  }

  /** Where a value read as `bytes` is on disk; null when `bytes` is the value itself (not a stub). */
  private async spilledAt(graph: string, field: string, bytes: Buffer): Promise<SpillLocation | null> {
    if (storedForm(bytes) !== 'stub') return null;
    const at = await this.redis.hgetBuffer(graphKeys(this.prefix, graph).spilled, field);
    const oid = `${graph}.${field}`;
    if (!at) throw new ObjectLostError(`Object ${oid} is lost: it was spilled to disk, but its location is gone.`, oid);
    return parseLocation(Buffer.concat([bytes, at]));
  }

  /** A spill file access, its failure reported as the object being lost. */
  private async lostUnless<T>(oid: string, access: Promise<T>): Promise<T> {
    try {
      return await access;
    } catch (err) {
      throw new ObjectLostError(
        `Object ${oid} is lost: its spill file cannot be read (${(err as Error).message}).`,
        oid,
      );
    }
  }

  /** Meta of each object, in order; null where there is no such object (or it was released, or `request` may not see it). */
  async states(request: RequestContext, oids: string[]): Promise<(ObjectMeta | null)[]> {
    const pipe = this.redis.pipeline();
    const addresses = oids.map(parseObjectId);
    for (const at of addresses) {
      if (!at) continue;
      const k = graphKeys(this.prefix, at.graph);
      pipe.hmget(k.meta, 'status', 'outidx', 'outkeys', 'error', 'tenant');
      pipe.hstrlen(k.vals, at.node);
      pipe.sismember(k.released, at.node);
      pipe.hget(k.spilled, at.node);
    }
    const replies = ((await pipe.exec()) ?? []).map(([err, value]) => {
      if (err) throw err;
      return value;
    });
    let r = 0;
    return addresses.map((at, i) => {
      if (!at) return null;
      const [status, outidx, outkeys, error, tenant] = replies[r++] as (string | null)[];
      const size = replies[r++] as number;
      const released = replies[r++] as number;
      const spilledAt = replies[r++] as string | null;
      const spilledSize = spilledAt === null ? null : spilledAt.split(':').pop()!;
      if (status === null || released === 1 || !visibleTo(request, tenant)) return null;
      const outputs = (outidx ?? '').split(',');
      const position = outputs.indexOf(at.node);
      if (position < 0) return null;
      const key = (JSON.parse(outkeys ?? '[]') as string[])[position] ?? at.node;
      const base: ObjectMeta = { oid: oids[i], state: 'ready', size, location: 'memory', graph: at.graph, key };
      if (size === 1 && spilledSize !== null) return { ...base, size: Number(spilledSize), location: 'disk' };
      if (size > 0) return base;
      if (RUNNING.has(status)) return { ...base, state: 'pending', size: null, location: null };
      return { ...base, state: 'failed', size: null, location: null, error: error ? JSON.parse(error) : null };
    });
  }

  /** The stored (MessagePack) bytes of an object, from memory or disk, or null. */
  async read(oid: string): Promise<Buffer | null> {
    const at = parseObjectId(oid);
    if (!at) return null;
    const bytes = await this.redis.hgetBuffer(graphKeys(this.prefix, at.graph).vals, at.node);
    return bytes && this.restore(at.graph, at.node, bytes);
  }

  /**
   * Where an object's stored bytes are, to send them as they are: its bytes
   * when in memory; when on disk, its spill file opened and the range to
   * stream from it, so a large object is never held whole in memory. The file
   * stays readable through the handle even if compaction removes it meanwhile.
   */
  async locate(oid: string): Promise<{ bytes: Buffer } | { file: FileHandle; offset: number; length: number } | null> {
    const at = parseObjectId(oid);
    if (!at) return null;
    const bytes = await this.redis.hgetBuffer(graphKeys(this.prefix, at.graph).vals, at.node);
    if (!bytes) return null;
    const location = await this.spilledAt(at.graph, at.node, bytes);
    if (!location) return { bytes };
    return {
      file: await this.lostUnless(oid, this.files.open(location)),
      offset: location.offset,
      length: location.length,
    };
  }
}
