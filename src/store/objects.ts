/**
 * Objects and their ids. Every task result and every data node is an object
 * named by an id `<graph id>.<node index>`; its bytes live in the graph's
 * `vals` hash under the node index. A graph id is 128 random bits, so object
 * ids are unguessable. Only a graph's outputs are objects clients can name.
 *
 * Reading objects from Redis is src/queue/objects.ts; changes of their state
 * are scripts in src/queue/scripts (completeTasks stores, releaseObject releases).
 */

export interface ObjectAddress {
  graph: string;
  /** The value's field in the graph's vals hash: a node index, or "<index>:<j>" for output j of a multiple-return task. */
  node: string;
}

const OID = /^([A-Za-z0-9_-]{1,64})\.(\d{1,10}(?::\d{1,6})?)$/;

export function objectId(graph: string, field: number | string): string {
  return `${graph}.${field}`;
}

export function parseObjectId(oid: string): ObjectAddress | null {
  const m = OID.exec(oid);
  return m ? { graph: m[1], node: m[2] } : null;
}

/** An object whose value is gone: released or expired, or its bytes lost (its key deleted, its spill file removed or cut short). */
export class ObjectLostError extends Error {
  override readonly name = 'ObjectLostError';
  readonly code = 'object_lost';
  constructor(
    message: string,
    /** The object id, or the node of a task's own graph. */
    readonly object: string,
  ) {
    super(message);
  }
}
