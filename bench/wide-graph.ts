/** The wide graph of the benchmarks: `inc` over range(n), then a tree of `sum` with fan-in `fanIn` (TypeScript ops). */
export { wideGraph } from '../src/graph/wide.ts';
