/**
 * Ops over NDArray chunks (src/shared/values/ndarray.ts), named `array.*`: creation
 * (create.ts), slicing and layout (layout.ts), elementwise arithmetic with
 * scalar broadcasting (elementwise.ts), reductions, and the moments
 * partial/combine/finalize trio that a tree reduction across chunks needs
 * (reduce.ts, over the loops in kernels.ts). Argument handling shared by all
 * of them is in args.ts. docs/arrays.md lists every op and the dtype rules.
 *
 * Kernels are plain loops over typed arrays: no per-element objects. No op
 * writes into an input (reshape shares its input's buffer), so values can be
 * cached and shared between tasks.
 *
 * An array argument is an NDArray, or its JSON form {"$ndarray": ...} (in a
 * graph, wrapped in {"$literal": ...}).
 */
import type { OpDefinition } from '../registry.ts';
import { createOps } from './create.ts';
import { elementwiseOps } from './elementwise.ts';
import { layoutOps } from './layout.ts';
import { reduceOps } from './reduce.ts';

export { MAX_ELEMENTS } from './args.ts';

export const arrayOps: OpDefinition[] = [...createOps, ...layoutOps, ...elementwiseOps, ...reduceOps];
