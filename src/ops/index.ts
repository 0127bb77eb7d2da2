export * from './registry.ts';
export { builtinOps } from './builtin.ts';
export { arrayOps } from './array.ts';
