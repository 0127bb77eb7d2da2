/** Small helpers shared by the pure graph tests (no Redis, no workers). */
import { GraphError } from '../../src/graph/index.ts';

/** Runs `fn` and returns the GraphError it throws; fails the test if it throws nothing or something else. */
export function graphError(fn: () => unknown): GraphError {
  try {
    fn();
  } catch (e) {
    if (e instanceof GraphError) return e;
    throw e;
  }
  throw new Error('expected a GraphError, but nothing was thrown');
}

export { oid, ref, task } from '../helpers/nodes.ts';
