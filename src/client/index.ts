/**
 * weft's TypeScript SDK (`import { Client, delayed, ones } from '@weft/client'`):
 * a client for the HTTP API, `delayed` calls, and Dask-style Array and
 * DataFrame collections that compile to graphs of the built-in ops.
 * See docs/client.md.
 */
export {
  Client,
  Computation,
  RemoteTaskError,
  WeftError,
  type ClientOptions,
  type GraphEvent,
  type GraphInfo,
  type GraphOptions,
  type SubmitOptions,
  type TaskTiming,
} from './client.ts';
export { Delayed, Kwargs, delayed, kwargs, type Computable, type Persistable } from './delayed.ts';
export { WeftArray, WeftArray as Array, arange, fromArray, ones, random, zeros } from './array.ts';
export { DataFrame, GroupBy, fromRecords, type Expr, type Predicate, type Row } from './dataframe.ts';
export { tokenize } from './tokenize.ts';
export type { ObjectRef } from './graph.ts';
export { NDArray } from '../shared/values/ndarray.ts';
export { Frame } from '../shared/values/frame.ts';
export { API_VERSION, VERSION } from '../shared/version.ts';
