/**
 * Deterministic names for collection keys, as Dask's `tokenize`: the same
 * operation on the same inputs gets the same name, so equal expressions built
 * twice are one set of tasks in a graph, and the result cache
 * (`options.cache`) recognises them across graphs.
 */
import { hash } from '../shared/hash.ts';
import { NDArray } from '../shared/values/ndarray.ts';

/** A JSON text for any value, with object keys sorted, typed arrays and NDArrays spelled out, and collections by name. */
function canonical(value: unknown): string {
  if (value === undefined) return 'u';
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? String(value);
  if (value instanceof NDArray)
    return `nd(${value.dtype};${value.shape.join(',')};${Array.from(value.data).join(',')})`;
  if (ArrayBuffer.isView(value))
    return `ta(${value.constructor.name};${Array.from(value as unknown as ArrayLike<number>).join(',')})`;
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const named = (value as { tokenName?: unknown }).tokenName;
  if (typeof named === 'string') return `@${named}`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
}

/** 80 bits of a hash of the parts: enough that two different expressions in one session never meet. */
export function tokenize(...parts: unknown[]): string {
  return hash(canonical(parts)).slice(0, 20);
}

/** A key prefix and a token: `sum-3f2a...`. */
export function tokenName(prefix: string, ...parts: unknown[]): string {
  return `${prefix}-${tokenize(prefix, ...parts)}`;
}
