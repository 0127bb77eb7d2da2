import { arrayOps } from './array/index.ts';
import { builtinOps } from './builtin.ts';
import { frameOps } from './frame/index.ts';
import type { OpDefinition } from './registry.ts';

export * from './registry.ts';

/** The ops every worker has, before the operator's own modules (WEFT_OPS). */
export const standardOps: OpDefinition[] = [...builtinOps, ...arrayOps, ...frameOps];
