export * from './registry.ts';
export { builtinOps } from './builtin.ts';
