import { arrayOps } from './array/index.ts';
import { builtinOps } from './builtin.ts';
import { frameOps } from './frame/index.ts';
import type { OpDefinition } from './registry.ts';

export * from './registry.ts';

/** The ops every worker has, before the operator's own modules (WEFT_OPS). */
export const standardOps: OpDefinition[] = [...builtinOps, ...arrayOps, ...frameOps];

const STANDARD_OP_NAMES = new Set(standardOps.map((op) => op.name));

/**
 * Is `name` a standard op? They compute a value from their inputs and do
 * nothing else (no I/O, no state), so running one whose result is then
 * discarded has no effect (src/queue/carried-start.ts relies on it). An
 * operator's module cannot replace one: a name registers once.
 */
export function isStandardOp(name: string): boolean {
  return STANDARD_OP_NAMES.has(name);
}
