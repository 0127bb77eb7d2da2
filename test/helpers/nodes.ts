/** Builders of graph nodes (docs/graph-format.md), for tests. */
export const ref = (key: string) => ({ $ref: key });
export const oid = (id: string) => ({ $oid: id });
export const task = (op: string, ...args: unknown[]) => ({ $op: op, args });
