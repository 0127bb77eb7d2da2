/**
 * The object store. Every task result and every data node is an object named
 * by an id `<graph id>.<node index>`; its bytes live in the graph's `vals` hash
 * under the node index. A graph id is 128 random bits, so object ids are
 * unguessable.
 */
import type { Redis } from 'ioredis';
import { decodeValue } from './codec.ts';

export interface ObjectAddress {
  graph: string;
  node: number;
}

const OID = /^([A-Za-z0-9_-]{1,64})\.(\d{1,10})$/;

export function objectId(graph: string, node: number): string {
  return `${graph}.${node}`;
}

export function parseObjectId(oid: string): ObjectAddress | null {
  const m = OID.exec(oid);
  return m ? { graph: m[1], node: Number(m[2]) } : null;
}

/** The Redis hash that holds the values of a graph's nodes. */
export function valuesKey(prefix: string, graph: string): string {
  return `${prefix}:{${graph}}:vals`;
}

export class ObjectStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  /** Values of nodes of one graph, in order; `undefined` where an object is gone. */
  async readNodes(graph: string, nodes: number[]): Promise<unknown[]> {
    if (nodes.length === 0) return [];
    const raw = await this.redis.hmgetBuffer(valuesKey(this.prefix, graph), ...nodes.map(String));
    return raw.map((b) => (b === null ? undefined : decodeValue(b)));
  }
}
