/**
 * The client collections use when `compute()` or `persist()` is called
 * without one: the most recently created Client, as Dask's distributed
 * Client becomes the default scheduler when made.
 */
import type { Computable, Persistable } from './delayed.ts';

export interface Runner {
  compute(thing: Computable): Promise<unknown>;
  persist<T>(thing: Persistable<T>): Promise<T>;
}

let current: Runner | undefined;

export function setDefaultRunner(runner: Runner | undefined): void {
  current = runner;
}

export function defaultRunner(): Runner {
  if (!current)
    throw new Error(
      'No weft Client exists yet: create one with new Client({ url }) or pass it to compute()/persist().',
    );
  return current;
}
